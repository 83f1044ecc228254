// Loaders: the checked fields every parser reads, CSV/TSV quoting and errors, gzip'ed IDX files
// (good, truncated, hostile, labelled), daily closes, time-series windows and the train-only
// standardizer, the embedded sentiment sentences and their split, spam mail, the CMU dictionary
// and the Bible verse pairs split by book.
#include <loom/data/bible.h>
#include <loom/data/cmudict.h>
#include <loom/data/delimited.h>
#include <loom/data/fields.h>
#include <loom/data/idx.h>
#include <loom/data/sentiment.h>
#include <loom/data/spam.h>
#include <loom/data/timeseries.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>

#include "test_util.h"

using Rows = std::vector<std::vector<std::string>>;

namespace {

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

template <class Function>
std::string io_error_of(Function&& function) {
  try {
    function();
  } catch (const loom::IOError& e) {
    return e.what();
  }
  return "no error";
}

std::string big_endian(std::uint32_t v) {
  return {char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}

std::string little_endian(std::uint32_t v) {
  return {char(v & 0xff), char((v >> 8) & 0xff), char((v >> 16) & 0xff), char(v >> 24)};
}

std::uint32_t crc32(const std::string& bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : bytes) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// A gzip member holding `data` in stored (uncompressed) deflate blocks: what `gzip` would write,
// minus the compression, which zlib reads through the same path.
std::string gzip(const std::string& data) {
  std::string out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
  std::size_t pos = 0;
  do {
    const std::size_t n = std::min<std::size_t>(data.size() - pos, 65535);
    const bool last = pos + n == data.size();
    out += char(last ? 1 : 0);
    out += {char(n & 0xff), char(n >> 8), char(~n & 0xff), char((~n >> 8) & 0xff)};
    out += data.substr(pos, n);
    pos += n;
  } while (pos < data.size());
  return out + little_endian(crc32(data)) + little_endian(static_cast<std::uint32_t>(data.size()));
}

std::string idx_images(std::uint32_t n, std::uint32_t rows, std::uint32_t cols, const std::string& pixels) {
  return big_endian(0x803) + big_endian(n) + big_endian(rows) + big_endian(cols) + pixels;
}

}  // namespace

// ---- checked fields -------------------------------------------------------------------------------

TEST_CASE("checked fields: integers in range, finite numbers and UTF-8, or an IOError naming file and line") {
  const std::string path = "labels.tsv";
  const loom::data::FieldSource at{"load_x", path, 7};
  CHECK(loom::data::parse_integer("1", 0, 1, at, "as the label") == 1);
  CHECK(loom::data::parse_integer("-12", -20, 0, at, "as the label") == -12);
  CHECK(io_error_of([&] { loom::data::parse_integer("-1", 0, 1, at, "as the label"); }) ==
        "load_x: labels.tsv:7: expected an integer in [0, 1] as the label, got '-1'");
  for (const char* bad : {"", "-", "1.0", " 1", "1 ", "+1", "0x1", "abc", "1000000000", "-1000000000000",
                          "99999999999999999999999"})
    CHECK(io_error_of([&] { loom::data::parse_integer(bad, 0, 1, at, "as the label"); }).find("labels.tsv:7:") !=
          std::string::npos);
  CHECK(loom::data::parse_finite_number(" 2.5 ", at, "as the close") == 2.5);
  for (const std::string bad : {"", "nan", "inf", "-inf", "1e999", "1,5"})
    CHECK(io_error_of([&] { loom::data::parse_finite_number(bad, at, "as the close"); })
              .find("labels.tsv:7: expected a finite number as the close") != std::string::npos);
  CHECK(io_error_of([&] { loom::data::parse_finite_number(std::string("1\0", 2), at, "as the close"); }) != "no error");
  CHECK_NOTHROW(loom::data::check_utf8("plain, and caf\xc3\xa9", at));
  CHECK(io_error_of([&] { loom::data::check_utf8("ok\nstill ok\nbad \xff here", at); }) ==
        "load_x: labels.tsv:9: expected UTF-8 text, got the byte 0xff at column 5");
  // A long field is quoted in part; a line end or a stray byte as \xNN, so the error stays one line.
  CHECK(io_error_of([&] { loom::data::parse_integer(std::string(500, '7'), 0, 1, at, "as the label"); }).size() < 150);
  CHECK(loom::data::quote_field("caf\xc3\xa9\n\xff") == "'caf\xc3\xa9\\x0a\\xff'");
  CHECK(loom::data::quote_field(std::string(39, 'a') + "\xc3\xa9" "b") == "'" + std::string(39, 'a') + "\xc3\xa9...'");
}

// ---- CSV / TSV ------------------------------------------------------------------------------------

TEST_CASE("read_delimited handles quotes, escaped quotes, CRLF, a BOM and blank lines") {
  loom_test::TempDir dir;
  const std::string path = dir.path + "/t.csv";
  write_bytes(path, "\xEF\xBB\xBF" "name,quote,n\r\n"
                    "plain,\"a, b\",1\r\n"
                    "\r\n"
                    "esc,\"say \"\"hi\"\"\",2\n"
                    "multi,\"line one\nline two\",3\n"
                    "empty,,\"\"\r\n");
  const auto table = loom::data::read_delimited(path);
  CHECK(table.header == std::vector<std::string>{"name", "quote", "n"});
  CHECK(table.rows == Rows{{"plain", "a, b", "1"},
                           {"esc", "say \"hi\"", "2"},
                           {"multi", "line one\nline two", "3"},
                           {"empty", "", ""}});
  CHECK(table.line_numbers == std::vector<std::int64_t>{2, 4, 5, 7});
  CHECK(table.column("n") == 2);
  CHECK(io_error_of([&] { table.column("price"); }).find("'name', 'quote', 'n'") != std::string::npos);

  write_bytes(path, "1\t\"quoted\" text\n0\tit's\n");
  CHECK(loom::data::read_delimited(path, '\t', false, false).rows ==
        Rows{{"1", "\"quoted\" text"}, {"0", "it's"}});
}

TEST_CASE("malformed delimited files are IOErrors naming the line") {
  loom_test::TempDir dir;
  const std::string path = dir.path + "/bad.csv";
  const auto error = [&](const std::string& bytes) {
    write_bytes(path, bytes);
    return io_error_of([&] { loom::data::read_delimited(path); });
  };
  CHECK(error("a,b\n1,2\n3\n").find("bad.csv:3: expected 2 fields (as on line 1), got 1") != std::string::npos);
  CHECK(error("a,b\n1,\"open\n2,3\n").find(":2: a quoted field is not closed") != std::string::npos);
  CHECK(error("a,b\n\"x\"y,2\n").find(":2: expected a delimiter or the line end") != std::string::npos);
  CHECK(error("").find("expected a header") != std::string::npos);
  CHECK(io_error_of([&] { loom::data::read_delimited(dir.path + "/none.csv"); }).find("cannot open") !=
        std::string::npos);
  CHECK_THROWS_AS(loom::data::read_delimited(path, '"'), loom::ValueError);
}

TEST_CASE("read_csv_column parses numbers and names the line of one that is not") {
  loom_test::TempDir dir;
  const std::string path = dir.path + "/p.csv";
  write_bytes(path, "date,close\n2000-01-03,1455.22\n2000-01-04, 1399.42 \n");
  CHECK(loom::data::read_csv_column(path, "close") == std::vector<double>{1455.22, 1399.42});
  write_bytes(path, "date,close\n2000-01-03,1455.22\n2000-01-04,n/a\n");
  CHECK(io_error_of([&] { loom::data::read_csv_column(path, "close"); })
            .find("p.csv:3: expected a finite number in column 'close', got 'n/a'") != std::string::npos);
  write_bytes(path, "date,close\n2000-01-03,\n");
  CHECK(io_error_of([&] { loom::data::read_csv_column(path, "close"); }).find("p.csv:2:") != std::string::npos);
}

// ---- IDX ------------------------------------------------------------------------------------------

TEST_CASE("gzip'ed and plain IDX images and labels read back scaled and typed") {
  loom_test::TempDir dir;
  std::string pixels;
  for (int i = 0; i < 2 * 3 * 4; ++i) pixels += char(i * 10);
  write_bytes(dir.path + "/images.gz", gzip(idx_images(2, 3, 4, pixels)));
  write_bytes(dir.path + "/images", idx_images(2, 3, 4, pixels));
  for (const char* name : {"/images.gz", "/images"}) {
    CAPTURE(name);
    const auto images = loom::data::read_idx_images(dir.path + name);
    CHECK(images.shape() == loom::Shape{2, 3, 4});
    CHECK(images.dtype() == loom::Dtype::Float32);
    const auto v = loom_test::values(images);
    CHECK(v[0] == 0.0);
    CHECK(v[5] == doctest::Approx(50.0 / 255.0));
    CHECK(v[23] == doctest::Approx(230.0 / 255.0));
  }
  write_bytes(dir.path + "/labels.gz", gzip(big_endian(0x801) + big_endian(4) + std::string("\x09\x00\x03\x07", 4)));
  const auto labels = loom::data::read_idx_labels(dir.path + "/labels.gz");
  CHECK(labels.dtype() == loom::Dtype::Int64);
  CHECK(labels.to_vector<std::int64_t>() == std::vector<std::int64_t>{9, 0, 3, 7});

  // Larger than one stored block and one read chunk boundary of the reader's own.
  std::string many(70000 * 1 * 1, '\x80');
  write_bytes(dir.path + "/many.gz", gzip(idx_images(70000, 1, 1, many)));
  CHECK(loom::data::read_idx_images(dir.path + "/many.gz").shape() == loom::Shape{70000, 1, 1});
}

TEST_CASE("bad, truncated and hostile IDX files are IOErrors") {
  loom_test::TempDir dir;
  const std::string path = dir.path + "/x.gz";
  const auto images_error = [&](const std::string& bytes) {
    write_bytes(path, bytes);
    return io_error_of([&] { loom::data::read_idx_images(path); });
  };
  const std::string good = idx_images(2, 2, 2, std::string(8, '\x01'));
  CHECK(images_error(gzip(good)) == "no error");
  // Labels where images are expected.
  CHECK(images_error(gzip(big_endian(0x801) + big_endian(1) + "\x01")).find("magic number 0x00000803") !=
        std::string::npos);
  CHECK(images_error(gzip(good.substr(0, good.size() - 3))).find("truncated") != std::string::npos);
  CHECK(images_error(gzip(good).substr(0, 20)).find("no error") == std::string::npos);  // cut gzip stream
  CHECK(images_error(gzip(good + "x")).find("expected the file to end") != std::string::npos);
  CHECK(images_error(gzip(good.substr(0, 10))).find("truncated") != std::string::npos);  // cut header
  CHECK(images_error(gzip(idx_images(1, 0, 5, ""))).find("dimension 1") != std::string::npos);
  // A header claiming 4 billion 65535x65535 images: refused before any allocation.
  CHECK(images_error(gzip(idx_images(0xFFFFFFFFu, 65535, 65535, ""))).find("at most") != std::string::npos);
  // A plausible header over too little data: the reader stops at the data, not the claim
  // (noise, so the gzip'ed file is long enough for what its header claims).
  std::string noise(20000, '\0');
  std::uint32_t state = 1;
  for (auto& byte : noise) byte = static_cast<char>((state = state * 1103515245u + 12345u) >> 24);
  CHECK(images_error(gzip(idx_images(10000, 28, 28, noise))).find("truncated") != std::string::npos);
  // A claim no gzip'ed file of its length can hold (deflate expands at most 1032:1): refused
  // before reading.
  CHECK(images_error(gzip(idx_images(1000000, 28, 28, std::string(100, '\0')))).find("more than a gzip'ed file") !=
        std::string::npos);
  // The same claim in a raw file: its length must match exactly.
  write_bytes(dir.path + "/raw", idx_images(1000000, 28, 28, std::string(100, '\0')));
  CHECK(io_error_of([&] { loom::data::read_idx_images(dir.path + "/raw"); }).find("the file holds 100") !=
        std::string::npos);
  CHECK(io_error_of([&] { loom::data::read_idx_labels(dir.path + "/none.gz"); }).find("cannot open") !=
        std::string::npos);
}

TEST_CASE("read_idx_labelled checks the images' size, the label count and the label range") {
  loom_test::TempDir dir;
  const std::string images = dir.path + "/images", labels = dir.path + "/labels";
  write_bytes(images, idx_images(3, 2, 2, std::string(12, '\x01')));
  const auto write_labels = [&](const std::string& bytes) {
    write_bytes(labels, big_endian(0x801) + big_endian(static_cast<std::uint32_t>(bytes.size())) + bytes);
  };
  write_labels(std::string("\x00\x09\x04", 3));
  const auto good = loom::data::read_idx_labelled(images, labels, 2, 2, 10);
  CHECK(good.labels.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 9, 4});
  CHECK(good.images.shape() == loom::Shape{3, 2, 2});
  CHECK(io_error_of([&] { loom::data::read_idx_labelled(images, labels, 28, 28, 10); })
            .find("expected images of 28x28 pixels, got 2x2") != std::string::npos);
  write_labels(std::string("\x00\x0a\x04", 3));
  CHECK(io_error_of([&] { loom::data::read_idx_labelled(images, labels, 2, 2, 10); })
            .find("expected labels in [0, 10), got 10 at label 1") != std::string::npos);
  write_labels(std::string("\x00\x01", 2));
  CHECK(io_error_of([&] { loom::data::read_idx_labelled(images, labels, 2, 2, 10); })
            .find("expected a label for each of the 3 images") != std::string::npos);
}

