#pragma once
/// Audio for the speech task: 16-bit PCM WAV files (read with libsndfile), resampling
/// (libsamplerate) and log-mel features (FFTW), as speech recognisers have used them since
/// TIDIGITS: 25 ms Hann windows every 10 ms, 40 mel bands, the log of their energy.
///
///     auto audio = loom::data::read_wav("digits.wav");             // any rate, mono or not
///     auto features = loom::data::wav_log_mel("digits.wav");       // (frames, 40) float32
#include <cstdint>
#include <string>
#include <vector>

#include "loom/tensor.h"

namespace loom::data {

struct Audio {
  std::vector<float> samples;  ///< mono (channels averaged), in [-1, 1]
  int sample_rate = 0;         ///< samples per second
};

/// The samples of a 16-bit PCM WAV file. IOError naming the file when it cannot be opened, is
/// larger than 256 MiB, is another format or encoding (the error names it), has a rate outside
/// [4,000, 192,000] Hz, or holds no samples.
Audio read_wav(const std::string& path);
/// Writes `audio` as a 16-bit PCM mono WAV file (samples clamped to [-1, 1]), atomically.
void write_wav(const std::string& path, const Audio& audio);

/// `samples` at `to_rate` (libsamplerate's fastest band-limited sinc converter); the same samples when
/// the rates are equal. ValueError for a rate outside [4,000, 192,000].
std::vector<float> resample(const std::vector<float>& samples, int from_rate, int to_rate);

struct LogMelOptions {
  int sample_rate = 16000;   ///< the rate the samples are at
  double window_ms = 25.0;   ///< each frame's Hann window
  double hop_ms = 10.0;      ///< from one frame to the next
  int bands = 40;            ///< triangular filters, equally spaced on the mel scale
  double low_hz = 20.0;      ///< the lowest filter's lower edge
  double high_hz = 0.0;      ///< the highest filter's upper edge; 0: half the sample rate
  bool normalise = true;     ///< per utterance, each band to mean 0 and variance 1
};

/// Log-mel features (frames, bands) float32 of mono samples at options.sample_rate: a
/// pre-emphasis of 0.97, then per frame the power spectrum of the windowed samples, pooled by the
/// mel filters, log(energy + 1e-6). At least one frame (short input is zero-padded). ValueError
/// for options out of range.
Tensor log_mel(const std::vector<float>& samples, const LogMelOptions& options = {});
/// read_wav, resample to options.sample_rate, log_mel.
Tensor wav_log_mel(const std::string& path, const LogMelOptions& options = {});

/// The spoken-digit data set of scripts/data/speech_digits.py: one part's TSV (header
/// `file TAB words TAB voice`) of WAV files relative to the data folder.
struct SpokenDigits {
  std::vector<std::string> files;   ///< full paths
  std::vector<std::string> words;   ///< digit strings over "zo123456789" ("o": oh, "z": zero)
  std::vector<std::string> voices;  ///< "espeak:en-us+m3", "flite:rms"
};
/// DIRECTORY/PART.tsv; IOError naming the line of a bad field (a path that leaves the folder or
/// is not a .wav, words outside the 11 or longer than 32, an empty voice) or an empty part.
SpokenDigits load_spoken_digits(const std::string& directory, const std::string& part);
/// The 11 words' symbols, in label order: "zo123456789".
const std::string& spoken_digit_symbols();

}  // namespace loom::data
