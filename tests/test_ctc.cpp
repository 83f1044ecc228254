// CTC: the loss against alignments counted by hand, PyTorch's values and gradients, central
// differences and every kind of bad argument; the greedy and prefix beam search decoders on
// hand-made posteriors.
#include <cmath>
#include <map>

#include "test_util.h"
#include "torch_reference.h"

using loom::CtcLossOptions;
using loom::Dtype;
using loom::Reduction;
using loom::Tensor;
using loom_test::check_gradients;
using loom_test::input;
using loom_test::message_of;
using Inputs = std::vector<Tensor>;
using Labels = std::vector<std::int64_t>;

namespace {

Tensor labels(const Labels& values, const loom::Shape& shape = {}) {
  return loom::from_vector(values, shape.empty() ? loom::Shape{static_cast<std::int64_t>(values.size())} : shape);
}

// (T, 1, C) log-probabilities from per-frame probabilities.
Tensor log_of(const std::vector<std::vector<double>>& frames) {
  std::vector<double> flat;
  for (const auto& frame : frames)
    for (double p : frame) flat.push_back(std::log(p));
  return loom::from_vector(flat, {static_cast<std::int64_t>(frames.size()), 1,
                                  static_cast<std::int64_t>(frames[0].size())});
}

double loss_of(const Tensor& log_probs, const Labels& target, std::int64_t blank = 0) {
  return loom::ctc_loss(log_probs, labels(target), {log_probs.size(0)},
                        {static_cast<std::int64_t>(target.size())},
                        CtcLossOptions().set_blank(blank).set_reduction(Reduction::Sum))
      .item();
}

std::vector<std::int64_t> as_lengths(const Tensor& t) { return t.to(Dtype::Int64).to_vector<std::int64_t>(); }

}  // namespace

TEST_CASE("ctc_loss: the probability of every alignment, counted by hand") {
  // Two frames, p(blank) = 0.6 and p(a) = 0.4 in each: "a" is aa, a-, -a; "" is --.
  const Tensor two = log_of({{0.6, 0.4}, {0.6, 0.4}});
  CHECK(loss_of(two, {1}) == doctest::Approx(-std::log(0.4 * 0.4 + 0.4 * 0.6 + 0.6 * 0.4)).epsilon(1e-14));
  CHECK(loss_of(two, {}) == doctest::Approx(-std::log(0.36)).epsilon(1e-14));
  // A repeat needs a blank between its copies: "a a" in three frames has the one path a-a.
  const Tensor three = log_of({{0.5, 0.2, 0.3}, {0.1, 0.7, 0.2}, {0.3, 0.3, 0.4}});
  CHECK(loss_of(three, {1, 1}) == doctest::Approx(-std::log(0.2 * 0.1 * 0.3)).epsilon(1e-14));
  // A target as long as its input has one alignment: the labels themselves.
  CHECK(loss_of(three, {2, 1, 2}) == doctest::Approx(-std::log(0.3 * 0.7 * 0.4)).epsilon(1e-14));
  // "a b" in three frames: ab-, a-b, -ab, aab, abb.
  const double ab = 0.2 * 0.2 * 0.3 + 0.2 * 0.1 * 0.4 + 0.5 * 0.7 * 0.4 + 0.2 * 0.7 * 0.4 + 0.2 * 0.2 * 0.4;
  CHECK(loss_of(three, {1, 2}) == doctest::Approx(-std::log(ab)).epsilon(1e-14));
  // The blank last: class 2 is the blank, so "a b" is now classes 0 and 1.
  CHECK(loss_of(three, {0, 1}, 2) ==
        doctest::Approx(-std::log(0.5 * 0.7 * 0.4 + 0.5 * 0.2 * 0.3 + 0.5 * 0.7 * 0.3 +
                                  0.5 * 0.1 * 0.3 + 0.3 * 0.1 * 0.3)).epsilon(1e-14));
  // An infeasible pair ("a a" in two frames) is infinite, or zero with zero_infinity.
  const auto infeasible = [&](bool zero_infinity) {
    return loom::ctc_loss(two, labels({1, 1}), {2}, {2}, CtcLossOptions().set_zero_infinity(zero_infinity)).item();
  };
  CHECK(std::isinf(infeasible(false)));
  CHECK(infeasible(true) == 0.0);
  // So is a target longer than its input ("a b a b" in three frames), as in PyTorch: not an error.
  const auto too_long = [&](bool zero_infinity) {
    return loom::ctc_loss(three, labels({1, 2, 1, 2}), {3}, {4}, CtcLossOptions().set_zero_infinity(zero_infinity)).item();
  };
  CHECK(std::isinf(too_long(false)));
  CHECK(too_long(true) == 0.0);
}

