// Files that claim more than they hold: a header of 10^12 elements, a 4 GiB line, a vocabulary of
// 10^9 tokens, a config of gigabytes. Each reader must answer with a typed error, in constant
// memory: each case runs in a forked child whose peak memory is measured (and, outside
// AddressSanitizer, whose address space is capped), so an allocation the file asked for shows.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <loom/data.h>
#include <loom/layers/linear.h>
#include <loom/optim.h>

#include "run_config.h"
#include "test_util.h"

using loom_test::TempDir;

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// Peak memory allowed above what the process held before the read.
constexpr long kAllowedGrowthKiB = 64 * 1024;

// A field of /proc/self/status in KiB (VmRSS, VmHWM, VmSize), or -1.
long status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field) + 1));
  return -1;
}

struct Outcome {
  std::string error;      // the typed error's message, or what went wrong instead
  long peak_growth_kib;   // peak resident memory during the read minus the resident memory before
};

// Runs `read` in a forked child and reports how it ended and how much memory it took at its peak.
Outcome run_in_child(const std::function<void()>& read) {
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(pipe_fds[0]);
    std::ofstream("/proc/self/clear_refs") << "5";  // restart the peak (VmHWM) from now
    const long before = status_kib("VmRSS:");
    if (!kSanitized) {  // a reservation the reader never touches would not show in the peak
      const rlimit cap{static_cast<rlim_t>(status_kib("VmSize:") + kAllowedGrowthKiB) * 1024,
                       static_cast<rlim_t>(status_kib("VmSize:") + kAllowedGrowthKiB) * 1024};
      setrlimit(RLIMIT_AS, &cap);
    }
    std::string error;
    try {
      read();
      error = "no error";
    } catch (const loom::Error& e) {
      error = e.what();
    } catch (const std::exception& e) {
      error = std::string("untyped exception: ") + e.what();
    }
    const long peak = status_kib("VmHWM:") - before;
    const std::string report = std::to_string(peak) + "\n" + error;
    if (write(pipe_fds[1], report.data(), report.size()) < 0) _exit(3);
    _exit(0);
  }
  close(pipe_fds[1]);
  std::string report;
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) report.append(buffer, static_cast<std::size_t>(n));
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  const auto newline = report.find('\n');
  REQUIRE(newline != std::string::npos);
  return {report.substr(newline + 1), std::stol(report.substr(0, newline))};
}

// Expects a typed error containing `expected`, reached without a large allocation.
void expect_rejected_small(const std::function<void()>& read, const std::string& expected) {
  const Outcome outcome = run_in_child(read);
  INFO("error: " << outcome.error);
  CHECK(outcome.error.find(expected) != std::string::npos);
  CHECK(outcome.peak_growth_kib < kAllowedGrowthKiB);
}

void write_file(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

// A file of `size` bytes that takes no disk (a hole): `start` followed by zero bytes.
void write_sparse(const std::string& path, const std::string& start, std::uint64_t size) {
  write_file(path, start);
  REQUIRE(truncate(path.c_str(), static_cast<off_t>(size)) == 0);
}

std::string big_endian(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string safetensors_with_header(const std::string& json) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((json.size() >> (8 * i)) & 0xff));
  return out + json;
}

constexpr std::uint64_t kFourGiB = std::uint64_t(4) << 30;

}  // namespace

TEST_CASE("safetensors: a header claiming 10^12 elements or a 2^60-byte header") {
  TempDir dir;
  const std::string path = dir.path + "/huge.safetensors";
  write_file(path, safetensors_with_header(
                       R"({"w":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,4000000000000]}})") +
                       std::string(16, '\0'));
  expect_rejected_small([&] { loom::load_safetensors(path); }, "shape is larger than the file");
  write_file(path, std::string("\0\0\0\0\0\0\0\x10", 8) + "{}");
  expect_rejected_small([&] { loom::load_safetensors(path); }, "declares a header of 1152921504606846976 bytes");
  // The same claim in a 4 GiB file of zeros (a hole): the data is there, the shape is not.
  write_sparse(path, safetensors_with_header(R"({"w":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,16]}})"),
               kFourGiB);
  expect_rejected_small([&] { loom::load_safetensors(path); }, "tensor 'w'");
}

TEST_CASE("IDX: headers claiming 10^12 pixels, or more than the file holds, raw or gzip'ed") {
  TempDir dir;
  const std::string path = dir.path + "/images.idx";
  write_file(path, big_endian(0x803) + big_endian(0xffffffffu) + big_endian(28) + big_endian(28) + "tail");
  expect_rejected_small([&] { loom::data::read_idx_images(path); }, "expected at most 1073741824 bytes of data");
  // 784 MB declared (under the bound), 4 bytes present.
  write_file(path, big_endian(0x803) + big_endian(1000000) + big_endian(28) + big_endian(28) + "tail");
  expect_rejected_small([&] { loom::data::read_idx_images(path); }, "the file holds 4");
  // The same header gzip'ed: a few dozen bytes cannot inflate to 784 MB.
  const std::string raw = big_endian(0x803) + big_endian(1000000) + big_endian(28) + big_endian(28);
  gzFile gz = gzopen((path + ".gz").c_str(), "wb");
  gzwrite(gz, raw.data(), static_cast<unsigned>(raw.size()));
  gzclose(gz);
  expect_rejected_small([&] { loom::data::read_idx_images(path + ".gz"); }, "more than a gzip'ed file");
  write_file(path, big_endian(0x801) + big_endian(1000000) + "x");
  expect_rejected_small([&] { loom::data::read_idx_labels(path); }, "the file holds 1");
}

