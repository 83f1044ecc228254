// safetensors reading and writing (through the atomic write of io.cpp) and a validating reader.
#include "loom/serialization.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "detail/tensor_impl.h"
#include "loom/io.h"

namespace loom {

namespace {

// No tensor shape, even an empty one (a zero in it), may multiply out beyond this.
constexpr std::uint64_t kMaxElements = std::uint64_t(1) << 48;

const char* safetensors_dtype(Dtype dtype) {
  switch (dtype) {
    case Dtype::Float32: return "F32";
    case Dtype::Float64: return "F64";
    case Dtype::Int64: return "I64";
  }
  return "";
}

}  // namespace

void save_safetensors(const std::map<std::string, Tensor>& tensors, const std::string& path,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__") throw ValueError("save_safetensors: '__metadata__' is reserved");
    detail::check_defined("save_safetensors", tensor);
    const std::uint64_t bytes = static_cast<std::uint64_t>(tensor.numel()) * dtype_size(tensor.dtype());
    header[name] = {{"dtype", safetensors_dtype(tensor.dtype())},
                    {"shape", tensor.shape()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // pad so the data starts 8-byte aligned
  std::string out;
  out.reserve(8 + json.size() + offset);
  const std::uint64_t length = json.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  out += json;
  for (const auto& [name, tensor] : tensors) {
    const Tensor values = tensor.contiguous();  // a view is saved as the values it shows
    out.append(detail::raw_bytes(values), static_cast<std::size_t>(values.numel()) * dtype_size(values.dtype()));
  }
  write_file_atomically(path, out);
}

namespace {

// A ValueError naming the first NaN or inf of a floating tensor.
template <class T>
void check_finite(const Tensor& tensor, const std::string& name, const std::string& path) {
  const T* values = tensor.data<T>();
  const auto bad = std::find_if(values, values + tensor.numel(), [](T v) { return !std::isfinite(v); });
  if (bad == values + tensor.numel()) return;
  throw ValueError(fmt::format("load: '{}': expected finite weights, tensor '{}' holds {} at element {} of {} "
                               "(LoadOptions().allow_non_finite(true) loads it anyway)",
                               path, name, std::isnan(*bad) ? "NaN" : *bad > 0 ? "inf" : "-inf", bad - values,
                               tensor.numel()));
}

// Reads and validates a whole safetensors stream of `file_size` bytes; `path` names it in errors.
SafetensorsFile read_safetensors(std::istream& in, std::uint64_t file_size, const std::string& path,
                                 const LoadOptions& options) {
  if (file_size < 8)
    throw IOError(fmt::format("load: '{}' is truncated: {} bytes, not even the 8-byte header length", path, file_size));
  unsigned char length_bytes[8];
  in.read(reinterpret_cast<char*>(length_bytes), 8);
  std::uint64_t header_length = 0;
  for (int i = 0; i < 8; ++i) header_length |= static_cast<std::uint64_t>(length_bytes[i]) << (8 * i);
  if (header_length > max_safetensors_header_bytes || header_length > file_size - 8)
    throw IOError(fmt::format("load: '{}' declares a header of {} bytes but the file has {} bytes after the length",
                              path, header_length, file_size - 8));
  std::string json(static_cast<std::size_t>(header_length), '\0');
  in.read(json.data(), static_cast<std::streamsize>(header_length));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    throw IOError(fmt::format("load: '{}' has a malformed JSON header: {}", path, e.what()));
  }
  if (!header.is_object()) throw IOError(fmt::format("load: '{}': the header is not a JSON object", path));
  const std::uint64_t data_size = file_size - 8 - header_length;

  struct Entry {
    std::string name;
    Dtype dtype;
    Shape shape;
    std::uint64_t begin, end;
  };
  std::vector<Entry> entries;
  SafetensorsFile result;
  for (const auto& item : header.items()) {
    const std::string& name = item.key();  // not a structured binding: the lambda below captures it
    const auto& info = item.value();
    if (name == "__metadata__") {
      if (!info.is_object()) throw IOError(fmt::format("load: '{}': __metadata__ must be an object", path));
      for (const auto& [key, value] : info.items()) {
        if (!value.is_string())
          throw IOError(fmt::format("load: '{}': metadata '{}' is not a string", path, key));
        result.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    const auto invalid = [&](const std::string& why) {
      return IOError(fmt::format("load: '{}': tensor '{}': {}", path, name, why));
    };
    if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") || !info.contains("data_offsets"))
      throw invalid("needs dtype, shape and data_offsets");
    if (!info["dtype"].is_string()) throw invalid("dtype is not a string");
    const std::string dtype = info["dtype"].get<std::string>();
    Entry entry{name, Dtype::Float32, {}, 0, 0};
    if (dtype == "F32") entry.dtype = Dtype::Float32;
    else if (dtype == "F64") entry.dtype = Dtype::Float64;
    else if (dtype == "I64") entry.dtype = Dtype::Int64;
    else throw invalid(fmt::format("unsupported dtype '{}' (Loom reads F32, F64 and I64)", dtype));
    if (!info["shape"].is_array()) throw invalid("shape is not a list");
    std::uint64_t elements = 1;
    std::uint64_t nonzero_product = 1;  // bounded too, so an empty tensor's shape stays in int64
    for (const auto& d : info["shape"]) {
      if (!d.is_number_unsigned()) throw invalid("shape holds a non-integer or negative size");
      const auto size = d.get<std::uint64_t>();
      if (size != 0 && elements > data_size / size) throw invalid("shape is larger than the file");
      if (size != 0 && nonzero_product > kMaxElements / size)
        throw invalid(fmt::format("shape has more than {} elements", kMaxElements));
      elements *= size;
      nonzero_product *= size != 0 ? size : 1;
      entry.shape.push_back(static_cast<std::int64_t>(size));
    }
    const auto& offsets = info["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
      throw invalid("data_offsets must be two non-negative integers");
    entry.begin = offsets[0].get<std::uint64_t>();
    entry.end = offsets[1].get<std::uint64_t>();
    if (entry.begin > entry.end || entry.end > data_size)
      throw invalid(fmt::format("data_offsets [{}, {}] lie outside the {} data bytes", entry.begin, entry.end, data_size));
    if (entry.end - entry.begin != elements * dtype_size(entry.dtype))
      throw invalid(fmt::format("data_offsets span {} bytes but {} {} needs {}", entry.end - entry.begin,
                                dtype, shape_str(entry.shape), elements * dtype_size(entry.dtype)));
    entries.push_back(std::move(entry));
  }
  // The data must be covered exactly once: no overlaps, no holes (as the format requires).
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  std::uint64_t expected_begin = 0;
  for (const auto& entry : entries) {
    if (entry.begin != expected_begin)
      throw IOError(fmt::format("load: '{}': tensor '{}' starts at byte {} but the previous data ends at {} ({})",
                                path, entry.name, entry.begin, expected_begin,
                                entry.begin < expected_begin ? "overlapping ranges" : "a hole in the data"));
    expected_begin = entry.end;
  }
  if (expected_begin != data_size)
    throw IOError(fmt::format("load: '{}': the tensors cover {} of {} data bytes", path, expected_begin, data_size));
  for (const auto& entry : entries) {
    Tensor tensor = empty(entry.shape, entry.dtype);
    in.seekg(static_cast<std::streamoff>(8 + header_length + entry.begin));
    in.read(detail::raw_bytes(tensor), static_cast<std::streamsize>(entry.end - entry.begin));
    if (!in) throw IOError(fmt::format("load: '{}': could not read tensor '{}'", path, entry.name));
    if (!options.allow_non_finite() && entry.dtype == Dtype::Float32) check_finite<float>(tensor, entry.name, path);
    if (!options.allow_non_finite() && entry.dtype == Dtype::Float64) check_finite<double>(tensor, entry.name, path);
    result.tensors[entry.name] = tensor;
  }
  return result;
}

}  // namespace

SafetensorsFile load_safetensors(const std::string& path, const LoadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IOError(system_error_message("load: cannot open", path));
  // The size bounds every allocation, so it must be a real one: a device or a pipe has none.
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) throw IOError(system_error_message("load: cannot stat", path));
  if (!S_ISREG(info.st_mode)) throw IOError(fmt::format("load: expected '{}' to be a regular file, it is not", path));
  return read_safetensors(in, static_cast<std::uint64_t>(info.st_size), path, options);
}

SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& origin, const LoadOptions& options) {
  std::istringstream in(bytes);
  return read_safetensors(in, bytes.size(), origin, options);
}

void save(const Module& module, const std::string& path, const std::map<std::string, std::string>& metadata) {
  save_safetensors(module.state_dict(), path, metadata);
}

std::map<std::string, std::string> load(Module& module, const std::string& path, const LoadOptions& options) {
  SafetensorsFile file = load_safetensors(path, options);
  const auto own = module.state_dict();
  for (auto& [name, tensor] : file.tensors) {
    const auto it = own.find(name);
    if (it == own.end() || !tensor.is_floating_point() || !it->second.is_floating_point() ||
        tensor.dtype() == it->second.dtype())
      continue;  // load_state_dict reports what is missing, unexpected or of another shape
    if (!options.convert_dtype())
      throw DtypeError(fmt::format("load: '{}' holds {} as {}, the module's is {}; "
                                   "LoadOptions().convert_dtype(true) converts it", path, name,
                                   dtype_name(tensor.dtype()), dtype_name(it->second.dtype())));
    tensor = tensor.to(it->second.dtype());
  }
  module.load_state_dict(file.tensors);
  return file.metadata;
}

}  // namespace loom
