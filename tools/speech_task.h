#pragma once
// The speech task of the loom program: connected spoken digits (the TIDIGITS setting, audio
// synthesised by espeak-ng and flite; test voices unseen in training) recognised by a
// bidirectional LSTM over log-mel frames trained with CTC (`loom train speech`, `loom eval`,
// `loom transcribe`).
#include <string>
#include <vector>

#include "run_config.h"

namespace loom::tools {

/// Trains, keeps the epoch of best validation digit error rate (greedy decoding), decodes the
/// test utterances with prefix beam search and greedily, writes metrics.json (digit error rate,
/// string accuracy, both per length) and report.html (spectrograms with the CTC posteriors under
/// them, transcriptions with their errors); returns the exit code.
int train_speech(const RunConfig& config);
/// Recomputes the test figures of a speech run and updates metrics.json.
int eval_speech(const RunConfig& config);
/// Prints the digits spoken in each WAV file (16-bit PCM, any rate: resampled to 16 kHz).
/// ValueError or IOError (one line) for no files or a file that cannot be read as such.
int transcribe(const RunConfig& config, const std::vector<std::string>& paths);

struct Task;
/// The task, for the task registry: train_speech, eval_speech, and `loom transcribe RUN_DIR WAV...`.
const Task& speech_task();

}  // namespace loom::tools
