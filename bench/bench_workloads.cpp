// The four workloads of ../shared/anchors/torch_train_bench.py in Loom, same shapes, same
// semantics: time-major (T, B) ids, synthetic uniform ids / N(0,1) images generated once (a pool
// of 4 batches, cycled), zero initial state each step, Adam (lr 1e-3, torch defaults).
// A training step = zero_grad + forward + cross entropy + backward + Adam step; --mode infer is
// the forward and the loss without a graph. One JSON line on stdout (bench_workloads.py prints
// the same for PyTorch; compare.sh interleaves both).
//
//   OPENBLAS_NUM_THREADS=2 ./build/bench_workloads --workload charlm --hidden 512 --threads 2
#include <loom/layers.h>
#include <loom/loom.h>
#include <loom/optim/optimizers.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// Flags as in the torch script: --workload, --mode, --threads, --steps, --warmup and the shapes.
struct Config {
  std::string workload = "charlm", mode = "train", attention = "none";
  int threads = 1, steps = 30, warmup = 5, pool = 4;
  std::int64_t vocab = 96, src_vocab = 5000, tgt_vocab = 5000, emb = 64, hidden = 512,
               batch = 32, seq_len = 64, src_len = 20, tgt_len = 20, classes = 2, cap_len = 12,
               img_size = 28, conv1 = 16, conv2 = 32, kernel = 3, pad = 1, feat = 256;
};

Config parse(int argc, char** argv) {
  Config c;
  std::string workload;
  for (int i = 1; i + 1 < argc; i += 2)
    if (std::strcmp(argv[i], "--workload") == 0) workload = argv[i + 1];
  // The workload's defaults first (the brief's shapes), then the flags override them.
  if (workload == "classifier") {
    c.vocab = 20000, c.emb = 128, c.hidden = 256, c.batch = 64, c.seq_len = 100;
  } else if (workload == "seq2seq") {
    c.emb = 256, c.hidden = 256, c.batch = 64;
  } else if (workload == "caption") {
    c.vocab = 1000, c.emb = 256, c.hidden = 256, c.batch = 64;
  } else if (workload != "charlm") {
    throw std::invalid_argument("--workload: expected charlm, classifier, seq2seq or caption, got '" +
                                workload + "'");
  }
  c.workload = workload;
  std::map<std::string, std::int64_t*> sizes{
      {"--vocab", &c.vocab}, {"--src-vocab", &c.src_vocab}, {"--tgt-vocab", &c.tgt_vocab},
      {"--emb", &c.emb}, {"--hidden", &c.hidden}, {"--batch", &c.batch},
      {"--seq-len", &c.seq_len}, {"--src-len", &c.src_len}, {"--tgt-len", &c.tgt_len},
      {"--classes", &c.classes}, {"--cap-len", &c.cap_len}, {"--img-size", &c.img_size},
      {"--conv1", &c.conv1}, {"--conv2", &c.conv2}, {"--kernel", &c.kernel}, {"--pad", &c.pad},
      {"--feat", &c.feat}};
  std::map<std::string, int*> counts{{"--threads", &c.threads}, {"--steps", &c.steps},
                                     {"--warmup", &c.warmup}, {"--pool", &c.pool}};
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument(flag + ": expected a value");
    const char* value = argv[i + 1];
    if (flag == "--workload") continue;
    if (flag == "--mode") c.mode = value;
    else if (flag == "--attention") c.attention = value;
    else if (sizes.count(flag)) *sizes[flag] = std::stoll(value);
    else if (counts.count(flag)) *counts[flag] = std::stoi(value);
    else throw std::invalid_argument("unknown flag " + flag);
  }
  if (c.mode != "train" && c.mode != "infer")
    throw std::invalid_argument("--mode: expected train or infer, got '" + c.mode + "'");
  return c;
}

loom::LSTMOptions time_major_lstm(std::int64_t input, std::int64_t hidden) {
  return loom::LSTMOptions(input, hidden).batch_first(false);
}

// Flattens (T, B, V) logits and (T, B) targets into the cross entropy of all positions.
loom::Tensor sequence_loss(const loom::Tensor& logits, const loom::Tensor& targets) {
  return loom::cross_entropy(logits.reshape({-1, logits.size(-1)}), targets.reshape({-1}));
}

// One synthetic batch: the model's inputs and the targets.
struct Batch {
  std::vector<loom::Tensor> inputs;
  loom::Tensor targets;
};

