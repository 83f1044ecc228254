// HTML and SVG for the run report: plain string building, every piece of user text escaped.
#include "report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include <zlib.h>

#include "loom/data/utf8.h"
#include "loom/errors.h"
#include "loom/io.h"

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

constexpr std::size_t kNoMark = std::numeric_limits<std::size_t>::max();

// A tick step of 1, 2 or 5 times a power of ten that cuts `span` into at most `count` steps.
double tick_step(double span, int count) {
  const double rough = span / count, power = std::pow(10.0, std::floor(std::log10(rough)));
  for (double factor : {1.0, 2.0, 5.0})
    if (factor * power >= rough) return factor * power;
  return 10 * power;
}

// A line chart of series sharing the x axis (1..n) and one y axis, titled, with a legend when it
// draws several series and a dashed line at x = marked + 1 (the best epoch) unless kNoMark. Each
// polyline carries its series' name and values (data-name, data-values): what a test compares the
// drawing with. Up to 60 points a series also get a dot each, with the value as its tooltip, so a
// one-epoch run shows a point.
std::string line_chart(const std::vector<Series>& series, const std::string& title, const std::string& x_label,
                       std::size_t marked) {
  constexpr double width = 470, height = 270, left = 62, right = 16, top = 46, bottom = 40;
  double low = std::numeric_limits<double>::infinity(), high = -low;
  std::size_t length = 0;
  for (const auto& s : series) {
    length = std::max(length, s.values.size());
    for (double v : s.values)
      if (std::isfinite(v)) low = std::min(low, v), high = std::max(high, v);
  }
  if (!std::isfinite(low)) return "<p>(no data for " + escape(title) + ")</p>";
  if (!std::isfinite(high - low)) return "<p>(" + escape(title) + ": values too far apart to draw)</p>";
  const double margin = high - low > 0 ? 0.05 * (high - low) : std::abs(high) > 0 ? 0.1 * std::abs(high) : 1.0;
  low -= margin, high += margin;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  auto x_at = [&](std::size_t i) { return left + (length > 1 ? plot_w * i / (length - 1) : plot_w / 2); };
  auto y_at = [&](double v) { return top + plot_h * (high - v) / (high - low); };
  std::string svg = fmt::format(R"(<svg class="chart" viewBox="0 0 {} {}" width="{}" height="{}" role="img" aria-label="{}"{}>)",
                                width, height, width, height, escape(title),
                                marked < length ? fmt::format(R"( data-best="{}")", marked + 1) : "");
  svg += fmt::format(R"(<text x="{}" y="16" font-size="14" font-weight="bold">{}</text>)", left, escape(title));
  svg += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#999"/>)", left, top, plot_w, plot_h);
  const double y_step = tick_step(high - low, 6);
  // Enough significant digits that neighbouring tick labels differ.
  const double magnitude = std::max(std::abs(low), std::abs(high));
  const int digits = std::clamp(static_cast<int>(std::ceil(std::log10(magnitude / y_step))) + 1, 2, 12);
  // Ticks counted, not summed: a step below the values' precision would never move a sum.
  const double first_tick = std::ceil(low / y_step);
  for (int tick = 0; tick <= 12; ++tick) {
    const double v = (first_tick + tick) * y_step;
    if (v > high) break;
    svg += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="end" font-size="11">{:.{}g}</text>)", left - 5,
                       y_at(v) + 4, std::abs(v) < 1e-9 * y_step ? 0.0 : v, digits);
    svg += fmt::format(R"(<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" stroke="#eee"/>)", left, left + plot_w, y_at(v), y_at(v));
  }
  const auto x_step = std::max<std::size_t>(1, static_cast<std::size_t>(tick_step(static_cast<double>(length), 8)));
  for (std::size_t x = 1; x <= length; x += (x == 1 && x_step > 1 ? x_step - 1 : x_step))
    svg += fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="middle" font-size="11">{}</text>)", x_at(x - 1),
                       top + plot_h + 14, x);
  svg += fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="middle" font-size="12">{}</text>)", left + plot_w / 2,
                     height - 6, escape(x_label));
  if (marked < length) {
    const double x = x_at(marked);
    svg += fmt::format(R"(<line class="best" x1="{0:.1f}" x2="{0:.1f}" y1="{1}" y2="{2}" stroke="#555" stroke-dasharray="4 3"/>)",
                       x, top, top + plot_h);
    svg += fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="{}" font-size="11" fill="#555">best: {} {}</text>)",
                       x + (x > left + plot_w / 2 ? -4 : 4), top + 12, x > left + plot_w / 2 ? "end" : "start",
                       escape(x_label), marked + 1);
  }
  double legend_x = left;
  for (std::size_t k = 0; k < series.size(); ++k) {
    const char* color = kColors[k % std::size(kColors)];
    const auto& values = series[k].values;
    std::string points, data, dots;
    for (std::size_t i = 0; i < values.size(); ++i) {
      data += fmt::format("{}{:.6g}", i ? " " : "", values[i]);
      if (!std::isfinite(values[i])) continue;
      points += fmt::format("{:.1f},{:.1f} ", x_at(i), y_at(values[i]));
      if (length <= 60)
        dots += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="2.5" fill="{}"><title>{} {}: {:.6g}</title></circle>)",
                            x_at(i), y_at(values[i]), color, escape(x_label), i + 1, values[i]);
    }
    svg += fmt::format(R"(<polyline class="series" data-name="{}" data-values="{}" fill="none" stroke="{}" stroke-width="1.5" points="{}"/>)",
                       escape(series[k].name), data, color, points) + dots;
    if (series.size() > 1) {
      svg += fmt::format(R"(<rect x="{:.1f}" y="26" width="12" height="3" fill="{}"/><text x="{:.1f}" y="31" font-size="12">{}</text>)",
                         legend_x, color, legend_x + 16, escape(series[k].name));
      legend_x += 30 + 7.0 * static_cast<double>(series[k].name.size());
    }
  }
  return svg + "</svg>";
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
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