// ---- time series ----------------------------------------------------------------------------------

TEST_CASE("read_daily_closes: dates in order, closes finite and above zero, or the line that is not") {
  loom_test::TempDir dir;
  const std::string path = dir.path + "/sp.csv";
  write_bytes(path, "date,open,close\n2000-01-03,1,1455.22\n2000-01-04,1,1399.42\n");
  CHECK(loom::data::read_daily_closes(path) == std::vector<double>{1455.22, 1399.42});
  const auto error = [&](const std::string& rows) {
    write_bytes(path, "date,close\n2000-01-03,10\n" + rows);
    return io_error_of([&] { loom::data::read_daily_closes(path); });
  };
  CHECK(error("2000-01-04,0\n").find("sp.csv:3: expected a close above 0, got 0") != std::string::npos);
  CHECK(error("2000-01-04,-5\n").find("sp.csv:3: expected a close above 0") != std::string::npos);
  CHECK(error("2000-01-04,inf\n").find("sp.csv:3: expected a finite number in column 'close', got 'inf'") !=
        std::string::npos);
  CHECK(error("2000-01-03,11\n").find("sp.csv:3: expected a date after 2000-01-03") != std::string::npos);
  CHECK(error("Jan 4 2000,11\n").find("sp.csv:3: expected a date YYYY-MM-DD in column 'date', got 'Jan 4 2000'") !=
        std::string::npos);
  CHECK(error("2000-13-01,11\n").find("sp.csv:3: expected a date") != std::string::npos);
  write_bytes(path, "day,close\n2000-01-03,10\n");
  CHECK(io_error_of([&] { loom::data::read_daily_closes(path); }).find("expected a column 'date'") !=
        std::string::npos);
}


