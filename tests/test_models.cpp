// SequenceClassifier, SequenceTagger, Forecaster, CharLM: shapes, gradcheck, lengths, PyTorch
// agreement, overfitting a tiny batch, chunked state, sampling, typed errors.
#include <loom/models.h>
#include <loom/optim/optimizers.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

#include "test_util.h"

using loom_test::message_of;
#include "torch_reference.h"

using loom::Dtype;
using loom::Tensor;
using loom_test::max_abs_diff;
using namespace loom::models;

namespace {

using Ids = std::vector<std::int64_t>;

Tensor ids(const Ids& values, std::int64_t batch, std::int64_t steps) {
  return loom::from_vector(values, {batch, steps});
}
Tensor lengths(const Ids& values) { return loom::from_vector(values); }


// Gradcheck over every parameter of `model` (already float64) plus `extra` inputs.
void check_model_gradients(loom::Module& model, const std::function<Tensor()>& function,
                           std::vector<Tensor> extra = {}) {
  for (const auto& p : model.parameters()) extra.push_back(p);
  loom_test::check_gradients([&](const std::vector<Tensor>&) { return function(); }, extra);
}

// Runs Adam on `loss` for `steps` steps; returns first loss / last loss.
double loss_drop(loom::Module& model, int steps, double lr, const std::function<Tensor()>& loss) {
  loom::optim::Adam adam(model.named_parameters(), loom::optim::AdamOptions(lr));
  double first = 0, last = 0;
  for (int step = 0; step < steps; ++step) {
    adam.zero_grad();
    Tensor value = loss();
    (step == 0 ? first : last) = value.item();
    value.backward();
    adam.step();
  }
  INFO("first loss " << first << ", last loss " << last);
  return first / last;
}

std::vector<std::string> parameter_names(const loom::Module& module) {
  std::vector<std::string> names;
  for (const auto& entry : module.named_parameters()) names.push_back(entry.first);
  return names;
}

// A padded batch of 3 token sequences of lengths 5, 2, 4 over ids 1..6, with `pad` at padded steps.
Tensor padded_ids(std::int64_t pad) {
  return ids({1, 4, 2, 6, 3, /**/ 5, 2, pad, pad, pad, /**/ 3, 3, 1, 6, pad}, 3, 5);
}
const Ids kLengths = {5, 2, 4};

const std::vector<std::string> kCells = {"lstm", "gru"};
const std::vector<std::string> kPoolings = {"last", "mean", "max"};

}  // namespace

// ---- SequenceClassifier ---------------------------------------------------------------------

TEST_CASE("SequenceClassifier: logits (B, C) for every cell, pooling, depth and direction") {
  for (const auto& cell : kCells)
    for (const auto& pooling : kPoolings)
      for (std::int64_t layers : {1, 2})
        for (bool bidirectional : {false, true}) {
          CAPTURE(cell);
          CAPTURE(pooling);
          SequenceClassifier model(SequenceClassifierOptions(7, 3).embedding_dim(4).hidden_size(5)
                                       .cell(cell).num_layers(layers).bidirectional(bidirectional)
                                       .pooling(pooling).dropout(0.1));
          CHECK(model.forward(padded_ids(0), lengths(kLengths)).shape() == loom::Shape{3, 3});
          CHECK(model.forward(padded_ids(0)).shape() == loom::Shape{3, 3});
        }
  SequenceClassifier model(SequenceClassifierOptions(7, 3).bidirectional(true));
  const auto names = parameter_names(model);
  CHECK(names.front() == "embedding.weight");
  CHECK(names[1] == "rnn.weight_ih_l0");
  CHECK(std::find(names.begin(), names.end(), "rnn.weight_hh_l0_reverse") != names.end());
  CHECK(names[names.size() - 2] == "fc.weight");
  CHECK(names.back() == "fc.bias");
}

TEST_CASE("SequenceClassifier: gradcheck over every parameter on a padded batch (float64)") {
  for (const auto& cell : kCells)
    for (const auto& pooling : kPoolings) {
      CAPTURE(cell);
      CAPTURE(pooling);
      loom::manual_seed(5);
      SequenceClassifier model(SequenceClassifierOptions(7, 2).embedding_dim(3).hidden_size(3)
                                   .cell(cell).bidirectional(true).pooling(pooling));
      model.to(Dtype::Float64);
      check_model_gradients(model, [&] { return model.forward(padded_ids(0), lengths(kLengths)); });
    }
}

