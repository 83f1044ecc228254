// oneDNN's fused LSTM and linear-before-reset GRU (`lbr_gru`: PyTorch's GRU formulation) on
// bench_rnn's cases (E=64, B=32, T=64, one layer, H=128 and 512), inference forward and a
// training step (forward_training, diff weights zeroed, backward of sum(output)), as an anchor
// beside Loom and torch. One JSON line per case, as bench_rnn prints. Optional: built by
// run_rnn.sh when Debian's libdnnl-dev is installed (oneDNN 2.6.3, OpenMP threads).
//
//   OMP_NUM_THREADS=2 build/onednn_rnn
//   build/onednn_rnn --check DIR --cell gru|lstm --hidden H   (onednn_check.py drives this)
//
// Two oneDNN 2.6.3 gotchas (../shared/anchors/onednn/README.md): without an explicit src_iter
// the backward's diff_weights_iter is wrong, so a zero src_iter (and src_iter_c) is passed; and
// the backward adds into the diff weights, so they are zeroed every step (timed, as Loom's
// zero_grad is). Weights are reordered once into the formats the primitives choose and kept
// there; the forward-to-backward weight reorder a training loop would need after each update is
// not timed (~1 ms at H=512, anchors/onednn). The backward also computes diff_src (dx, 2*T*B*G*H*E
// FLOPs, not counted), which Loom's step does not (the input needs no gradient there).
#include <oneapi/dnnl/dnnl.hpp>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <unordered_map>

#include "median_ms.h"

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using Args = std::unordered_map<int, memory>;

void fill_uniform(memory& m, float bound, unsigned seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> uniform(-bound, bound);
  auto* p = static_cast<float*>(m.get_data_handle());
  for (std::size_t i = 0; i < m.get_desc().get_size() / sizeof(float); ++i) p[i] = uniform(generator);
}
void zero(memory& m) { std::memset(m.get_data_handle(), 0, m.get_desc().get_size()); }

void read_file(const std::string& path, memory& m) {
  std::ifstream in(path, std::ios::binary);
  in.read(static_cast<char*>(m.get_data_handle()), static_cast<std::streamsize>(m.get_desc().get_size()));
  if (!in || in.gcount() != static_cast<std::streamsize>(m.get_desc().get_size())) {
    std::fprintf(stderr, "onednn_rnn: cannot read %zu bytes from %s\n", m.get_desc().get_size(), path.c_str());
    std::exit(2);
  }
}
void write_file(const std::string& path, const memory& m) {
  std::ofstream(path, std::ios::binary)
      .write(static_cast<const char*>(m.get_data_handle()), static_cast<std::streamsize>(m.get_desc().get_size()));
}

// One layer of one cell, its primitives created and its weights in their formats.
struct Layer {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  bool lstm, train;
  long steps, batch, input, hidden, gates;
  memory src, dst, weights_layer, weights_iter, bias;  // user layouts: tnc, ldigo, ldgo
  dnnl::primitive forward, backward;
  Args forward_args, backward_args;
  memory diff_weights_layer, diff_weights_iter, diff_bias, diff_src;  // the primitives' formats