TEST_CASE("ctc_loss: reductions, padded and concatenated targets, frames past the input length") {
  const Tensor log_probs = loom::log_softmax(input({6, 3, 5}, 1), 2);
  const std::vector<std::int64_t> input_lengths{6, 4, 3}, target_lengths{3, 1, 0};
  const Tensor padded = labels({1, 2, 2, 4, 9, 9, 9, 9, 9}, {3, 3});  // 9: padding, never read
  const Tensor concatenated = labels({1, 2, 2, 4});
  const auto loss = [&](const Tensor& targets, Reduction reduction) {
    return loom::ctc_loss(log_probs, targets, input_lengths, target_lengths,
                          CtcLossOptions().set_reduction(reduction)).to_vector<double>();
  };
  const auto each = loss(padded, Reduction::None);
  REQUIRE(each.size() == 3);
  CHECK(each == loss(concatenated, Reduction::None));
  CHECK(each[1] == doctest::Approx(loss_of(log_probs.narrow(1, 1, 1).narrow(0, 0, 4), {4})).epsilon(1e-14));
  CHECK(loss(padded, Reduction::Sum)[0] == doctest::Approx(each[0] + each[1] + each[2]).epsilon(1e-14));
  // mean divides by the target lengths (1 for the empty target), then averages
  CHECK(loss(padded, Reduction::Mean)[0] == doctest::Approx((each[0] / 3 + each[1] + each[2]) / 3).epsilon(1e-14));
  // the tensor form of the lengths gives the same
  CHECK(loom::ctc_loss(log_probs, padded, labels(input_lengths), labels(target_lengths),
                       CtcLossOptions().set_reduction(Reduction::None)).to_vector<double>() == each);
  // The gradient is minus each frame's class posteriors, which sum to 1, times the sequence's
  // share of the mean, 1 / (3 * target length); none reaches the frames past the input length.
  const Tensor x = log_probs.detach().requires_grad_();
  loom::ctc_loss(x, padded, input_lengths, target_lengths).backward();
  const auto grad = x.grad().to_vector<double>();
  for (std::int64_t t = 0; t < 6; ++t)
    for (std::int64_t b = 0; b < 3; ++b) {
      CAPTURE(t);
      CAPTURE(b);
      double frame_sum = 0;
      for (std::int64_t c = 0; c < 5; ++c) frame_sum += grad[static_cast<std::size_t>((t * 3 + b) * 5 + c)];
      const double share = 1.0 / (3.0 * static_cast<double>(std::max<std::int64_t>(target_lengths[b], 1)));
      CHECK(frame_sum == doctest::Approx(t < input_lengths[b] ? -share : 0.0).epsilon(1e-12));
    }
}

TEST_CASE("ctc_loss agrees with torch.nn.functional.ctc_loss") {
  static const auto ref = loom_test::torch_reference("ctc.py");
  if (ref.empty()) return;
  const Tensor scores = ref.at("scores"), gout = ref.at("gout");
  const auto input_lengths = as_lengths(ref.at("input_lengths"));
  const auto target_lengths = as_lengths(ref.at("target_lengths"));
  const Tensor padded = ref.at("targets").to(Dtype::Int64);
  Labels flat;
  for (std::size_t b = 0; b < target_lengths.size(); ++b)
    for (std::int64_t i = 0; i < target_lengths[b]; ++i)
      flat.push_back(padded.select(0, static_cast<std::int64_t>(b)).to_vector<std::int64_t>()[static_cast<std::size_t>(i)]);
  for (const auto& [blank_name, blank] : {std::pair{"first", 0}, std::pair{"last", 5}}) {
    for (bool zero_infinity : {false, true}) {
      for (const auto& [reduction_name, reduction] :
           {std::pair{"none", Reduction::None}, std::pair{"mean", Reduction::Mean}, std::pair{"sum", Reduction::Sum}}) {
        for (const Tensor& targets : {padded, labels(flat)}) {
          const std::string name = std::string(blank_name) + (zero_infinity ? ".zero." : ".inf.") + reduction_name;
          CAPTURE(name);
          CAPTURE(targets.dim());
          const Tensor x = scores.detach().requires_grad_();
          const auto options = CtcLossOptions().set_blank(blank).set_reduction(reduction).set_zero_infinity(zero_infinity);
          const Tensor loss = loom::ctc_loss(loom::log_softmax(x, 2), targets, input_lengths, target_lengths, options);
          (reduction == Reduction::None ? loom::sum(loss * gout) : loss).backward();
          // the infinite losses (and NaN gradients) where PyTorch has them, the rest within 1e-8
          const auto ours = loss.to_vector<double>(), theirs = ref.at(name + ".loss").to_vector<double>();
          REQUIRE(ours.size() == theirs.size());
          for (std::size_t i = 0; i < ours.size(); ++i)
            CHECK((std::isinf(theirs[i]) ? ours[i] == theirs[i] : std::abs(ours[i] - theirs[i]) < 1e-8));
          const auto grad = x.grad().to_vector<double>(), torch_grad = ref.at(name + ".grad").to_vector<double>();
          std::size_t nans = 0;
          for (std::size_t i = 0; i < grad.size(); ++i) {
            nans += std::isnan(torch_grad[i]);
            CHECK((std::isnan(torch_grad[i]) ? std::isnan(grad[i]) : std::abs(grad[i] - torch_grad[i]) < 1e-8));
          }
          CHECK(nans == (zero_infinity ? 0 : 2 * 2 * 6));  // the infeasible pairs' 2 frames each, unless zeroed
        }
      }
    }
  }
  // float32 follows within float32's precision
  const Tensor x32 = scores.to(Dtype::Float32).detach().requires_grad_();
  const Tensor loss32 = loom::ctc_loss(loom::log_softmax(x32, 2), padded, input_lengths, target_lengths,
                                       CtcLossOptions().set_zero_infinity(true));
  loss32.backward();
  CHECK(loss32.dtype() == Dtype::Float32);
  CHECK(loss32.item() == doctest::Approx(ref.at("first.zero.mean.loss").item()).epsilon(1e-6));
  CHECK(loom_test::max_abs_diff(x32.grad(), ref.at("first.zero.mean.grad")) < 1e-6);
}

