// Seq2Seq and decoding: gradcheck, padding, the step decoder against the training pass, greedy
// against beam size 1, beam search against an exhaustive search, overfitting, typed errors.
#include <loom/models.h>
#include <loom/optim/optimizers.h>

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "test_util.h"

using loom::Dtype;
using loom::Tensor;
using loom_test::message_of;
using namespace loom::models;

namespace {

using Ids = std::vector<std::int64_t>;

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

// The configurations every test runs: the fused Luong path, Luong with input feeding over two
// decoder layers, Bahdanau with GRUs, a deep residual encoder, and GNMT stacks deep enough for
// residual connections on both sides (from the third layer up).
std::vector<Seq2SeqOptions> configurations(std::int64_t source_vocab, std::int64_t target_vocab) {
  const auto base = Seq2SeqOptions(source_vocab, target_vocab).embedding_dim(3).hidden_size(3);
  return {Seq2SeqOptions(base).attention("luong"),
          Seq2SeqOptions(base).attention("luong").input_feeding(true).decoder_layers(2),
          Seq2SeqOptions(base).attention("bahdanau").cell("gru").bidirectional(false),
          Seq2SeqOptions(base).encoder_layers(3).residual(true).cell("gru"),
          Seq2SeqOptions(base).architecture("gnmt").encoder_layers(4).decoder_layers(4),
          Seq2SeqOptions(base).architecture("gnmt").encoder_layers(3).decoder_layers(3).cell("gru")
              .attention("bahdanau")};
}

std::string describe(const Seq2SeqOptions& o) {
  return o.architecture() + " " + o.cell() + " " + o.attention() + (o.input_feeding() ? " feeding" : "") +
         (o.residual() ? " residual" : "") + " enc " + std::to_string(o.encoder_layers()) + " dec " +
         std::to_string(o.decoder_layers());
}

// Sources (3, 5) with lengths 5, 2, 4; target inputs (3, 4) (<bos> = 2 first) with lengths 4, 3, 2
// and target outputs padded with -100.
Tensor source_ids() { return loom::from_vector(Ids{4, 5, 6, 7, 4, /**/ 6, 5, 0, 0, 0, /**/ 7, 7, 4, 5, 0}, {3, 5}); }
Tensor source_lengths() { return loom::from_vector(Ids{5, 2, 4}); }
Tensor target_input() { return loom::from_vector(Ids{2, 4, 5, 4, /**/ 2, 5, 5, 0, /**/ 2, 4, 0, 0}, {3, 4}); }
Tensor target_output() { return loom::from_vector(Ids{4, 5, 4, 3, /**/ 5, 5, 3, -100, /**/ 4, 3, -100, -100}, {3, 4}); }
Tensor target_lengths() { return loom::from_vector(Ids{4, 3, 2}); }

std::unique_ptr<Seq2Seq> make(const Seq2SeqOptions& options, std::uint64_t seed) {
  loom::manual_seed(seed);
  auto model = std::make_unique<Seq2Seq>(options);
  model->to(Dtype::Float64);
  return model;
}

// log P of `tokens` then <eos> (or without <eos> when `finished` is false), stepping a fresh
// decoder over source row `row` alone.
double sequence_log_prob(Seq2Seq& model, std::int64_t row, const Ids& tokens, bool finished) {
  loom::NoGradGuard no_grad;
  const std::int64_t length = source_lengths().to_vector<std::int64_t>()[row];
  auto decoder = model.decoder(source_ids().narrow(0, row, 1).narrow(1, 0, length));
  Ids path = tokens;
  if (finished) path.push_back(3);
  double total = 0;
  std::int64_t last = 2;
  for (auto token : path) {
    const auto log_probs = decoder->step(loom::from_vector(Ids{last})).to_vector<double>();
    total += log_probs[token];
    last = token;
  }
  return total;
}

}  // namespace

TEST_CASE("Seq2Seq: gradcheck of the masked loss over every parameter (float64)") {
  for (const auto& options : configurations(8, 6)) {
    CAPTURE(describe(options));
    auto owner = make(options, 3);
    Seq2Seq& model = *owner;
    std::vector<Tensor> parameters = model.parameters();
    loom_test::check_gradients(
        [&](const std::vector<Tensor>&) {
          const auto out = model.forward(source_ids(), source_lengths(), target_input(), target_lengths());
          return loom::cross_entropy(out.logits.reshape({-1, 6}), target_output().reshape({-1}));
        },
        parameters);
  }
}