TEST_CASE("SequenceClassifier: padded steps never change the logits (last, mean, max)") {
  for (const auto& cell : kCells)
    for (const auto& pooling : kPoolings)
      for (bool bidirectional : {false, true}) {
        CAPTURE(cell);
        CAPTURE(pooling);
        CAPTURE(bidirectional);
        loom::manual_seed(8);
        SequenceClassifier model(SequenceClassifierOptions(7, 3).embedding_dim(4).hidden_size(5)
                                     .cell(cell).num_layers(2).bidirectional(bidirectional)
                                     .pooling(pooling));
        model.to(Dtype::Float64);
        const Tensor zero_padded = model.forward(padded_ids(0), lengths(kLengths));  // (3, 3)
        CHECK(max_abs_diff(zero_padded, model.forward(padded_ids(6), lengths(kLengths))) < 1e-12);
        // The second sequence alone, unpadded, gives the same logits.
        const Tensor alone = model.forward(ids({5, 2}, 1, 2));  // (1, 3)
        CHECK(max_abs_diff(zero_padded.narrow(0, 1, 1), alone) < 1e-12);
      }
}

TEST_CASE("SequenceClassifier: word dropout reads tokens as unknown in training only") {
  loom::manual_seed(3);
  SequenceClassifier model(SequenceClassifierOptions(7, 3).embedding_dim(4).hidden_size(5).pooling("max")
                               .word_dropout(1.0).unknown_id(1));
  model.to(Dtype::Float64);
  const Tensor all_unknown = ids({1, 1, 1, 1, 1, /**/ 1, 1, 0, 0, 0, /**/ 1, 1, 1, 1, 0}, 3, 5);  // padding stays
  const Tensor trained = model.forward(padded_ids(0), lengths(kLengths));
  CHECK(max_abs_diff(trained, model.forward(all_unknown, lengths(kLengths))) < 1e-12);
  model.eval();
  const Tensor evaluated = model.forward(padded_ids(0), lengths(kLengths));
  CHECK(max_abs_diff(evaluated, trained) > 1e-3);  // the words are read again
  CHECK_THROWS_AS(SequenceClassifier(SequenceClassifierOptions(7, 3).word_dropout(1.5)), loom::ValueError);
  CHECK_THROWS_AS(SequenceClassifier(SequenceClassifierOptions(7, 3).word_dropout(0.2).unknown_id(7)), loom::ValueError);
}

TEST_CASE("SequenceClassifier agrees with PyTorch (packed sequences): logits and every gradient") {
  for (const auto& cell : kCells)
    for (const auto& pooling : kPoolings)
      for (bool bidirectional : {false, true}) {
        CAPTURE(cell);
        CAPTURE(pooling);
        CAPTURE(bidirectional);
        const std::int64_t layers = bidirectional ? 2 : 1;
        auto ref = loom_test::torch_reference(
            "models.py", "--cell " + cell + " --pooling " + pooling + " --layers " +
                             std::to_string(layers) + (bidirectional ? " --bidirectional" : ""));
        if (ref.empty()) return;
        SequenceClassifier model(SequenceClassifierOptions(7, 3).embedding_dim(3).hidden_size(4)
                                     .cell(cell).num_layers(layers).bidirectional(bidirectional)
                                     .pooling(pooling));
        model.to(Dtype::Float64);
        std::map<std::string, Tensor> state;  // PyTorch's state dict loads unchanged
        for (const auto& entry : model.named_parameters()) state[entry.first] = ref.at(entry.first);
        model.load_state_dict(state);
        const Tensor logits = model.forward(ref.at("ids").to(Dtype::Int64), ref.at("lengths").to(Dtype::Int64));
        CHECK(max_abs_diff(logits, ref.at("logits")) < 1e-10);
        loom::cross_entropy(logits, ref.at("labels").to(Dtype::Int64)).backward();
        for (const auto& [name, p] : model.named_parameters()) {
          CAPTURE(name);
          CHECK(max_abs_diff(p.grad(), ref.at(name + ".grad")) < 1e-10);
        }
      }
}

TEST_CASE("SequenceClassifier overfits a tiny batch: the loss falls by 10x") {
  for (const auto& cell : kCells) {
    CAPTURE(cell);
    loom::manual_seed(1);
    SequenceClassifier model(SequenceClassifierOptions(10, 3).embedding_dim(8).hidden_size(16)
                                 .cell(cell).bidirectional(true).pooling("mean"));
    loom::Generator gen(2);
    const Tensor x = loom::randint(1, 10, {8, 6}, &gen);  // (8, 6); padding is never read
    const Tensor len = lengths({6, 3, 5, 2, 6, 4, 1, 5});
    const Tensor labels = loom::from_vector(Ids{0, 1, 2, 0, 1, 2, 1, 0});
    CHECK(loss_drop(model, 200, 0.02, [&] { return loom::cross_entropy(model.forward(x, len), labels); }) >= 10.0);
  }
}

