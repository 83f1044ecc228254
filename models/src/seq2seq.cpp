// Seq2Seq: stacked (bi)recurrent encoder and attentional recurrent decoder.
#include "loom/models/seq2seq.h"

#include <fmt/format.h>

#include "common.h"
#include "loom/ops.h"

namespace loom::models {

namespace {

constexpr const char* kName = "Seq2Seq";

}  // namespace

// Beam search keeps rows of the state: h and c have them on axis 1, the rest on axis 0.
static void select_state_rows(Seq2Seq::State& state, const Tensor& rows) {
  state.h = index_select(state.h, 1, rows);  // (L, N, H)
  if (state.c.defined()) state.c = index_select(state.c, 1, rows);
  for (Tensor* rows_first : {&state.feed, &state.memory, &state.mask, &state.attention})
    if (rows_first->defined()) *rows_first = index_select(*rows_first, 0, rows);
}

Seq2Seq::Seq2Seq(const Seq2SeqOptions& options) : options_(options) {
  const auto& o = options_;
  detail::check_positive(kName, "source_vocab_size", o.source_vocab_size());
  detail::check_positive(kName, "target_vocab_size", o.target_vocab_size());
  detail::check_positive(kName, "embedding_dim", o.embedding_dim());
  detail::check_positive(kName, "hidden_size", o.hidden_size());
  detail::check_positive(kName, "encoder_layers", o.encoder_layers());
  detail::check_positive(kName, "decoder_layers", o.decoder_layers());
  detail::check_probability(kName, "dropout", o.dropout());
  if (o.architecture() != "stacked" && o.architecture() != "gnmt")
    throw ValueError(fmt::format("{}: architecture must be \"stacked\" or \"gnmt\", got \"{}\"",
                                 kName, o.architecture()));
  if (gnmt() && o.decoder_layers() < 2)
    throw ValueError(fmt::format("{}: the gnmt architecture needs at least 2 decoder layers (the bottom one "
                                 "queries the attention for the layers above), got {}",
                                 kName, o.decoder_layers()));
  if (gnmt() && o.input_feeding())
    throw ValueError(fmt::format("{}: the gnmt architecture feeds the attention context to every "
                                 "decoder layer; it takes no input_feeding",
                                 kName));
  if (o.attention() != "luong" && o.attention() != "bahdanau")
    throw ValueError(fmt::format("{}: attention must be \"luong\" or \"bahdanau\", got \"{}\"",
                                 kName, o.attention()));
  const std::int64_t hidden = o.hidden_size();
  // GNMT: only the bottom encoder layer is bidirectional; the memory is the top layer's output.
  const bool bidirectional_top = gnmt() ? o.encoder_layers() == 1 : o.bidirectional();
  const std::int64_t memory_size = (bidirectional_top ? 2 : 1) * hidden;

  source_embedding_ = register_module(
      "source_embedding",
      std::make_shared<Embedding>(
          EmbeddingOptions(o.source_vocab_size(), o.embedding_dim()).padding_idx(0)));
  encoder_ = register_module("encoder", std::make_shared<ModuleList>());
  for (std::int64_t k = 0; k < o.encoder_layers(); ++k) {
    const bool bidirectional = gnmt() ? k == 0 : o.bidirectional();
    const std::int64_t below = k == 0                ? o.embedding_dim()
                               : gnmt() && k == 1 ? 2 * hidden
                                                  : memory_size;
    encoder_->push_back(detail::make_recurrent(
        kName, o.cell(), RecurrentOptions(below, hidden).bidirectional(bidirectional)));
  }
  bridge_ =
      register_module("bridge", std::make_shared<Linear>(memory_size, o.decoder_layers() * hidden));
  target_embedding_ = register_module(
      "target_embedding",
      std::make_shared<Embedding>(
          EmbeddingOptions(o.target_vocab_size(), o.embedding_dim()).padding_idx(0)));
  const std::int64_t extra_input = o.attention() == "bahdanau" ? memory_size
                                   : o.input_feeding()         ? hidden
                                                               : 0;
  if (gnmt()) {  // the layers above the bottom one read the layer below and the context
    decoder_layers_ = register_module("decoder", std::make_shared<ModuleList>());
    for (std::int64_t k = 0; k < o.decoder_layers(); ++k)
      decoder_layers_->push_back(detail::make_recurrent(
          kName, o.cell(), RecurrentOptions(k == 0 ? o.embedding_dim() : hidden + memory_size, hidden)));
  } else {
    decoder_ = register_module(
        "decoder", detail::make_recurrent(kName, o.cell(),
                                          RecurrentOptions(o.embedding_dim() + extra_input, hidden)
                                              .num_layers(o.decoder_layers())
                                              .dropout(o.dropout())));
  }
  if (o.attention() == "luong")
    attention_ =
        register_module("attention", std::make_shared<MultiplicativeAttention>(
                                         MultiplicativeAttentionOptions(hidden, memory_size)));
  else
    attention_ = register_module(
        "attention",
        std::make_shared<AdditiveAttention>(AdditiveAttentionOptions(hidden, memory_size, hidden)));
  if (!gnmt())
    combine_ = register_module(
        "combine", std::make_shared<Linear>(LinearOptions(hidden + memory_size, hidden).bias(false)));
  dropout_ = register_module("dropout", std::make_shared<Dropout>(DropoutOptions().p(o.dropout())));
  fc_ = register_module("fc", std::make_shared<Linear>(hidden, o.target_vocab_size()));
}

Seq2SeqMemory Seq2Seq::encode(const Tensor& source, const Tensor& source_lengths) {
  detail::check_ids(kName, source, options_.source_vocab_size());
  return encode_checked(
      source, detail::check_lengths(kName, source_lengths, source.size(0), source.size(1)));
}

Seq2SeqMemory Seq2Seq::encode_checked(const Tensor& source,
                                      const std::vector<std::int64_t>& lengths) {
  const std::int64_t batch = source.size(0), steps = source.size(1),
                     hidden = options_.hidden_size();
  Tensor x = dropout_->forward(source_embedding_->forward(source));  // (B, S, E)
  Tensor h_n;                                                        // (D, B, H) of the top layer
  for (std::size_t k = 0; k < encoder_->size(); ++k) {
    auto out = std::static_pointer_cast<Recurrent>((*encoder_)[k])->forward(x, lengths);
    Tensor y = out.output;  // (B, S, D*H), zero at padding
    const bool residual = gnmt() ? k >= 2 : options_.residual() && k > 0 && y.shape() == x.shape();
    if (residual) y = y + x;
    x = k + 1 < encoder_->size() ? dropout_->forward(y) : y;
    h_n = out.h_n;
  }
  Seq2SeqMemory m;
  m.memory = x;
  std::vector<double> mask(static_cast<std::size_t>(batch * steps), 0.0);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = 0; t < lengths[b]; ++t) mask[b * steps + t] = 1.0;
  m.mask = from_vector(mask, {batch, steps}).to(x.dtype());
  const Tensor final_state = detail::last_layer_state(h_n, h_n.size(0));  // (B, D*H)
  m.h0 = tanh(bridge_->forward(final_state))
             .reshape({batch, options_.decoder_layers(), hidden})
             .transpose(0, 1);
  if (options_.cell() == "lstm")
    m.c0 = zeros({options_.decoder_layers(), batch, hidden}, x.dtype());
  return m;
}