TEST_CASE("Seq2Seq: a padded batch gives each sentence's logits and attention alone") {
  for (const auto& options : configurations(8, 6)) {
    CAPTURE(describe(options));
    auto owner = make(options, 4);
    Seq2Seq& model = *owner;
    const auto batch = model.forward(source_ids(), source_lengths(), target_input(), target_lengths());
    CHECK(batch.logits.shape() == loom::Shape{3, 4, 6});
    CHECK(batch.attention.shape() == loom::Shape{3, 4, 5});
    const auto real_sources = source_lengths().to_vector<std::int64_t>();
    const auto real_targets = target_lengths().to_vector<std::int64_t>();
    for (std::int64_t b = 0; b < 3; ++b) {
      CAPTURE(b);
      const auto s = real_sources[b], t = real_targets[b];
      const auto alone = model.forward(source_ids().narrow(0, b, 1).narrow(1, 0, s), Tensor(),
                                       target_input().narrow(0, b, 1).narrow(1, 0, t));
      CHECK(max_abs_diff(batch.logits.narrow(0, b, 1).narrow(1, 0, t), alone.logits) < 1e-12);
      CHECK(max_abs_diff(batch.attention.narrow(0, b, 1).narrow(1, 0, t).narrow(2, 0, s), alone.attention) < 1e-12);
      if (s < 5)  // no weight on source padding
        CHECK(max_abs_diff(batch.attention.narrow(0, b, 1).narrow(1, 0, t).narrow(2, s, 5 - s),
                           loom::zeros({1, t, 5 - s}, Dtype::Float64)) == 0.0);
    }
  }
}

TEST_CASE("Seq2Seq: the step decoder gives the training pass's log-probabilities and attention") {
  for (const auto& options : configurations(8, 6)) {
    CAPTURE(describe(options));
    auto owner = make(options, 5);
    Seq2Seq& model = *owner;
    const auto out = model.forward(source_ids(), source_lengths(), target_input(), target_lengths());
    const Tensor expected = loom::log_softmax(out.logits, 2);  // (3, 4, 6)
    auto decoder = model.decoder(source_ids(), source_lengths());
    const auto real_targets = target_lengths().to_vector<std::int64_t>();
    for (std::int64_t t = 0; t < 4; ++t) {
      const Tensor step = decoder->step(target_input().select(1, t)), attention = decoder->last_attention();
      for (std::int64_t b = 0; b < 3; ++b) {
        if (t >= real_targets[b]) continue;  // the training pass is free to differ at padding
        CAPTURE(t);
        CAPTURE(b);
        CHECK(max_abs_diff(step.narrow(0, b, 1), expected.select(1, t).narrow(0, b, 1)) < 1e-12);
        CHECK(max_abs_diff(attention.narrow(0, b, 1), out.attention.select(1, t).narrow(0, b, 1)) < 1e-12);
      }
    }
  }
}

TEST_CASE("beam search with beam size 1 is greedy decoding; batched equals one sentence at a time") {
  for (const auto& options : configurations(8, 6)) {
    CAPTURE(describe(options));
    auto owner = make(options, 6);
    Seq2Seq& model = *owner;
    const auto decode_options = DecodeOptions().max_length(6).beam_size(1);
    auto greedy_decoder = model.decoder(source_ids(), source_lengths());
    const auto greedy = greedy_decode(*greedy_decoder, 3, decode_options);
    auto beam_decoder = model.decoder(source_ids(), source_lengths());
    const auto beam = beam_search(*beam_decoder, 3, decode_options);
    for (std::size_t b = 0; b < 3; ++b) {
      CHECK(greedy[b].tokens == beam[b].tokens);
      CHECK(greedy[b].finished == beam[b].finished);
      CHECK(greedy[b].log_prob == doctest::Approx(beam[b].log_prob).epsilon(1e-12));
      CHECK(greedy[b].attention.size() == greedy[b].tokens.size() + (greedy[b].finished ? 1 : 0));
    }
    const auto wide_options = DecodeOptions().max_length(6).beam_size(4);
    auto batched_decoder = model.decoder(source_ids(), source_lengths());
    const auto batched = beam_search(*batched_decoder, 3, wide_options);
    const auto lengths = source_lengths().to_vector<std::int64_t>();
    for (std::int64_t b = 0; b < 3; ++b) {
      auto alone_decoder = model.decoder(source_ids().narrow(0, b, 1).narrow(1, 0, lengths[b]));
      const auto alone = beam_search(*alone_decoder, 1, wide_options);
      CHECK(alone[0].tokens == batched[b].tokens);
      CHECK(alone[0].score == doctest::Approx(batched[b].score).epsilon(1e-10));
      // The log-probability it reports is the sequence's own.
      CHECK(batched[b].log_prob ==
            doctest::Approx(sequence_log_prob(model, b, batched[b].tokens, batched[b].finished)).epsilon(1e-10));
    }
  }
}

