// Where the loom program finds its data (tools/data_root.h): LOOM_DATA_DIR, the source tree from
// the build folder, the install's share/loom/data, fetched data sets in the root or the user's cache.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "data_root.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using loom::tools::DataSearch;
using loom_test::message_of;

// A data root at `root` with the embedded sentences' marker file.
void make_root(const fs::path& root) {
  fs::create_directories(root / "sentiment");
  std::ofstream(root / "sentiment" / "amazon.tsv") << "1\tA fine phone.\n";
}

// A build folder and an install side by side under `top`, each with its data where the search
// expects it: top/src/data, top/build (the build's program folder), top/prefix/bin and
// top/prefix/share/loom/data.
DataSearch layout(const fs::path& top) {
  make_root(top / "src" / "data");
  make_root(top / "prefix" / "share" / "loom" / "data");
  fs::create_directories(top / "build");
  fs::create_directories(top / "prefix" / "bin");
  DataSearch search;
  search.build_dir = (top / "build").string();
  search.source_root = (top / "src" / "data").string();
  search.install_root = "../share/loom/data";
  search.user_cache = (top / "cache" / "loom").string();
  return search;
}

}  // namespace

TEST_CASE("data root: the source tree from the build folder, the install's share/loom/data from the install") {
  loom_test::TempDir top;
  DataSearch search = layout(top.path);
  search.program_dir = search.build_dir;
  CHECK(loom::tools::data_root(search) == search.source_root);
  // An installed program ignores the source tree it was built from, though it still exists.
  search.program_dir = top.path + "/prefix/bin";
  CHECK(loom::tools::data_root(search) == top.path + "/prefix/share/loom/data");
  // The build folder's program falls back to the install layout when the source tree is gone.
  search.program_dir = search.build_dir;
  fs::remove_all(search.source_root);
  const auto error = message_of<loom::IOError>([&] { loom::tools::data_root(search); });
  CHECK(error.find("no data folder with sentiment/amazon.tsv in " + search.source_root + " or " + top.path +
                   "/share/loom/data") == 0);
  CHECK(error.find("LOOM_DATA_DIR") != std::string::npos);
}

TEST_CASE("data root: LOOM_DATA_DIR comes first and must be a folder") {
  loom_test::TempDir top;
  DataSearch search = layout(top.path);
  search.program_dir = search.build_dir;
  search.env_root = top.path + "/mine";
  fs::create_directories(search.env_root);  // a root of fetched data alone needs no sentences
  CHECK(loom::tools::data_root(search) == search.env_root);
  search.env_root = top.path + "/nowhere";
  CHECK(message_of<loom::IOError>([&] { loom::tools::data_root(search); }) ==
        "LOOM_DATA_DIR: expected a folder, got '" + top.path + "/nowhere'");
}

TEST_CASE("task data: the embedded sentences, then fetched data in the root's cache or the user's") {
  loom_test::TempDir top;
  DataSearch search = layout(top.path);
  search.program_dir = search.build_dir;
  const std::string root = search.source_root;
  CHECK(loom::tools::default_task_data_dir("sentiment", "sentiment", "", search) == root + "/sentiment");
  CHECK(loom::tools::default_task_data_dir("charlm", "sentiment", "", search) == root + "/sentiment");

  const auto error = message_of<loom::IOError>([&] { loom::tools::default_task_data_dir("caption", "", "fashion", search); });
  CHECK(error == "train caption: the fashion data set is not fetched (looked in " + root + "/cache/fashion and " +
                     search.user_cache + "/fashion); fetch it with `bash scripts/fetch_data.sh fashion`");

  fs::create_directories(search.user_cache + "/fashion");
  CHECK(loom::tools::default_task_data_dir("fashion", "", "fashion", search) == search.user_cache + "/fashion");
  CHECK(loom::tools::default_task_data_dir("caption", "", "fashion", search) == search.user_cache + "/fashion");
  fs::create_directories(root + "/cache/fashion");  // the root's copy wins
  CHECK(loom::tools::default_task_data_dir("fashion", "", "fashion", search) == root + "/cache/fashion");

  // The fetch command names the script beside the data folder when there is one.
  fs::create_directories(top.path + "/src/scripts");
  std::ofstream(top.path + "/src/scripts/fetch_data.sh") << "#!/bin/sh\n";
  CHECK(message_of<loom::IOError>([&] { loom::tools::default_task_data_dir("sp500", "", "sp500", search); })
            .find("fetch it with `bash " + top.path + "/src/scripts/fetch_data.sh sp500`") != std::string::npos);
}

TEST_CASE("data search: LOOM_DATA_DIR and the user's cache from the environment") {
  const char* saved_home = std::getenv("HOME");
  const std::string home = saved_home ? saved_home : "";
  setenv("HOME", "/home/someone", 1);
  setenv("LOOM_DATA_DIR", "/srv/loom-data", 1);
  setenv("XDG_CACHE_HOME", "/var/cache/someone", 1);
  auto search = loom::tools::data_search("loom");
  CHECK(search.env_root == "/srv/loom-data");
  CHECK(search.user_cache == "/var/cache/someone/loom");
  CHECK(fs::path(search.program_dir).is_absolute());  // this test program's folder
  setenv("XDG_CACHE_HOME", "relative/cache", 1);  // the XDG rules: a relative path is ignored
  CHECK(loom::tools::data_search("loom").user_cache == "/home/someone/.cache/loom");
  unsetenv("LOOM_DATA_DIR");
  unsetenv("XDG_CACHE_HOME");
  CHECK(loom::tools::data_search("loom").env_root.empty());
  if (saved_home) setenv("HOME", home.c_str(), 1);
}