TEST_CASE("SequenceClassifier: typed errors name the model and the shapes") {
  SequenceClassifier model(SequenceClassifierOptions(7, 3).hidden_size(4));
  auto message = message_of<loom::ShapeError>([&] { model.forward(loom::zeros({2, 3, 4}, Dtype::Int64)); });
  CHECK(message.find("SequenceClassifier") != std::string::npos);
  CHECK(message.find("(2, 3, 4)") != std::string::npos);
  CHECK_THROWS_AS(model.forward(loom::zeros({2, 3})), loom::DtypeError);
  CHECK_THROWS_AS(model.forward(ids({1, 7}, 1, 2)), loom::IndexError);
  message = message_of<loom::ShapeError>([&] { model.forward(padded_ids(0), lengths({5, 2})); });
  CHECK(message.find("(3,)") != std::string::npos);
  CHECK(message.find("(2,)") != std::string::npos);
  CHECK_THROWS_AS(model.forward(padded_ids(0), lengths({5, 2, 6})), loom::ValueError);
  CHECK_THROWS_AS(model.forward(padded_ids(0), loom::zeros({3})), loom::DtypeError);
  message = message_of<loom::ValueError>([] { SequenceClassifier(SequenceClassifierOptions(7, 3).cell("rnn")); });
  CHECK(message.find("SequenceClassifier") != std::string::npos);
  CHECK_THROWS_AS(SequenceClassifier(SequenceClassifierOptions(7, 3).pooling("avg")), loom::ValueError);
  CHECK_THROWS_AS(SequenceClassifier(SequenceClassifierOptions(0, 3)), loom::ValueError);
  CHECK_THROWS_AS(SequenceClassifier(SequenceClassifierOptions(7, 0)), loom::ValueError);
  CHECK_THROWS_AS(SequenceClassifier(SequenceClassifierOptions(7, 3).hidden_size(0)), loom::ValueError);
  CHECK_THROWS_AS(SequenceClassifier(SequenceClassifierOptions(7, 3).dropout(1.5)), loom::ValueError);
}

TEST_CASE("SequenceClassifier bag of words: logistic regression over word presence") {
  loom::manual_seed(4);
  SequenceClassifier model(SequenceClassifierOptions(7, 3).encoder("bag").embedding_dim(2).pooling("max"));
  model.to(Dtype::Float64);
  CHECK(parameter_names(model) == std::vector<std::string>{"embedding.weight", "fc.weight", "fc.bias"});
  // It starts as the bias alone: the embedding is zero.
  const Tensor start = model.forward(padded_ids(0), lengths(kLengths));  // (3, 3)
  auto state = model.state_dict();
  CHECK(max_abs_diff(start, state.at("fc.bias").unsqueeze(0).expand({3, 3})) < 1e-15);

  const Tensor weight = loom::randn({7, 2}).to(Dtype::Float64);  // (V, E)
  state["embedding.weight"] = weight;
  model.load_state_dict(state);
  const Tensor logits = model.forward(padded_ids(0), lengths(kLengths));  // (3, 3)
  // Row 2 reads 3 3 1 6: the distinct words 3, 1, 6, each once, over sqrt(3).
  const Tensor bag = (weight.narrow(0, 3, 1) + weight.narrow(0, 1, 1) + weight.narrow(0, 6, 1)) / std::sqrt(3.0);
  const Tensor expected = loom::matmul(bag, state.at("fc.weight").transpose(0, 1)) + state.at("fc.bias");  // (1, 3)
  CHECK(max_abs_diff(logits.narrow(0, 2, 1), expected) < 1e-12);
  // Order, repeats, padding and steps past the length do not count; an unpadded row agrees.
  CHECK(max_abs_diff(logits.narrow(0, 2, 1), model.forward(ids({6, 1, 1, 3, 3, 6}, 1, 6))) < 1e-12);
  CHECK(max_abs_diff(logits, model.forward(padded_ids(6), lengths(kLengths))) < 1e-12);

  check_model_gradients(model, [&] { return model.forward(padded_ids(0), lengths(kLengths)); });

  // Word dropout: every word read as <unk> (id 1) leaves a bag of one word, <unk>.
  SequenceClassifier dropping(SequenceClassifierOptions(7, 3).encoder("bag").embedding_dim(2).word_dropout(1.0).unknown_id(1));
  dropping.to(Dtype::Float64);
  dropping.load_state_dict(state);
  const Tensor unknown_only = loom::matmul(weight.narrow(0, 1, 1), state.at("fc.weight").transpose(0, 1)) + state.at("fc.bias");
  CHECK(max_abs_diff(dropping.forward(padded_ids(0), lengths(kLengths)), unknown_only.expand({3, 3})) < 1e-12);

  const auto message = message_of<loom::ValueError>([] { SequenceClassifier(SequenceClassifierOptions(7, 3).encoder("cnn")); });
  CHECK(message.find("encoder must be \"rnn\" or \"bag\", got \"cnn\"") != std::string::npos);
}