TEST_CASE("sliding_windows pairs each window with the horizon after it") {
  const auto windows = loom::data::sliding_windows({1, 2, 3, 4, 5, 6}, 3, 2);
  CHECK(windows.x.shape() == loom::Shape{2, 3, 1});
  CHECK(windows.y.shape() == loom::Shape{2, 2});
  CHECK(loom_test::values(windows.x) == std::vector<double>{1, 2, 3, 2, 3, 4});
  CHECK(loom_test::values(windows.y) == std::vector<double>{4, 5, 5, 6});
  CHECK(loom::data::sliding_windows({1, 2}, 1, 1).x.shape() == loom::Shape{1, 1, 1});
  CHECK_THROWS_AS(loom::data::sliding_windows({1, 2, 3}, 3, 1), loom::ValueError);
  CHECK_THROWS_AS(loom::data::sliding_windows({1, 2, 3}, 0, 1), loom::ValueError);
}

TEST_CASE("the standardizer uses the statistics of the data it was fitted on") {
  const std::vector<double> series = {1, 2, 3, 4, 100, 200};
  loom::data::Standardizer scaler;
  CHECK_THROWS_AS(scaler.transform(series), loom::ValueError);  // not fitted yet
  scaler.fit({series.begin(), series.begin() + 4});             // the training part
  CHECK(scaler.mean() == 2.5);
  CHECK(scaler.std() == doctest::Approx(std::sqrt(1.25)));
  const auto scaled = scaler.transform(series);
  CHECK(scaled[0] == doctest::Approx(-1.5 / std::sqrt(1.25)));
  CHECK(scaled[5] == doctest::Approx(197.5 / std::sqrt(1.25)));  // the held-out part did not move the fit
  const auto back = scaler.inverse_transform(scaled);
  for (std::size_t i = 0; i < series.size(); ++i) CHECK(back[i] == doctest::Approx(series[i]));
  const auto tensor = loom::from_vector(std::vector<float>{2.5f, 4.0f});
  CHECK(loom_test::values(scaler.transform(tensor))[1] == doctest::Approx(1.5 / std::sqrt(1.25)));
  CHECK(loom_test::values(scaler.inverse_transform(scaler.transform(tensor)))[1] == doctest::Approx(4.0));
  CHECK_THROWS_AS(scaler.fit({3, 3, 3}), loom::ValueError);
  CHECK_THROWS_AS(scaler.fit({}), loom::ValueError);
  CHECK_THROWS_AS(loom::data::Standardizer(0.0, 0.0), loom::ValueError);
}

