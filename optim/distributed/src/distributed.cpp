// Data-parallel training over MPI: the job's environment, collectives with a watchdog, and the
// bucketed gradient reducer driven by the autograd engine's post-accumulate-grad hooks.
#include "loom/distributed.h"

#include <mpi.h>
#include <sched.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "loom/autograd.h"
#include "loom/errors.h"

namespace loom::distributed {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Set by the launchers Loom knows: Open MPI's mpirun, and PMI/PMIx ones (MPICH, srun).
bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(name)) return true;
  return false;
}

void check(int code, const char* operation) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  abort_job(fmt::format("{} failed: {}", operation, std::string(text, static_cast<std::size_t>(length))), 3);
}

// Waits for `count` requests, polling so that a peer that died or hangs ends the job after
// `timeout` seconds instead of blocking it forever. Spins briefly (a collective usually
// completes within microseconds on one machine), then sleeps between polls.
void wait_all(MPI_Request* requests, int count, const char* what, double timeout) {
  const auto start = Clock::now();
  int done = 0;
  check(MPI_Testall(count, requests, &done, MPI_STATUSES_IGNORE), what);
  for (int polls = 0; !done; ++polls) {
    if (timeout > 0 && seconds_since(start) > timeout)
      abort_job(fmt::format("{} did not complete within {:g} s: another rank died or hangs "
                            "(LOOM_DISTRIBUTED_TIMEOUT sets the limit)", what, timeout), 3);
    if (polls < 2000) sched_yield();
    else std::this_thread::sleep_for(std::chrono::microseconds(100));
    check(MPI_Testall(count, requests, &done, MPI_STATUSES_IGNORE), what);
  }
}

MPI_Datatype mpi_type(Dtype dtype) {
  switch (dtype) {
    case Dtype::Float32: return MPI_FLOAT;
    case Dtype::Float64: return MPI_DOUBLE;
    case Dtype::Int64: return MPI_INT64_T;
  }
  return MPI_BYTE;
}

void* bytes_of(Tensor& t) {
  switch (t.dtype()) {
    case Dtype::Float32: return t.data<float>();
    case Dtype::Float64: return t.data<double>();
    case Dtype::Int64: return t.data<std::int64_t>();
  }
  return nullptr;
}

template <class T>
void scaled_copy(const T* from, T* to, std::int64_t n, double scale) {
  const auto s = static_cast<T>(scale);
  for (std::int64_t i = 0; i < n; ++i) to[i] = from[i] * s;
}

}  // namespace

// ---- the job ------------------------------------------------------------------------------------