TEST_CASE("ctc_loss: gradients match central differences") {
  // Unnormalised log_probs: the gradient is with respect to log_probs itself, log_softmax or not.
  const Tensor padded = labels({1, 1, 2, 3, 3, 2, 0, 0, 1, 2, 0, 0}, {3, 4});  // repeats and a short one
  const std::vector<std::int64_t> input_lengths{8, 6, 5}, target_lengths{4, 2, 2};
  for (auto reduction : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    CAPTURE(static_cast<int>(reduction));
    auto options = CtcLossOptions().set_reduction(reduction);
    check_gradients([&](const Inputs& in) { return loom::ctc_loss(in[0], padded, input_lengths, target_lengths, options); },
                    {input({8, 3, 5}, 2)});
    check_gradients(
        [&](const Inputs& in) {
          return loom::ctc_loss(loom::log_softmax(in[0], 2), padded, input_lengths, target_lengths, options);
        },
        {input({8, 3, 5}, 3)});
    // blank last: labels 0..3 (0 is now a label); an infeasible pair, zeroed, adds nothing
    const Tensor with_zero = labels({0, 0, 1, 2, 3, 3, 0, 0, 1, 1, 0, 0}, {3, 4});
    options.set_blank(4).set_zero_infinity(true);
    check_gradients([&](const Inputs& in) {
      return loom::ctc_loss(in[0], with_zero, std::vector<std::int64_t>{8, 6, 2}, target_lengths, options);
    }, {input({8, 3, 5}, 4)});
  }
}

TEST_CASE("ctc_loss: the same bits whatever the number of threads") {
  // 64 sequences of 60 frames with targets up to 15 labels: the batch is split between threads
  loom::Generator generator(5);
  const Tensor scores = loom::randn({60, 64, 12}, Dtype::Float32, &generator);
  Labels flat;
  std::vector<std::int64_t> input_lengths, target_lengths;
  for (std::int64_t b = 0; b < 64; ++b) {
    input_lengths.push_back(40 + b % 21);
    target_lengths.push_back(1 + b % 15);
    for (std::int64_t i = 0; i < target_lengths.back(); ++i) flat.push_back(1 + (b * 7 + i * (i % 3)) % 11);
  }
  const int threads_before = loom::get_num_threads();
  std::map<int, std::pair<std::vector<float>, std::vector<float>>> results;  // threads -> loss, gradient
  for (int threads : {1, 3}) {
    loom::set_num_threads(threads);
    const Tensor x = scores.detach().requires_grad_();
    const Tensor loss = loom::ctc_loss(loom::log_softmax(x, 2), labels(flat), input_lengths, target_lengths);
    loss.backward();
    results[threads] = {loss.to_vector<float>(), x.grad().to_vector<float>()};
  }
  loom::set_num_threads(threads_before);
  CHECK(std::isfinite(results[1].first[0]));
  CHECK(results[1] == results[3]);
}

