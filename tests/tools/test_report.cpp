// The HTML report: structure, escaping, mistakes first, learning-curve panels, PNG pictures, and
// what headless Chromium draws of every chart.
#include <doctest/doctest.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "loom/data/utf8.h"
#include "loom/errors.h"
#include "report.h"

namespace {

loom::report::Report full_report() {
  loom::report::Report r;
  r.title = "test <run> & co";
  r.summary = {{"test accuracy", "0.912"}, {"wall time", "12.3 s"}};
  // The losses share a panel; the accuracy has its own; the count is not drawn.
  r.curves = {{"train_loss", {0.9, 0.6, 0.4, 0.35}}, {"val_accuracy", {0.61, 0.7, 0.72, 0.71}},
              {"val_examples", {240, 240, 240, 240}}, {"val_loss", {0.95, 0.7, 0.5, 0.52}}};
  r.best_epoch = 3;
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
  r.curves = {{"train_loss", {1.2, 0.5, 0.3}}, {"val_wer", {0.6, 0.35, 0.3}}, {"val_per", {0.2, 0.2, 0.2}}};
  r.best_epoch = 3;
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
  r.curves = {{"train_loss", {2.5}}, {"val_bleu4", {0.4}}};  // a one-epoch run: a point each
  r.best_epoch = 1;
  r.pictures_title = "Captions (mistakes first)";
  r.tables = {{"Test captions (2 scenes)", {"decoding", "BLEU-1", "BLEU-4", "exact match"},
               {{"beam search, beam 3", "0.9500", "0.8800", "0.5000"}}}};
  std::vector<double> ramp(56 * 56);  // dark at the top, light at the bottom
  for (std::size_t i = 0; i < ramp.size(); ++i) ramp[i] = static_cast<double>(i / 56) / 55.0;
  r.pictures = {{56, 56, ramp, {"a bag at the top left", "reference: a bag at the top left"}, true},
                {56, 56, ramp, {"a shirt at the top right", "reference: a <coat> at the top right"}, false}};
  return r;
}

// What the fashion task writes: the test images it got wrong, with predicted and true labels.
loom::report::Report fashion_report() {
  loom::report::Report r;
  r.title = "loom fashion";
  r.curves = {{"train_loss", {0.8, 0.5}}, {"val_accuracy", {0.8, 0.86}}};
  r.best_epoch = 2;
  r.pictures_title = "Test images (mistakes first)";
  std::vector<double> stripes(28 * 28);
  for (std::size_t i = 0; i < stripes.size(); ++i) stripes[i] = (i / 4) % 2;
  r.pictures = {{28, 28, stripes, {"predicted: sneaker", "true: sneaker", "test image 3"}, true},
                {28, 28, stripes, {"predicted: shirt", "true: coat", "test image 7"}, false}};
  return r;
}

// The chunks of a PNG file after its signature: (type, data), each chunk's CRC checked with zlib.
std::vector<std::pair<std::string, std::string>> png_chunks(const std::string& png) {
  std::vector<std::pair<std::string, std::string>> chunks;
  auto u32 = [&](std::size_t at) {
    return std::uint32_t(std::uint8_t(png[at])) << 24 | std::uint32_t(std::uint8_t(png[at + 1])) << 16 |
           std::uint32_t(std::uint8_t(png[at + 2])) << 8 | std::uint32_t(std::uint8_t(png[at + 3]));
  };
  for (std::size_t at = 8; at + 12 <= png.size();) {
    const std::uint32_t length = u32(at);
    REQUIRE(at + 12 + length <= png.size());
    const std::string body = png.substr(at + 4, 4 + length);
    const auto crc = ::crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
    CHECK(u32(at + 8 + length) == crc);
    chunks.emplace_back(body.substr(0, 4), body.substr(4));
    at += 12 + length;
  }
  return chunks;
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

TEST_CASE("learning curves: the losses in one panel, every other metric in its own, counts never") {
  const auto panels = loom::report::curve_panels(full_report().curves);
  REQUIRE(panels.size() == 2);
  REQUIRE(panels[0].size() == 2);
  CHECK(panels[0][0].name == "train_loss");
  CHECK(panels[0][1].name == "val_loss");
  REQUIRE(panels[1].size() == 1);
  CHECK(panels[1][0].name == "val_accuracy");
  CHECK(loom::report::curve_panels({{"skipped_steps", {0, 2}}, {"val_examples", {240}}}).empty());
  const auto g2p = loom::report::curve_panels(g2p_report().curves);  // no loss mixed with an error rate
  REQUIRE(g2p.size() == 3);
  CHECK(g2p[1][0].name == "val_wer");
  CHECK(g2p[2][0].name == "val_per");

  const std::string html = loom::report::render_html(full_report());
  CHECK(html.find("data-name=\"val_examples\"") == std::string::npos);
  CHECK(html.find("aria-label=\"loss\" data-best=\"3\"") != std::string::npos);
  CHECK(html.find("aria-label=\"val_accuracy\" data-best=\"3\"") != std::string::npos);
  CHECK(html.find("best: epoch 3") != std::string::npos);
  CHECK(html.find("data-values=\"0.61 0.7 0.72 0.71\"") != std::string::npos);
}

TEST_CASE("a chart of extreme values draws what it can and never hangs") {
  loom::report::Report r;
  r.curves = {{"val_rmse", {1e15, 1e15 + 0.125, NAN}}, {"val_bleu", {NAN, NAN}}, {"val_per", {-1.7e308, 1.7e308}},
              {"val_wer", {0.25}}};
  r.best_epoch = 7;  // past the curves: no mark
  const std::string html = loom::report::render_html(r);
  CHECK(html.find("data-values=\"1e+15 1e+15 nan\"") != std::string::npos);
  CHECK(html.find("(no data for val_bleu)") != std::string::npos);
  CHECK(html.find("(val_per: values too far apart to draw)") != std::string::npos);
  CHECK(html.find("data-values=\"0.25\"") != std::string::npos);
  CHECK(html.find("data-best") == std::string::npos);
}

TEST_CASE("the caption report shows each scene as a PNG data URI with its captions, mistakes first") {
  const std::string html = loom::report::render_html(caption_report());
  for (const char* piece : {"Captions (mistakes first)", "Test captions (2 scenes)", "BLEU-4",
                            "width=\"168\" height=\"168\" src=\"data:image/png;base64,iVBORw0KGgo",
                            "reference: a &lt;coat&gt; at the top right"})
    CHECK(html.find(piece) != std::string::npos);
  CHECK(html.find("a shirt at the top right") < html.find("a bag at the top left"));  // the mistake first
}

TEST_CASE("the fashion report shows its mistaken test images with predicted and true labels, mistakes first") {
  const std::string html = loom::report::render_html(fashion_report());
  CHECK(html.find("<h2>Test images (mistakes first)</h2>") != std::string::npos);
  CHECK(html.find("<figure class=\"picture wrong\"") < html.find("<figure class=\"picture right\""));
  CHECK(html.find("alt=\"predicted: shirt\" width=\"84\" height=\"84\" src=\"data:image/png;base64,iVBORw0KGgo") !=
        std::string::npos);
  for (const char* line : {"<div>predicted: shirt</div><div>true: coat</div><div>test image 7</div>",
                           "<div>predicted: sneaker</div><div>true: sneaker</div>"})
    CHECK(html.find(line) != std::string::npos);
}

TEST_CASE("grayscale_png: signature, IHDR, chunk CRCs, and an IDAT that inflates to the filtered rows") {
  const std::string png = loom::report::grayscale_png(3, 2, {0.0, 0.5, 1.0, 1.0, 0.25, -3.0});
  REQUIRE(png.size() > 8);
  CHECK(png.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  const auto chunks = png_chunks(png);
  REQUIRE(chunks.size() == 3);
  CHECK(chunks[0].first == "IHDR");
  CHECK(chunks[0].second == std::string("\0\0\0\x03\0\0\0\x02\x08\0\0\0\0", 13));  // 3 x 2, 8-bit gray
  CHECK(chunks[1].first == "IDAT");
  CHECK(chunks[2] == std::pair<std::string, std::string>("IEND", ""));
  std::string rows(16, '\x7f');
  uLongf size = rows.size();
  const std::string& idat = chunks[1].second;
  REQUIRE(::uncompress(reinterpret_cast<Bytef*>(rows.data()), &size, reinterpret_cast<const Bytef*>(idat.data()),
                       idat.size()) == Z_OK);
  rows.resize(size);
  // Each row: filter type 0, then its pixels; 0.5 rounds to 128 and 0.25 to 64, -3 clamps to 0.
  CHECK(rows == std::string("\0\0\x80\xff\0\xff\x40\0", 8));

  // A large image is really compressed (zlib's stored blocks would hold 60,000+ bytes).
  CHECK(loom::report::grayscale_png(300, 200, std::vector<double>(300 * 200, 0.5)).size() < 1000);
  CHECK_THROWS_AS(loom::report::grayscale_png(2, 2, {0.0, 1.0}), loom::ValueError);
  CHECK_THROWS_AS(loom::report::grayscale_png(0, 0, {}), loom::ValueError);
  CHECK_THROWS_AS(loom::report::grayscale_png(std::int64_t(1) << 40, std::int64_t(1) << 40, {}), loom::ValueError);
}

TEST_CASE("every chart renders in headless Chromium, each series drawn over more than one value where it has them") {
  if (std::system("command -v chromium > /dev/null 2>&1") != 0) {
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") FAIL("chromium is required under CI (scripts/setup.sh installs it)");
    MESSAGE("skipped: chromium is not installed");
    return;
  }
  const auto dir = std::filesystem::temp_directory_path() / ("loom-report-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::vector<std::string> pages;
  for (const auto& [name, report] : {std::pair{"full", full_report()}, std::pair{"g2p", g2p_report()},
                                     std::pair{"caption", caption_report()}, std::pair{"fashion", fashion_report()}}) {
    pages.push_back((dir / (std::string(name) + ".html")).string());
    loom::report::write_html(report, pages.back());
  }
  // The check can fail: a chart that draws a falling loss flat, as one axis shared with a count of
  // 240 did, and a page with a script error.
  pages.push_back((dir / "flat.html").string());
  std::ofstream(pages.back()) << "<html><body><svg class=\"chart\" width=\"400\" height=\"300\" aria-label=\"old\">"
                                 "<polyline class=\"series\" data-name=\"train_loss\" data-values=\"0.7 0.5 0.4\" "
                                 "points=\"60,284.1 200,284.3 340,284.4\" stroke=\"red\"/></svg>"
                                 "<script>undefined_function();</script></body></html>";
  std::string command = "bash '" LOOM_TESTS_DIR "/tools/report_charts.sh'";
  for (const auto& page : pages) command += " '" + page + "'";
  std::string output;
  {
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen((command + " 2>&1").c_str(), "r"), pclose);
    REQUIRE(pipe != nullptr);
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe.get())) output.append(buffer, n);
  }
  std::map<std::string, std::vector<std::string>> charts;  // page name -> its probe lines
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    const auto colon = line.find(": ");
    if (colon == std::string::npos) continue;
    charts[std::filesystem::path(line.substr(0, colon)).stem().string()].push_back(line.substr(colon + 2));
  }
  INFO(output);
  // The plot is 184 px high with 5% margins: a series over the whole range spans 167 px, train_loss
  // (0.35 to 0.9) 153 px, val_loss
  // (0.5 to 0.95 of 0.35 to 0.95) 125 px, predicted (1.1 to 2.8 of 1 to 3) 142 px.
  const std::vector<std::string> expected_full = {
      "ok loss (470x270): train_loss 4 points, 4 distinct, span 153 px; val_loss 4 points, 4 distinct, span 125 px; best epoch 3",
      "ok val_accuracy (470x270): val_accuracy 4 points, 4 distinct, span 167 px; best epoch 3",
      "ok forecast (470x270): actual 4 points, 3 distinct, span 167 px; predicted 4 points, 4 distinct, span 142 px; "
      "persistence 4 points, 3 distinct, span 167 px"};
  CHECK(charts["full"] == expected_full);
  REQUIRE(charts["g2p"].size() == 3);
  CHECK(charts["g2p"][1] == "ok val_wer (470x270): val_wer 3 points, 3 distinct, span 167 px; best epoch 3");
  CHECK(charts["g2p"][2] == "ok val_per (470x270): val_per 3 points, 1 distinct, span 0 px; best epoch 3");  // flat data
  CHECK(charts["caption"] ==
        std::vector<std::string>{"ok loss (470x270): train_loss 1 points, 1 distinct, span 0 px; best epoch 1",
                                 "ok val_bleu4 (470x270): val_bleu4 1 points, 1 distinct, span 0 px; best epoch 1"});
  CHECK(charts["fashion"].size() == 2);
  CHECK(charts["flat"] ==
        std::vector<std::string>{"FAIL old (400x300): train_loss: 3 distinct values drawn within 0.30 px"});
  CHECK(output.find("undefined_function") != std::string::npos);  // the console error, named
  CHECK(output.find("console errors above") != std::string::npos);

  // Chromium decodes the PNG: a probe page (scripts are never in our reports) reads its size.
  const std::string html = loom::report::render_html(fashion_report());
  const auto uri = html.find("data:image/png");
  const std::string probe = (dir / "png.html").string();
  const std::string data_uri = html.substr(uri, html.find('"', uri) - uri);
  std::ofstream(probe) << "<html><body><img id=\"p\" onload=\"document.body.setAttribute('data-size', "
                          "this.naturalWidth + 'x' + this.naturalHeight)\" src=\"" + data_uri + "\"></body></html>";
  std::string probe_dom;
  CHECK_FALSE(has_console_error(chromium_log(probe, probe_dom)));
  CHECK(probe_dom.find("data-size=\"28x28\"") != std::string::npos);
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