Seq2Seq::State Seq2Seq::initial_state(const Seq2SeqMemory& m) const {
  State s;
  s.h = m.h0;
  s.c = m.c0;
  if (options_.input_feeding())
    s.feed = zeros({m.memory.size(0), options_.hidden_size()}, m.memory.dtype());
  s.memory = m.memory;
  s.mask = m.mask;
  return s;
}

Seq2Seq::GnmtDecoded Seq2Seq::decode_gnmt(const Tensor& embedded, const Tensor& lengths,
                                          const Tensor& h, const Tensor& c, const Tensor& memory,
                                          const Tensor& mask) {
  GnmtDecoded d;
  std::vector<Tensor> h_n, c_n;  // per layer: (1, B, H)
  Tensor below;                  // (B, T, H) the last layer's output
  Tensor context;                // (B, T, M)
  for (std::size_t k = 0; k < decoder_layers_->size(); ++k) {
    const auto layer = std::static_pointer_cast<Recurrent>((*decoder_layers_)[k]);
    const auto rows = static_cast<std::int64_t>(k);
    const Tensor input = k == 0 ? embedded : concat({dropout_->forward(below), context}, 2);
    auto out = layer->forward(input, lengths, h.narrow(0, rows, 1),
                              c.defined() ? c.narrow(0, rows, 1) : Tensor());
    if (k == 0) {  // the bottom layer's output queries the attention for every layer above
      const auto attended = attention_->forward(out.output, memory, Tensor(), mask);
      context = attended.context;
      d.attention = attended.weights;
    }
    below = k >= 2 ? out.output + below : out.output;
    h_n.push_back(out.h_n);
    if (out.c_n.defined()) c_n.push_back(out.c_n);
  }
  d.top = below;
  d.h_n = concat(h_n, 0);
  if (!c_n.empty()) d.c_n = concat(c_n, 0);
  return d;
}