TEST_CASE("ctc_loss: bad arguments are typed errors naming what was expected") {
  const Tensor log_probs = loom::log_softmax(input({4, 2, 3}, 6), 2);
  const Tensor targets = labels({1, 2, 2, 1}, {2, 2});
  const std::vector<std::int64_t> lengths{4, 3}, target_lengths{2, 1};
  const auto run = [&](const Tensor& lp, const Tensor& t, std::vector<std::int64_t> in,
                       std::vector<std::int64_t> out, std::int64_t blank = 0) {
    return [=] { loom::ctc_loss(lp, t, in, out, CtcLossOptions().set_blank(blank)); };
  };
  using loom::DtypeError;
  using loom::IndexError;
  using loom::ShapeError;
  using loom::ValueError;
  CHECK(message_of<ShapeError>(run(log_probs.reshape({4, 6}), targets, lengths, target_lengths)) ==
        "ctc_loss: expected log_probs of shape (T, B, C), got (4, 6)");
  CHECK(message_of<DtypeError>(run(targets, targets, lengths, target_lengths)) ==
        "ctc_loss: expected a float32 or float64 tensor, got int64");
  CHECK(message_of<DtypeError>(run(log_probs, log_probs, lengths, target_lengths)) ==
        "ctc_loss: expected int64 indices, got float64");
  CHECK(message_of<IndexError>(run(log_probs, targets, lengths, target_lengths, 3)) ==
        "ctc_loss: blank 3 is out of range for 3 classes");
  CHECK(message_of<ValueError>(run(log_probs, targets, lengths, target_lengths, 2)) ==
        "ctc_loss: label 2 at position 1 of target 0 is the blank");
  CHECK(message_of<IndexError>(run(log_probs, labels({1, 3, 2, 1}, {2, 2}), lengths, target_lengths)) ==
        "ctc_loss: label 3 at position 1 of target 0 is out of range for 3 classes");
  CHECK(message_of<ShapeError>(run(log_probs, targets, {4}, target_lengths)) ==
        "ctc_loss: expected 2 input lengths for log_probs (4, 2, 3), got 1");
  CHECK(message_of<ShapeError>(run(log_probs, targets, lengths, {2})) ==
        "ctc_loss: expected 2 target lengths (one per sequence), got 1");
  CHECK(message_of<ValueError>(run(log_probs, targets, {5, 3}, target_lengths)) ==
        "ctc_loss: input length 5 of sequence 0 is out of range [1, 4]");
  CHECK(message_of<ValueError>(run(log_probs, targets, {4, 0}, {2, 0})) ==
        "ctc_loss: input length 0 of sequence 1 is out of range [1, 4]");
  CHECK(message_of<ValueError>(run(log_probs, targets, lengths, {2, -1})) ==
        "ctc_loss: target length -1 of sequence 1 is negative");
  CHECK(message_of<ShapeError>(run(log_probs, targets, lengths, {3, 1})) ==
        "ctc_loss: expected padded targets of shape (2, S) with S >= the longest target length 3, got (2, 2)");
  CHECK(message_of<ShapeError>(run(log_probs, labels({1, 2, 2, 1}), lengths, target_lengths)) ==
        "ctc_loss: expected concatenated targets of shape (3,) (the sum of the target lengths), got (4,)");
  CHECK(message_of<ShapeError>(run(log_probs, labels({1, 2, 2, 1}, {2, 1, 2}), lengths, target_lengths)) ==
        "ctc_loss: expected targets padded (B, S) or concatenated (N,), got (2, 1, 2)");
  CHECK(message_of<ValueError>(run(loom::zeros({0, 2, 3}), targets, lengths, target_lengths)) ==
        "ctc_loss: expected at least one frame and one sequence, got log_probs (0, 2, 3)");
  CHECK(message_of<DtypeError>([&] {
          loom::ctc_loss(log_probs, targets, loom::from_vector(std::vector<double>{4, 3}), labels(target_lengths));
        }) == "ctc_loss: expected int64 indices, got float64");
  CHECK(message_of<ShapeError>([&] {
          loom::ctc_loss(log_probs, targets, labels(lengths, {1, 2}), labels(target_lengths));
        }) == "ctc_loss: expected input_lengths of shape (B), got (1, 2)");
}

