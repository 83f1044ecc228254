#pragma once
/// Seq2Seq: an attentional encoder-decoder (many-to-many, unsynced) for translation or
/// grapheme-to-phoneme conversion.
///
///   source ids -> Embedding -> stacked (bi)LSTM/GRU encoder, each layer its own module so
///   `residual` can add a layer's input to its output (GNMT) -> memory (B, S, D*H)
///   target ids -> Embedding -> LSTM/GRU decoder, started from tanh(bridge(encoder's final
///   states)), attending over the memory -> attentional vector tanh(W_c [h_t; context_t])
///   -> Dropout -> Linear -> logits over the target vocabulary.
///
/// Attention "luong" (MultiplicativeAttention, general score) is queried with the decoder's new
/// state h_t; "bahdanau" (AdditiveAttention) with its previous state h_{t-1}, and its context is
/// also fed into the decoder's input, as in Bahdanau et al. With `input_feeding` (Luong et al.)
/// the previous attentional vector joins the decoder's input. Luong attention without input
/// feeding runs the decoder over all target steps at once (the fused recurrent kernel and one
/// batched attention); the other two go step by step, as decoding always does.
///
/// Architecture "gnmt" (Wu et al. 2016, Google's neural machine translation): a bidirectional
/// bottom encoder layer and unidirectional layers above it; a stack of single-layer decoder LSTMs
/// (or GRUs) whose bottom layer alone queries the attention (with its output after reading the
/// previous token, as TensorFlow's GNMT does, so training runs every step at once) and whose
/// context joins the input of every layer above; residual connections from the third layer up on
/// both sides; dropout between layers; logits from the top decoder layer. It fixes the encoder's
/// directions and residuals, so `bidirectional`, `residual` and `input_feeding` are not used; it
/// needs at least 2 decoder layers.
///
/// Training uses teacher forcing: the decoder reads <bos> y_1 ... y_{T-1} and predicts
/// y_1 ... y_T <eos>. Source padding is masked (encoder lengths, attention mask); target padding
/// never changes a real step, and the loss skips it (targets padded with -100).
///
///     using namespace loom::models;
///     Seq2Seq model(Seq2SeqOptions(src_vocab, tgt_vocab).hidden_size(256).encoder_layers(2)
///                       .bidirectional(true).attention("luong"));
///     auto out = model.forward(src, src_lengths, tgt_in, tgt_lengths);  // logits (B, T, V)
///     auto loss = loom::cross_entropy(out.logits.reshape({-1, tgt_vocab}), tgt_out.reshape({-1}));
///     auto decoder = model.decoder(src, src_lengths);                    // for decoding.h
///     auto best = beam_search(*decoder, B, DecodeOptions().beam_size(5));
///
/// Parameters: source_embedding.weight, encoder.{k}.weight_ih_l0 ... (PyTorch's LSTM/GRU names,
/// one single-layer module per layer k), target_embedding.weight, bridge.{weight,bias},
/// decoder.weight_ih_l0 ..., attention.*, combine.weight, fc.{weight,bias}; "gnmt" has
/// decoder.{k}.weight_ih_l0 ... (one module per layer) and no combine.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loom/layers/attention.h"
#include "loom/layers/dropout.h"
#include "loom/layers/embedding.h"
#include "loom/layers/linear.h"
#include "loom/layers/recurrent.h"
#include "loom/layers/sequential.h"
#include "loom/models/decoding.h"
#include "loom/module.h"
#include "loom/options.h"

