#pragma once
// The handwriting task of the loom program: lines of 1-8 real MNIST digits read by a CRNN (CNN
// features over columns -> bidirectional LSTM -> CTC) (`loom train handwriting`, `loom eval`,
// `loom recognize`).
#include <string>
#include <vector>

#include "run_config.h"

namespace loom::tools {

/// Trains on lines made from the training images, keeps the epoch of best validation character
/// error rate (greedy decoding), decodes the test lines (made from the test images only) with
/// beam search, writes metrics.json (character error rate, line accuracy), report.html and a few
/// test lines as RUN_DIR/examples/line-K.pgm (their digits in examples/references.tsv); returns
/// the exit code.
int train_handwriting(const RunConfig& config);
/// Recomputes the test figures of a handwriting run and updates metrics.json.
int eval_handwriting(const RunConfig& config);
/// Prints the digits of each line image: binary PGM files 28 pixels high and 8 to 4096 wide
/// (white digits on black, as in MNIST). ValueError or IOError (one line) for no images, an
/// unreadable file, a file that is not a binary PGM, or another size.
int recognize_lines(const RunConfig& config, const std::vector<std::string>& paths);

struct Task;
/// The task, for the task registry: train_handwriting, eval_handwriting, and `loom recognize RUN_DIR LINE...`.
const Task& handwriting_task();

}  // namespace loom::tools
