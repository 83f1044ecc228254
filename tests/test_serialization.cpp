// safetensors checkpoints: round trips, PyTorch interop, atomic saves, malformed files.
#include <loom/layers/linear.h>
#include <loom/layers/recurrent.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "test_util.h"

using loom_test::TempDir;
#include "torch_reference.h"

using loom::Dtype;
using loom::Tensor;

namespace {

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A file with the given JSON header and `data_bytes` zero bytes of data.
std::string with_header(const std::string& json, std::size_t data_bytes) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((json.size() >> (8 * i)) & 0xff));
  return out + json + std::string(data_bytes, '\0');
}

std::string io_error_of(const std::string& path) {
  try {
    loom::load_safetensors(path);
  } catch (const loom::IOError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("tensors and metadata round-trip through safetensors") {
  TempDir dir;
  const std::string path = dir.path + "/t.safetensors";
  std::map<std::string, Tensor> tensors = {
      {"a", loom::randn({3, 4})},
      {"b", loom::randn({2}, Dtype::Float64)},
      {"ids", loom::from_vector(std::vector<std::int64_t>{1, -2, 3})},
      {"scalar", loom::scalar_tensor(7.5)},
      {"empty", loom::zeros({0, 3})}};
  loom::save_safetensors(tensors, path, {{"epoch", "3"}});
  auto file = loom::load_safetensors(path);
  CHECK(file.metadata.at("epoch") == "3");
  REQUIRE(file.tensors.size() == tensors.size());
  for (const auto& [name, t] : tensors) {
    CAPTURE(name);
    CHECK(file.tensors.at(name).shape() == t.shape());
    CHECK(file.tensors.at(name).dtype() == t.dtype());
    CHECK(loom_test::values(file.tensors.at(name)) == loom_test::values(t));
  }
}

TEST_CASE("a module saves and loads strictly") {
  TempDir dir;
  loom::LSTM a(loom::LSTMOptions(3, 4).num_layers(2));
  loom::LSTM b(loom::LSTMOptions(3, 4).num_layers(2));
  loom::save(a, dir.path + "/m.safetensors", {{"note", "hello"}});
  CHECK(loom::load(b, dir.path + "/m.safetensors").at("note") == "hello");
  const Tensor x = loom::randn({2, 5, 3});
  CHECK(loom_test::values(a.forward(x).output) == loom_test::values(b.forward(x).output));
  loom::LSTM other(loom::LSTMOptions(3, 5));
  CHECK_THROWS_AS(loom::load(other, dir.path + "/m.safetensors"), loom::ValueError);
  CHECK_THROWS_AS(loom::load(other, dir.path + "/missing.safetensors"), loom::IOError);
}

TEST_CASE("PyTorch's state_dict loads into Loom and Loom's into PyTorch, same outputs") {
  TempDir dir;
  auto from_torch = loom_test::torch_reference("safetensors_interop.py", "write " + dir.path);
  if (from_torch.empty()) return;
  loom::LSTM lstm(loom::LSTMOptions(3, 4).num_layers(2).bidirectional(true));
  loom::load(lstm, dir.path + "/torch.safetensors");  // float32, PyTorch's names
  const Tensor x = from_torch.at("x").to(Dtype::Float32);
  CHECK(loom_test::max_abs_diff(lstm.forward(x).output.to(Dtype::Float64), from_torch.at("output")) < 1e-5);

  // The reverse: Loom writes (with the input), PyTorch reads and runs the same weights.
  auto state = lstm.state_dict();
  state["input"] = x;
  loom::save_safetensors(state, dir.path + "/loom.safetensors", {{"written_by", "loom"}});
  auto from_loom = loom_test::torch_reference("safetensors_interop.py", "read " + dir.path + "/loom.safetensors");
  CHECK(from_loom.at("metadata_ok").item() == 1.0);
  CHECK(loom_test::max_abs_diff(lstm.forward(x).output.to(Dtype::Float64), from_loom.at("output")) < 1e-5);
}

TEST_CASE("malformed files give clear IOErrors, never a crash or a huge allocation") {
  TempDir dir;
  const std::string p = dir.path + "/bad.safetensors";
  write_bytes(p, "abc");
  CHECK(io_error_of(p).find("truncated") != std::string::npos);
  write_bytes(p, std::string("\xff\xff\xff\xff\xff\xff\xff\x0f", 8) + "{}");
  CHECK(io_error_of(p).find("declares a header of") != std::string::npos);
  write_bytes(p, with_header("{\"a\": ", 0));
  CHECK(io_error_of(p).find("malformed JSON") != std::string::npos);
  write_bytes(p, with_header("[1, 2]", 0));
  CHECK(io_error_of(p).find("not a JSON object") != std::string::npos);
  write_bytes(p, with_header(R"({"a": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}})", 4));
  CHECK(io_error_of(p).find("unsupported dtype 'BF16'") != std::string::npos);
  write_bytes(p, with_header(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 4));
  CHECK(io_error_of(p).find("outside the 4 data bytes") != std::string::npos);
  write_bytes(p, with_header(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", 12));
  CHECK(io_error_of(p).find("overlapping") != std::string::npos);
  write_bytes(p, with_header(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", 8));
  CHECK(io_error_of(p).find("hole") != std::string::npos);
  write_bytes(p, with_header(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8));
  CHECK(io_error_of(p).find("needs 12") != std::string::npos);
  write_bytes(p, with_header(R"({"a": {"dtype": "F32", "shape": [4611686018427387904, 4], "data_offsets": [0, 8]}})", 8));
  CHECK(io_error_of(p).find("larger than the file") != std::string::npos);
  write_bytes(p, with_header(R"({"a": {"dtype": "F32", "shape": [0, 18446744073709551615], "data_offsets": [0, 0]}})", 0));
  CHECK(io_error_of(p).find("shape has more than 281474976710656 elements") != std::string::npos);
  write_bytes(p, with_header(R"({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", 8));
  CHECK(io_error_of(p).find("non-integer or negative") != std::string::npos);
  write_bytes(p, with_header(R"({"a": {"dtype": "F32"}})", 0));
  CHECK(io_error_of(p).find("needs dtype, shape and data_offsets") != std::string::npos);
  write_bytes(p, with_header(R"({"__metadata__": {"k": 1}})", 0));
  CHECK(io_error_of(p).find("is not a string") != std::string::npos);
  CHECK(io_error_of(dir.path + "/nothing-here").find("cannot open") != std::string::npos);
  // A device has no size to bound the read by (its tellg gave 0 or -1).
  CHECK(io_error_of("/dev/zero").find("expected '/dev/zero' to be a regular file") != std::string::npos);
}

TEST_CASE("weights holding NaN or inf are refused, naming the file and the tensor, unless allowed") {
  TempDir dir;
  const std::string path = dir.path + "/w.safetensors";
  loom::Linear layer(3, 2);
  loom::save(layer, path);
  auto weights = loom::load_safetensors(path).tensors;  // finite: loads
  weights.at("bias") = loom::from_vector(std::vector<float>{1.0f, std::nanf("")});
  loom::save_safetensors(weights, path);
  const auto message = loom_test::message_of<loom::ValueError>([&] { loom::load(layer, path); });
  CHECK(message == "load: '" + path + "': expected finite weights, tensor 'bias' holds NaN at element 1 of 2 "
                   "(LoadOptions().allow_non_finite(true) loads it anyway)");
  weights.at("bias") = loom::from_vector(std::vector<double>{-INFINITY, 0.0});
  loom::save_safetensors(weights, path);
  CHECK(loom_test::message_of<loom::ValueError>([&] { loom::load_safetensors(path); }).find("holds -inf at element 0") !=
        std::string::npos);
  const auto allowed = loom::load_safetensors(path, loom::LoadOptions().allow_non_finite(true));
  CHECK(std::isinf(loom_test::values(allowed.tensors.at("bias"))[0]));
}

TEST_CASE("killing a process in the middle of saves leaves the last good checkpoint intact") {
  TempDir dir;
  const std::string path = dir.path + "/ckpt.safetensors";
  loom::save_safetensors({{"version", loom::full({1}, 0.0)}}, path);
  for (int attempt = 0; attempt < 5; ++attempt) {
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {  // keeps rewriting a 64 MB checkpoint until killed
      Tensor big = loom::zeros({16 << 20});
      for (int version = 1;; ++version) {
        big.data<float>()[0] = static_cast<float>(version);
        loom::save_safetensors({{"version", big}}, path);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + 70 * attempt));
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    auto file = loom::load_safetensors(path);  // always a whole file: the old or a newer version
    CHECK(file.tensors.count("version") == 1);
  }
  // The killed saves left their temporary files; the next save of the path removes them.
  loom::save_safetensors({{"version", loom::full({1}, -1.0)}}, path);
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path)) left.push_back(entry.path().filename());
  CHECK(left == std::vector<std::string>{"ckpt.safetensors"});
}

TEST_CASE("a save removes the temporary files that killed saves of the same path left behind") {
  TempDir dir;
  const std::string path = dir.path + "/model.safetensors";
  const pid_t dead = fork();  // a process that has exited: its pid names a stale file
  if (dead == 0) _exit(0);
  REQUIRE(dead > 0);
  waitpid(dead, nullptr, 0);
  const std::string stale = path + ".tmp." + std::to_string(dead);
  const std::string live = path + ".tmp." + std::to_string(getppid());  // a save still running
  const std::string other_file = dir.path + "/other.safetensors.tmp." + std::to_string(dead);
  const std::string not_a_pid = path + ".tmp.backup";
  for (const auto& file : {stale, live, other_file, not_a_pid}) write_bytes(file, "half a checkpoint");

  loom::save_safetensors({{"w", loom::ones({2})}}, path);
  CHECK_FALSE(std::filesystem::exists(stale));
  CHECK(std::filesystem::exists(live));
  CHECK(std::filesystem::exists(other_file));
  CHECK(std::filesystem::exists(not_a_pid));
  CHECK(loom::load_safetensors(path).tensors.at("w").to_vector<float>() == std::vector<float>{1, 1});
}