TEST_CASE("SequenceClassifier bag of words learns a word-presence rule: the loss falls by 10x") {
  loom::manual_seed(1);
  SequenceClassifier model(SequenceClassifierOptions(10, 2).encoder("bag").embedding_dim(2));
  loom::Generator gen(2);
  const Tensor x = loom::randint(2, 10, {16, 6}, &gen);  // (16, 6)
  std::vector<std::int64_t> labels(16);
  const auto tokens = x.to_vector<std::int64_t>();
  for (std::size_t b = 0; b < 16; ++b)  // spam when the word 7 is present
    labels[b] = std::count(tokens.begin() + 6 * b, tokens.begin() + 6 * b + 6, 7) > 0;
  const Tensor y = loom::from_vector(labels);
  CHECK(loss_drop(model, 300, 0.1, [&] { return loom::cross_entropy(model.forward(x), y); }) >= 10.0);
}

// ---- SequenceTagger -------------------------------------------------------------------------

TEST_CASE("SequenceTagger: per-step logits (B, T, C) from ids or features; classify gives (B, C)") {
  for (const auto& cell : kCells)
    for (bool bidirectional : {false, true}) {
      CAPTURE(cell);
      CAPTURE(bidirectional);
      SequenceTagger tokens(SequenceTaggerOptions(4).vocab_size(7).embedding_dim(3).hidden_size(5)
                                .cell(cell).num_layers(2).bidirectional(bidirectional));
      CHECK(tokens.forward(padded_ids(0), lengths(kLengths)).shape() == loom::Shape{3, 5, 4});
      CHECK(tokens.classify(padded_ids(0), lengths(kLengths)).shape() == loom::Shape{3, 4});
      SequenceTagger rows(SequenceTaggerOptions(10).input_features(28).hidden_size(8).cell(cell)
                              .bidirectional(bidirectional));
      const Tensor images = loom::rand({2, 28, 28});  // (B, rows, columns)
      CHECK(rows.forward(images).shape() == loom::Shape{2, 28, 10});
      CHECK(rows.classify(images).shape() == loom::Shape{2, 10});
    }
  SequenceTagger rows(SequenceTaggerOptions(10).input_features(28));
  CHECK(parameter_names(rows).front() == "rnn.weight_ih_l0");  // no embedding for dense input
  SequenceTagger tokens(SequenceTaggerOptions(10).vocab_size(28));
  CHECK(parameter_names(tokens).front() == "embedding.weight");
}

TEST_CASE("SequenceTagger: gradcheck over input features and every parameter (float64)") {
  for (const auto& cell : kCells) {
    CAPTURE(cell);
    loom::manual_seed(6);
    SequenceTagger model(SequenceTaggerOptions(3).input_features(2).hidden_size(3).cell(cell)
                             .bidirectional(true));
    model.to(Dtype::Float64);
    const Tensor x = loom_test::input({3, 5, 2}, 11);
    check_model_gradients(model, [&] { return model.forward(x, lengths(kLengths)); }, {x});
    check_model_gradients(model, [&] { return model.classify(x, lengths(kLengths)); }, {x});
    SequenceTagger tokens(SequenceTaggerOptions(3).vocab_size(7).embedding_dim(2).hidden_size(3)
                              .cell(cell));
    tokens.to(Dtype::Float64);
    check_model_gradients(tokens, [&] { return tokens.forward(padded_ids(0), lengths(kLengths)); });
  }
}

