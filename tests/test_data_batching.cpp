// Padding, masks, and the batch sources: coverage, seeded order, bucketing, tags.
#include <loom/data/batching.h>
#include <loom/layers.h>
#include <loom/optim.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "test_util.h"

using loom::data::SequenceBatches;
using loom::data::SequenceBatchOptions;
using Ids = std::vector<std::int64_t>;

namespace {

// n sequences of lengths 1..max_length in a scrambled order; sequence i holds i at every step.
std::vector<Ids> sequences_of_mixed_length(std::int64_t n, std::int64_t max_length) {
  std::vector<Ids> out;
  for (std::int64_t i = 0; i < n; ++i) out.push_back(Ids(static_cast<std::size_t>(1 + (i * 7) % max_length), i));
  return out;
}

// Every example index the source yields in one epoch, in order.
Ids epoch_order(SequenceBatches& batches) {
  Ids order;
  for (std::int64_t b = 0; b < batches.num_batches(); ++b) {
    const auto& rows = batches.batch_indices(b);
    order.insert(order.end(), rows.begin(), rows.end());
  }
  return order;
}

// Padding steps over an epoch: B * T minus the real steps, summed over batches.
std::int64_t padding_steps(SequenceBatches& batches) {
  std::int64_t padding = 0;
  for (std::int64_t b = 0; b < batches.num_batches(); ++b) {
    const auto batch = batches.batch(b);
    const auto lengths = batch[1].to_vector<std::int64_t>();
    padding += batch[0].numel() - std::accumulate(lengths.begin(), lengths.end(), std::int64_t(0));
  }
  return padding;
}

}  // namespace

TEST_CASE("pad gives ids, lengths and a mask of (B, T)") {
  auto padded = loom::data::pad({{5, 6, 7}, {8}, {}}, 0);
  CHECK(padded.ids.shape() == loom::Shape{3, 3});
  CHECK(padded.ids.dtype() == loom::Dtype::Int64);
  CHECK(padded.ids.to_vector<std::int64_t>() == Ids{5, 6, 7, 8, 0, 0, 0, 0, 0});
  CHECK(padded.lengths.to_vector<std::int64_t>() == Ids{3, 1, 0});
  CHECK(padded.mask.dtype() == loom::Dtype::Float32);
  CHECK(loom_test::values(padded.mask) == std::vector<double>{1, 1, 1, 1, 0, 0, 0, 0, 0});

  auto cut = loom::data::pad({{5, 6, 7}, {8}}, -1, 2);
  CHECK(cut.ids.to_vector<std::int64_t>() == Ids{5, 6, 8, -1});
  CHECK(cut.lengths.to_vector<std::int64_t>() == Ids{2, 1});
  CHECK_THROWS_AS(loom::data::pad({}), loom::ValueError);
  CHECK_THROWS_AS(loom::data::pad({{1}}, 0, 0), loom::ValueError);
}

TEST_CASE("SequenceBatches covers every example once per epoch, in a seeded order") {
  const auto sequences = sequences_of_mixed_length(103, 9);
  Ids labels(103);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int64_t>(i % 2);
  SequenceBatches batches(sequences, labels, SequenceBatchOptions().batch_size(10));
  CHECK(batches.num_batches() == 11);
  // Before any epoch, and without shuffling, the order is the input order.
  Ids identity(103);
  for (std::size_t i = 0; i < identity.size(); ++i) identity[i] = static_cast<std::int64_t>(i);
  CHECK(epoch_order(batches) == identity);

  loom::Generator generator(7);
  batches.start_epoch(0, generator);
  const auto state = generator.state();
  const auto first = epoch_order(batches);
  CHECK(first != identity);
  CHECK(std::set<std::int64_t>(first.begin(), first.end()).size() == 103);
  batches.start_epoch(1, generator);
  CHECK(epoch_order(batches) != first);  // a new order each epoch...
  // ...that depends on the generator's state alone, not on the epochs before.
  SequenceBatches fresh(sequences, labels, SequenceBatchOptions().batch_size(10));
  loom::Generator restored;
  restored.set_state(state);
  fresh.start_epoch(1, restored);
  generator.set_state(state);
  batches.start_epoch(1, generator);
  CHECK(epoch_order(batches) == epoch_order(fresh));

  // Rows of a batch are the examples batch_indices names, with their labels.
  const auto batch = batches.batch(3);
  const auto& rows = batches.batch_indices(3);
  REQUIRE(batch.size() == 3);
  CHECK(batch[2].shape() == loom::Shape{10});
  const auto ids = batch[0].to_vector<std::int64_t>();
  for (std::size_t r = 0; r < rows.size(); ++r) {
    CHECK(ids[r * static_cast<std::size_t>(batch[0].size(1))] == rows[r]);
    CHECK(batch[2].to_vector<std::int64_t>()[r] == rows[r] % 2);
  }
  CHECK_THROWS_AS(batches.batch(11), loom::IndexError);
}