TEST_CASE("beam search finds the exhaustive search's best sequence on a tiny vocabulary") {
  // Target vocabulary of 5 (<eos> = 3 and four other ids), outputs of at most 3 steps: 4^0 + 4^1
  // + 4^2 sequences ending in <eos> and 4^3 cut at the maximum length.
  constexpr std::int64_t kMaxLength = 3;
  for (double alpha : {0.0, 1.0}) {
    for (const auto& options : configurations(8, 5)) {
      CAPTURE(describe(options));
      CAPTURE(alpha);
      auto owner = make(options, 7);
      Seq2Seq& model = *owner;
      for (std::int64_t row = 0; row < 3; ++row) {
        double best_score = -std::numeric_limits<double>::infinity();
        Ids best_tokens;
        std::function<void(Ids)> visit = [&](Ids prefix) {
          const bool at_max = static_cast<std::int64_t>(prefix.size()) == kMaxLength;
          for (bool finished : {true, false}) {
            if (finished == at_max) continue;  // <eos> fits only before the limit; the rest is cut there
            const double log_prob = sequence_log_prob(model, row, prefix, finished);
            const auto length = static_cast<double>(prefix.size() + (finished ? 1 : 0));
            const double score = alpha == 0.0 ? log_prob : log_prob / std::pow(length, alpha);
            if (score > best_score) best_score = score, best_tokens = prefix;
          }
          if (!at_max)
            for (std::int64_t token : {0, 1, 2, 4}) {
              Ids longer = prefix;
              longer.push_back(token);
              visit(longer);
            }
        };
        visit({});
        const auto length = source_lengths().to_vector<std::int64_t>()[row];
        auto decoder = model.decoder(source_ids().narrow(0, row, 1).narrow(1, 0, length));
        const auto found = beam_search(*decoder, 1, DecodeOptions().max_length(kMaxLength).beam_size(128)
                                                        .length_penalty(alpha));
        CHECK(found[0].tokens == best_tokens);
        CHECK(found[0].score == doctest::Approx(best_score).epsilon(1e-10));
      }
    }
  }
}

TEST_CASE("GNMT beam penalties: lp = ((5 + |Y|) / 6)^alpha and coverage beta * sum log min(coverage, 1) by hand") {
  Hypothesis h;
  h.tokens = {5, 6, 7};
  h.finished = true;  // |Y| = 4 with <eos>
  h.log_prob = -2.0;
  // Two source positions and a third never attended (padding): coverage 1.7, 0.3 (and 0, left out).
  h.attention = {{0.9, 0.1, 0.0}, {0.5, 0.1, 0.0}, {0.2, 0.05, 0.0}, {0.1, 0.05, 0.0}};
  const auto gnmt = DecodeOptions().length_normalization("gnmt");
  // (5 + 4)^0.6 / 6^0.6 = 1.5^0.6 = 1.275425; -2 / 1.275425 = -1.568105
  CHECK(hypothesis_score(h, DecodeOptions(gnmt).length_penalty(0.6)) == doctest::Approx(-1.568105).epsilon(1e-6));
  // alpha 1: -2 / 1.5; alpha 0: log P
  CHECK(hypothesis_score(h, DecodeOptions(gnmt).length_penalty(1.0)) == doctest::Approx(-2.0 / 1.5).epsilon(1e-12));
  CHECK(hypothesis_score(h, DecodeOptions(gnmt).length_penalty(0.0)) == -2.0);
  // "power": -2 / 4^0.5 = -1
  CHECK(hypothesis_score(h, DecodeOptions().length_penalty(0.5)) == doctest::Approx(-1.0).epsilon(1e-12));
  // beta 0.2: 0.2 * (log 1 + log 0.3) = -0.240795, added to -1.568105
  CHECK(hypothesis_score(h, DecodeOptions(gnmt).length_penalty(0.6).coverage_penalty(0.2)) ==
        doctest::Approx(-1.568105 - 0.240795).epsilon(1e-6));
  h.finished = false;  // |Y| = 3: (8 / 6)^0.6 = 1.188401; -2 / 1.188401 = -1.682933
  CHECK(hypothesis_score(h, DecodeOptions(gnmt).length_penalty(0.6)) == doctest::Approx(-1.682933).epsilon(1e-6));
  CHECK(message_of<loom::ValueError>([&] { hypothesis_score(h, DecodeOptions().length_normalization("wu")); })
            .find("length_normalization must be \"power\" or \"gnmt\", got \"wu\"") != std::string::npos);
  CHECK(message_of<loom::ValueError>([&] { hypothesis_score(h, DecodeOptions().coverage_penalty(-1)); })
            .find("coverage_penalty must be >= 0, got -1") != std::string::npos);
}

