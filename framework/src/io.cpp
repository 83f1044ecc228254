// Files written atomically and appended durably; the IOError messages of failed system calls.
#include "loom/io.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace loom {

std::string system_error_message(const std::string& what, const std::string& path) {
  return fmt::format("{} '{}': {}", what, path, std::strerror(errno));
}

namespace {

// Removes `folder/name.tmp.PID` files left by saves of the same file whose process is gone (killed
// mid-save). A live PID, ours or another saver's, keeps its file; so does a file whose suffix is
// not a PID.
void remove_stale_temporaries(const std::string& folder, const std::string& name) {
  DIR* dir = ::opendir(folder.c_str());
  if (!dir) return;
  const std::string prefix = name + ".tmp.";
  while (const dirent* entry = ::readdir(dir)) {
    const std::string file = entry->d_name;
    if (file.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = file.substr(prefix.size());
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::stol(digits));
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    ::unlink((folder + "/" + file).c_str());
  }
  ::closedir(dir);
}

// Writes all of `bytes` to `fd`, through short writes and interruptions; false (errno set) when
// the system refuses (a full disk...).
bool write_all(int fd, const std::string& bytes) {
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    written += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& bytes) {
  const std::string temporary = fmt::format("{}.tmp.{}", path, ::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw IOError(system_error_message("save: cannot create", temporary));
  if (!write_all(fd, bytes)) {
    const std::string message = system_error_message("save: cannot write", temporary);
    ::close(fd);
    ::unlink(temporary.c_str());
    throw IOError(message);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string message = system_error_message("save: cannot flush", temporary);
    ::unlink(temporary.c_str());
    throw IOError(message);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string message = system_error_message("save: cannot rename onto", path);
    ::unlink(temporary.c_str());
    throw IOError(message);
  }
  // Make the rename itself durable.
  const auto slash = path.rfind('/');
  const std::string folder = slash == std::string::npos ? "." : path.substr(0, std::max<std::size_t>(slash, 1));
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  remove_stale_temporaries(folder, slash == std::string::npos ? path : path.substr(slash + 1));
}

void append_to_file(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw IOError(system_error_message("append: cannot open", path));
  if (!write_all(fd, bytes) || ::fsync(fd) != 0) {
    const std::string message = system_error_message("append: cannot write", path);
    ::close(fd);
    throw IOError(message);
  }
  if (::close(fd) != 0) throw IOError(system_error_message("append: cannot close", path));
}

}  // namespace loom
