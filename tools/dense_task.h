#pragma once
// The dense-input tasks of the loom program (fashion, sp500).
#include "run_config.h"

namespace loom::tools {

/// Trains, keeps the best validation epoch, writes metrics.json and report.html; returns the
/// exit code.
int train_dense(const RunConfig& config);

}  // namespace loom::tools