std::vector<std::vector<Series>> curve_panels(const std::vector<Series>& curves) {
  std::vector<std::vector<Series>> panels(1);  // the losses first
  for (const auto& series : curves) {
    const std::string& name = series.name;
    if (ends_with(name, "_examples") || ends_with(name, "_steps") || ends_with(name, "_count")) continue;
    if (ends_with(name, "loss"))
      panels.front().push_back(series);
    else
      panels.push_back({series});
  }
  if (panels.front().empty()) panels.erase(panels.begin());
  return panels;
}

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
    html += fmt::format(R"(<figure class="picture {}" style="width:{}px"><img alt="{}" width="{}" height="{}" src="data:image/png;base64,{}"><figcaption>)",
                        p.correct ? "right" : "wrong", std::max<std::int64_t>(3 * p.width, 140),
                        escape(p.lines.empty() ? "picture" : p.lines.front()), 3 * p.width, 3 * p.height,
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
  constexpr std::int64_t png_limit = 0x7fffffff;
  if (width <= 0 || height <= 0 || width > png_limit || height > png_limit ||  // then width * height fits
      static_cast<std::int64_t>(pixels.size()) != width * height)
    throw ValueError(fmt::format("grayscale_png: expected {} x {} pixels (each side 1 to 2^31 - 1), got {} values",
                                 width, height, pixels.size()));
  auto u32 = [](std::uint32_t v) {  // big-endian
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
  };
  auto chunk = [&](const std::string& type, const std::string& data) {
    const std::string body = type + data;
    const auto crc = ::crc32(::crc32(0, nullptr, 0), reinterpret_cast<const Bytef*>(body.data()),
                             static_cast<uInt>(body.size()));
    return u32(static_cast<std::uint32_t>(data.size())) + body + u32(static_cast<std::uint32_t>(crc));
  };
  std::string rows;  // each row: filter type 0 (none), then its bytes
  rows.reserve(pixels.size() + static_cast<std::size_t>(height));
  for (std::int64_t y = 0; y < height; ++y) {
    rows += '\0';
    for (std::int64_t x = 0; x < width; ++x)
      rows += static_cast<char>(std::lround(255.0 * std::clamp(pixels[y * width + x], 0.0, 1.0)));
  }
  uLongf size = ::compressBound(static_cast<uLong>(rows.size()));
  std::string compressed(size, '\0');
  if (::compress2(reinterpret_cast<Bytef*>(compressed.data()), &size, reinterpret_cast<const Bytef*>(rows.data()),
                  static_cast<uLong>(rows.size()), Z_BEST_COMPRESSION) != Z_OK)
    throw ResourceError(fmt::format("grayscale_png: zlib could not compress the {} x {} image (out of memory)",
                                    width, height));
  compressed.resize(size);
  const std::string header = u32(static_cast<std::uint32_t>(width)) + u32(static_cast<std::uint32_t>(height)) +
                             std::string{8, 0, 0, 0, 0};  // 8-bit grayscale, deflate, no interlace
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", header) + chunk("IDAT", compressed) + chunk("IEND", "");
}

