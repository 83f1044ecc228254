#pragma once
// The caption task of the loom program: Fashion-MNIST scenes (1-3 items on a 2x2 grid) described
// by an ImageCaptioner (`loom train caption`, `loom eval`, `loom caption`).
#include <string>
#include <vector>

#include "run_config.h"

namespace loom::tools {

/// Trains (end to end, or on the cached features of a frozen encoder taken from a fashion CNN
/// run), keeps the epoch of best validation exact match (greedy decoding), decodes the test
/// scenes with beam search and greedily, writes metrics.json (BLEU-1..4, exact match),
/// report.html and a few test scenes as RUN_DIR/examples/scene-K.pgm (their captions in
/// examples/references.tsv); returns the exit code.
int train_caption(const RunConfig& config);
/// Recomputes the test figures of a caption run and updates metrics.json.
int eval_caption(const RunConfig& config);
/// Prints each image's caption. Images are binary PGM files of 56x56 pixels (white items on
/// black, as in Fashion-MNIST). ValueError or IOError (one line) for no images, an unreadable
/// file, a file that is not a binary PGM, or another size.
int caption_images(const RunConfig& config, const std::vector<std::string>& paths);

struct Task;
/// The task, for the task registry: train_caption, eval_caption, and `loom caption RUN_DIR IMAGE...`.
const Task& caption_task();

}  // namespace loom::tools
