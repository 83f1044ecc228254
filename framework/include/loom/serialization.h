#pragma once
/// Checkpoints in the safetensors format: an 8-byte little-endian header length, a JSON header
/// naming each tensor's dtype, shape and data_offsets (plus optional "__metadata__" strings),
/// then the raw little-endian data. Files written by PyTorch's safetensors load here, and ours
/// load there; because layer parameter names follow PyTorch's, a state_dict travels unchanged.
///
///     loom::save(model, "model.safetensors");      // atomic: a crash keeps the old file
///     loom::load(model, "model.safetensors");      // strict: every mismatch listed, nothing half-loaded
///
/// Writes go to a temporary file in the same folder, are flushed and fsync'ed, then renamed over
/// the target, so a crash or kill during a save leaves the previous checkpoint intact. Loads
/// check everything before allocating: truncated files, absurd header lengths, offsets past the
/// end, overlapping or gapped ranges, unknown dtypes and malformed JSON each raise an IOError.
/// Weights holding NaN or inf are refused (a ValueError naming the file and the tensor) unless
/// LoadOptions().allow_non_finite(true) says they are expected.
#include <cstdint>
#include <map>
#include <string>

#include "loom/errors.h"
#include "loom/module.h"
#include "loom/options.h"
#include "loom/tensor.h"

namespace loom {

/// The JSON header of a safetensors file is at most this long: real ones are kilobytes.
inline constexpr std::uint64_t max_safetensors_header_bytes = 100ull << 20;

struct LoadOptions {
  /// Accept floating tensors holding NaN or inf (by default a ValueError: such weights predict
  /// nonsense silently).
  LOOM_ARG(bool, allow_non_finite, false)
  /// load(module, ...): convert floating tensors to the dtype of the module's (a float64
  /// checkpoint into a float32 model, or back), as PyTorch's load_state_dict does. By default a
  /// dtype that differs is a DtypeError naming this option.
  LOOM_ARG(bool, convert_dtype, false)
};

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

/// Writes tensors (float32, float64 or int64) and string metadata, atomically.
void save_safetensors(const std::map<std::string, Tensor>& tensors, const std::string& path,
                      const std::map<std::string, std::string>& metadata = {});
/// Reads a whole (regular) file, validating it first.
SafetensorsFile load_safetensors(const std::string& path, const LoadOptions& options = {});
/// The same from the bytes of a file already in memory (e.g. sent by another process);
/// `origin` names them in errors.
SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& origin,
                                  const LoadOptions& options = {});

/// module.state_dict() to a file, atomically.
void save(const Module& module, const std::string& path,
          const std::map<std::string, std::string>& metadata = {});
/// A file into module.load_state_dict() (strict); returns the file's metadata.
///     loom::load(model, "f64.safetensors", loom::LoadOptions().convert_dtype(true));
std::map<std::string, std::string> load(Module& module, const std::string& path, const LoadOptions& options = {});

}  // namespace loom
