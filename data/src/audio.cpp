#include "loom/data/audio.h"

#include <fftw3.h>
#include <samplerate.h>
#include <sndfile.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>

#include "loom/data/delimited.h"
#include "loom/data/fields.h"
#include "loom/errors.h"
#include "loom/io.h"

namespace loom::data {

namespace {

constexpr int min_rate = 4000, max_rate = 192000;
// Ten minutes of 48 kHz stereo is 110 MiB: a larger file is not a spoken utterance.
constexpr std::uint64_t max_wav_bytes = std::uint64_t{256} << 20;

const char* sndfile_format_name(int format) {
  SF_FORMAT_INFO info{};
  info.format = format;
  return sf_command(nullptr, SFC_GET_FORMAT_INFO, &info, sizeof(info)) == 0 && info.name ? info.name : "an unknown format";
}

struct SndfileCloser {
  void operator()(SNDFILE* file) const { sf_close(file); }
};

void check_rate(const char* function, int rate) {
  if (rate < min_rate || rate > max_rate)
    throw ValueError(fmt::format("{}: expected a sample rate in [{}, {}] Hz, got {}", function, min_rate, max_rate, rate));
}

double hz_to_mel(double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); }
double mel_to_hz(double mel) { return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0); }

// FFTW's planner is not thread-safe (its plans' execution is): plans are made under this lock.
std::mutex fftw_planner;

struct FftwFree {
  void operator()(void* p) const { fftwf_free(p); }
};

}  // namespace

Audio read_wav(const std::string& path) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0 || !S_ISREG(status.st_mode))
    throw IOError(fmt::format("read_wav: cannot open '{}' (no such file)", path));
  if (static_cast<std::uint64_t>(status.st_size) > max_wav_bytes)
    throw IOError(fmt::format("read_wav: '{}' has {} bytes, more than the {} a WAV file may have here", path,
                              status.st_size, max_wav_bytes));
  SF_INFO info{};
  std::unique_ptr<SNDFILE, SndfileCloser> file(sf_open(path.c_str(), SFM_READ, &info));
  if (!file) throw IOError(fmt::format("read_wav: cannot read '{}' as audio: {}", path, sf_strerror(nullptr)));
  const int container = info.format & SF_FORMAT_TYPEMASK, encoding = info.format & SF_FORMAT_SUBMASK;
  if (container != SF_FORMAT_WAV || encoding != SF_FORMAT_PCM_16)
    throw IOError(fmt::format("read_wav: '{}' is {} with {} samples; expected a 16-bit PCM WAV file (convert it, "
                              "e.g. `sox in.ext -b 16 out.wav`)", path, sndfile_format_name(container),
                              sndfile_format_name(encoding)));
  if (info.samplerate < min_rate || info.samplerate > max_rate)
    throw IOError(fmt::format("read_wav: '{}' has a sample rate of {} Hz; expected {} to {}", path, info.samplerate,
                              min_rate, max_rate));
  if (info.channels < 1 || info.channels > 64 || info.frames <= 0 ||
      static_cast<std::uint64_t>(info.frames) * static_cast<std::uint64_t>(info.channels) * 2 > max_wav_bytes)
    throw IOError(fmt::format("read_wav: '{}' has {} channels of {} samples; expected 1 to 64 channels of at least "
                              "one sample, within the file's size", path, info.channels, info.frames));
  std::vector<float> interleaved(static_cast<std::size_t>(info.frames) * static_cast<std::size_t>(info.channels));
  const sf_count_t frames = sf_readf_float(file.get(), interleaved.data(), info.frames);
  if (frames <= 0) throw IOError(fmt::format("read_wav: '{}' holds no samples", path));
  Audio audio;
  audio.sample_rate = info.samplerate;
  audio.samples.resize(static_cast<std::size_t>(frames));
  for (std::size_t frame = 0; frame < audio.samples.size(); ++frame) {
    double sum = 0.0;
    for (int channel = 0; channel < info.channels; ++channel) sum += interleaved[frame * info.channels + channel];
    audio.samples[frame] = static_cast<float>(sum / info.channels);
  }
  return audio;
}

