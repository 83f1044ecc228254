// ImageCaptioner: CNN region features -> LSTM decoder with optional attention over the regions.
#include "loom/models/image_captioner.h"

#include <fmt/format.h>

#include "common.h"
#include "loom/autograd.h"
#include "loom/conv_ops.h"
#include "loom/ops.h"

namespace loom::models {

namespace {

constexpr const char* kName = "ImageCaptioner";

}  // namespace

// Beam search keeps rows of the state: h and c have them on axis 1, the rest on axis 0.
static void select_state_rows(ImageCaptioner::State& state, const Tensor& rows) {
  state.h = index_select(state.h, 1, rows);  // (1, N, H)
  state.c = index_select(state.c, 1, rows);
  for (Tensor* rows_first : {&state.memory, &state.attention})
    if (rows_first->defined()) *rows_first = index_select(*rows_first, 0, rows);
}

ImageCaptioner::ImageCaptioner(const ImageCaptionerOptions& options) : options_(options) {
  const auto& o = options_;
  detail::check_positive(kName, "vocab_size", o.vocab_size());
  detail::check_positive(kName, "in_channels", o.in_channels());
  detail::check_positive(kName, "grid", o.grid());
  detail::check_positive(kName, "embedding_dim", o.embedding_dim());
  detail::check_positive(kName, "hidden_size", o.hidden_size());
  detail::check_probability(kName, "dropout", o.dropout());
  if (o.channels().empty())
    throw ValueError(fmt::format("{}: expected at least one encoder block in channels, got none", kName));
  if (o.attention() != "luong" && o.attention() != "none")
    throw ValueError(fmt::format("{}: attention must be \"luong\" or \"none\", got \"{}\"", kName, o.attention()));
  encoder_ = register_module(
      "encoder", std::make_shared<CNNEncoder>(
                     CNNEncoderOptions(o.in_channels(), o.channels()).output(CNNEncoderOutput::FeatureMap)));
  const std::int64_t channels = encoder_->out_channels(), regions = o.grid() * o.grid(),
                     hidden = o.hidden_size();
  bridge_ = register_module("bridge", std::make_shared<Linear>(channels * regions, hidden));
  embedding_ = register_module(
      "embedding",
      std::make_shared<Embedding>(EmbeddingOptions(o.vocab_size(), o.embedding_dim()).padding_idx(0)));
  decoder_ = register_module("decoder", detail::make_recurrent(kName, "lstm", RecurrentOptions(o.embedding_dim(), hidden)));
  if (o.attention() == "luong") {
    // Small, like an embedding's start: the regions differ by content first.
    position_ = register_parameter("position", randn({regions, channels}) * 0.1);
    attention_ = register_module("attention", std::make_shared<MultiplicativeAttention>(
                                                  MultiplicativeAttentionOptions(hidden, channels)));
    combine_ =
        register_module("combine", std::make_shared<Linear>(LinearOptions(hidden + channels, hidden).bias(false)));
  }
  dropout_ = register_module("dropout", std::make_shared<Dropout>(DropoutOptions().p(o.dropout())));
  fc_ = register_module("fc", std::make_shared<Linear>(hidden, o.vocab_size()));
}

void ImageCaptioner::freeze_encoder(bool frozen) {
  encoder_frozen_ = frozen;
  for (auto& [name, parameter] : encoder_->named_parameters()) parameter.requires_grad_(!frozen);
}

Tensor ImageCaptioner::encode(const Tensor& images) {
  const auto& o = options_;
  const bool one_channel = images.defined() && images.dim() == 3 && o.in_channels() == 1;
  if (!images.defined() || !(one_channel || (images.dim() == 4 && images.size(1) == o.in_channels())))
    throw ShapeError(fmt::format("{}: expected images (N, {}, H, W){}, got {}", kName, o.in_channels(),
                                 o.in_channels() == 1 ? " or (N, H, W)" : "",
                                 images.defined() ? shape_str(images.shape()) : "undefined"));
  const Tensor input = one_channel ? images.unsqueeze(1) : images;  // (N, C_in, H, W)
  if (!encoder_frozen_) return adaptive_avg_pool2d(encoder_->forward(input), o.grid());
  // Frozen: fixed features whatever the mode, so they can be cached.
  NoGradGuard no_grad;
  const bool was_training = encoder_->is_training();
  encoder_->eval();
  const Tensor features = adaptive_avg_pool2d(encoder_->forward(input), o.grid());  // (N, C, g, g)
  encoder_->train(was_training);
  return features;
}

ImageCaptioner::Start ImageCaptioner::start(const Tensor& features) {
  const std::int64_t channels = encoder_->out_channels(), grid = options_.grid();
  if (!features.defined() || features.dim() != 4 || features.size(1) != channels || features.size(2) != grid ||
      features.size(3) != grid)
    throw ShapeError(fmt::format("{}: expected features (N, {}, {}, {}), got {}", kName, channels, grid, grid,
                                 features.defined() ? shape_str(features.shape()) : "undefined"));
  const std::int64_t batch = features.size(0), hidden = options_.hidden_size();
  Start s;
  s.h0 = tanh(bridge_->forward(features.flatten(1))).unsqueeze(0);  // (1, N, H)
  s.c0 = zeros({1, batch, hidden}, features.dtype());
  if (attention_)  // (N, C, g, g) -> (N, g*g, C), each region with its position
    s.memory = features.reshape({batch, channels, grid * grid}).transpose(1, 2) + position_;
  return s;
}

Tensor ImageCaptioner::output_logits(const Tensor& top, const Tensor& memory, Tensor* weights) {
  if (!attention_) return fc_->forward(dropout_->forward(top));
  const auto attended = attention_->forward(top, memory);
  *weights = attended.weights;
  const Tensor attentional = tanh(combine_->forward(concat({top, attended.context}, top.dim() - 1)));
  return fc_->forward(dropout_->forward(attentional));
}

Tensor ImageCaptioner::forward(const Tensor& images, const Tensor& target_input, const Tensor& target_lengths) {
  return forward_features(encode(images), target_input, target_lengths);
}

Tensor ImageCaptioner::forward_features(const Tensor& features, const Tensor& target_input,
                                        const Tensor& target_lengths) {
  detail::check_ids(kName, target_input, options_.vocab_size());
  if (features.defined() && target_input.size(0) != features.size(0))
    throw ShapeError(fmt::format("{}: expected a caption batch of {} like the images, got {}", kName,
                                 features.size(0), shape_str(target_input.shape())));
  const auto s = start(features);
  const auto lengths = detail::check_lengths(kName, target_lengths, target_input.size(0), target_input.size(1));
  const Tensor embedded = dropout_->forward(embedding_->forward(target_input));  // (N, T, E)
  const auto out = decoder_->forward(embedded, lengths, s.h0, s.c0);             // output (N, T, H)
  Tensor unused;
  return output_logits(out.output, s.memory, &unused);  // (N, T, V)
}

Tensor ImageCaptioner::step(const Tensor& tokens, State& state) {
  const Tensor embedded = dropout_->forward(embedding_->forward(tokens));  // (N, E)
  const auto out = decoder_->forward(embedded.unsqueeze(1), Tensor(), state.h, state.c);
  state.h = out.h_n;
  state.c = out.c_n;
  return output_logits(out.output.select(1, 0), state.memory, &state.attention);  // (N, V)
}

std::unique_ptr<DecoderStep> ImageCaptioner::decoder(const Tensor& images) {
  return decoder_from_features(encode(images));
}

std::unique_ptr<DecoderStep> ImageCaptioner::decoder_from_features(const Tensor& features) {
  const auto s = start(features);
  return std::make_unique<detail::StepDecoder<ImageCaptioner>>(*this, State{s.h0, s.c0, s.memory, Tensor()});
}

}  // namespace loom::models