// A workload: the model's parameters live in its modules; loss() runs forward + loss.
class Workload : public loom::Module {
 public:
  virtual loom::Tensor loss(const Batch& batch) = 0;
  virtual Batch make_batch(const Config& c) = 0;
  virtual double forward_flops(const Config& c) const = 0;
};

double lstm_flops(std::int64_t batch, std::int64_t steps, std::int64_t input, std::int64_t hidden) {
  return 2.0 * batch * steps * 4 * hidden * (input + hidden);
}

// (a) Embedding -> LSTM -> Linear, cross entropy at every position.
class CharLM : public Workload {
 public:
  explicit CharLM(const Config& c)
      : embed_(register_module("emb", std::make_shared<loom::Embedding>(c.vocab, c.emb))),
        lstm_(register_module("lstm", std::make_shared<loom::LSTM>(time_major_lstm(c.emb, c.hidden)))),
        out_(register_module("out", std::make_shared<loom::Linear>(c.hidden, c.vocab))) {}
  Batch make_batch(const Config& c) override {
    const loom::Tensor ids = loom::randint(0, c.vocab, {c.seq_len + 1, c.batch});  // (T+1, B)
    return {{ids.narrow(0, 0, c.seq_len).clone()}, ids.narrow(0, 1, c.seq_len).clone()};
  }
  loom::Tensor loss(const Batch& batch) override {
    const loom::Tensor hidden = lstm_->forward(embed_->forward(batch.inputs[0])).output;  // (T, B, H)
    return sequence_loss(out_->forward(hidden), batch.targets);
  }
  double forward_flops(const Config& c) const override {
    return lstm_flops(c.batch, c.seq_len, c.emb, c.hidden) + 2.0 * c.batch * c.seq_len * c.hidden * c.vocab;
  }

 private:
  std::shared_ptr<loom::Embedding> embed_;
  std::shared_ptr<loom::LSTM> lstm_;
  std::shared_ptr<loom::Linear> out_;
};

// (b) Embedding -> LSTM -> last hidden state -> Linear.
class Classifier : public Workload {
 public:
  explicit Classifier(const Config& c)
      : embed_(register_module("emb", std::make_shared<loom::Embedding>(c.vocab, c.emb))),
        lstm_(register_module("lstm", std::make_shared<loom::LSTM>(time_major_lstm(c.emb, c.hidden)))),
        out_(register_module("out", std::make_shared<loom::Linear>(c.hidden, c.classes))) {}
  Batch make_batch(const Config& c) override {
    return {{loom::randint(0, c.vocab, {c.seq_len, c.batch})}, loom::randint(0, c.classes, {c.batch})};
  }
  loom::Tensor loss(const Batch& batch) override {
    const loom::Tensor h_n = lstm_->forward(embed_->forward(batch.inputs[0])).h_n;  // (1, B, H)
    return loom::cross_entropy(out_->forward(h_n.select(0, 0)), batch.targets);
  }
  double forward_flops(const Config& c) const override {
    return lstm_flops(c.batch, c.seq_len, c.emb, c.hidden) + 2.0 * c.batch * c.hidden * c.classes;
  }

 private:
  std::shared_ptr<loom::Embedding> embed_;
  std::shared_ptr<loom::LSTM> lstm_;
  std::shared_ptr<loom::Linear> out_;
};