namespace loom::models {

struct Seq2SeqOptions {
  Seq2SeqOptions(std::int64_t source_vocab_size, std::int64_t target_vocab_size)
      : source_vocab_size_(source_vocab_size), target_vocab_size_(target_vocab_size) {}
  /// Id 0 is padding in both vocabularies; the target's <bos> and <eos> are given to decoding.
  LOOM_ARG(std::int64_t, source_vocab_size, 0)
  LOOM_ARG(std::int64_t, target_vocab_size, 0)
  LOOM_ARG(std::int64_t, embedding_dim, 64)
  /// "stacked" (the layers described above) or "gnmt".
  LOOM_ARG(std::string, architecture, "stacked")
  /// "lstm" or "gru", for the encoder and the decoder.
  LOOM_ARG(std::string, cell, "lstm")
  /// Units per direction in the encoder, and of the decoder.
  LOOM_ARG(std::int64_t, hidden_size, 128)
  LOOM_ARG(std::int64_t, encoder_layers, 1)
  LOOM_ARG(bool, bidirectional, true)
  /// Adds each encoder layer's input to its output where the sizes agree (layer 2 on).
  LOOM_ARG(bool, residual, false)
  LOOM_ARG(std::int64_t, decoder_layers, 1)
  /// "luong" or "bahdanau".
  LOOM_ARG(std::string, attention, "luong")
  LOOM_ARG(bool, input_feeding, false)
  /// Dropout on the embeddings, between encoder layers, between decoder layers and before the
  /// output Linear, in training mode.
  LOOM_ARG(double, dropout, 0.0)
};

struct Seq2SeqOutput {
  Tensor logits;     ///< (B, T, target_vocab_size)
  Tensor attention;  ///< (B, T, S): row t is where output step t looked; 0 at source padding
};

/// The encoder's result for a batch: what the decoder attends to and starts from.
struct Seq2SeqMemory {
  Tensor memory;  ///< (B, S, M) top encoder layer outputs: M = D*H ("gnmt": H above one layer)
  Tensor mask;    ///< (B, S) float, 1 at real source positions
  Tensor h0;      ///< (decoder_layers, B, H) the decoder's initial state
  Tensor c0;      ///< (decoder_layers, B, H) LSTM only: zeros
};

class Seq2Seq : public Module {
 public:
  explicit Seq2Seq(const Seq2SeqOptions& options);

  /// Teacher-forced training pass. source: int64 (B, S), source_lengths int64 (B) in [1, S]
  /// (undefined: all S); target_input: int64 (B, T), <bos> then the target shifted right;
  /// target_lengths (B) in [1, T] or undefined.
  Seq2SeqOutput forward(const Tensor& source, const Tensor& source_lengths,
                        const Tensor& target_input, const Tensor& target_lengths = Tensor());

  /// Runs the encoder alone.
  Seq2SeqMemory encode(const Tensor& source, const Tensor& source_lengths = Tensor());
  /// A step-by-step decoder over the B sentences of `source`, for greedy_decode or beam_search.
  /// It keeps this model by reference: the model must outlive it.
  std::unique_ptr<DecoderStep> decoder(const Tensor& source,
                                       const Tensor& source_lengths = Tensor());

  const Seq2SeqOptions& options() const { return options_; }

  /// The decoder's state between steps (each tensor has the rows of the batch).
  struct State {
    Tensor h;          ///< (decoder_layers, N, H)
    Tensor c;          ///< (decoder_layers, N, H), LSTM only
    Tensor feed;       ///< (N, H): the last attentional vector (input feeding), zeros at first
    Tensor memory;     ///< (N, S, M)
    Tensor mask;       ///< (N, S)
    Tensor attention;  ///< (N, S) the last step's weights
  };
  /// One decoder step: the previous tokens, int64 (N) -> logits (N, V); advances `state`.
  Tensor step(const Tensor& tokens, State& state);

 private:
  Seq2SeqMemory encode_checked(const Tensor& source, const std::vector<std::int64_t>& lengths);
  State initial_state(const Seq2SeqMemory& memory) const;
  struct GnmtDecoded {
    Tensor top;        ///< (B, T, H) the top decoder layer's output
    Tensor attention;  ///< (B, T, S)
    Tensor h_n, c_n;   ///< (decoder_layers, B, H)
  };
  /// The GNMT decoder stack over embedded target steps (B, T, E) from the states h, c
  /// (decoder_layers, B, H); lengths int64 (B) or undefined (all T).
  GnmtDecoded decode_gnmt(const Tensor& embedded, const Tensor& lengths, const Tensor& h,
                          const Tensor& c, const Tensor& memory, const Tensor& mask);
  bool gnmt() const { return options_.architecture() == "gnmt"; }

  Seq2SeqOptions options_;
  std::shared_ptr<Embedding> source_embedding_;
  std::shared_ptr<ModuleList> encoder_;
  std::shared_ptr<Linear> bridge_;
  std::shared_ptr<Embedding> target_embedding_;
  std::shared_ptr<Recurrent> decoder_;          // "stacked"
  std::shared_ptr<ModuleList> decoder_layers_;  // "gnmt": one single-layer module per layer
  std::shared_ptr<Attention> attention_;
  std::shared_ptr<Linear> combine_;
  std::shared_ptr<Dropout> dropout_;
  std::shared_ptr<Linear> fc_;
};

}  // namespace loom::models