TEST_CASE("length bucketing covers every example and cuts padding") {
  const auto sequences = sequences_of_mixed_length(200, 40);
  const Ids labels(200, 1);
  SequenceBatches plain(sequences, labels, SequenceBatchOptions().batch_size(8));
  SequenceBatches bucketed(sequences, labels, SequenceBatchOptions().batch_size(8).bucket_size(5));
  loom::Generator a(3), b(3);
  plain.start_epoch(0, a);
  bucketed.start_epoch(0, b);
  auto order = epoch_order(bucketed);
  std::sort(order.begin(), order.end());
  CHECK(std::unique(order.begin(), order.end()) == order.end());
  CHECK(order.size() == 200);
  CHECK(padding_steps(bucketed) * 3 < padding_steps(plain));
}

TEST_CASE("SequenceBatches with one tag per step pads tags with ignore_index") {
  SequenceBatches batches({{1, 2, 3}, {4}}, std::vector<Ids>{{7, 8, 9}, {6}},
                          SequenceBatchOptions().batch_size(2).shuffle(false));
  const auto batch = batches.batch(0);
  CHECK(batch[2].shape() == loom::Shape{2, 3});
  CHECK(batch[2].to_vector<std::int64_t>() == Ids{7, 8, 9, 6, -100, -100});
  CHECK_THROWS_AS(SequenceBatches({{1, 2}}, std::vector<Ids>{{1}}), loom::ValueError);
  CHECK_THROWS_AS(SequenceBatches({{1, 2}}, Ids{1, 2}), loom::ValueError);
  CHECK_THROWS_AS(SequenceBatches({{1}}, Ids{1}, SequenceBatchOptions().batch_size(0)), loom::ValueError);
  CHECK_THROWS_AS(SequenceBatches({{1}}, Ids{1}, SequenceBatchOptions().bucket_size(-1)), loom::ValueError);
  CHECK_THROWS_AS(SequenceBatches(std::vector<Ids>{}, Ids{}), loom::ValueError);
}

TEST_CASE("drop_last leaves out the short batch") {
  SequenceBatches batches(sequences_of_mixed_length(25, 5), Ids(25, 0),
                          SequenceBatchOptions().batch_size(10).drop_last(true));
  CHECK(batches.num_batches() == 2);
  loom::data::TensorBatches tensors(loom::zeros({25, 2}), loom::zeros({25}),
                              loom::data::TensorBatchOptions().batch_size(10).drop_last(true));
  CHECK(tensors.num_batches() == 2);
}

TEST_CASE("TensorBatches yields rows of x and y together, shuffled by the generator") {
  auto x = loom::arange(0, 14, 1, loom::Dtype::Float32).reshape({7, 2});  // (7, 2), row i = {2i, 2i+1}
  auto y = loom::arange(0, 7, 1, loom::Dtype::Int64);                     // (7)
  loom::data::TensorBatches batches(x, y, loom::data::TensorBatchOptions().batch_size(3));
  CHECK(batches.num_batches() == 3);
  loom::Generator generator(11);
  batches.start_epoch(0, generator);
  std::vector<std::int64_t> seen;
  for (std::int64_t b = 0; b < batches.num_batches(); ++b) {
    const auto batch = batches.batch(b);
    CHECK(batch[0].size(1) == 2);
    const auto xs = loom_test::values(batch[0]);
    const auto ys = batch[1].to_vector<std::int64_t>();
    for (std::size_t r = 0; r < ys.size(); ++r) {
      CHECK(xs[2 * r] == 2.0 * double(ys[r]));
      seen.push_back(ys[r]);
    }
  }
  CHECK(seen != Ids{0, 1, 2, 3, 4, 5, 6});
  std::sort(seen.begin(), seen.end());
  CHECK(seen == Ids{0, 1, 2, 3, 4, 5, 6});
  CHECK_THROWS_AS(loom::data::TensorBatches(loom::zeros({3, 2}), loom::zeros({4})), loom::ShapeError);
}

