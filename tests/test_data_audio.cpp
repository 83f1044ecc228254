// Audio for the speech task: WAV files read and written (good, stereo, 8-bit, float, truncated,
// not audio), resampling, log-mel features of known tones, and the spoken-digit lists.
#include <loom/data/audio.h>

#include <cmath>
#include <fstream>

#include "test_util.h"

using loom_test::message_of;
using loom_test::TempDir;

namespace {

std::vector<float> tone(double hz, int rate, double seconds, double amplitude = 0.5) {
  std::vector<float> samples(static_cast<std::size_t>(rate * seconds));
  for (std::size_t i = 0; i < samples.size(); ++i)
    samples[i] = static_cast<float>(amplitude * std::sin(2.0 * M_PI * hz * i / rate));
  return samples;
}

// A WAV file's bytes: the canonical 44-byte header with these fields, then `data`.
std::string wav_bytes(int format, int channels, int rate, int bits, const std::string& data) {
  std::string bytes;
  auto put = [&](std::uint32_t value, int size) {
    for (int i = 0; i < size; ++i) bytes.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  };
  bytes += "RIFF";
  put(36 + static_cast<std::uint32_t>(data.size()), 4);
  bytes += "WAVEfmt ";
  put(16, 4), put(format, 2), put(channels, 2), put(rate, 4);
  put(rate * channels * bits / 8, 4), put(channels * bits / 8, 2), put(bits, 2);
  bytes += "data";
  put(static_cast<std::uint32_t>(data.size()), 4);
  return bytes + data;
}

std::string write(const TempDir& dir, const char* name, const std::string& bytes) {
  const std::string path = dir.path + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// The message contains `part` (the message is shown when it does not).
void check_contains(const std::string& message, const std::string& part) {
  INFO("message: " << message);
  CHECK(message.find(part) != std::string::npos);
}

// Positive-going zero crossings per second: the frequency of a pure tone.
double crossings_per_second(const std::vector<float>& samples, int rate) {
  int crossings = 0;
  for (std::size_t i = 1; i < samples.size(); ++i) crossings += samples[i - 1] < 0.0f && samples[i] >= 0.0f;
  return crossings * static_cast<double>(rate) / samples.size();
}

}  // namespace

TEST_CASE("write_wav and read_wav round-trip 16-bit samples") {
  TempDir dir;
  loom::data::Audio audio{tone(440.0, 8000, 0.25), 8000};
  audio.samples[0] = 1.5f;  // clamped to 1
  loom::data::write_wav(dir.path + "/tone.wav", audio);
  const auto back = loom::data::read_wav(dir.path + "/tone.wav");
  CHECK(back.sample_rate == 8000);
  REQUIRE(back.samples.size() == audio.samples.size());
  CHECK(back.samples[0] == doctest::Approx(1.0).epsilon(1e-4));
  double worst = 0.0;
  for (std::size_t i = 1; i < audio.samples.size(); ++i) worst = std::max(worst, double(std::abs(back.samples[i] - audio.samples[i])));
  CHECK(worst < 1.0 / 32767.0 + 1e-6);
}

TEST_CASE("read_wav averages the channels of a stereo file") {
  TempDir dir;
  std::string data;  // two frames: (16384, -16384) and (8192, 8192)
  for (std::int16_t value : {std::int16_t{16384}, std::int16_t{-16384}, std::int16_t{8192}, std::int16_t{8192}})
    data += std::string{char(value & 0xff), char((value >> 8) & 0xff)};
  const auto audio = loom::data::read_wav(write(dir, "stereo.wav", wav_bytes(1, 2, 16000, 16, data)));
  REQUIRE(audio.samples.size() == 2);
  CHECK(audio.samples[0] == doctest::Approx(0.0));
  CHECK(audio.samples[1] == doctest::Approx(0.25));
}

TEST_CASE("read_wav names the file and what is wrong with it") {
  TempDir dir;
  check_contains(message_of<loom::IOError>([&] { loom::data::read_wav(dir.path + "/missing.wav"); }),
                      "missing.wav' (no such file)");
  check_contains(message_of<loom::IOError>([&] { loom::data::read_wav(write(dir, "text.wav", "hello, not audio")); }),
                      "cannot read");
  const std::string eight_bit = write(dir, "u8.wav", wav_bytes(1, 1, 16000, 8, std::string(100, '\x80')));
  check_contains(message_of<loom::IOError>([&] { loom::data::read_wav(eight_bit); }), "expected a 16-bit PCM WAV");
  const std::string floats = write(dir, "f32.wav", wav_bytes(3, 1, 16000, 32, std::string(400, '\0')));
  check_contains(message_of<loom::IOError>([&] { loom::data::read_wav(floats); }), "expected a 16-bit PCM WAV");
  const std::string slow = write(dir, "slow.wav", wav_bytes(1, 1, 100, 16, std::string(400, '\0')));
  check_contains(message_of<loom::IOError>([&] { loom::data::read_wav(slow); }), "sample rate of 100 Hz");
  const std::string empty = write(dir, "empty.wav", wav_bytes(1, 1, 16000, 16, ""));
  check_contains(message_of<loom::IOError>([&] { loom::data::read_wav(empty); }), "empty.wav");
}

TEST_CASE("resample keeps a tone's frequency and the signal's duration") {
  const auto original = tone(440.0, 22050, 1.0);
  const auto resampled = loom::data::resample(original, 22050, 16000);
  CHECK(std::abs(static_cast<double>(resampled.size()) - 16000.0) <= 2.0);
  CHECK(crossings_per_second(resampled, 16000) == doctest::Approx(440.0).epsilon(0.01));
  CHECK(loom::data::resample(original, 16000, 16000) == original);
  check_contains(message_of<loom::ValueError>([&] { loom::data::resample(original, 22050, 10); }),
                      "expected a sample rate in [4000, 192000] Hz, got 10");
}

TEST_CASE("log_mel: frame count, the band of a tone, normalisation, bad options") {
  loom::data::LogMelOptions raw;
  raw.normalise = false;
  const auto samples = tone(1000.0, 16000, 0.5);  // 8000 samples: 1 + ceil((8000 - 400) / 160) = 49 frames
  const auto features = loom::data::log_mel(samples, raw);
  REQUIRE(features.shape() == loom::Shape{49, 40});
  // The loudest band is the one whose centre is nearest 1 kHz on the mel scale.
  const auto row = features.select(0, 20).to_vector<double>();
  const auto loudest = std::max_element(row.begin(), row.end()) - row.begin();
  auto mel = [](double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); };
  const double step = (mel(8000.0) - mel(20.0)) / 41.0;
  const auto expected = std::lround((mel(1000.0) - mel(20.0)) / step) - 1;
  CHECK(std::abs(loudest - expected) <= 1);
  CHECK(row[loudest] > row[35] + 10.0);  // 7 kHz holds next to nothing

