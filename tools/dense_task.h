#pragma once
// The dense-input tasks of the loom program (fashion, sp500).
#include "run_config.h"

namespace loom::tools {

struct Task;
/// The two tasks, for the task registry. Each trains, keeps the best validation epoch, and writes
/// metrics.json and report.html.
const Task& fashion_task();
const Task& sp500_task();

}  // namespace loom::tools