TEST_CASE("ctc decoders: greedy takes the best path, beam search the best labelling") {
  // Each frame 0.6 blank, 0.4 "a": the best path is "--" (0.36) but "a" has 0.64 over its three.
  const Tensor two = log_of({{0.6, 0.4}, {0.6, 0.4}});
  const auto greedy = loom::ctc_greedy_decode(two, {2});
  REQUIRE(greedy.size() == 1);
  CHECK(greedy[0].labels.empty());
  CHECK(greedy[0].log_prob == doctest::Approx(std::log(0.36)).epsilon(1e-14));
  const auto beams = loom::ctc_beam_search(two, {2}, loom::CtcBeamSearchOptions().set_beam_width(4));
  REQUIRE(beams.size() == 1);
  REQUIRE(beams[0].size() == 2);
  CHECK(beams[0][0].labels == Labels{1});
  CHECK(beams[0][0].log_prob == doctest::Approx(std::log(0.64)).epsilon(1e-14));
  CHECK(beams[0][1].labels.empty());
  CHECK(beams[0][1].log_prob == doctest::Approx(std::log(0.36)).epsilon(1e-14));
  // a beam of one keeps "" after the first frame and never finds "a"
  const auto narrow = loom::ctc_beam_search(two, {2}, loom::CtcBeamSearchOptions().set_beam_width(1));
  REQUIRE(narrow[0].size() == 1);
  CHECK(narrow[0][0].labels.empty());

  // Merging: a a - a b b - (blank last, 3) reads "a a b"; frames past the input length are ignored.
  const double hi = 0.9, lo = 0.1 / 3;
  const auto frame = [&](int best) {
    std::vector<double> p(4, lo);
    p[static_cast<std::size_t>(best)] = hi;
    return p;
  };
  const Tensor path = log_of({frame(0), frame(0), frame(3), frame(0), frame(1), frame(1), frame(3), frame(2)});
  const auto merged = loom::ctc_greedy_decode(path, {7}, 3);
  CHECK(merged[0].labels == Labels{0, 0, 1});
  CHECK(merged[0].log_prob == doctest::Approx(7 * std::log(hi)).epsilon(1e-14));
  const auto searched = loom::ctc_beam_search(path, {7}, loom::CtcBeamSearchOptions().set_blank(3));
  CHECK(searched[0][0].labels == Labels{0, 0, 1});
  CHECK(loom::ctc_greedy_decode(path, {8}, 3)[0].labels == Labels{0, 0, 1, 2});

  // ctc_best_labels: beam 1 is the best path (""), a wider beam the best labelling ("a").
  CHECK(loom::ctc_best_labels(two, {2}, 1) == std::vector<Labels>{Labels{}});
  CHECK(loom::ctc_best_labels(two, {2}, 4) == std::vector<Labels>{Labels{1}});
  CHECK(loom::ctc_best_labels(path, {7}, 1, 3) == std::vector<Labels>{Labels{0, 0, 1}});
}

TEST_CASE("ctc_beam_search: with room for every prefix, each score is the CTC likelihood") {
  // Over 2 labels, 5 frames allow 25 labellings (a repeat costs a frame: "a a b" fits, "a a b b"
  // does not) and 3 frames 9, all kept by a beam of 100, so the search is exact.
  const Tensor log_probs = loom::log_softmax(input({5, 2, 3}, 7), 2).detach();
  const auto beams = loom::ctc_beam_search(log_probs, {5, 3}, loom::CtcBeamSearchOptions().set_beam_width(100));
  REQUIRE(beams.size() == 2);
  CHECK(beams[0].size() == 1 + 2 + 4 + 8 + 8 + 2);
  CHECK(beams[1].size() == 1 + 2 + 4 + 2);
  for (std::int64_t b = 0; b < 2; ++b) {
    const Tensor sequence = log_probs.narrow(1, b, 1).narrow(0, 0, b == 0 ? 5 : 3);
    double total = 0;
    for (const auto& hypothesis : beams[static_cast<std::size_t>(b)]) {
      CHECK(hypothesis.log_prob == doctest::Approx(-loss_of(sequence, hypothesis.labels)).epsilon(1e-12));
      total += std::exp(hypothesis.log_prob);
    }
    CHECK(total == doctest::Approx(1.0).epsilon(1e-12));  // the labellings partition the paths
    for (std::size_t i = 1; i < beams[static_cast<std::size_t>(b)].size(); ++i)
      CHECK(beams[static_cast<std::size_t>(b)][i - 1].log_prob >= beams[static_cast<std::size_t>(b)][i].log_prob);
  }
  CHECK(message_of<loom::ValueError>([&] {
          loom::ctc_beam_search(log_probs, {5, 3}, loom::CtcBeamSearchOptions().set_beam_width(0));
        }) == "ctc_beam_search: beam_width must be at least 1, got 0");
  CHECK(message_of<loom::IndexError>([&] { loom::ctc_greedy_decode(log_probs, {5, 3}, -1); }) ==
        "ctc_greedy_decode: blank -1 is out of range for 3 classes");
}