// ---- the embedded sentiment sentences -------------------------------------------------------------

TEST_CASE("the embedded sentiment data loads: 1000 sentences per source, 500/500, a stable 80/20 split") {
  const auto sources = loom::data::load_sentiment(LOOM_TESTS_DIR "/../data/sentiment");
  REQUIRE(sources.size() == 3);
  CHECK(sources[0].name == "amazon");
  CHECK(sources[1].name == "imdb");
  CHECK(sources[2].name == "yelp");
  for (const auto& source : sources) {
    CAPTURE(source.name);
    REQUIRE(source.sentences.size() == 1000);
    CHECK(std::count(source.labels.begin(), source.labels.end(), 1) == 500);
    std::int64_t test_positive = 0, test_negative = 0;
    for (std::size_t i = 0; i < 1000; ++i) {
      test_positive += source.is_test[i] && source.labels[i] == 1;
      test_negative += source.is_test[i] && source.labels[i] == 0;
    }
    CHECK(test_positive == 100);
    CHECK(test_negative == 100);
    // The split depends on the sentences, not their order: reversing a label's sentences
    // reverses its split.
    std::vector<std::string> positives;
    std::vector<bool> positive_split;
    for (std::size_t i = 0; i < 1000; ++i)
      if (source.labels[i] == 1) positives.push_back(source.sentences[i]), positive_split.push_back(source.is_test[i]);
    std::reverse(positives.begin(), positives.end());
    std::reverse(positive_split.begin(), positive_split.end());
    CHECK(loom::data::hash_split(positives, 0.2) == positive_split);
  }
  // Pinned: these sentences stay held out whatever changes elsewhere.
  const auto first_test = [](const loom::data::SentimentSource& source) {
    return source.sentences[static_cast<std::size_t>(
        std::find(source.is_test.begin(), source.is_test.end(), true) - source.is_test.begin())];
  };
  CHECK(first_test(sources[0]) == "Good case, Excellent value.");
  CHECK(first_test(sources[1]).rfind("Attempting artiness with black & white", 0) == 0);
  CHECK(first_test(sources[2]) == "The selection on the menu was great and so were the prices.");
  CHECK(sources[0].sentences[1] == "Good case, Excellent value.");
  CHECK(sources[0].labels[1] == 1);
}