  const auto normalised = loom::data::log_mel(samples);
  for (std::int64_t band : {0, 17, 39}) {
    const auto column = normalised.select(1, band).to_vector<double>();
    double mean = 0.0;
    for (double v : column) mean += v / column.size();
    CHECK(std::abs(mean) < 1e-4);
  }
  CHECK(loom::data::log_mel(std::vector<float>(10, 0.1f)).shape() == loom::Shape{1, 40});  // short: one frame
  loom::data::LogMelOptions bad;
  bad.high_hz = 9000.0;
  check_contains(message_of<loom::ValueError>([&] { loom::data::log_mel(samples, bad); }), "high_hz <= 8000 Hz");
}

TEST_CASE("log_mel gives the same bits for the same samples from any thread count") {
  const auto samples = tone(300.0, 16000, 0.3);
  CHECK(loom::data::log_mel(samples).to_vector<double>() == loom::data::log_mel(samples).to_vector<double>());
}

TEST_CASE("load_spoken_digits reads a part and names the line of a bad field") {
  TempDir dir;
  write(dir, "train.tsv", "file\twords\tvoice\ntrain/0.wav\t4o7\tespeak:en-us\ntrain/1.wav\tz\tflite:rms\n");
  const auto part = loom::data::load_spoken_digits(dir.path, "train");
  REQUIRE(part.files.size() == 2);
  CHECK(part.files[0] == dir.path + "/train/0.wav");
  CHECK(part.words[0] == "4o7");
  CHECK(part.voices[1] == "flite:rms");
  write(dir, "bad.tsv", "file\twords\tvoice\ntrain/0.wav\t4x7\tespeak:en-us\n");
  check_contains(message_of<loom::IOError>([&] { loom::data::load_spoken_digits(dir.path, "bad"); }),
                      "bad.tsv:2: expected 1 to 32 of the symbols zo123456789 in column 'words', got '4x7'");
  write(dir, "escape.tsv", "file\twords\tvoice\n../../etc/passwd.wav\t1\tv\n");
  check_contains(message_of<loom::IOError>([&] { loom::data::load_spoken_digits(dir.path, "escape"); }),
                      "expected a .wav file inside");
  write(dir, "none.tsv", "file\twords\tvoice\n");
  check_contains(message_of<loom::IOError>([&] { loom::data::load_spoken_digits(dir.path, "none"); }),
                      "lists no utterances");
}
