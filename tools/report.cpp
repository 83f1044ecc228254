// HTML and SVG for the run report: plain string building, every piece of user text escaped.
#include "report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "loom/data/utf8.h"
#include "loom/errors.h"
#include "loom/serialization.h"

namespace loom::report {

namespace {

// HTML-escaped text; a byte that does not start a well-formed UTF-8 character becomes U+FFFD, so
// the page stays valid UTF-8 whatever a data set or a user typed.
std::string escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = data::utf8_sequence_length(text, i);
    if (length == 0) {
      out += "\uFFFD";
      ++i;
      continue;
    }
    if (length > 1) {
      out.append(text, i, length);
      i += length;
      continue;
    }
    switch (text[i++]) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += text[i - 1];
    }
  }
  return out;
}

const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};

// A line chart of several series sharing the x axis (index 1..n) and one y axis.
std::string line_chart(const std::vector<Series>& series, const std::string& x_label) {
  constexpr double width = 640, height = 300, left = 60, right = 150, top = 15, bottom = 40;
  double low = std::numeric_limits<double>::infinity(), high = -low;
  std::size_t length = 0;
  for (const auto& s : series)
    for (double v : s.values)
      if (std::isfinite(v)) low = std::min(low, v), high = std::max(high, v), length = std::max(length, s.values.size());
  if (length == 0) return "<p>(no data)</p>";
  if (high - low < 1e-12) low -= 0.5, high += 0.5;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  auto x_at = [&](std::size_t i) { return left + (length > 1 ? plot_w * i / (length - 1) : plot_w / 2); };
  auto y_at = [&](double v) { return top + plot_h * (high - v) / (high - low); };
  std::string svg = fmt::format(R"(<svg class="chart" viewBox="0 0 {} {}" width="{}" height="{}" role="img">)",
                                width, height, width, height);
  svg += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#999"/>)", left, top, plot_w, plot_h);
  for (int tick = 0; tick <= 4; ++tick) {  // y ticks
    const double v = low + (high - low) * tick / 4.0;
    svg += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="end" font-size="11">{:.4g}</text>)", left - 5, y_at(v) + 4, v);
    svg += fmt::format(R"(<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" stroke="#eee"/>)", left, left + plot_w, y_at(v), y_at(v));
  }
  svg += fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="middle" font-size="12">{} (1 to {})</text>)",
                     left + plot_w / 2, height - 8, escape(x_label), length);
  for (std::size_t k = 0; k < series.size(); ++k) {
    const char* color = kColors[k % std::size(kColors)];
    std::string points;
    for (std::size_t i = 0; i < series[k].values.size(); ++i)
      if (std::isfinite(series[k].values[i])) points += fmt::format("{:.1f},{:.1f} ", x_at(i), y_at(series[k].values[i]));
    svg += fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>)", color, points);
    svg += fmt::format(R"(<rect x="{}" y="{}" width="12" height="3" fill="{}"/><text x="{}" y="{}" font-size="12">{}</text>)",
                       width - right + 10, top + 12 + 18 * k, color, width - right + 28, top + 17 + 18 * k,
                       escape(series[k].name));
  }
  return svg + "</svg>";
}

std::string confusion_table(const Report& r) {
  std::int64_t largest = 1;
  for (const auto& row : r.confusion)
    for (auto v : row) largest = std::max(largest, v);
  std::string html = "<table class=\"confusion\"><tr><th>actual \\ predicted</th>";
  for (const auto& name : r.class_names) html += "<th>" + escape(name) + "</th>";
  html += "</tr>";
  for (std::size_t i = 0; i < r.confusion.size(); ++i) {
    html += "<tr><th>" + escape(i < r.class_names.size() ? r.class_names[i] : std::to_string(i)) + "</th>";
    for (std::size_t j = 0; j < r.confusion[i].size(); ++j) {
      const double share = static_cast<double>(r.confusion[i][j]) / static_cast<double>(largest);
      const int shade = static_cast<int>(255 - 155 * share);  // darker for larger counts
      html += fmt::format(R"html(<td style="background:rgb({},{},255)"{}>{}</td>)html", shade, shade,
                          i == j ? " class=\"diagonal\"" : "", r.confusion[i][j]);
    }
    html += "</tr>";
  }
  return html + "</table>";
}

}  // namespace

std::vector<std::size_t> pick_samples(const std::vector<bool>& correct, std::size_t mistakes, std::size_t right) {
  const auto correct_count = static_cast<std::size_t>(std::count(correct.begin(), correct.end(), true));
  const std::size_t stride = right ? std::max<std::size_t>(1, correct_count / right) : 0;
  std::vector<std::size_t> picked;
  std::size_t wrong_seen = 0, right_seen = 0;
  for (std::size_t i = 0; i < correct.size(); ++i) {
    if (!correct[i] && wrong_seen++ < mistakes) picked.push_back(i);
    if (correct[i] && stride && right_seen++ % stride == 0 && right_seen <= stride * right) picked.push_back(i);
  }
  return picked;
}