TEST_CASE("SequenceBatches feeds the Trainer: a bag-of-embeddings classifier learns the toy task") {
  // Class 1 when token 5 occurs; lengths 2..9, so padding and masking matter.
  std::vector<Ids> sequences;
  Ids labels;
  loom::Generator data(4);
  for (int i = 0; i < 96; ++i) {
    Ids s(2 + data.next_u64() % 8);
    for (auto& id : s) id = 4 + static_cast<std::int64_t>(data.next_u64() % 6);  // 4..9
    labels.push_back(std::count(s.begin(), s.end(), 5) > 0);
    sequences.push_back(s);
  }
  struct BagOfEmbeddings : loom::Module {
    std::shared_ptr<loom::Embedding> embed = register_module("embed", std::make_shared<loom::Embedding>(10, 8));
    std::shared_ptr<loom::Linear> out = register_module("out", std::make_shared<loom::Linear>(8, 2));
    loom::Tensor forward(const loom::Tensor& ids) {  // (B, T) -> (B, 2); masked mean over steps
      const auto real = ids.to(loom::Dtype::Float32);                                  // (B, T)
      const auto mask = loom::gt(real, loom::zeros_like(real)).unsqueeze(-1);             // (B, T, 1)
      const auto summed = loom::sum(embed->forward(ids) * mask, {1});                              // (B, 8)
      return out->forward(summed / loom::sum(mask, {1}));
    }
  } model;
  loom::optim::Adam adam(model.named_parameters(), loom::optim::AdamOptions(0.05));
  loom::optim::Trainer trainer(model, adam, loom::optim::TrainerOptions().epochs(30).progress(false).seed(1).monitor("train_loss"));
  SequenceBatches batches(sequences, labels, SequenceBatchOptions().batch_size(16).bucket_size(3));
  const auto result = trainer.fit(batches, [&](const loom::optim::Batch& b) {
    return loom::cross_entropy(model.forward(b[0]), b[2]);
  });
  CHECK(result.history.back().values.at("train_loss") < 0.5 * result.history.front().values.at("train_loss"));
}

TEST_CASE("shard_range splits n items over replicas, the first n % replicas one larger") {
  using Range = std::pair<std::int64_t, std::int64_t>;
  CHECK(loom::data::shard_range(10, 0, 3) == Range{0, 4});
  CHECK(loom::data::shard_range(10, 1, 3) == Range{4, 7});
  CHECK(loom::data::shard_range(10, 2, 3) == Range{7, 10});
  CHECK(loom::data::shard_range(5, 0, 1) == Range{0, 5});
  CHECK_THROWS_AS(loom::data::shard_range(5, 2, 2), loom::ValueError);
  CHECK_THROWS_AS(SequenceBatches(sequences_of_mixed_length(4, 3), Ids(4, 0), SequenceBatchOptions().num_replicas(2).rank(-1)),
                  loom::ValueError);
}