std::string render_html(const Report& r) {
  std::string html = R"(<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">)";
  html += "<title>" + escape(r.title) + " - Loom report</title><style>"
          "body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}"
          "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
          ".confusion td{text-align:right;min-width:3em}.diagonal{font-weight:bold}"
          ".samples .wrong td:first-child{color:#c00}.samples .right td:first-child{color:#080}"
          ".heatmap{display:inline-block;margin:0 1.5em 1em 0}"
          ".panels{display:flex;flex-wrap:wrap;gap:8px}"
          ".picture{display:inline-block;vertical-align:top;margin:0 1em 1em 0;font-size:13px}"
          ".picture img{image-rendering:pixelated;border:1px solid #ccc}.picture.wrong div:first-child{color:#c00}"
          "pre{background:#f6f6f6;padding:8px;white-space:pre-wrap}</style></head><body>";
  html += "<h1>" + escape(r.title) + "</h1>";
  if (!r.summary.empty()) {
    html += "<table class=\"summary\">";
    for (const auto& [key, value] : r.summary) html += "<tr><th>" + escape(key) + "</th><td>" + escape(value) + "</td></tr>";
    html += "</table>";
  }
  const auto panels = curve_panels(r.curves);
  if (!panels.empty()) {
    html += "<h2>Learning curves</h2><div class=\"panels\">";
    const auto best = r.best_epoch > 0 ? static_cast<std::size_t>(r.best_epoch - 1) : kNoMark;
    for (const auto& panel : panels)
      html += line_chart(panel, ends_with(panel[0].name, "loss") ? "loss" : panel[0].name, "epoch", best);
    html += "</div>";
  }
  for (const auto& table : r.tables) html += figures_table(table);
  if (!r.confusion.empty()) html += "<h2>Confusion matrix</h2>" + confusion_table(r);
  if (!r.forecast.empty())
    html += "<h2>Forecast on held-out data</h2>" + line_chart(r.forecast, "forecast", "day", kNoMark);
  if (!r.heatmaps.empty()) {
    html += "<h2>Attention (rows: output steps, columns: input positions)</h2>";
    for (const auto& heatmap : r.heatmaps) html += heatmap_svg(heatmap);
  }
  if (!r.pictures.empty()) html += "<h2>" + escape(r.pictures_title) + "</h2>" + pictures_grid(r.pictures);
  if (!r.samples.empty()) html += "<h2>Sample predictions (mistakes first)</h2>" + samples_table(r.samples);
  if (!r.text_samples.empty()) {
    html += "<h2>Samples</h2>";
    for (const auto& text : r.text_samples) html += "<pre>" + escape(text) + "</pre>";
  }
  return html + "<footer><p>Written by Loom.</p></footer></body></html>\n";
}

void write_html(const Report& report, const std::string& path) { write_file_atomically(path, render_html(report)); }

}  // namespace loom::report