TEST_CASE("SequenceTagger: padded steps change neither real-step logits nor classify") {
  for (const auto& cell : kCells) {
    CAPTURE(cell);
    loom::manual_seed(9);
    SequenceTagger model(SequenceTaggerOptions(4).input_features(3).hidden_size(5).cell(cell)
                             .num_layers(2).bidirectional(true));
    model.to(Dtype::Float64);
    const Tensor x = loom_test::input({3, 5, 3}, 12).detach();                       // (3, 5, 3)
    const Tensor noise = loom_test::input({3, 5, 3}, 13).detach();
    std::vector<double> pad(3 * 5, 0.0);
    for (std::size_t b = 0; b < 3; ++b)
      for (std::int64_t t = kLengths[b]; t < 5; ++t) pad[b * 5 + t] = 1.0;
    const Tensor mask = loom::from_vector(pad, {3, 5, 1}).to(Dtype::Float64);      // (3, 5, 1)
    const Tensor other = x + noise * mask;  // different content at padded steps only
    const Tensor a = model.forward(x, lengths(kLengths)), b = model.forward(other, lengths(kLengths));
    CHECK(max_abs_diff(a * (1.0 - mask), b * (1.0 - mask)) < 1e-12);
    CHECK(max_abs_diff(model.classify(x, lengths(kLengths)), model.classify(other, lengths(kLengths))) < 1e-12);
    const Tensor alone = model.forward(x.narrow(0, 1, 1).narrow(1, 0, 2));  // (1, 2, 4)
    CHECK(max_abs_diff(a.narrow(0, 1, 1).narrow(1, 0, 2), alone) < 1e-12);
  }
}

TEST_CASE("SequenceTagger overfits a tiny batch: per-step tags and row-by-row classification") {
  loom::manual_seed(3);
  loom::Generator gen(4);
  SequenceTagger tagger(SequenceTaggerOptions(3).vocab_size(8).embedding_dim(8).hidden_size(16)
                            .bidirectional(true));
  const Tensor x = loom::randint(1, 8, {6, 5}, &gen);                // (6, 5)
  const Tensor tags = loom::randint(0, 3, {6 * 5}, &gen);            // (30)
  CHECK(loss_drop(tagger, 200, 0.02, [&] {
          return loom::cross_entropy(tagger.forward(x).reshape({-1, 3}), tags);
        }) >= 10.0);

  SequenceTagger rows(SequenceTaggerOptions(4).input_features(6).hidden_size(16));
  const Tensor images = loom::rand({8, 6, 6}, 0.0, 1.0, Dtype::Float32, &gen);  // (B, rows, columns)
  const Tensor labels = loom::from_vector(Ids{0, 1, 2, 3, 0, 1, 2, 3});
  CHECK(loss_drop(rows, 300, 0.02, [&] { return loom::cross_entropy(rows.classify(images), labels); }) >= 10.0);
}

TEST_CASE("SequenceTagger: typed errors name the model and the shapes") {
  SequenceTagger rows(SequenceTaggerOptions(10).input_features(28).hidden_size(4));
  auto message = message_of<loom::ShapeError>([&] { rows.forward(loom::zeros({2, 28, 27})); });
  CHECK(message.find("SequenceTagger") != std::string::npos);
  CHECK(message.find("(B, T, 28)") != std::string::npos);
  CHECK(message.find("(2, 28, 27)") != std::string::npos);
  CHECK_THROWS_AS(rows.forward(loom::zeros({2, 28})), loom::ShapeError);
  CHECK_THROWS_AS(rows.forward(loom::zeros({2, 3, 28}, Dtype::Int64)), loom::DtypeError);
  CHECK_THROWS_AS(rows.classify(loom::zeros({2, 3, 28}), lengths({3})), loom::ShapeError);
  CHECK_THROWS_AS(rows.classify(loom::zeros({2, 3, 28}), lengths({3, 4})), loom::ValueError);
  SequenceTagger tokens(SequenceTaggerOptions(3).vocab_size(7).hidden_size(4));
  CHECK_THROWS_AS(tokens.forward(loom::zeros({2, 3, 28})), loom::ShapeError);
  CHECK_THROWS_AS(SequenceTagger(SequenceTaggerOptions(3)), loom::ValueError);
  CHECK_THROWS_AS(SequenceTagger(SequenceTaggerOptions(3).vocab_size(7).input_features(2)), loom::ValueError);
  CHECK_THROWS_AS(SequenceTagger(SequenceTaggerOptions(3).input_features(2).cell("LSTM")), loom::ValueError);
  CHECK_THROWS_AS(SequenceTagger(SequenceTaggerOptions(0).input_features(2)), loom::ValueError);
}

// ---- Forecaster -----------------------------------------------------------------------------