// (c) LSTM encoder, LSTM decoder started from the encoder's final state, teacher forcing;
// optionally Luong dot attention over the encoder outputs, h~ = tanh(Wc [ctx; h]).
class Seq2Seq : public Workload {
 public:
  explicit Seq2Seq(const Config& c)
      : attention_(c.attention == "dot"),
        src_embed_(register_module("src_emb", std::make_shared<loom::Embedding>(c.src_vocab, c.emb))),
        tgt_embed_(register_module("tgt_emb", std::make_shared<loom::Embedding>(c.tgt_vocab, c.emb))),
        encoder_(register_module("enc", std::make_shared<loom::LSTM>(time_major_lstm(c.emb, c.hidden)))),
        decoder_(register_module("dec", std::make_shared<loom::LSTM>(time_major_lstm(c.emb, c.hidden)))),
        out_(register_module("out", std::make_shared<loom::Linear>(c.hidden, c.tgt_vocab))) {
    if (c.attention != "none" && c.attention != "dot")
      throw std::invalid_argument("--attention: expected none or dot, got '" + c.attention + "'");
    if (attention_)
      combine_ = register_module(
          "combine", std::make_shared<loom::Linear>(loom::LinearOptions(2 * c.hidden, c.hidden).bias(false)));
  }
  Batch make_batch(const Config& c) override {
    const loom::Tensor src = loom::randint(0, c.src_vocab, {c.src_len, c.batch});      // (Ts, B)
    const loom::Tensor tgt = loom::randint(0, c.tgt_vocab, {c.tgt_len + 1, c.batch});  // (Tt+1, B)
    return {{src, tgt.narrow(0, 0, c.tgt_len).clone()}, tgt.narrow(0, 1, c.tgt_len).clone()};
  }
  loom::Tensor loss(const Batch& batch) override {
    const auto encoded = encoder_->forward(src_embed_->forward(batch.inputs[0]));  // (Ts, B, H)
    const loom::Tensor decoded =
        decoder_->forward(tgt_embed_->forward(batch.inputs[1]), loom::Tensor(), encoded.h_n, encoded.c_n)
            .output;  // (Tt, B, H)
    if (!attention_) return sequence_loss(out_->forward(decoded), batch.targets);
    const loom::Tensor queries = decoded.transpose(0, 1);        // (B, Tt, H)
    const loom::Tensor keys = encoded.output.transpose(0, 1);    // (B, Ts, H)
    const loom::Tensor weights = loom::softmax(loom::matmul(queries, keys.transpose(1, 2)), -1);  // (B, Tt, Ts)
    const loom::Tensor context = loom::matmul(weights, keys);   // (B, Tt, H)
    const loom::Tensor attended = loom::tanh(combine_->forward(loom::concat({context, queries}, -1)));
    return sequence_loss(out_->forward(attended).transpose(0, 1), batch.targets);  // (Tt, B, V)
  }
  double forward_flops(const Config& c) const override {
    double flops = lstm_flops(c.batch, c.src_len, c.emb, c.hidden) + lstm_flops(c.batch, c.tgt_len, c.emb, c.hidden);
    if (attention_)
      flops += 2.0 * (2.0 * c.batch * c.tgt_len * c.src_len * c.hidden) + 2.0 * c.batch * c.tgt_len * 2 * c.hidden * c.hidden;
    return flops + 2.0 * c.batch * c.tgt_len * c.hidden * c.tgt_vocab;
  }

 private:
  bool attention_;
  std::shared_ptr<loom::Embedding> src_embed_, tgt_embed_;
  std::shared_ptr<loom::LSTM> encoder_, decoder_;
  std::shared_ptr<loom::Linear> out_, combine_;
};

