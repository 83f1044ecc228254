// The HTML report: structure, escaping, mistakes first, and a clean render in headless Chromium.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <unistd.h>

#include "report.h"

namespace {

loom::report::Report full_report() {
  loom::report::Report r;
  r.title = "test <run> & co";
  r.summary = {{"test accuracy", "0.912"}, {"wall time", "12.3 s"}};
  r.curves = {{"train_loss", {0.9, 0.6, 0.4, 0.35}}, {"val_loss", {0.95, 0.7, 0.5, 0.52}}};
  r.class_names = {"negative", "positive"};
  r.confusion = {{40, 10}, {5, 45}};
  r.samples = {{"a fine film", "positive", "positive", true}, {"not <good> at all", "positive", "negative", false}};
  r.forecast = {{"actual", {1, 2, 3, 2}}, {"predicted", {1.1, 1.9, 2.8, 2.2}}, {"persistence", {1, 1, 2, 3}}};
  r.text_samples = {"the quick brown fox"};
  return r;
}

// Renders `path` in headless Chromium; returns its stderr log (console messages included).
std::string chromium_log(const std::string& path, std::string& dom) {
  const std::string log_path = path + ".log";
  const std::string command = "chromium --headless=new --no-sandbox --disable-gpu --enable-logging=stderr --v=0 "
                              "--dump-dom 'file://" + path + "' 2> '" + log_path + "'";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe.get())) dom.append(buffer, n);
  std::ifstream log(log_path);
  return std::string(std::istreambuf_iterator<char>(log), {});
}

bool has_console_error(const std::string& log) {
  return log.find("CONSOLE") != std::string::npos || log.find("Uncaught") != std::string::npos;
}

}  // namespace

TEST_CASE("the report has every section, escapes text and lists mistakes first") {
  const std::string html = loom::report::render_html(full_report());
  for (const char* section : {"Learning curves", "Confusion matrix", "Forecast on held-out data",
                              "Sample predictions (mistakes first)", "<svg", "test accuracy", "persistence"})
    CHECK(html.find(section) != std::string::npos);
  CHECK(html.find("test &lt;run&gt; &amp; co") != std::string::npos);
  CHECK(html.find("<run>") == std::string::npos);
  CHECK(html.find("not &lt;good&gt; at all") < html.find("a fine film"));  // the mistake comes first
  CHECK(html.find("<script") == std::string::npos);                      // self-contained, static
  CHECK(html.find("http") == std::string::npos);                         // nothing from the network
}

TEST_CASE("the report renders in headless Chromium without console errors") {
  if (std::system("command -v chromium > /dev/null 2>&1") != 0) {
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") FAIL("chromium is required under CI (scripts/setup.sh installs it)");
    MESSAGE("skipped: chromium is not installed");
    return;
  }
  const auto dir = std::filesystem::temp_directory_path() / ("loom-report-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string page = (dir / "report.html").string();
  loom::report::write_html(full_report(), page);
  std::string dom;
  const std::string log = chromium_log(page, dom);
  CHECK(dom.find("Confusion matrix") != std::string::npos);  // it really rendered our page
  CHECK(dom.find("<polyline") != std::string::npos);
  CHECK_FALSE(has_console_error(log));

  // The check can fail: a page with a script error is caught.
  const std::string broken = (dir / "broken.html").string();
  std::ofstream(broken) << "<html><body><script>console.error('boom'); undefined_function();</script></body></html>";
  std::string broken_dom;
  CHECK(has_console_error(chromium_log(broken, broken_dom)));
  std::filesystem::remove_all(dir);
}

TEST_CASE("pick_samples takes the first mistakes and correct answers spread over the set") {
  // mistakes at 1, 4, 7; the other 7 predictions are right
  std::vector<bool> correct(10, true);
  correct[1] = correct[4] = correct[7] = false;
  CHECK(loom::report::pick_samples(correct, 2, 0) == std::vector<std::size_t>{1, 4});
  // 7 right answers (indices 0 2 3 5 6 8 9), 3 wanted: every 2nd one -> indices 0, 3, 6
  CHECK(loom::report::pick_samples(correct, 5, 3) == std::vector<std::size_t>{0, 1, 3, 4, 6, 7});
  CHECK(loom::report::pick_samples({}, 5, 5).empty());
  CHECK(loom::report::pick_samples(std::vector<bool>(3, true), 5, 10) == std::vector<std::size_t>{0, 1, 2});
}