TEST_CASE("sharded SequenceBatches: the replicas' shares of each epoch are the unsharded global batches") {
  // 45 examples, global batch 8, bucketed: 5 full batches and one of 5 rows. With 3 replicas
  // every replica takes a contiguous share of each global batch, from the same seeded order.
  const auto sequences = sequences_of_mixed_length(45, 9);
  const Ids labels(45, 1);
  const auto options = SequenceBatchOptions().batch_size(8).bucket_size(2);
  SequenceBatches whole(sequences, labels, options);
  std::vector<SequenceBatches> replicas;
  for (std::int64_t r = 0; r < 3; ++r) replicas.emplace_back(sequences, labels, SequenceBatchOptions(options).num_replicas(3).rank(r));
  for (std::int64_t epoch = 1; epoch <= 2; ++epoch) {
    loom::Generator g_whole(5);
    whole.start_epoch(epoch, g_whole);
    for (auto& replica : replicas) {
      loom::Generator g(5);  // every replica holds the trainer's generator in the same state
      replica.start_epoch(epoch, g);
      CHECK(replica.num_batches() == whole.num_batches());
    }
    for (std::int64_t b = 0; b < whole.num_batches(); ++b) {
      Ids joined;
      std::vector<std::size_t> sizes;
      for (auto& replica : replicas) {
        const auto& rows = replica.batch_indices(b);
        sizes.push_back(rows.size());
        joined.insert(joined.end(), rows.begin(), rows.end());
        CHECK(replica.batch(b)[0].size(0) == static_cast<std::int64_t>(rows.size()));
      }
      CHECK(joined == whole.batch_indices(b));
      CHECK(*std::max_element(sizes.begin(), sizes.end()) - *std::min_element(sizes.begin(), sizes.end()) <= 1);
    }
  }
  // A global batch of 2 rows cannot feed 3 replicas: it is left out on every replica.
  SequenceBatches small(sequences_of_mixed_length(10, 3), Ids(10, 0), SequenceBatchOptions().batch_size(4).shuffle(false).num_replicas(3).rank(2));
  CHECK(small.num_batches() == 2);
  CHECK(small.batch_indices(1) == Ids{7});
}

TEST_CASE("sharded TensorBatches: replicas split every shuffled global batch between them") {
  auto x = loom::arange(0, 10, 1, loom::Dtype::Float32).reshape({10, 1});  // (10, 1)
  auto y = loom::arange(0, 10, 1, loom::Dtype::Int64);                     // (10)
  loom::data::TensorBatches whole(x, y, loom::data::TensorBatchOptions().batch_size(4));
  loom::data::TensorBatches first(x, y, loom::data::TensorBatchOptions().batch_size(4).num_replicas(2).rank(0));
  loom::data::TensorBatches second(x, y, loom::data::TensorBatchOptions().batch_size(4).num_replicas(2).rank(1));
  loom::Generator g1(3), g2(3), g3(3);
  whole.start_epoch(1, g1);
  first.start_epoch(1, g2);
  second.start_epoch(1, g3);
  REQUIRE(first.num_batches() == 3);
  REQUIRE(second.num_batches() == 3);
  for (std::int64_t b = 0; b < 3; ++b) {
    auto joined = first.batch(b)[1].to_vector<std::int64_t>();
    const auto rest = second.batch(b)[1].to_vector<std::int64_t>();
    joined.insert(joined.end(), rest.begin(), rest.end());
    CHECK(joined == whole.batch(b)[1].to_vector<std::int64_t>());
    CHECK(first.batch(b)[1].numel() == (b < 2 ? 2 : 1));
  }
}

TEST_CASE("SequencePairBatches: sources, <bos>-shifted target inputs, <eos>-ended outputs padded with -100") {
  loom::data::SequencePairBatches batches({{5, 6, 7}, {8}, {9, 9}}, {{10, 11}, {12, 13, 14}, {15}},
                                          loom::data::SequenceBatchOptions().batch_size(3).shuffle(false));
  REQUIRE(batches.num_batches() == 1);
  const auto b = batches.batch(0);
  REQUIRE(b.size() == 5);
  CHECK(b[0].to_vector<std::int64_t>() == std::vector<std::int64_t>{5, 6, 7, 8, 0, 0, 9, 9, 0});
  CHECK(b[1].to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 1, 2});
  CHECK(b[2].shape() == loom::Shape{3, 4});
  CHECK(b[2].to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 10, 11, 0, 2, 12, 13, 14, 2, 15, 0, 0});
  CHECK(b[3].to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{10, 11, 3, -100, 12, 13, 14, 3, 15, 3, -100, -100});
  CHECK(b[4].to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 4, 2});
  CHECK_THROWS_AS(loom::data::SequencePairBatches({{1}}, {}), loom::ValueError);
  // Shuffled and bucketed, every pair still travels together.
  std::vector<std::vector<std::int64_t>> sources, targets;
  for (std::int64_t i = 0; i < 50; ++i) sources.push_back(std::vector<std::int64_t>(1 + i % 7, 4 + i)), targets.push_back({4 + i});
  loom::data::SequencePairBatches shuffled(sources, targets, loom::data::SequenceBatchOptions().batch_size(8).bucket_size(3));
  loom::Generator generator(1);
  shuffled.start_epoch(0, generator);
  std::int64_t seen = 0;
  for (std::int64_t i = 0; i < shuffled.num_batches(); ++i) {
    const auto batch = shuffled.batch(i);
    const auto ids = batch[0].to_vector<std::int64_t>(), out = batch[3].to_vector<std::int64_t>();
    for (std::int64_t row = 0; row < batch[0].size(0); ++row, ++seen)
      CHECK(ids[row * batch[0].size(1)] == out[row * batch[3].size(1)]);
  }
  CHECK(seen == 50);
}