TEST_CASE("stable_hash is 64-bit FNV-1a and hash_split holds out the asked fraction") {
  CHECK(loom::data::stable_hash("") == 0xcbf29ce484222325ull);
  CHECK(loom::data::stable_hash("a") == 0xaf63dc4c8601ec8cull);
  CHECK(loom::data::hash_split({"a", "b", "c", "d"}, 0.5) == loom::data::hash_split({"a", "b", "c", "d"}, 0.5));
  const auto split = loom::data::hash_split({"a", "b", "c", "d", "e"}, 0.4);
  CHECK(std::count(split.begin(), split.end(), true) == 2);
  CHECK_THROWS_AS(loom::data::hash_split({"a"}, 1.5), loom::ValueError);
}

TEST_CASE("a malformed sentiment row is an IOError naming the file and line") {
  loom_test::TempDir dir;
  write_bytes(dir.path + "/amazon.tsv", "1\tfine\n2\tbad label\n");
  CHECK(io_error_of([&] { loom::data::load_sentiment(dir.path); })
            .find("amazon.tsv:2: expected an integer in [0, 1] as the label, got '2'") != std::string::npos);
  write_bytes(dir.path + "/amazon.tsv", "1\tfine\n0\tnot \xe9 UTF-8\n");
  CHECK(io_error_of([&] { loom::data::load_sentiment(dir.path); })
            .find("amazon.tsv:2: expected UTF-8 text, got the byte 0xe9 at column 5") != std::string::npos);
}

