// The HTML report: structure, escaping, mistakes first, and a clean render in headless Chromium.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include "loom/data/utf8.h"
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

// What the g2p task writes: an error-rate table, attention heatmaps and phone samples.
loom::report::Report g2p_report() {
  loom::report::Report r;
  r.title = "loom g2p";
  r.summary = {{"test_wer", "0.2400"}, {"test_per", "0.0610"}};
  r.curves = {{"train_loss", {1.2, 0.5, 0.3}}, {"val_wer", {0.6, 0.35, 0.3}}};
  r.tables = {{"Test error rates (3 words)", {"decoding", "word error rate", "phoneme error rate"},
               {{"beam search, beam 5", "24.00%", "6.10%"}, {"greedy", "25.50%", "6.40%"}}}};
  r.heatmaps = {{"cat: K AE T (right)", {"c", "a", "t"}, {"K", "AE", "T", "<eos>"},
                 {{0.9, 0.05, 0.05}, {0.1, 0.8, 0.1}, {0.0, 0.1, 0.9}, {0.0, 0.2, 0.8}}}};
  r.samples = {{"cat", "K AE T", "K AE T", true}, {"gnome", "G N OW M", "N OW M", false}};
  return r;
}

// What the caption task writes: a BLEU table and scenes with their captions.
loom::report::Report caption_report() {
  loom::report::Report r;
  r.title = "loom caption";
  r.tables = {{"Test captions (2 scenes)", {"decoding", "BLEU-1", "BLEU-4", "exact match"},
               {{"beam search, beam 3", "0.9500", "0.8800", "0.5000"}}}};
  std::vector<double> ramp(56 * 56);  // dark at the top, light at the bottom
  for (std::size_t i = 0; i < ramp.size(); ++i) ramp[i] = static_cast<double>(i / 56) / 55.0;
  r.pictures = {{56, 56, ramp, {"a bag at the top left", "reference: a bag at the top left"}, true},
                {56, 56, ramp, {"a shirt at the top right", "reference: a <coat> at the top right"}, false}};
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

TEST_CASE("the report stays valid UTF-8: a broken sequence becomes U+FFFD, whole characters pass") {
  loom::report::Report r;
  r.title = "caf\xc3\xa9 \xc3";                              // "café" and a lead byte cut from its character
  r.samples = {{"na\xefve \xff", "ham", "spam", false}};       // Latin-1 bytes
  const std::string html = loom::report::render_html(r);
  CHECK(html.find("caf\xc3\xa9 \xef\xbf\xbd") != std::string::npos);
  CHECK(html.find("na\xef\xbf\xbdve \xef\xbf\xbd") != std::string::npos);
  CHECK(loom::data::first_invalid_utf8(html) == std::string::npos);
}

TEST_CASE("the g2p report has the error-rate table and one attention heatmap cell per source x target pair") {
  const std::string html = loom::report::render_html(g2p_report());
  for (const char* piece : {"Test error rates (3 words)", "phoneme error rate", "Attention (rows: output steps",
                            "cat: K AE T (right)", "&lt;eos&gt;", "K / c: 0.900"})
    CHECK(html.find(piece) != std::string::npos);
  std::size_t cells = 0;
  for (auto at = html.find("<rect x", html.find("class=\"heatmap\"")); at != std::string::npos; at = html.find("<rect x", at + 1))
    ++cells;
  CHECK(cells == 3 * 4);
  CHECK(html.find("G N OW M") < html.find("K AE T</td>"));  // the mistake comes first
}

TEST_CASE("the caption report shows each scene as a PNG data URI with its captions, mistakes first") {
  const std::string html = loom::report::render_html(caption_report());
  for (const char* piece : {"Captions (mistakes first)", "Test captions (2 scenes)", "BLEU-4",
                            "<img alt=\"scene\" width=\"168\" height=\"168\" src=\"data:image/png;base64,iVBORw0KGgo",
                            "reference: a &lt;coat&gt; at the top right"})
    CHECK(html.find(piece) != std::string::npos);
  CHECK(html.find("a shirt at the top right") < html.find("a bag at the top left"));  // the mistake first
  const std::string png = loom::report::grayscale_png(2, 1, {0.0, 1.0});
  CHECK(png.substr(1, 3) == "PNG");
  CHECK(png.substr(12, 4) == "IHDR");
  CHECK(png.find(std::string("\0\0\xff", 3)) != std::string::npos);  // filter byte, black, white
  CHECK_THROWS(loom::report::grayscale_png(2, 2, {0.0, 1.0}));
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

  const std::string g2p_page = (dir / "g2p.html").string();
  loom::report::write_html(g2p_report(), g2p_page);
  std::string g2p_dom;
  CHECK_FALSE(has_console_error(chromium_log(g2p_page, g2p_dom)));
  CHECK(g2p_dom.find("cat: K AE T (right)") != std::string::npos);
  CHECK(g2p_dom.find("<figure class=\"heatmap\"") != std::string::npos);

  const std::string caption_page = (dir / "caption.html").string();
  loom::report::write_html(caption_report(), caption_page);
  std::string caption_dom;
  CHECK_FALSE(has_console_error(chromium_log(caption_page, caption_dom)));
  CHECK(caption_dom.find("<figure class=\"picture wrong\"") != std::string::npos);
  // Chromium decodes the PNG: a probe page (scripts are never in our reports) reads its size.
  const std::string probe = (dir / "png.html").string();
  std::ofstream(probe) << "<html><body><img id=\"p\" onload=\"document.body.setAttribute('data-size', "
                          "this.naturalWidth + 'x' + this.naturalHeight)\" src=\"" +
                              caption_dom.substr(caption_dom.find("data:image/png"),
                                                 caption_dom.find('"', caption_dom.find("data:image/png")) -
                                                     caption_dom.find("data:image/png")) +
                              "\"></body></html>";
  std::string probe_dom;
  chromium_log(probe, probe_dom);
  CHECK(probe_dom.find("data-size=\"56x56\"") != std::string::npos);

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
