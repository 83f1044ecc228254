#include "data_root.h"

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "loom/errors.h"  // IOError

namespace loom::tools {
namespace {

namespace fs = std::filesystem;

// A data root holds the embedded sentences.
bool holds_embedded_data(const fs::path& root) {
  std::error_code error;
  return fs::is_regular_file(root / "sentiment" / "amazon.tsv", error);
}

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

}  // namespace

DataSearch data_search(const char* argv0) {
  DataSearch search;
  search.env_root = environment("LOOM_DATA_DIR");
  std::error_code error;
  fs::path program = fs::canonical("/proc/self/exe", error);
  if (error) program = fs::canonical(argv0, error);
  if (!error) search.program_dir = program.parent_path().string();
  search.build_dir = LOOM_BUILD_PROGRAM_DIR;
  search.source_root = LOOM_SOURCE_DATA_DIR;
  search.install_root = LOOM_INSTALL_DATA_DIR;
  // The XDG base directory rules: a relative XDG_CACHE_HOME is to be ignored.
  const std::string xdg_cache = environment("XDG_CACHE_HOME"), home = environment("HOME");
  if (fs::path(xdg_cache).is_absolute())
    search.user_cache = xdg_cache + "/loom";
  else if (!home.empty())
    search.user_cache = home + "/.cache/loom";
  return search;
}

std::string data_root(const DataSearch& search) {
  std::error_code error;
  if (!search.env_root.empty()) {
    if (!fs::is_directory(search.env_root, error))
      throw IOError(fmt::format("LOOM_DATA_DIR: expected a folder, got '{}'", search.env_root));
    return search.env_root;
  }
  std::vector<std::string> tried;
  const bool from_build_dir = !search.program_dir.empty() && !search.build_dir.empty() &&
                              fs::equivalent(search.program_dir, search.build_dir, error);
  if (from_build_dir) {
    if (holds_embedded_data(search.source_root)) return search.source_root;
    tried.push_back(search.source_root);
  }
  if (!search.program_dir.empty()) {
    const fs::path installed = (fs::path(search.program_dir) / search.install_root).lexically_normal();
    if (holds_embedded_data(installed)) return installed.string();
    tried.push_back(installed.string());
  }
  throw IOError(fmt::format("no data folder with sentiment/amazon.tsv in {}; set LOOM_DATA_DIR to Loom's data "
                            "folder or pass --data-dir",
                            tried.empty() ? std::string("(the program's location is unknown)")
                                          : fmt::format("{}", fmt::join(tried, " or "))));
}

std::string default_task_data_dir(const std::string& task, const std::string& embedded, const std::string& name,
                                  const DataSearch& search) {
  const std::string root = data_root(search);
  if (name.empty()) return root + "/" + embedded;
  std::vector<std::string> tried{root + "/cache/" + name};
  if (!search.user_cache.empty()) tried.push_back(search.user_cache + "/" + name);
  std::error_code error;
  for (const auto& folder : tried)
    if (fs::is_directory(folder, error)) return folder;
  // The fetch script: scripts/fetch_data.sh beside the source tree's data/, or share/loom/fetch_data.sh
  // beside an install's share/loom/data.
  std::string script = "scripts/fetch_data.sh";
  for (const auto& place : {fs::path(root).parent_path() / "scripts", fs::path(root).parent_path()})
    if (fs::is_regular_file(place / "fetch_data.sh", error)) {
      script = (place / "fetch_data.sh").string();
      break;
    }
  throw IOError(fmt::format("train {}: the {} data set is not fetched (looked in {}); fetch it with `bash {} {}`",
                            task, name, fmt::join(tried, " and "), script, name));
}

}  // namespace loom::tools
