#pragma once
/// Files that are never left half-written, for checkpoints, run folders and logs.
///
///     loom::write_file_atomically("runs/demo/config.json", json);   // all or nothing, durable
///     loom::append_to_file("runs/demo/metrics.jsonl", line + "\n");
///
/// Failures raise loom::IOError naming the file and the system's reason.
#include <string>

#include "loom/errors.h"

namespace loom {

/// Writes `bytes` to `path` atomically (temporary file `path.tmp.PID`, flush, fsync, rename,
/// fsync of the folder): for any file that must never be left half-written. A save also removes
/// the temporary files of earlier saves of the same path whose process has died (killed
/// mid-save); those of live processes are left alone.
void write_file_atomically(const std::string& path, const std::string& bytes);
/// Appends `bytes` to `path` (created when missing) and flushes them to disk; an IOError names
/// the file and the system's reason (a full disk, no permission, a folder in the way).
void append_to_file(const std::string& path, const std::string& bytes);

/// "WHAT 'PATH': the system's reason (strerror(errno))": the message of an IOError after a
/// failed system call.
std::string system_error_message(const std::string& what, const std::string& path);

}  // namespace loom