// The 44-byte canonical header and little-endian samples are written here rather than through
// libsndfile, whose writer needs a file it can seek in: this way the bytes go through the atomic
// write like every other file Loom writes.
void write_wav(const std::string& path, const Audio& audio) {
  check_rate("write_wav", audio.sample_rate);
  if (audio.samples.size() > (max_wav_bytes - 44) / 2)
    throw ValueError(fmt::format("write_wav: {} samples are more than a WAV file may hold here", audio.samples.size()));
  const auto data_bytes = static_cast<std::uint32_t>(audio.samples.size() * 2);
  std::string bytes;
  auto put = [&](std::uint32_t value, int size) {
    for (int i = 0; i < size; ++i) bytes.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  };
  bytes += "RIFF";
  put(36 + data_bytes, 4);
  bytes += "WAVEfmt ";
  put(16, 4);                                            // fmt chunk size
  put(1, 2);                                             // PCM
  put(1, 2);                                             // mono
  put(static_cast<std::uint32_t>(audio.sample_rate), 4);
  put(static_cast<std::uint32_t>(audio.sample_rate) * 2, 4);  // bytes per second
  put(2, 2);                                             // bytes per frame
  put(16, 2);                                            // bits per sample
  bytes += "data";
  put(data_bytes, 4);
  for (const float sample : audio.samples) {
    const float clamped = std::clamp(std::isnan(sample) ? 0.0f : sample, -1.0f, 1.0f);
    put(static_cast<std::uint16_t>(static_cast<std::int16_t>(std::lround(clamped * 32767.0f))), 2);
  }
  write_file_atomically(path, bytes);
}

std::vector<float> resample(const std::vector<float>& samples, int from_rate, int to_rate) {
  check_rate("resample", from_rate);
  check_rate("resample", to_rate);
  if (from_rate == to_rate || samples.empty()) return samples;
  const double ratio = static_cast<double>(to_rate) / from_rate;
  std::vector<float> out(static_cast<std::size_t>(std::ceil(samples.size() * ratio)) + 16);
  SRC_DATA data{};
  data.data_in = samples.data();
  data.input_frames = static_cast<long>(samples.size());
  data.data_out = out.data();
  data.output_frames = static_cast<long>(out.size());
  data.src_ratio = ratio;
  // The fastest of the band-limited sinc converters (97 dB SNR, 80% of the band kept): the
  // medium one took 10 ms per second of speech, three quarters of the feature computation.
  if (const int error = src_simple(&data, SRC_SINC_FASTEST, 1); error != 0)
    throw ValueError(fmt::format("resample: {} Hz to {} Hz failed: {}", from_rate, to_rate, src_strerror(error)));
  out.resize(static_cast<std::size_t>(data.output_frames_gen));
  return out;
}