// (d) conv-relu-pool twice, Linear + tanh = h0 of an LSTM caption decoder (c0 = 0).
class Caption : public Workload {
 public:
  explicit Caption(const Config& c)
      : conv1_(register_module("conv1", std::make_shared<loom::Conv2d>(
                                            loom::Conv2dOptions(1, c.conv1, c.kernel).padding(c.pad)))),
        conv2_(register_module("conv2", std::make_shared<loom::Conv2d>(
                                            loom::Conv2dOptions(c.conv1, c.conv2, c.kernel).padding(c.pad)))),
        pool_(std::make_shared<loom::MaxPool2d>(loom::MaxPool2dOptions(2))),
        fc_(register_module("fc", std::make_shared<loom::Linear>(c.conv2 * pooled(c) * pooled(c), c.feat))),
        embed_(register_module("emb", std::make_shared<loom::Embedding>(c.vocab, c.emb))),
        lstm_(register_module("lstm", std::make_shared<loom::LSTM>(time_major_lstm(c.emb, c.hidden)))),
        out_(register_module("out", std::make_shared<loom::Linear>(c.hidden, c.vocab))) {
    if (c.feat != c.hidden) throw std::invalid_argument("caption: --feat must equal --hidden (it is h0)");
  }
  // Side of the feature map after both conv + pool stages.
  static std::int64_t pooled(const Config& c) {
    const std::int64_t s1 = (c.img_size + 2 * c.pad - c.kernel + 1) / 2;
    return (s1 + 2 * c.pad - c.kernel + 1) / 2;
  }
  Batch make_batch(const Config& c) override {
    const loom::Tensor images = loom::randn({c.batch, 1, c.img_size, c.img_size});   // (B, 1, S, S)
    const loom::Tensor caption = loom::randint(0, c.vocab, {c.cap_len + 1, c.batch});  // (L+1, B)
    return {{images, caption.narrow(0, 0, c.cap_len).clone()}, caption.narrow(0, 1, c.cap_len).clone()};
  }
  loom::Tensor loss(const Batch& batch) override {
    loom::Tensor x = pool_->forward(loom::relu(conv1_->forward(batch.inputs[0])));
    x = pool_->forward(loom::relu(conv2_->forward(x)));
    const loom::Tensor h0 = loom::tanh(fc_->forward(x.flatten(1))).unsqueeze(0);  // (1, B, feat)
    const loom::Tensor hidden =
        lstm_->forward(embed_->forward(batch.inputs[1]), loom::Tensor(), h0, loom::zeros_like(h0)).output;
    return sequence_loss(out_->forward(hidden), batch.targets);  // (L, B, V) logits
  }
  double forward_flops(const Config& c) const override {
    const std::int64_t s1 = c.img_size + 2 * c.pad - c.kernel + 1, s2 = s1 / 2 + 2 * c.pad - c.kernel + 1;
    double flops = 2.0 * c.batch * s1 * s1 * c.conv1 * c.kernel * c.kernel;
    flops += 2.0 * c.batch * s2 * s2 * c.conv2 * c.conv1 * c.kernel * c.kernel;
    flops += 2.0 * c.batch * c.conv2 * (s2 / 2) * (s2 / 2) * c.feat;
    return flops + lstm_flops(c.batch, c.cap_len, c.emb, c.hidden) + 2.0 * c.batch * c.cap_len * c.hidden * c.vocab;
  }

 private:
  std::shared_ptr<loom::Conv2d> conv1_, conv2_;
  std::shared_ptr<loom::MaxPool2d> pool_;
  std::shared_ptr<loom::Linear> fc_;
  std::shared_ptr<loom::Embedding> embed_;
  std::shared_ptr<loom::LSTM> lstm_;
  std::shared_ptr<loom::Linear> out_;
};

// Peak resident set of this process (VmHWM), in MB.
double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return -1;
}

int run(const Config& c) {
  loom::set_num_threads(c.threads);
  loom::manual_seed(0);
  std::unique_ptr<Workload> model;
  if (c.workload == "charlm") model = std::make_unique<CharLM>(c);
  else if (c.workload == "classifier") model = std::make_unique<Classifier>(c);
  else if (c.workload == "seq2seq") model = std::make_unique<Seq2Seq>(c);
  else model = std::make_unique<Caption>(c);
  std::vector<Batch> batches;
  for (int i = 0; i < c.pool; ++i) batches.push_back(model->make_batch(c));
  loom::optim::Adam adam(model->named_parameters(), loom::optim::AdamOptions(1e-3));
  const bool train = c.mode == "train";
  model->train(train);

  float last_loss = 0;
  auto step = [&](int i) {
    const Batch& batch = batches[i % batches.size()];
    if (train) {
      adam.zero_grad();
      loom::Tensor loss = model->loss(batch);
      loss.backward();
      adam.step();
      last_loss = static_cast<float>(loss.item());
    } else {
      loom::NoGradGuard no_grad;
      last_loss = static_cast<float>(model->loss(batch).item());
    }
  };
  for (int i = 0; i < c.warmup; ++i) step(i);
  std::vector<double> times;
  for (int i = 0; i < c.steps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    step(i);
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2];
  const double flops = model->forward_flops(c) * (train ? 3 : 1);
  std::printf("{\"impl\": \"loom\", \"workload\": \"%s\", \"mode\": \"%s\", \"attention\": \"%s\", "
              "\"hidden\": %ld, \"seq_len\": %ld, \"threads\": %d, \"ms_step_median\": %.3f, "
              "\"ms_step_min\": %.3f, \"achieved_gflops_est\": %.2f, \"peak_rss_mb\": %.1f, "
              "\"final_loss\": %.4f}\n",
              c.workload.c_str(), c.mode.c_str(), c.attention.c_str(), static_cast<long>(c.hidden),
              static_cast<long>(c.seq_len), c.threads, median, times.front(), flops / median / 1e6,
              peak_rss_mb(), last_loss);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_workloads: %s\n", error.what());
    return 2;
  }
}