namespace {
std::string figures_table(const Table& t) {
  std::string html = "<h3>" + escape(t.title) + "</h3><table class=\"figures\"><tr>";
  for (const auto& name : t.header) html += "<th>" + escape(name) + "</th>";
  html += "</tr>";
  for (const auto& row : t.rows) {
    html += "<tr>";
    for (const auto& cell : row) html += "<td>" + escape(cell) + "</td>";
    html += "</tr>";
  }
  return html + "</table>";
}

// A grid of squares, darker for larger weights: source tokens along the top, target tokens down
// the left side, each cell's weight in its tooltip.
std::string heatmap_svg(const Heatmap& h) {
  constexpr double cell = 24, left = 60, top = 40;
  const double width = left + cell * static_cast<double>(h.columns.size()) + 10;
  const double height = top + cell * static_cast<double>(h.rows.size()) + 10;
  std::string svg = fmt::format(R"(<figure class="heatmap"><svg viewBox="0 0 {} {}" width="{}" height="{}" role="img">)",
                                width, height, width, height);
  for (std::size_t j = 0; j < h.columns.size(); ++j)
    svg += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" font-size="13">{}</text>)",
                       left + cell * (static_cast<double>(j) + 0.5), top - 8, escape(h.columns[j]));
  for (std::size_t i = 0; i < h.rows.size(); ++i) {
    const double y = top + cell * static_cast<double>(i);
    svg += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="end" font-size="12">{}</text>)", left - 6,
                       y + cell * 0.65, escape(h.rows[i]));
    for (std::size_t j = 0; j < h.columns.size(); ++j) {
      const double w = i < h.values.size() && j < h.values[i].size() ? std::clamp(h.values[i][j], 0.0, 1.0) : 0.0;
      const int shade = static_cast<int>(std::lround(255 * (1.0 - w)));
      svg += fmt::format(R"svg(<rect x="{:.1f}" y="{:.1f}" width="{}" height="{}" fill="rgb({},{},{})" stroke="#ddd"><title>{} / {}: {:.3f}</title></rect>)svg",
                         left + cell * static_cast<double>(j), y, cell, cell, shade, shade, 255, escape(h.rows[i]),
                         escape(h.columns[j]), w);
    }
  }
  return svg + "</svg><figcaption>" + escape(h.title) + "</figcaption></figure>";
}

std::string base64(const std::string& bytes) {
  static const char* digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::uint32_t group = static_cast<std::uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) group |= static_cast<std::uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) group |= static_cast<std::uint8_t>(bytes[i + 2]);
    for (std::size_t k = 0; k < 4; ++k)
      out += i + k <= bytes.size() ? digits[(group >> (18 - 6 * k)) & 63] : '=';
  }
  return out;
}

// Pictures as PNG data URIs drawn at 3x (pixelated), their lines under them; wrong ones first.
std::string pictures_grid(const std::vector<Picture>& pictures) {
  std::vector<Picture> ordered = pictures;
  std::stable_partition(ordered.begin(), ordered.end(), [](const Picture& p) { return !p.correct; });
  std::string html;
  for (const auto& p : ordered) {
    html += fmt::format(R"(<figure class="picture {}"><img alt="scene" width="{}" height="{}" src="data:image/png;base64,{}"><figcaption>)",
                        p.correct ? "right" : "wrong", 3 * p.width, 3 * p.height,
                        base64(grayscale_png(p.width, p.height, p.pixels)));
    for (const auto& line : p.lines) html += "<div>" + escape(line) + "</div>";
    html += "</figcaption></figure>";
  }
  return html;
}

std::string samples_table(const std::vector<Sample>& samples) {
  std::vector<Sample> ordered = samples;
  std::stable_partition(ordered.begin(), ordered.end(), [](const Sample& s) { return !s.correct; });
  std::string html = "<table class=\"samples\"><tr><th></th><th>input</th><th>predicted</th><th>actual</th></tr>";
  for (const auto& s : ordered)
    html += fmt::format(R"(<tr class="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>)",
                        s.correct ? "right" : "wrong", s.correct ? "&#10003;" : "&#10007;", escape(s.input),
                        escape(s.predicted), escape(s.actual));
  return html + "</table>";
}

}  // namespace