TEST_CASE("Forecaster: (B, window, F) -> (B, horizon) for one-step and multi-step horizons") {
  for (const auto& cell : kCells)
    for (std::int64_t horizon : {1, 5})
      for (std::int64_t layers : {1, 2}) {
        CAPTURE(cell);
        Forecaster model(ForecasterOptions(3).horizon(horizon).hidden_size(6).num_layers(layers)
                             .cell(cell).dropout(0.2));
        CHECK(model.forward(loom::randn({4, 10, 3})).shape() == loom::Shape{4, horizon});
      }
  Forecaster model(ForecasterOptions(1));
  CHECK(parameter_names(model) == std::vector<std::string>{"rnn.weight_ih_l0", "rnn.weight_hh_l0",
                                                           "rnn.bias_ih_l0", "rnn.bias_hh_l0",
                                                           "fc.weight", "fc.bias"});
}

TEST_CASE("Forecaster: gradcheck over the window and every parameter (float64)") {
  for (const auto& cell : kCells) {
    CAPTURE(cell);
    loom::manual_seed(7);
    Forecaster model(ForecasterOptions(2).horizon(3).hidden_size(3).num_layers(2).cell(cell));
    model.to(Dtype::Float64);
    const Tensor x = loom_test::input({2, 4, 2}, 14);
    check_model_gradients(model, [&] { return model.forward(x); }, {x});
  }
}

TEST_CASE("Forecaster overfits a few windows of a sine wave, one step and three steps ahead") {
  for (std::int64_t horizon : {1, 3}) {
    CAPTURE(horizon);
    loom::manual_seed(2);
    Forecaster model(ForecasterOptions(1).horizon(horizon).hidden_size(16));
    const std::int64_t windows = 16, window = 10;
    std::vector<float> x, y;
    for (std::int64_t w = 0; w < windows; ++w)
      for (std::int64_t t = 0; t < window + horizon; ++t)
        (t < window ? x : y).push_back(static_cast<float>(std::sin(0.4 * double(w + t))));
    const Tensor input = loom::from_vector(x, {windows, window, 1});  // (16, 10, 1)
    const Tensor target = loom::from_vector(y, {windows, horizon});   // (16, horizon)
    CHECK(loss_drop(model, 300, 0.01, [&] { return loom::mse_loss(model.forward(input), target); }) >= 10.0);
  }
}

TEST_CASE("Forecaster: typed errors name the model and the shapes") {
  Forecaster model(ForecasterOptions(3).hidden_size(4));
  auto message = message_of<loom::ShapeError>([&] { model.forward(loom::zeros({4, 10, 2})); });
  CHECK(message.find("Forecaster") != std::string::npos);
  CHECK(message.find("(B, T, 3)") != std::string::npos);
  CHECK(message.find("(4, 10, 2)") != std::string::npos);
  CHECK_THROWS_AS(model.forward(loom::zeros({4, 10})), loom::ShapeError);
  CHECK_THROWS_AS(model.forward(loom::zeros({4, 0, 3})), loom::ShapeError);
  CHECK_THROWS_AS(Forecaster(ForecasterOptions(3).horizon(0)), loom::ValueError);
  CHECK_THROWS_AS(Forecaster(ForecasterOptions(0)), loom::ValueError);
  CHECK_THROWS_AS(Forecaster(ForecasterOptions(3).cell("rnn")), loom::ValueError);
  CHECK_THROWS_AS(Forecaster(ForecasterOptions(3).dropout(-0.1)), loom::ValueError);
}

// ---- CharLM ---------------------------------------------------------------------------------

TEST_CASE("CharLM: logits (B, T, V) and a state (L, B, H) per chunk") {
  CharLM lm(CharLMOptions(11).embedding_dim(4).hidden_size(6).num_layers(2).dropout(0.1));
  const auto out = lm.forward(loom::randint(0, 11, {3, 7}));
  CHECK(out.logits.shape() == loom::Shape{3, 7, 11});
  CHECK(out.state.h.shape() == loom::Shape{2, 3, 6});
  CHECK(out.state.c.shape() == loom::Shape{2, 3, 6});
  const auto next = lm.forward(loom::randint(0, 11, {3, 2}), out.state.detach());
  CHECK(next.logits.shape() == loom::Shape{3, 2, 11});
  const auto names = parameter_names(lm);
  CHECK(names.front() == "embedding.weight");
  CHECK(names[1] == "lstm.weight_ih_l0");
  CHECK(names.back() == "fc.bias");
}

TEST_CASE("CharLM: gradcheck over every parameter and the initial state (float64)") {
  loom::manual_seed(4);
  CharLM lm(CharLMOptions(5).embedding_dim(3).hidden_size(3).num_layers(2));
  lm.to(Dtype::Float64);
  const Tensor h = loom_test::input({2, 2, 3}, 15), c = loom_test::input({2, 2, 3}, 16);
  const Tensor x = ids({0, 1, 4, 2, 3, 3, 1, 0}, 2, 4);
  check_model_gradients(lm, [&] { return lm.forward(x, {h, c}).logits; }, {h, c});
}

