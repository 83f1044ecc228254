#pragma once
// Where the loom program finds a task's data when `--data-dir` (the task's own folder or file)
// does not say.
//
// The data root holds the embedded sentences (sentiment/) and fetched data sets (cache/NAME/). It
// is, first found: $LOOM_DATA_DIR; the source tree's data/ when the program runs from the build
// folder that made it (CMake configures both paths, so a build folder anywhere works); the
// install's share/loom/data beside the program's bin/. A fetched data set is ROOT/cache/NAME or,
// when scripts/fetch_data.sh could not write there, the user's cache ($XDG_CACHE_HOME/loom/NAME,
// else ~/.cache/loom/NAME).
#include <string>

namespace loom::tools {

/// What the search looks at: data_search() fills it from the environment and the program's
/// location; tests fill it by hand.
struct DataSearch {
  std::string env_root;      // $LOOM_DATA_DIR; empty when unset
  std::string program_dir;   // the folder of the running program
  std::string build_dir;     // the folder the build wrote the program to
  std::string source_root;   // the source tree's data folder
  std::string install_root;  // the install's data folder, relative to program_dir (or absolute)
  std::string user_cache;    // $XDG_CACHE_HOME/loom, else $HOME/.cache/loom; empty without either
};

/// The search of this process (argv0: the program's path when /proc/self/exe is unavailable).
DataSearch data_search(const char* argv0);

/// The data root; IOError naming the folders tried when none holds the embedded data, or when
/// LOOM_DATA_DIR is not a folder.
std::string data_root(const DataSearch& search);

/// The default `--data-dir` of `task`: ROOT/EMBEDDED for data in the repository (`fetched` empty),
/// else the folder of the fetched data set `fetched` (caption reads fashion's); IOError naming the
/// folders tried and the fetch command when the data set is not fetched.
std::string default_task_data_dir(const std::string& task, const std::string& embedded, const std::string& fetched,
                                  const DataSearch& search);

}  // namespace loom::tools