  Layer(bool lstm_cell, bool training, long T, long B, long E, long H)
      : lstm(lstm_cell), train(training), steps(T), batch(B), input(E), hidden(H), gates(lstm_cell ? 4 : 3) {
    const memory::dims src_dims{T, B, E}, dst_dims{T, B, H}, state_dims{1, 1, B, H};
    const memory::dims wl_dims{1, 1, E, gates, H}, wi_dims{1, 1, H, gates, H};
    const memory::dims bias_dims{1, 1, lstm ? gates : gates + 1, H};  // lbr: b_hn is a fourth group
    const auto any = [](const memory::dims& dims) { return memory::desc(dims, memory::data_type::f32, Tag::any); };
    const auto plain = [](const memory::dims& dims, Tag tag) { return memory::desc(dims, memory::data_type::f32, tag); };
    const memory::desc src_md = plain(src_dims, Tag::tnc), dst_md = plain(dst_dims, Tag::tnc);
    const memory::desc state_md = plain(state_dims, Tag::ldnc), none;
    src = memory(src_md, engine);
    dst = memory(dst_md, engine);
    weights_layer = memory(plain(wl_dims, Tag::ldigo), engine);
    weights_iter = memory(plain(wi_dims, Tag::ldigo), engine);
    bias = memory(plain(bias_dims, Tag::ldgo), engine);
    const float bound = 1.0f / std::sqrt(static_cast<float>(H));  // as nn.LSTM / nn.GRU initialise
    fill_uniform(src, 1.0f, 1);
    fill_uniform(weights_layer, bound, 2);
    fill_uniform(weights_iter, bound, 3);
    fill_uniform(bias, bound, 4);
    memory src_iter(state_md, engine), src_iter_c(state_md, engine);  // zero: gotcha 1
    zero(src_iter);
    zero(src_iter_c);

    const auto kind = train ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    const auto direction = dnnl::rnn_direction::unidirectional_left2right;
    // Both primitives of a cell are made in its branch: the backward's hint is the typed forward one.
    dnnl::rnn_primitive_desc_base forward_pd, backward_pd;
    const auto back = dnnl::prop_kind::backward;
    if (lstm) {
      const dnnl::lstm_forward::primitive_desc pd(
          {kind, direction, src_md, state_md, state_md, any(wl_dims), any(wi_dims), any(bias_dims), dst_md, none, none}, engine);
      forward = dnnl::lstm_forward(pd);
      forward_pd = pd;
      if (train) {
        const dnnl::lstm_backward::primitive_desc back_pd(
            {back, direction, src_md, state_md, state_md, any(wl_dims), any(wi_dims), any(bias_dims), dst_md, none, none,
             src_md, state_md, state_md, any(wl_dims), any(wi_dims), any(bias_dims), dst_md, none, none},
            engine, pd);
        backward = dnnl::lstm_backward(back_pd);
        backward_pd = back_pd;
      }
    } else {
      const dnnl::lbr_gru_forward::primitive_desc pd(
          {kind, direction, src_md, state_md, any(wl_dims), any(wi_dims), any(bias_dims), dst_md, none}, engine);
      forward = dnnl::lbr_gru_forward(pd);
      forward_pd = pd;
      if (train) {
        const dnnl::lbr_gru_backward::primitive_desc back_pd(
            {back, direction, src_md, state_md, any(wl_dims), any(wi_dims), any(bias_dims), dst_md, none,
             src_md, state_md, any(wl_dims), any(wi_dims), any(bias_dims), dst_md, none},
            engine, pd);
        backward = dnnl::lbr_gru_backward(back_pd);
        backward_pd = back_pd;
      }
    }
    const memory wl_f = in_format(weights_layer, forward_pd.weights_layer_desc());
    const memory wi_f = in_format(weights_iter, forward_pd.weights_iter_desc());
    const memory bias_f = in_format(bias, forward_pd.bias_desc());
    forward_args = {{DNNL_ARG_SRC_LAYER, src}, {DNNL_ARG_SRC_ITER, src_iter}, {DNNL_ARG_WEIGHTS_LAYER, wl_f},
                    {DNNL_ARG_WEIGHTS_ITER, wi_f}, {DNNL_ARG_BIAS, bias_f}, {DNNL_ARG_DST_LAYER, dst}};
    if (lstm) forward_args[DNNL_ARG_SRC_ITER_C] = src_iter_c;
    if (!train) return;
    const memory workspace(forward_pd.workspace_desc(), engine);
    forward_args[DNNL_ARG_WORKSPACE] = workspace;

    diff_src = memory(src_md, engine);
    memory diff_dst(dst_md, engine);  // d sum(output) / d output = 1
    std::fill_n(static_cast<float*>(diff_dst.get_data_handle()), T * B * H, 1.0f);
    diff_weights_layer = memory(backward_pd.diff_weights_layer_desc(), engine);
    diff_weights_iter = memory(backward_pd.diff_weights_iter_desc(), engine);
    diff_bias = memory(backward_pd.diff_bias_desc(), engine);
    memory diff_src_iter(state_md, engine), diff_src_iter_c(state_md, engine);
    backward_args = {{DNNL_ARG_SRC_LAYER, src}, {DNNL_ARG_SRC_ITER, src_iter},
                     {DNNL_ARG_WEIGHTS_LAYER, in_format(wl_f, backward_pd.weights_layer_desc())},
                     {DNNL_ARG_WEIGHTS_ITER, in_format(wi_f, backward_pd.weights_iter_desc())},
                     {DNNL_ARG_BIAS, in_format(bias_f, backward_pd.bias_desc())}, {DNNL_ARG_DST_LAYER, dst},
                     {DNNL_ARG_WORKSPACE, workspace}, {DNNL_ARG_DIFF_DST_LAYER, diff_dst},
                     {DNNL_ARG_DIFF_SRC_LAYER, diff_src}, {DNNL_ARG_DIFF_SRC_ITER, diff_src_iter},
                     {DNNL_ARG_DIFF_WEIGHTS_LAYER, diff_weights_layer},
                     {DNNL_ARG_DIFF_WEIGHTS_ITER, diff_weights_iter}, {DNNL_ARG_DIFF_BIAS, diff_bias}};
    if (lstm) {
      backward_args[DNNL_ARG_SRC_ITER_C] = src_iter_c;
      backward_args[DNNL_ARG_DIFF_SRC_ITER_C] = diff_src_iter_c;
    }
  }