TEST_CASE("CharLM: feeding text in chunks with the carried state equals one long call") {
  loom::manual_seed(5);
  CharLM lm(CharLMOptions(9).embedding_dim(4).hidden_size(5).num_layers(2));
  lm.to(Dtype::Float64);
  loom::Generator gen(6);
  const Tensor text = loom::randint(0, 9, {2, 7}, &gen);  // (2, 7)
  const auto whole = lm.forward(text);
  const auto first = lm.forward(text.narrow(1, 0, 3));
  const auto second = lm.forward(text.narrow(1, 3, 4), first.state);
  CHECK(max_abs_diff(whole.logits, loom::concat({first.logits, second.logits}, 1)) < 1e-12);
  CHECK(max_abs_diff(whole.state.h, second.state.h) < 1e-12);
  CHECK(max_abs_diff(whole.state.c, second.state.c) < 1e-12);
}

TEST_CASE("CharLM sampling: repeatable per seed, top_k = 1 is greedy, arguments are checked") {
  loom::manual_seed(7);
  CharLM lm(CharLMOptions(10).embedding_dim(4).hidden_size(8));
  loom::Generator a(1), b(1), c(2);
  const auto first = lm.sample({3, 1}, 40, 1.0, 0, &a);
  CHECK(first.size() == 40);
  CHECK(first == lm.sample({3, 1}, 40, 1.0, 0, &b));
  CHECK(first != lm.sample({3, 1}, 40, 1.0, 0, &c));
  for (std::int64_t id : lm.sample({0}, 30, 2.0, 3, &a)) CHECK((id >= 0 && id < 10));

  // Greedy decoding by hand: feed back the argmax of the last step.
  Ids greedy;
  {
    loom::NoGradGuard no_grad;
    auto out = lm.forward(ids({3, 1}, 1, 2));
    for (int i = 0; i < 12; ++i) {
      greedy.push_back(static_cast<std::int64_t>(
          loom::argmax(out.logits.narrow(1, out.logits.size(1) - 1, 1), 2).item()));
      out = lm.forward(ids({greedy.back()}, 1, 1), out.state);
    }
  }
  CHECK(lm.sample({3, 1}, 12, 1.0, 1, &a) == greedy);
  CHECK(lm.sample({3, 1}, 12, 0.3, 1, &c) == greedy);

  CHECK(lm.is_training());  // sample restores the mode it found
  CHECK(lm.sample({3}, 0).empty());
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  for (double temperature : {0.0, -1.0, nan, inf}) {
    CAPTURE(temperature);
    const auto message = message_of<loom::ValueError>([&] { lm.sample({3}, 5, temperature); });
    CHECK(message.find("CharLM: temperature") != std::string::npos);
  }
  CHECK_THROWS_AS(lm.sample({3}, 5, 1.0, -1), loom::ValueError);
  CHECK_THROWS_AS(lm.sample({3}, 5, 1.0, 11), loom::ValueError);
  CHECK_THROWS_AS(lm.sample({}, 5), loom::ValueError);
  CHECK_THROWS_AS(lm.sample({3}, -1), loom::ValueError);
  CHECK_THROWS_AS(lm.sample({10}, 5), loom::IndexError);
}

TEST_CASE("CharLM: typed errors for ids and state") {
  CharLM lm(CharLMOptions(5).hidden_size(4).num_layers(2));
  CHECK_THROWS_AS(lm.forward(loom::zeros({2, 3})), loom::DtypeError);
  CHECK_THROWS_AS(lm.forward(loom::zeros({6}, Dtype::Int64)), loom::ShapeError);
  CHECK_THROWS_AS(lm.forward(ids({0, 5}, 1, 2)), loom::IndexError);
  const auto message = message_of<loom::ShapeError>([&] {
    lm.forward(ids({0, 1}, 1, 2), {loom::zeros({1, 1, 4}), loom::zeros({1, 1, 4})});
  });
  CHECK(message.find("CharLM") != std::string::npos);
  CHECK(message.find("(2, 1, 4)") != std::string::npos);
  CHECK(message.find("(1, 1, 4)") != std::string::npos);
  CHECK_THROWS_AS(lm.forward(ids({0, 1}, 1, 2), {loom::zeros({2, 1, 4}), Tensor()}), loom::ValueError);
  CHECK_THROWS_AS(CharLM(CharLMOptions(0)), loom::ValueError);
  CHECK_THROWS_AS(CharLM(CharLMOptions(5).num_layers(0)), loom::ValueError);
}