std::string grayscale_png(std::int64_t width, std::int64_t height, const std::vector<double>& pixels) {
  if (width <= 0 || height <= 0 || static_cast<std::int64_t>(pixels.size()) != width * height)
    throw ValueError(fmt::format("grayscale_png: expected {} x {} = {} pixels, got {}", width, height, width * height,
                                 pixels.size()));
  auto u32 = [](std::uint32_t v) {  // big-endian
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
  };
  auto crc32 = [](const std::string& bytes) {
    std::uint32_t crc = 0xffffffffu;
    for (unsigned char byte : bytes) {
      crc ^= byte;
      for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xffffffffu;
  };
  auto chunk = [&](const std::string& type, const std::string& data) {
    return u32(static_cast<std::uint32_t>(data.size())) + type + data + u32(crc32(type + data));
  };
  std::string raw;  // each row: filter type 0, then its bytes
  for (std::int64_t y = 0; y < height; ++y) {
    raw += '\0';
    for (std::int64_t x = 0; x < width; ++x)
      raw += static_cast<char>(std::lround(255.0 * std::clamp(pixels[y * width + x], 0.0, 1.0)));
  }
  std::string zlib = "\x78\x01";  // deflate, no compression: stored blocks of at most 65535 bytes
  for (std::size_t start = 0; start < raw.size() || start == 0; start += 65535) {
    const auto length = static_cast<std::uint16_t>(std::min<std::size_t>(65535, raw.size() - start));
    const bool last = start + length >= raw.size();
    zlib += static_cast<char>(last ? 1 : 0);
    zlib += {static_cast<char>(length & 0xff), static_cast<char>(length >> 8),
             static_cast<char>(~length & 0xff), static_cast<char>((~length >> 8) & 0xff)};
    zlib += raw.substr(start, length);
    if (last) break;
  }
  std::uint32_t a = 1, b = 0;  // Adler-32 of the uncompressed data
  for (unsigned char byte : raw) a = (a + byte) % 65521, b = (b + a) % 65521;
  zlib += u32((b << 16) | a);
  const std::string header = u32(static_cast<std::uint32_t>(width)) + u32(static_cast<std::uint32_t>(height)) +
                             std::string{8, 0, 0, 0, 0};  // 8-bit grayscale, no interlace
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", header) + chunk("IDAT", zlib) + chunk("IEND", "");
}

std::string render_html(const Report& r) {
  std::string html = R"(<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">)";
  html += "<title>" + escape(r.title) + " - Loom report</title><style>"
          "body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}"
          "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
          ".confusion td{text-align:right;min-width:3em}.diagonal{font-weight:bold}"
          ".samples .wrong td:first-child{color:#c00}.samples .right td:first-child{color:#080}"
          ".heatmap{display:inline-block;margin:0 1.5em 1em 0}"
          ".picture{display:inline-block;vertical-align:top;width:220px;margin:0 1em 1em 0;font-size:13px}"
          ".picture img{image-rendering:pixelated;border:1px solid #ccc}.picture.wrong div:first-child{color:#c00}"
          "pre{background:#f6f6f6;padding:8px;white-space:pre-wrap}</style></head><body>";
  html += "<h1>" + escape(r.title) + "</h1>";
  if (!r.summary.empty()) {
    html += "<table class=\"summary\">";
    for (const auto& [key, value] : r.summary) html += "<tr><th>" + escape(key) + "</th><td>" + escape(value) + "</td></tr>";
    html += "</table>";
  }
  if (!r.curves.empty()) html += "<h2>Learning curves</h2>" + line_chart(r.curves, "epoch");
  for (const auto& table : r.tables) html += figures_table(table);
  if (!r.confusion.empty()) html += "<h2>Confusion matrix</h2>" + confusion_table(r);
  if (!r.forecast.empty()) html += "<h2>Forecast on held-out data</h2>" + line_chart(r.forecast, "day");
  if (!r.heatmaps.empty()) {
    html += "<h2>Attention (rows: output steps, columns: input positions)</h2>";
    for (const auto& heatmap : r.heatmaps) html += heatmap_svg(heatmap);
  }
  if (!r.pictures.empty()) html += "<h2>Captions (mistakes first)</h2>" + pictures_grid(r.pictures);
  if (!r.samples.empty()) html += "<h2>Sample predictions (mistakes first)</h2>" + samples_table(r.samples);
  if (!r.text_samples.empty()) {
    html += "<h2>Samples</h2>";
    for (const auto& text : r.text_samples) html += "<pre>" + escape(text) + "</pre>";
  }
  return html + "<footer><p>Written by Loom.</p></footer></body></html>\n";
}

void write_html(const Report& report, const std::string& path) { write_file_atomically(path, render_html(report)); }

}  // namespace loom::report