TEST_CASE("FeatureSequenceBatches: zero-padded features, lengths, 0-padded targets and their lengths") {
  // Item i: i + 1 frames of 2 features, every value 10 * i + 1 + frame; its target {i + 1, i + 1}[:i % 3].
  std::vector<loom::Tensor> features;
  std::vector<Ids> targets;
  for (std::int64_t i = 0; i < 3; ++i) {
    std::vector<double> values;
    for (std::int64_t frame = 0; frame <= i; ++frame) values.insert(values.end(), 2, 10.0 * i + 1 + frame);
    features.push_back(loom::from_vector(values, {i + 1, 2}).to(loom::Dtype::Float32));
    targets.push_back(Ids(static_cast<std::size_t>(i % 3), i + 1));
  }
  loom::data::FeatureSequenceBatches batches(features, targets, SequenceBatchOptions().batch_size(3).shuffle(false));
  REQUIRE(batches.num_batches() == 1);
  const auto b = batches.batch(0);
  REQUIRE(b.size() == 4);
  CHECK(b[0].shape() == loom::Shape{3, 3, 2});
  CHECK(b[0].to_vector<double>() == std::vector<double>{1, 1, 0, 0, 0, 0, 11, 11, 12, 12, 0, 0, 21, 21, 22, 22, 23, 23});
  CHECK(b[1].to_vector<std::int64_t>() == Ids{1, 2, 3});
  CHECK(b[2].to_vector<std::int64_t>() == Ids{0, 0, 2, 0, 3, 3});
  CHECK(b[3].to_vector<std::int64_t>() == Ids{0, 1, 2});
  CHECK_THROWS_AS(loom::data::FeatureSequenceBatches(features, {{1}}), loom::ValueError);
  CHECK_THROWS_AS(loom::data::FeatureSequenceBatches({loom::zeros({2, 2}), loom::zeros({2, 3})}, {{1}, {1}}), loom::ShapeError);
  CHECK_THROWS_AS(loom::data::FeatureSequenceBatches({loom::zeros({0, 2})}, {{1}}), loom::ShapeError);
  // Bucketed and shuffled, each item's features and target travel together.
  std::vector<loom::Tensor> many;
  std::vector<Ids> labels;
  for (std::int64_t i = 0; i < 40; ++i) many.push_back(loom::full({1 + i % 9, 1}, static_cast<double>(i))), labels.push_back({i});
  loom::data::FeatureSequenceBatches shuffled(many, labels, SequenceBatchOptions().batch_size(6).bucket_size(3));
  loom::Generator generator(3);
  shuffled.start_epoch(0, generator);
  std::set<std::int64_t> seen;
  for (std::int64_t i = 0; i < shuffled.num_batches(); ++i) {
    const auto batch = shuffled.batch(i);
    const auto values = batch[0].to_vector<double>();
    const auto ids = batch[2].to_vector<std::int64_t>();
    for (std::int64_t row = 0; row < batch[0].size(0); ++row) {
      CHECK(values[row * batch[0].size(1)] == ids[row]);
      seen.insert(ids[row]);
    }
  }
  CHECK(seen.size() == 40);
}