TEST_CASE("CharLM learns to repeat \"abcabc...\" with truncated BPTT, then samples it") {
  // Ids a = 0, b = 1, c = 2; four rows starting at different letters, fed in chunks of 6.
  loom::manual_seed(11);
  CharLM lm(CharLMOptions(3).embedding_dim(4).hidden_size(16));
  std::vector<std::int64_t> text;
  for (std::int64_t row = 0; row < 4; ++row)
    for (std::int64_t t = 0; t < 25; ++t) text.push_back((row + t) % 3);
  const Tensor rows = ids(text, 4, 25);  // (4, 25)
  CharLMState state;
  std::int64_t chunk_start = 0;
  const double drop = loss_drop(lm, 200, 0.02, [&] {
    if (chunk_start + 6 >= 25) chunk_start = 0, state = {};
    const Tensor x = rows.narrow(1, chunk_start, 6), y = rows.narrow(1, chunk_start + 1, 6);
    auto out = lm.forward(x, state);
    state = out.state.detach();
    chunk_start += 6;
    return loom::cross_entropy(out.logits.reshape({-1, 3}), y.reshape({-1}));
  });
  CHECK(drop >= 10.0);
  loom::Generator gen(3);
  auto to_text = [](const Ids& values) {
    std::string s;
    for (auto id : values) s += static_cast<char>('a' + id);
    return s;
  };
  CHECK(to_text(lm.sample({0, 1}, 10, 0.8, 0, &gen)) == "cabcabcabc");
  CHECK(to_text(lm.sample({1}, 7, 1.0, 0, &gen)) == "cabcabc");
}

// ---- train / eval ---------------------------------------------------------------------------

TEST_CASE("dropout is random in training mode and off in eval mode, for every model") {
  // Two calls on the same input differ while training and agree after eval().
  auto check_modes = [](auto& model, auto run) {
    CHECK(max_abs_diff(run(model), run(model)) > 1e-6);
    model.eval();
    CHECK(max_abs_diff(run(model), run(model)) == 0.0);
  };
  const Tensor features = loom::randn({2, 6, 3});  // (B, T, F)
  SequenceClassifier classifier(SequenceClassifierOptions(7, 3).num_layers(2).dropout(0.5));
  check_modes(classifier, [](auto& m) { return m.forward(padded_ids(0), lengths(kLengths)); });
  SequenceTagger tagger(SequenceTaggerOptions(4).input_features(3).dropout(0.5));
  check_modes(tagger, [&](auto& m) { return m.classify(features); });
  Forecaster forecaster(ForecasterOptions(3).dropout(0.5));
  check_modes(forecaster, [&](auto& m) { return m.forward(features); });
  CharLM lm(CharLMOptions(7).dropout(0.5));
  check_modes(lm, [](auto& m) { return m.forward(padded_ids(0)).logits; });
}

// ---- checkpoints ----------------------------------------------------------------------------

TEST_CASE("every model survives a safetensors round trip into a fresh instance") {
  const std::string path = "/tmp/loom-test-models-" + std::to_string(::getpid()) + ".safetensors";
  // Saves `trained`, loads it into `fresh` (other initial weights) and compares `run` on both.
  auto round_trip = [&](auto& trained, auto& fresh, auto run) {
    trained.eval();
    fresh.eval();
    loom::save(trained, path);
    CHECK(max_abs_diff(run(trained), run(fresh)) > 1e-3);
    loom::load(fresh, path);
    CHECK(max_abs_diff(run(trained), run(fresh)) == 0.0);
    std::remove(path.c_str());
  };
  const auto classifier_options = SequenceClassifierOptions(7, 3).hidden_size(5).bidirectional(true);
  SequenceClassifier c1(classifier_options), c2(classifier_options);
  round_trip(c1, c2, [](auto& m) { return m.forward(padded_ids(0), lengths(kLengths)); });
  const auto tagger_options = SequenceTaggerOptions(4).input_features(3).hidden_size(5).cell("gru");
  SequenceTagger t1(tagger_options), t2(tagger_options);
  const Tensor features = loom::randn({2, 6, 3});  // (B, T, F)
  round_trip(t1, t2, [&](auto& m) { return m.forward(features); });
  Forecaster f1(ForecasterOptions(3).horizon(2)), f2(ForecasterOptions(3).horizon(2));
  round_trip(f1, f2, [&](auto& m) { return m.forward(features); });
  CharLM l1(CharLMOptions(7).num_layers(2)), l2(CharLMOptions(7).num_layers(2));
  round_trip(l1, l2, [](auto& m) { return m.forward(padded_ids(0)).logits; });
}