Tensor log_mel(const std::vector<float>& samples, const LogMelOptions& options) {
  check_rate("log_mel", options.sample_rate);
  const double nyquist = options.sample_rate / 2.0, high_hz = options.high_hz > 0 ? options.high_hz : nyquist;
  const auto window = static_cast<std::int64_t>(std::lround(options.sample_rate * options.window_ms / 1000.0));
  const auto hop = static_cast<std::int64_t>(std::lround(options.sample_rate * options.hop_ms / 1000.0));
  if (window < 16 || window > 65536 || hop < 1 || hop > window || options.bands < 1 || options.bands > 256 ||
      !(options.low_hz >= 0.0) || !(high_hz > options.low_hz) || high_hz > nyquist)
    throw ValueError(fmt::format("log_mel: expected a window of 16 to 65,536 samples, a hop of 1 to the window, 1 to "
                                 "256 bands and 0 <= low_hz < high_hz <= {} Hz; got a window of {} and a hop of {} "
                                 "samples, {} bands, {} to {} Hz", nyquist, window, hop, options.bands,
                                 options.low_hz, high_hz));
  std::int64_t fft_size = 1;
  while (fft_size < window) fft_size *= 2;
  const std::int64_t bins = fft_size / 2 + 1;

  // Triangular filters with edges equally spaced in mels: weights (bands, bins).
  std::vector<double> edges(options.bands + 2);
  for (std::size_t i = 0; i < edges.size(); ++i)
    edges[i] = mel_to_hz(hz_to_mel(options.low_hz) + (hz_to_mel(high_hz) - hz_to_mel(options.low_hz)) * i / (options.bands + 1));
  std::vector<float> filters(static_cast<std::size_t>(options.bands * bins), 0.0f);
  std::vector<std::int64_t> first_bin(options.bands, bins), end_bin(options.bands, 0);  // each filter's nonzero bins
  for (int band = 0; band < options.bands; ++band)
    for (std::int64_t bin = 0; bin < bins; ++bin) {
      const double hz = bin * static_cast<double>(options.sample_rate) / fft_size;
      const double rising = (hz - edges[band]) / (edges[band + 1] - edges[band]);
      const double falling = (edges[band + 2] - hz) / (edges[band + 2] - edges[band + 1]);
      filters[band * bins + bin] = static_cast<float>(std::max(0.0, std::min(rising, falling)));
      if (filters[band * bins + bin] > 0.0f) first_bin[band] = std::min(first_bin[band], bin), end_bin[band] = bin + 1;
    }
  std::vector<float> hann(static_cast<std::size_t>(window));
  for (std::int64_t i = 0; i < window; ++i) hann[i] = static_cast<float>(0.5 - 0.5 * std::cos(2.0 * M_PI * i / window));

  std::vector<float> emphasised(samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) emphasised[i] = samples[i] - (i ? 0.97f * samples[i - 1] : 0.0f);
  const std::int64_t length = static_cast<std::int64_t>(emphasised.size());
  const std::int64_t frames = length <= window ? 1 : 1 + (length - window + hop - 1) / hop;

  std::unique_ptr<float, FftwFree> frame_in(static_cast<float*>(fftwf_malloc(sizeof(float) * fft_size)));
  std::unique_ptr<fftwf_complex, FftwFree> spectrum(
      static_cast<fftwf_complex*>(fftwf_malloc(sizeof(fftwf_complex) * bins)));
  if (!frame_in || !spectrum) throw ResourceError("log_mel: out of memory for the FFT buffers");
  fftwf_plan plan;
  {
    const std::lock_guard<std::mutex> lock(fftw_planner);
    plan = fftwf_plan_dft_r2c_1d(static_cast<int>(fft_size), frame_in.get(), spectrum.get(), FFTW_ESTIMATE);
  }
  std::vector<float> features(static_cast<std::size_t>(frames * options.bands));  // (frames, bands)
  std::vector<float> power(static_cast<std::size_t>(bins));
  for (std::int64_t frame = 0; frame < frames; ++frame) {
    std::fill(frame_in.get(), frame_in.get() + fft_size, 0.0f);
    for (std::int64_t i = 0; i < window && frame * hop + i < length; ++i)
      frame_in.get()[i] = emphasised[frame * hop + i] * hann[i];
    fftwf_execute(plan);
    for (std::int64_t bin = 0; bin < bins; ++bin)
      power[bin] = spectrum.get()[bin][0] * spectrum.get()[bin][0] + spectrum.get()[bin][1] * spectrum.get()[bin][1];
    for (int band = 0; band < options.bands; ++band) {
      double energy = 0.0;
      for (std::int64_t bin = first_bin[band]; bin < end_bin[band]; ++bin)
        energy += double{filters[band * bins + bin]} * power[bin];
      features[frame * options.bands + band] = static_cast<float>(std::log(energy + 1e-6));
    }
  }
  {
    const std::lock_guard<std::mutex> lock(fftw_planner);
    fftwf_destroy_plan(plan);
  }
  if (options.normalise)
    for (int band = 0; band < options.bands; ++band) {
      double sum = 0.0, squares = 0.0;
      for (std::int64_t frame = 0; frame < frames; ++frame) sum += features[frame * options.bands + band];
      const double mean = sum / frames;
      for (std::int64_t frame = 0; frame < frames; ++frame)
        squares += std::pow(features[frame * options.bands + band] - mean, 2);
      const double scale = 1.0 / std::sqrt(squares / frames + 1e-5);
      for (std::int64_t frame = 0; frame < frames; ++frame) {
        float& value = features[frame * options.bands + band];
        value = static_cast<float>((value - mean) * scale);
      }
    }
  return from_vector(features, {frames, options.bands});
}

Tensor wav_log_mel(const std::string& path, const LogMelOptions& options) {
  const Audio audio = read_wav(path);
  return log_mel(resample(audio.samples, audio.sample_rate, options.sample_rate), options);
}

const std::string& spoken_digit_symbols() {
  static const std::string symbols = "zo123456789";
  return symbols;
}

SpokenDigits load_spoken_digits(const std::string& directory, const std::string& part) {
  const std::string path = directory + "/" + part + ".tsv";
  const Table table = read_delimited(path, '\t', true, false);
  const auto file_column = table.column("file"), words_column = table.column("words"), voice_column = table.column("voice");
  SpokenDigits digits;
  for (std::size_t row = 0; row < table.rows.size(); ++row) {
    const FieldSource at{"load_spoken_digits", path, table.line_numbers[row]};
    const std::string& file = table.rows[row][file_column];
    const std::string& words = table.rows[row][words_column];
    const std::string& voice = table.rows[row][voice_column];
    if (file.empty() || file[0] == '/' || file.find("..") != std::string::npos || file.size() < 5 ||
        file.compare(file.size() - 4, 4, ".wav") != 0)
      throw_field_error(at, fmt::format("expected a .wav file inside {} in column 'file', got {}", directory,
                                        quote_field(file)));
    if (words.empty() || words.size() > 32 || words.find_first_not_of(spoken_digit_symbols()) != std::string::npos)
      throw_field_error(at, fmt::format("expected 1 to 32 of the symbols {} in column 'words', got {}",
                                        spoken_digit_symbols(), quote_field(words)));
    if (voice.empty()) throw_field_error(at, "expected the name of a voice in column 'voice', got an empty field");
    digits.files.push_back(directory + "/" + file);
    digits.words.push_back(words);
    digits.voices.push_back(voice);
  }
  if (digits.files.empty()) throw IOError(fmt::format("load_spoken_digits: {} lists no utterances", path));
  return digits;
}

}  // namespace loom::data