  // `m` reordered into `want` (itself when it already is).
  memory in_format(const memory& m, const memory::desc& want) {
    if (m.get_desc() == want) return m;
    memory out(want, engine);
    dnnl::reorder(m, out).execute(stream, const_cast<memory&>(m), out);
    stream.wait();
    return out;
  }

  void step() {
    forward.execute(stream, forward_args);
    if (train) {
      zero(diff_weights_layer);  // gotcha 2: the backward adds into them
      zero(diff_weights_iter);
      zero(diff_bias);
      backward.execute(stream, backward_args);
    }
    stream.wait();
  }
};

// --check DIR: x (T, B, E), weights in PyTorch's layout with oneDNN's gate order (onednn_check.py
// swaps the GRU's r and z), bias (G or G+1 groups) in; output and gradients out.
int check(const std::string& dir, bool lstm, long T, long B, long E, long H) {
  Layer layer(lstm, true, T, B, E, H);
  const long G = layer.gates;
  const auto plain = [&](const memory::dims& dims, Tag tag) {
    return memory(memory::desc(dims, memory::data_type::f32, tag), layer.engine);
  };
  memory w_ih = plain({1, 1, E, G, H}, Tag::ldgoi), w_hh = plain({1, 1, H, G, H}, Tag::ldgoi);
  read_file(dir + "/x.bin", layer.src);
  read_file(dir + "/w_ih.bin", w_ih);
  read_file(dir + "/w_hh.bin", w_hh);
  read_file(dir + "/bias.bin", layer.bias);
  // Rebuilt from these weights: the constructor's random ones were reordered already.
  const auto load = [&](memory& user, int arg, Args& args) {
    memory& target = args.at(arg);
    dnnl::reorder(user, target).execute(layer.stream, user, target);
  };
  for (Args* args : {&layer.forward_args, &layer.backward_args}) {
    load(w_ih, DNNL_ARG_WEIGHTS_LAYER, *args);
    load(w_hh, DNNL_ARG_WEIGHTS_ITER, *args);
    load(layer.bias, DNNL_ARG_BIAS, *args);
  }
  layer.stream.wait();
  layer.step();
  write_file(dir + "/y_onednn.bin", layer.dst);
  write_file(dir + "/dx_onednn.bin", layer.diff_src);
  memory dw_ih = plain({1, 1, E, G, H}, Tag::ldgoi), dw_hh = plain({1, 1, H, G, H}, Tag::ldgoi);
  memory db = plain({1, 1, lstm ? G : G + 1, H}, Tag::ldgo);
  dnnl::reorder(layer.diff_weights_layer, dw_ih).execute(layer.stream, layer.diff_weights_layer, dw_ih);
  dnnl::reorder(layer.diff_weights_iter, dw_hh).execute(layer.stream, layer.diff_weights_iter, dw_hh);
  dnnl::reorder(layer.diff_bias, db).execute(layer.stream, layer.diff_bias, db);
  layer.stream.wait();
  write_file(dir + "/dw_ih_onednn.bin", dw_ih);
  write_file(dir + "/dw_hh_onednn.bin", dw_hh);
  write_file(dir + "/dbias_onednn.bin", db);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const long batch = 32, steps = 64, input = 64;
  std::string check_dir, check_cell = "gru";
  long check_hidden = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--check") check_dir = value;
    else if (flag == "--cell" && (value == "gru" || value == "lstm")) check_cell = value;
    else if (flag == "--hidden") check_hidden = std::stol(value);
    else {
      std::fprintf(stderr, "onednn_rnn: unknown option %s %s (expected --check DIR, --cell gru|lstm, --hidden H)\n",
                   flag.c_str(), value.c_str());
      return 2;
    }
  }
  if (!check_dir.empty()) return check(check_dir, check_cell == "lstm", steps, batch, input, check_hidden);
  const int threads = omp_get_max_threads();
  for (const char* cell : {"lstm", "gru"})
    for (long hidden : {128L, 512L})
      for (bool train : {false, true}) {
        Layer layer(std::string(cell) == "lstm", train, steps, batch, input, hidden);
        const double forward_flops = 2.0 * steps * batch * layer.gates * hidden * (input + hidden);
        const double ms = median_ms([&] { layer.step(); }, 15);
        const double flops = train ? 3 * forward_flops : forward_flops;
        std::printf("{\"impl\": \"onednn\", \"layer\": \"%s\", \"hidden\": %ld, \"mode\": \"%s\", "
                    "\"threads\": %d, \"ms\": %.3f, \"gflops\": %.1f}\n",
                    cell, hidden, train ? "train" : "infer", threads, ms, flops / ms / 1e6);
        std::fflush(stdout);
      }
}