namespace {
// A decoder with scripted log-probabilities over 6 ids, by the last token: after <bos> (2),
// <eos> 0.6 and token 4 0.4, attending 0.9 / 0.1 to two source positions; after 4, <eos> 0.9 and
// token 5 0.1, attending 0.1 / 0.9; after 5, <eos> 1, attending 0.5 / 0.5. Other ids 1e-9.
class ScriptedDecoder : public DecoderStep {
 public:
  Tensor step(const Tensor& tokens) override {
    const auto last = tokens.to_vector<std::int64_t>();
    std::vector<double> log_probs, attention;
    for (auto token : last) {
      std::vector<double> p(6, 1e-9), a;
      if (token == 2) p[3] = 0.6, p[4] = 0.4, a = {0.9, 0.1};
      else if (token == 4) p[3] = 0.9, p[5] = 0.1, a = {0.1, 0.9};
      else p[3] = 1.0, a = {0.5, 0.5};
      for (double x : p) log_probs.push_back(std::log(x));
      attention.insert(attention.end(), a.begin(), a.end());
    }
    const auto n = static_cast<std::int64_t>(last.size());
    attention_ = loom::from_vector(attention, {n, 2});
    return loom::from_vector(log_probs, {n, 6});
  }
  Tensor last_attention() const override { return attention_; }
  void select_rows(const Tensor&) override {}  // no state: each step reads the last tokens alone

 private:
  Tensor attention_;  // (N, 2)
};
}  // namespace

TEST_CASE("beam search with the coverage penalty prefers the output that attends to the whole source") {
  // [] <eos>: log 0.6 = -0.511, coverage 0.9 / 0.1; [4] <eos>: log 0.4 + log 0.9 = -1.022, coverage 1 / 1.
  ScriptedDecoder decoder;
  const auto options = DecodeOptions().beam_size(2).max_length(4).length_normalization("gnmt").length_penalty(0.0);
  const auto plain = beam_search(decoder, 1, options);
  CHECK(plain[0].tokens.empty());
  CHECK(plain[0].score == doctest::Approx(std::log(0.6)).epsilon(1e-12));
  // beta 0.5: -0.511 + 0.5 (log 0.9 + log 0.1) = -1.715 < -1.022
  const auto covered = beam_search(decoder, 1, DecodeOptions(options).coverage_penalty(0.5));
  CHECK(covered[0].tokens == Ids{4});
  CHECK(covered[0].score == doctest::Approx(std::log(0.4) + std::log(0.9)).epsilon(1e-12));
  // The length penalty alone does not flip it: lp(2) = (7/6)^1 -> -0.876, still below -0.511.
  CHECK(beam_search(decoder, 1, DecodeOptions(options).length_penalty(1.0))[0].tokens.empty());
}

TEST_CASE("Seq2Seq overfits three pairs: the loss falls 20x and greedy decoding returns the targets") {
  const auto base = Seq2SeqOptions(8, 6).embedding_dim(8).hidden_size(16);
  for (const auto& options : {Seq2SeqOptions(base).attention("luong"), Seq2SeqOptions(base).attention("bahdanau"),
                              Seq2SeqOptions(base).architecture("gnmt").encoder_layers(4).decoder_layers(4)}) {
    CAPTURE(describe(options));
    loom::manual_seed(11);
    Seq2Seq model(options);
    loom::optim::Adam adam(model.named_parameters(), loom::optim::AdamOptions(0.02));
    const Tensor source = source_ids();
    double first = 0, last = 0;
    for (int step = 0; step < 150; ++step) {
      adam.zero_grad();
      const auto out = model.forward(source, source_lengths(), target_input(), target_lengths());
      Tensor loss = loom::cross_entropy(out.logits.reshape({-1, 6}), target_output().reshape({-1}));
      (step == 0 ? first : last) = loss.item();
      loss.backward();
      adam.step();
    }
    CHECK(first / last > 20);
    INFO("loss " << first << " -> " << last);
    model.eval();
    auto decoder = model.decoder(source, source_lengths());
    const auto decoded = beam_search(*decoder, 3, DecodeOptions().beam_size(3).max_length(8));
    CHECK(decoded[0].tokens == Ids{4, 5, 4});
    CHECK(decoded[1].tokens == Ids{5, 5});
    CHECK(decoded[2].tokens == Ids{4});
  }
}