TEST_CASE("load_spam reads group, label and text, and names the line of a bad label or group") {
  loom_test::TempDir dir;
  const std::string path = dir.path + "/spam.tsv";
  write_bytes(path, "group\tlabel\ttext\nspam-1\t1\tbuy \"now\"\neasy-ham-2\t0\tlunch?\n");
  const auto mails = loom::data::load_spam(path);
  REQUIRE(mails.size() == 2);
  CHECK(mails[0].label == 1);
  CHECK(mails[0].text == "buy \"now\"");
  CHECK_FALSE(mails[0].is_test());
  CHECK(mails[1].is_test());
  const auto error = [&](const std::string& row) {
    write_bytes(path, "group\tlabel\ttext\nspam-1\t1\tok\n" + row);
    return io_error_of([&] { loom::data::load_spam(path); });
  };
  for (const char* label : {"-1", "2", "1000000000", "-1000000000000", "abc", ""})
    CHECK(error(std::string("spam-2\t") + label + "\tx\n")
              .find("load_spam: " + path + ":3: expected an integer in [0, 1] in column 'label', got '" + label + "'") !=
          std::string::npos);
  for (const char* group : {"", "spam", "spam-3", "-"})
    CHECK(error(std::string(group) + "\t1\tx\n").find(":3: expected a group ending in -1") != std::string::npos);
  CHECK(error("spam-2\t1\tbad \xc3\n").find(":3: expected UTF-8 text, got the byte 0xc3 at column 5") !=
        std::string::npos);
  CHECK(error("spam-2\t1\n").find(":3: expected 3 fields") != std::string::npos);
}

TEST_CASE("load_cmudict keeps the first pronunciation of plain words and splits 90/5/5 by word") {
  loom_test::TempDir dir;
  const std::string path = dir.path + "/dict";
  std::string text = ";;; a comment line\n'bout B AW T\na AH\na(2) EY\nab's EY1 B IY0 Z\nx-ray EH K S R EY\n"
                     "ZZ Z IY # a comment tail\n2nd S EH K AH N D\n";
  for (int i = 0; i < 400; ++i) text += "w" + std::to_string(i) + "x W\n";  // not plain: digits
  for (char a = 'a'; a <= 'z'; ++a)
    for (char b = 'a'; b <= 'z'; ++b) text += std::string{'q', a, b} + " K " + std::string(1, char(a - 32)) + "\n";
  write_bytes(path, text);
  const auto dict = loom::data::load_cmudict(path);
  std::vector<loom::data::Pronunciation> all;
  for (const auto* split : {&dict.train, &dict.validation, &dict.test}) all.insert(all.end(), split->begin(), split->end());
  CHECK(all.size() == 3 + 26 * 26);  // a, ab's, zz and the q-words; 'bout, x-ray, 2nd and w0x... left out
  auto find = [&](const std::string& word) {
    return std::find_if(all.begin(), all.end(), [&](const auto& p) { return p.word == word; });
  };
  REQUIRE(find("a") != all.end());
  CHECK(find("a")->phones == std::vector<std::string>{"AH"});                  // the first pronunciation
  CHECK(find("ab's")->phones == std::vector<std::string>{"EY", "B", "IY", "Z"});  // stress dropped
  CHECK(find("zz")->phones == std::vector<std::string>{"Z", "IY"});            // lower-cased, comment cut
  CHECK(find("'bout") == all.end());
  // Roughly 90/5/5, and by a hash of the word alone.
  CHECK(dict.train.size() > 560);
  CHECK(dict.validation.size() > 15);
  CHECK(dict.test.size() > 15);
  for (const auto& p : dict.test) CHECK(loom::data::stable_hash(p.word) % 100 >= 95);
  CHECK_THROWS_AS(loom::data::load_cmudict(dir.path + "/missing"), loom::IOError);
  write_bytes(path, "ab EY B\nba B 1\n");
  CHECK(io_error_of([&] { loom::data::load_cmudict(path); }).find("dict:2: expected a phone such as AH or AH1, got '1'") !=
        std::string::npos);
  write_bytes(path, "ab EY B\nb\xff B IY\n");
  CHECK(io_error_of([&] { loom::data::load_cmudict(path); }).find("dict:2: expected UTF-8 text, got the byte 0xff at column 2") !=
        std::string::npos);
}

