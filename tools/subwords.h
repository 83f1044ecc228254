#pragma once
// Subword units for the translate task: a SentencePiece model (unigram or BPE, Kudo and Richardson
// 2018) trained on the training side of a corpus, saved in the run folder and read back from it.
// Its ids follow data::Vocabulary's: 0 <pad>, 1 <unk>, 2 <bos>, 3 <eos>, so a Seq2Seq and the
// decoders take them unchanged. SentencePiece stays behind this header (a pointer to its processor).
//
//     auto spanish = SubwordModel::train(training_sentences, SubwordOptions().vocab_size(8000));
//     spanish.save(run_dir + "/spanish.model");                 // atomically
//     auto ids = spanish.encode("¿Quién es mi prójimo?");       // piece ids, no <bos>/<eos>
//     spanish.decode(ids);                                      // "¿Quién es mi prójimo?"
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loom/options.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace loom::tools {

struct SubwordOptions {
  /// Pieces in the model, the four specials and the 256 byte pieces included.
  LOOM_ARG(std::int64_t, vocab_size, 8000)
  /// "unigram" or "bpe".
  LOOM_ARG(std::string, type, "unigram")
};

class SubwordModel {
 public:
  /// Trains on `sentences` with one thread and the input in its order, so the same sentences give
  /// the same model bytes. Every character of the training text becomes a piece, and any other
  /// one is spelled in byte pieces (byte fallback): no input encodes to <unk>. Text is NFKC-
  /// normalised with runs of spaces folded. ValueError naming the problem (too small a vocabulary
  /// for the characters and bytes, an unknown type, no sentences).
  static SubwordModel train(const std::vector<std::string>& sentences, const SubwordOptions& options);
  /// Reads a model written by save; IOError naming the file when it is missing, is not a
  /// SentencePiece model, or lacks the specials at ids 0-3.
  static SubwordModel load(const std::string& path);
  /// Writes the model atomically.
  void save(const std::string& path) const;

  /// The piece ids of `text` (no <bos> or <eos>).
  std::vector<std::int64_t> encode(const std::string& text) const;
  /// The text of piece ids: pieces joined, word boundaries turned back into spaces, byte pieces
  /// into their characters. <pad>, <unk>, <bos> and <eos> are left out, so a decoder's output
  /// never shows <unk>. IndexError for an id outside [0, size()).
  std::string decode(const std::vector<std::int64_t>& ids) const;
  /// The pieces of ids as SentencePiece writes them ("▁Dios", "s", "<0xC2>"), e.g. for the
  /// report's attention maps.
  std::vector<std::string> pieces(const std::vector<std::int64_t>& ids) const;
  /// Pieces in the model, specials included.
  std::int64_t size() const;

 private:
  SubwordModel(std::string serialized, const std::string& origin);
  void check_id(std::int64_t id) const;
  std::string serialized_;  // the model file's bytes
  std::shared_ptr<const sentencepiece::SentencePieceProcessor> processor_;
};

}  // namespace loom::tools