TEST_CASE("Seq2Seq gnmt: a bidirectional bottom encoder layer, unidirectional above; context into every upper decoder layer") {
  // E = 3, H = 4, 3 layers a side: memory M = H (the top encoder layer is unidirectional).
  Seq2Seq model(Seq2SeqOptions(8, 6).embedding_dim(3).hidden_size(4).architecture("gnmt").encoder_layers(3)
                    .decoder_layers(3));
  std::map<std::string, loom::Shape> shapes;
  for (const auto& [name, parameter] : model.named_parameters()) shapes[name] = parameter.shape();
  CHECK(shapes.at("encoder.0.weight_ih_l0") == loom::Shape{16, 3});
  CHECK(shapes.count("encoder.0.weight_ih_l0_reverse") == 1);
  CHECK(shapes.at("encoder.1.weight_ih_l0") == loom::Shape{16, 8});  // reads both directions
  CHECK(shapes.count("encoder.1.weight_ih_l0_reverse") == 0);
  CHECK(shapes.at("encoder.2.weight_ih_l0") == loom::Shape{16, 4});
  CHECK(shapes.at("bridge.weight") == loom::Shape{12, 4});             // top state -> 3 decoder layers
  CHECK(shapes.at("decoder.0.weight_ih_l0") == loom::Shape{16, 3});    // the target embedding alone
  CHECK(shapes.at("decoder.1.weight_ih_l0") == loom::Shape{16, 8});    // the layer below and the context
  CHECK(shapes.at("decoder.2.weight_ih_l0") == loom::Shape{16, 8});
  CHECK(shapes.at("fc.weight") == loom::Shape{6, 4});
  CHECK(shapes.count("combine.weight") == 0);
  // One encoder layer: the bidirectional bottom layer is the top one, so M = 2H.
  Seq2Seq shallow(Seq2SeqOptions(8, 6).embedding_dim(3).hidden_size(4).architecture("gnmt").decoder_layers(2));
  const auto memory = shallow.encode(source_ids(), source_lengths());
  CHECK(memory.memory.shape() == loom::Shape{3, 5, 8});
}

TEST_CASE("Seq2Seq and decoding: typed errors name what was wrong") {
  CHECK(message_of<loom::ValueError>([] { Seq2Seq(Seq2SeqOptions(8, 6).architecture("deep")); })
            .find("architecture must be \"stacked\" or \"gnmt\", got \"deep\"") != std::string::npos);
  CHECK(message_of<loom::ValueError>([] { Seq2Seq(Seq2SeqOptions(8, 6).architecture("gnmt").decoder_layers(2).input_feeding(true)); })
            .find("no input_feeding") != std::string::npos);
  CHECK(message_of<loom::ValueError>([] { Seq2Seq(Seq2SeqOptions(8, 6).architecture("gnmt")); })
            .find("needs at least 2 decoder layers") != std::string::npos);
  CHECK(message_of<loom::ValueError>([] { Seq2Seq(Seq2SeqOptions(8, 6).attention("dot")); })
            .find("attention must be \"luong\" or \"bahdanau\"") != std::string::npos);
  CHECK(message_of<loom::ValueError>([] { Seq2Seq(Seq2SeqOptions(8, 6).cell("rnn")); }).find("Seq2Seq") !=
        std::string::npos);
  Seq2Seq model(Seq2SeqOptions(8, 6));
  CHECK(message_of<loom::ShapeError>([&] { model.forward(source_ids(), source_lengths(), target_input().narrow(0, 0, 2)); })
            .find("target batch of 3") != std::string::npos);
  CHECK_THROWS_AS(model.forward(source_ids(), source_lengths(), loom::from_vector(Ids{2, 9, 2, 9, 2, 9}, {3, 2})),
                  loom::IndexError);
  auto decoder = model.decoder(source_ids(), source_lengths());
  CHECK(message_of<loom::ValueError>([&] { beam_search(*decoder, 3, DecodeOptions().beam_size(0)); })
            .find("beam_size must be >= 1, got 0") != std::string::npos);
  CHECK(message_of<loom::ValueError>([&] { greedy_decode(*decoder, 3, DecodeOptions().max_length(0)); })
            .find("max_length must be >= 1") != std::string::npos);
}