TEST_CASE("Bible verse pairs split by whole books: no book in two splits") {
  using loom::data::verse_book;
  CHECK(verse_book("Genesis 1:1") == "Genesis");
  CHECK(verse_book("III John 1:14") == "III John");
  CHECK(verse_book("Revelation of John 22:21") == "Revelation of John");
  for (const char* bad : {"Genesis", "Genesis 1", "Genesis 1:", "Genesis :1", "Genesis 1:2:3", " 1:1", "Genesis x:1"})
    CHECK_THROWS_AS(verse_book(bad), loom::ValueError);

  loom_test::TempDir dir;
  const std::string path = dir.path + "/web-es.tsv";
  std::string text;
  for (const char* book : {"Genesis", "I John", "Galatians", "John", "Hebrews", "Jude", "II John", "Revelation of John"})
    for (int verse = 1; verse <= 3; ++verse)
      text += std::string(book) + " 1:" + std::to_string(verse) + "\tIn the beginning " + std::to_string(verse) +
              "\tEn el principio " + std::to_string(verse) + "\r\n";
  write_bytes(path, text + "\n");
  const auto splits = loom::data::load_bible_pairs(path);
  auto books = [](const std::vector<loom::data::VersePair>& pairs) {
    std::set<std::string> out;
    for (const auto& p : pairs) out.insert(verse_book(p.reference));
    return out;
  };
  CHECK(books(splits.train) == std::set<std::string>{"Genesis", "John", "Revelation of John"});
  CHECK(books(splits.validation) == std::set<std::string>{"I John", "II John", "Jude"});
  CHECK(books(splits.test) == std::set<std::string>{"Galatians", "Hebrews"});
  CHECK(splits.train.size() + splits.validation.size() + splits.test.size() == 24);
  CHECK(splits.test[0].reference == "Galatians 1:1");  // file order kept, fields whole
  CHECK(splits.test[0].english == "In the beginning 1");
  CHECK(splits.test[0].spanish == "En el principio 1");
  // The fixed held-out lists are disjoint, and a list given twice is refused.
  for (const auto& book : loom::data::bible_test_books())
    CHECK(std::count(loom::data::bible_validation_books().begin(), loom::data::bible_validation_books().end(), book) == 0);
  CHECK_THROWS_AS(loom::data::split_by_book(splits.train, {"Genesis"}, {"Genesis"}), loom::ValueError);

  write_bytes(path, "Genesis 1:1\tonly English\n");
  CHECK(io_error_of([&] { loom::data::load_bible_pairs(path); }).find(":1: expected reference, English and Spanish") !=
        std::string::npos);
  write_bytes(path, "Genesis\ta\tb\n");
  CHECK(io_error_of([&] { loom::data::load_bible_pairs(path); }).find(":1: ") != std::string::npos);
  write_bytes(path, "Genesis 1:1\ta\tb\nGenesis 1:2\t\tb\n");
  CHECK(io_error_of([&] { loom::data::load_bible_pairs(path); }).find(":2: expected an English and a Spanish verse, got an empty English one") !=
        std::string::npos);
  write_bytes(path, "Genesis 1:1\ta\tb\n");  // no held-out book
  CHECK(io_error_of([&] { loom::data::load_bible_pairs(path); }).find("every split needs some") != std::string::npos);
  CHECK_THROWS_AS(loom::data::load_bible_pairs(dir.path + "/missing"), loom::IOError);
}