Tensor Seq2Seq::step(const Tensor& tokens, State& state) {
  const Tensor embedded = dropout_->forward(target_embedding_->forward(tokens));  // (N, E)
  if (gnmt()) {
    auto d = decode_gnmt(embedded.unsqueeze(1), Tensor(), state.h, state.c, state.memory, state.mask);
    state.h = d.h_n;
    state.c = d.c_n;
    state.attention = d.attention.select(1, 0);                      // (N, S)
    return fc_->forward(dropout_->forward(d.top.select(1, 0)));  // (N, V)
  }
  const bool bahdanau = options_.attention() == "bahdanau";
  Tensor input = embedded;
  AttentionOutput attended;
  if (bahdanau) {  // queried with the previous top-layer state; the context joins the input
    attended = attention_->forward(state.h.select(0, state.h.size(0) - 1), state.memory, Tensor(),
                                   state.mask);
    input = concat({embedded, attended.context}, 1);  // (N, E + D*H)
  } else if (options_.input_feeding()) {
    input = concat({embedded, state.feed}, 1);  // (N, E + H)
  }
  const auto out = decoder_->forward(input.unsqueeze(1), Tensor(), state.h, state.c);
  const Tensor top = out.output.select(1, 0);  // (N, H)
  if (!bahdanau) attended = attention_->forward(top, state.memory, Tensor(), state.mask);
  const Tensor attentional = tanh(combine_->forward(concat({top, attended.context}, 1)));  // (N, H)
  state.h = out.h_n;
  state.c = out.c_n;
  state.feed = attentional;
  state.attention = attended.weights;                   // (N, S)
  return fc_->forward(dropout_->forward(attentional));  // (N, V)
}

Seq2SeqOutput Seq2Seq::forward(const Tensor& source, const Tensor& source_lengths,
                               const Tensor& target_input, const Tensor& target_lengths) {
  detail::check_ids(kName, source, options_.source_vocab_size());
  detail::check_ids(kName, target_input, options_.target_vocab_size());
  if (target_input.size(0) != source.size(0))
    throw ShapeError(fmt::format("{}: expected a target batch of {} like the source, got {}", kName,
                                 source.size(0), shape_str(target_input.shape())));
  const auto memory = encode_checked(
      source, detail::check_lengths(kName, source_lengths, source.size(0), source.size(1)));
  const auto lengths =
      detail::check_lengths(kName, target_lengths, target_input.size(0), target_input.size(1));
  if (gnmt()) {  // every step at once: the attention depends on the bottom layer alone
    const Tensor embedded =
        dropout_->forward(target_embedding_->forward(target_input));  // (B, T, E)
    const auto d = decode_gnmt(embedded, from_vector(lengths), memory.h0, memory.c0, memory.memory,
                               memory.mask);
    return {fc_->forward(dropout_->forward(d.top)), d.attention};
  }
  if (options_.attention() == "luong" && !options_.input_feeding()) {  // every step at once
    const Tensor embedded =
        dropout_->forward(target_embedding_->forward(target_input));  // (B, T, E)
    const auto out =
        decoder_->forward(embedded, lengths, memory.h0, memory.c0);  // output (B, T, H)
    const auto attended =
        attention_->forward(out.output, memory.memory, Tensor(), memory.mask);  // (B, T, D*H)
    const Tensor attentional =
        tanh(combine_->forward(concat({out.output, attended.context}, 2)));  // (B, T, H)
    return {fc_->forward(dropout_->forward(attentional)), attended.weights};
  }
  State state = initial_state(memory);
  std::vector<Tensor> logits, weights;  // per step: (B, V), (B, S)
  for (std::int64_t t = 0; t < target_input.size(1); ++t) {
    logits.push_back(step(target_input.select(1, t), state));
    weights.push_back(state.attention);
  }
  return {stack(logits, 1), stack(weights, 1)};
}

std::unique_ptr<DecoderStep> Seq2Seq::decoder(const Tensor& source, const Tensor& source_lengths) {
  return std::make_unique<detail::StepDecoder<Seq2Seq>>(*this, initial_state(encode(source, source_lengths)));
}

}  // namespace loom::models
