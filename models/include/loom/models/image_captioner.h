#pragma once
/// ImageCaptioner: a CNN encoder feeding an LSTM decoder that writes a caption (one-to-many), as
/// in Show-and-Tell, with optional attention over the image's regions (Show-Attend-and-Tell).
///
///   images (N, C_in, H, W) -> CNNEncoder (feature map) -> adaptive average pool to a grid x grid
///   of regions: features (N, C, grid, grid)
///   -> the decoder's initial state h0 = tanh(bridge(all region features)), c0 = 0
///   -> words: Embedding -> LSTM -> [Luong attention over the regions, whose features carry a
///   learned position vector each, so the decoder can tell where a region is; attentional vector
///   tanh(W_c [h_t; context_t])] -> Dropout -> Linear -> logits over the vocabulary.
///
/// The pooled grid keeps where things are (a global average would lose "top left"); it is also
/// all the decoder reads, so a frozen encoder's features can be computed once and cached
/// (`encode`, then `forward_features` / `decoder_from_features`).
///
/// Training uses teacher forcing: the decoder reads <bos> y_1 ... y_{T-1} and predicts
/// y_1 ... y_T <eos>; target padding never changes a real step (the LSTM takes the lengths) and
/// the loss skips it (targets padded with -100). Decoding goes through decoding.h.
///
///     using namespace loom::models;
///     ImageCaptioner model(ImageCaptionerOptions(vocab_size).channels({32, 64}).hidden_size(256));
///     auto logits = model.forward(images, target_input, target_lengths);   // (N, T, V)
///     auto decoder = model.decoder(images);
///     auto best = beam_search(*decoder, N, DecodeOptions().beam_size(3));  // best[i].tokens
///
/// Parameters: encoder.conv0.weight, encoder.norm0.* ... (CNNEncoder's names, so a CNN trained
/// elsewhere loads into `encoder`), position (grid*grid, C), bridge.{weight,bias},
/// embedding.weight, decoder.weight_ih_l0 ..., attention.key_proj.weight, combine.weight,
/// fc.{weight,bias}; without attention no position, attention or combine.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loom/layers/attention.h"
#include "loom/layers/cnn_encoder.h"
#include "loom/layers/dropout.h"
#include "loom/layers/embedding.h"
#include "loom/layers/linear.h"
#include "loom/layers/recurrent.h"
#include "loom/models/decoding.h"
#include "loom/module.h"
#include "loom/options.h"

namespace loom::models {

struct ImageCaptionerOptions {
  explicit ImageCaptionerOptions(std::int64_t vocab_size) : vocab_size_(vocab_size) {}
  /// Id 0 is padding; <bos> and <eos> are given to decoding.
  LOOM_ARG(std::int64_t, vocab_size, 0)
  LOOM_ARG(std::int64_t, in_channels, 1)
  /// The CNNEncoder's blocks (conv, batch norm, relu, 2x2 max pool each).
  LOOM_ARG(std::vector<std::int64_t>, channels, std::vector<std::int64_t>({32, 64}))
  /// The feature map is average-pooled to grid x grid regions.
  LOOM_ARG(std::int64_t, grid, 4)
  LOOM_ARG(std::int64_t, embedding_dim, 64)
  LOOM_ARG(std::int64_t, hidden_size, 256)
  /// "luong" (general score, over the regions) or "none".
  LOOM_ARG(std::string, attention, "luong")
  /// Dropout on the word embeddings and before the output Linear, in training mode.
  LOOM_ARG(double, dropout, 0.0)
};

class ImageCaptioner : public Module {
 public:
  explicit ImageCaptioner(const ImageCaptionerOptions& options);

  /// The region features of images (N, C_in, H, W), or (N, H, W) for one channel: (N, C, grid,
  /// grid). With a frozen encoder this runs without a graph and with batch norm's running
  /// statistics, in training mode too.
  Tensor encode(const Tensor& images);
  /// Teacher-forced training pass. target_input: int64 (N, T), <bos> then the caption shifted
  /// right; target_lengths (N) in [1, T] or undefined (all T). Returns logits (N, T, V).
  Tensor forward(const Tensor& images, const Tensor& target_input, const Tensor& target_lengths = Tensor());
  /// The same from features (N, C, grid, grid) that `encode` returned (or cached).
  Tensor forward_features(const Tensor& features, const Tensor& target_input,
                          const Tensor& target_lengths = Tensor());

  /// A step-by-step decoder over N images for greedy_decode or beam_search. It keeps this
  /// model by reference: the model must outlive it.
  std::unique_ptr<DecoderStep> decoder(const Tensor& images);
  std::unique_ptr<DecoderStep> decoder_from_features(const Tensor& features);

  /// Freezes (or unfreezes) the encoder: its parameters stop requiring gradients, so an
  /// optimizer leaves them alone, and `encode` keeps it in evaluation mode.
  void freeze_encoder(bool frozen = true);
  bool encoder_frozen() const { return encoder_frozen_; }
  CNNEncoder& encoder() { return *encoder_; }
  const ImageCaptionerOptions& options() const { return options_; }

  /// The decoder's state between steps (each tensor has the rows of the batch).
  struct State {
    Tensor h;          ///< (1, N, H)
    Tensor c;          ///< (1, N, H)
    Tensor memory;     ///< (N, grid*grid, C) region features with their positions
    Tensor attention;  ///< (N, grid*grid) the last step's weights (attention only)
  };
  /// One decoder step: the previous tokens, int64 (N) -> logits (N, V); advances `state`.
  Tensor step(const Tensor& tokens, State& state);

 private:
  struct Start {
    Tensor memory;  // (N, grid*grid, C)
    Tensor h0, c0;  // (1, N, H)
  };
  Start start(const Tensor& features);
  Tensor output_logits(const Tensor& top, const Tensor& memory, Tensor* weights);

  ImageCaptionerOptions options_;
  bool encoder_frozen_ = false;
  std::shared_ptr<CNNEncoder> encoder_;
  Tensor position_;  // (grid*grid, C)
  std::shared_ptr<Linear> bridge_;
  std::shared_ptr<Embedding> embedding_;
  std::shared_ptr<Recurrent> decoder_;
  std::shared_ptr<Attention> attention_;
  std::shared_ptr<Linear> combine_;
  std::shared_ptr<Dropout> dropout_;
  std::shared_ptr<Linear> fc_;
};

}  // namespace loom::models