TEST_CASE("CSV/TSV: a 4 GiB line is rejected before it is read") {
  TempDir dir;
  const std::string path = dir.path + "/line.csv";
  write_sparse(path, "close\n1", kFourGiB + 1);  // one line of 4 GiB after the header
  expect_rejected_small([&] { loom::data::read_delimited(path); }, "is too large: expected at most 1073741824 bytes, got 4294967297");
  expect_rejected_small([&] { loom::data::read_csv_column(path, "close"); }, "is too large");
}

TEST_CASE("vocabulary: 10^9 entries, or more lines than any table, are rejected before any token is built") {
  TempDir dir;
  const std::string path = dir.path + "/vocab.txt";
  std::string billion_lines_start = "<pad>\n<unk>\n<bos>\n<eos>\n";
  write_sparse(path, billion_lines_start, 2'000'000'000);  // room for 10^9 one-byte tokens
  expect_rejected_small([&] { loom::data::Vocabulary::load(path); }, "is too large");
  write_file(path, billion_lines_start + std::string(10'000'001, '\n'));  // 10 MB, 10^7 + 5 lines
  expect_rejected_small([&] { loom::data::Vocabulary::load(path); }, "expected at most 10000000 tokens, got 10000005 lines");
}

TEST_CASE("run config: a 4 GiB config.json, or one asking for a model of 10^12 units") {
  TempDir dir;
  write_sparse(dir.path + "/config.json", "{\"task\": \"", kFourGiB);
  expect_rejected_small([&] { loom::tools::load_config(dir.path); }, "is too large: expected at most 1048576 bytes, got 4294967296");
  write_file(dir.path + "/config.json",
             R"({"task":"sentiment","data_dir":"d","model":"rows","cell":"lstm","embedding_dim":64,"hidden":1000000000000,
                 "layers":1,"bidirectional":true,"dropout":0.5,"pooling":"max","optimizer":"adam","lr":0.003,
                 "weight_decay":0.05,"epochs":12,"batch":32,"min_frequency":1,"max_tokens":0,"seed":0,"threads":1})");
  expect_rejected_small([&] { loom::tools::load_config(dir.path); }, "expected hidden in [1, 8192], got 1000000000000");
}

TEST_CASE("trainer checkpoint: a 6 GB last.safetensors, or /dev/zero in its place, is refused before it is read") {
  TempDir dir;
  const std::string path = dir.path + "/last.safetensors";
  const auto resume = [&] {
    loom::Linear model(4, 2);
    loom::optim::Adam adam(model.named_parameters(), loom::optim::AdamOptions(0.01));
    loom::optim::Trainer(model, adam, loom::optim::TrainerOptions().run_dir(dir.path)).resume();
  };
  write_sparse(path, safetensors_with_header("{}"), 6'000'000'000);
  expect_rejected_small(resume, "is too large: expected at most ");
  std::remove(path.c_str());
  REQUIRE(symlink("/dev/zero", path.c_str()) == 0);
  expect_rejected_small(resume, "expected '" + path + "' to be a regular file");
}

TEST_CASE("the measurement sees a reader that allocates what a file claims") {
  const Outcome outcome = run_in_child([] {
    std::vector<char> claimed(std::size_t(256) << 20, 1);  // 256 MiB, touched
    if (claimed[12345] != 1) throw loom::IOError("unreachable");
  });
  INFO("error: " << outcome.error << ", peak growth " << outcome.peak_growth_kib << " KiB");
  // Outside the sanitizers the address-space cap refuses it; under them the peak shows it.
  CHECK((outcome.error.find("bad_alloc") != std::string::npos || outcome.peak_growth_kib >= kAllowedGrowthKiB));
}

TEST_CASE("a tensor or a GEMM that the address-space limit has no room for is a ResourceError") {
  if (kSanitized) return;  // the sanitizers reserve terabytes of address space: no cap is set
  // 1 GiB of float32: the child's cap leaves 64 MiB.
  expect_rejected_small([] { loom::zeros({std::int64_t{1} << 28}); },
                        "tensor storage: cannot allocate 1024.0 MiB; the address-space limit (ulimit -v) is");
  // A first GEMM needs room for OpenBLAS's 128 MiB work buffer (which it would retry forever).
  expect_rejected_small([] {
    loom::set_num_threads(1);
    loom::matmul(loom::ones({300, 300}), loom::ones({300, 300}));
  }, "gemm: OpenBLAS needs 128 MiB more address space for its work buffers");
}