Environment::Environment(int& argc, char**& argv) {
  int started = 0;
  MPI_Initialized(&started);
  if (started || !launched_by_mpi()) return;
  MPI_Init(&argc, &argv);
  owns_mpi_ = true;
  // Errors come back as codes, so that check() can name the operation before aborting.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

Environment::~Environment() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!owns_mpi_ || finalized) return;
  // MPI_Finalize waits for every rank, and Open MPI waits by spinning: rank 1 burnt half a core
  // for as long as rank 0 decoded a test set alone. The ranks meet first in a barrier that this
  // rank polls every 5 ms, so a rank that finished early sleeps.
  MPI_Request meeting;
  if (MPI_Ibarrier(MPI_COMM_WORLD, &meeting) == MPI_SUCCESS) {
    int done = 0;
    while (MPI_Test(&meeting, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && !done)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  MPI_Finalize();
}

bool running() {
  int started = 0, finalized = 0;
  MPI_Initialized(&started);
  MPI_Finalized(&finalized);
  return started && !finalized;
}

int rank() {
  int r = 0;
  if (running()) MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int world_size() {
  int n = 1;
  if (running()) MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

void abort_job(const std::string& message, int exit_code) {
  std::fprintf(stderr, "loom: rank %d of %d: %s\n", rank(), world_size(), message.c_str());
  std::fflush(stderr);
  if (running()) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::exit(exit_code);
}

// ---- the reducer --------------------------------------------------------------------------------

struct DataParallel::State {
  // One parameter's place in its bucket.
  struct Member {
    Tensor param;
    std::size_t bucket;
    std::int64_t offset;  // in elements
    bool packed;          // its gradient is in the bucket this step
  };
  // A flat buffer of gradients of one dtype, all-reduced as one message.
  struct Bucket {
    Tensor buffer;  // (numel) of the members' dtype
    std::vector<std::size_t> members;
    std::size_t unpacked = 0;  // members still to pack this step
    MPI_Request request = MPI_REQUEST_NULL;
    bool started = false;
  };

  DataParallelOptions options;
  int rank = 0, size = 1;
  std::vector<Member> members;
  std::vector<Bucket> buckets;
  std::size_t next_to_start = 0;  // buckets start in index order on every rank
  double share = 1.0;
  bool in_step = false;
  CommunicationStats stats;

  void pack(std::size_t m) {
    const auto start = Clock::now();
    Member& member = members[m];
    Bucket& bucket = buckets[member.bucket];
    Tensor grad = member.param.grad();
    const std::int64_t n = member.param.numel();
    if (grad.dtype() == Dtype::Float32)
      scaled_copy(grad.data<float>(), bucket.buffer.data<float>() + member.offset, n, share);
    else
      scaled_copy(grad.data<double>(), bucket.buffer.data<double>() + member.offset, n, share);
    member.packed = true;
    --bucket.unpacked;
    stats.pack_seconds += seconds_since(start);
  }

  void start(Bucket& bucket) {
    check(MPI_Iallreduce(MPI_IN_PLACE, bytes_of(bucket.buffer), static_cast<int>(bucket.buffer.numel()),
                         mpi_type(bucket.buffer.dtype()), MPI_SUM, MPI_COMM_WORLD, &bucket.request),
          "MPI_Iallreduce of the gradients");
    bucket.started = true;
  }

  // Starts every full bucket whose predecessors have started, and lets MPI progress the ones in
  // flight (Open MPI advances non-blocking collectives only inside MPI calls).
  void start_ready() {
    while (next_to_start < buckets.size() && buckets[next_to_start].unpacked == 0) start(buckets[next_to_start++]);
    for (std::size_t b = 0; b < next_to_start; ++b) {
      if (buckets[b].request == MPI_REQUEST_NULL) continue;
      int done = 0;
      check(MPI_Test(&buckets[b].request, &done, MPI_STATUS_IGNORE), "MPI_Test of the gradients");
    }
  }

  void on_gradient_ready(std::size_t m) {
    if (!in_step || members[m].packed) return;
    pack(m);
    if (options.overlap()) start_ready();
  }
};

DataParallel::DataParallel(Module& model, DataParallelOptions options) : state_(std::make_unique<State>()) {
  if (!running())
    throw ValueError("DataParallel: MPI is not running; start the program with mpirun and create a "
                     "loom::distributed::Environment first");
  if (options.bucket_bytes() < 1)
    throw ValueError(fmt::format("DataParallel: expected bucket_bytes >= 1, got {}", options.bucket_bytes()));
  State& s = *state_;
  s.options = options;
  if (const char* timeout = std::getenv("LOOM_DISTRIBUTED_TIMEOUT")) s.options.timeout_seconds(std::atof(timeout));
  MPI_Comm_rank(MPI_COMM_WORLD, &s.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &s.size);

  // Buckets in reverse registration order; a new one when full or when the dtype changes.
  NamedTensors params = model.named_parameters();
  std::int64_t bucket_bytes = 0, bucket_numel = 0;
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    const Tensor& param = it->second;
    if (!param.requires_grad()) continue;
    if (!param.is_floating_point())
      throw ValueError(fmt::format("DataParallel: parameter '{}' is {}, expected a floating type", it->first,
                                   dtype_name(param.dtype())));
    const auto bytes = param.numel() * static_cast<std::int64_t>(dtype_size(param.dtype()));
    if (s.buckets.empty() || bucket_bytes + bytes > s.options.bucket_bytes() ||
        s.members.back().param.dtype() != param.dtype()) {
      s.buckets.emplace_back();
      bucket_bytes = bucket_numel = 0;
    }
    s.buckets.back().members.push_back(s.members.size());
    s.members.push_back({param, s.buckets.size() - 1, bucket_numel, false});
    bucket_bytes += bytes;
    bucket_numel += param.numel();
    s.stats.bytes_per_step += bytes;
  }
  for (auto& bucket : s.buckets) {
    const State::Member& last = s.members[bucket.members.back()];
    bucket.buffer = zeros({last.offset + last.param.numel()}, last.param.dtype());  // (numel)
  }
  for (std::size_t m = 0; m < s.members.size(); ++m)
    set_post_accumulate_grad_hook(s.members[m].param, [&s, m](const Tensor&) { s.on_gradient_ready(m); });
}

DataParallel::~DataParallel() {
  for (auto& member : state_->members) set_post_accumulate_grad_hook(member.param, {});
}

int DataParallel::rank() const { return state_->rank; }
int DataParallel::size() const { return state_->size; }
std::int64_t DataParallel::num_buckets() const { return static_cast<std::int64_t>(state_->buckets.size()); }
const CommunicationStats& DataParallel::stats() const { return state_->stats; }

void DataParallel::reset_stats() {
  const std::int64_t bytes = state_->stats.bytes_per_step;
  state_->stats = CommunicationStats();
  state_->stats.bytes_per_step = bytes;
}

void DataParallel::broadcast(std::string& bytes) {
  auto length = static_cast<std::uint64_t>(bytes.size());
  MPI_Request request;
  check(MPI_Ibcast(&length, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD, &request), "MPI_Ibcast");
  wait_all(&request, 1, "broadcast from rank 0", state_->options.timeout_seconds());
  bytes.resize(length);
  // MPI counts are ints: large payloads go in pieces.
  constexpr std::uint64_t piece = 1 << 30;
  for (std::uint64_t at = 0; at < length; at += piece) {
    check(MPI_Ibcast(bytes.data() + at, static_cast<int>(std::min(piece, length - at)), MPI_BYTE, 0, MPI_COMM_WORLD,
                     &request), "MPI_Ibcast");
    wait_all(&request, 1, "broadcast from rank 0", state_->options.timeout_seconds());
  }
}

void DataParallel::broadcast(const std::vector<Tensor>& tensors) {
  std::vector<MPI_Request> requests;
  for (Tensor t : tensors) {
    requests.emplace_back();
    check(MPI_Ibcast(bytes_of(t), static_cast<int>(t.numel()), mpi_type(t.dtype()), 0, MPI_COMM_WORLD,
                     &requests.back()), "MPI_Ibcast of the parameters");
  }
  wait_all(requests.data(), static_cast<int>(requests.size()), "broadcast of rank 0's parameters",
           state_->options.timeout_seconds());
}

std::vector<double> DataParallel::sum(const std::vector<double>& values) {
  std::vector<double> out = values;
  MPI_Request request;
  check(MPI_Iallreduce(MPI_IN_PLACE, out.data(), static_cast<int>(out.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD,
                       &request), "MPI_Iallreduce");
  wait_all(&request, 1, "all-reduce of the step's counts and metrics", state_->options.timeout_seconds());
  return out;
}

void DataParallel::begin_step(double share) {
  State& s = *state_;
  if (s.in_step) throw ValueError("DataParallel::begin_step: the previous step was not finished (call finish_step after backward)");
  s.share = share;
  for (auto& member : s.members) member.packed = false;
  for (auto& bucket : s.buckets) {
    bucket.unpacked = bucket.members.size();
    bucket.started = false;
  }
  s.next_to_start = 0;
  s.in_step = true;
}

void DataParallel::finish_step() {
  State& s = *state_;
  if (!s.in_step) throw ValueError("DataParallel::finish_step: no step begun (call begin_step before backward)");
  s.in_step = false;
  // Parameters this rank's backward never reached (unused on its rows) contribute zeros.
  auto start = Clock::now();
  for (std::size_t m = 0; m < s.members.size(); ++m) {
    auto& member = s.members[m];
    if (member.packed) continue;
    if (member.param.grad().defined()) {
      s.pack(m);
      continue;
    }
    auto& bucket = s.buckets[member.bucket];
    const std::size_t item = dtype_size(bucket.buffer.dtype());
    std::memset(static_cast<char*>(bytes_of(bucket.buffer)) + member.offset * static_cast<std::int64_t>(item), 0,
                static_cast<std::size_t>(member.param.numel()) * item);
    member.packed = true;
    --bucket.unpacked;
  }
  s.stats.pack_seconds += seconds_since(start);
  s.start_ready();

  start = Clock::now();
  std::vector<MPI_Request> requests;
  for (auto& bucket : s.buckets) requests.push_back(bucket.request);
  wait_all(requests.data(), static_cast<int>(requests.size()), "all-reduce of the gradients",
           s.options.timeout_seconds());
  for (auto& bucket : s.buckets) bucket.request = MPI_REQUEST_NULL;
  s.stats.wait_seconds += seconds_since(start);

  start = Clock::now();
  for (auto& member : s.members) {
    Tensor& buffer = s.buckets[member.bucket].buffer;
    Tensor grad = member.param.grad();
    if (!grad.defined()) grad = empty(member.param.shape(), member.param.dtype());
    const std::size_t item = dtype_size(grad.dtype());
    std::memcpy(bytes_of(grad), static_cast<const char*>(bytes_of(buffer)) + member.offset * static_cast<std::int64_t>(item),
                static_cast<std::size_t>(grad.numel()) * item);
    if (!member.param.grad().defined()) member.param.set_grad(grad);
  }
  s.stats.pack_seconds += seconds_since(start);
  ++s.stats.steps;
}

}  // namespace loom::distributed
