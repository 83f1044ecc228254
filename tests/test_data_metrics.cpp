// Metrics against numbers worked out by hand.
#include <loom/data/metrics.h>

#include <cmath>

#include "test_util.h"

using Ids = std::vector<std::int64_t>;

TEST_CASE("accuracy counts matches and skips ignored targets") {
  CHECK(loom::data::accuracy(Ids{0, 1, 2, 1}, Ids{0, 1, 1, 1}) == 0.75);
  CHECK(loom::data::accuracy(Ids{0, 1, 2, 1}, Ids{0, -100, 1, -100}) == 0.5);
  const auto predicted = loom::from_vector(Ids{1, 1, 0, 0, 1, 0}).reshape({2, 3});
  const auto target = loom::from_vector(Ids{1, 0, 0, 0, 1, -100}).reshape({2, 3});
  CHECK(loom::data::accuracy(predicted, target) == 0.8);
  CHECK_THROWS_AS(loom::data::accuracy(Ids{1}, Ids{1, 2}), loom::ValueError);
  CHECK_THROWS_AS(loom::data::accuracy(Ids{1}, Ids{-100}), loom::ValueError);
  CHECK_THROWS_AS(loom::data::accuracy(loom::zeros({2}), loom::zeros({2})), loom::DtypeError);
  CHECK_THROWS_AS(loom::data::accuracy(predicted, target.reshape({3, 2})), loom::ShapeError);
}

TEST_CASE("confusion matrix and per-class, macro and binary precision/recall/F1") {
  //            true: 0 0 0 1 1 2 2 2 2
  //       predicted: 0 0 1 1 2 2 2 0 2
  const Ids target = {0, 0, 0, 1, 1, 2, 2, 2, 2};
  const Ids predicted = {0, 0, 1, 1, 2, 2, 2, 0, 2};
  const auto report = loom::data::classification_report(predicted, target, 3);
  CHECK(report.confusion == std::vector<Ids>{{2, 1, 0}, {0, 1, 1}, {1, 0, 3}});
  CHECK(report.accuracy == doctest::Approx(6.0 / 9.0));
  // class 0: tp 2, fp 1, fn 1 -> p 2/3, r 2/3, f1 2/3
  CHECK(report.classes[0].precision == doctest::Approx(2.0 / 3.0));
  CHECK(report.classes[0].recall == doctest::Approx(2.0 / 3.0));
  CHECK(report.classes[0].f1 == doctest::Approx(2.0 / 3.0));
  CHECK(report.classes[0].support == 3);
  // class 1: tp 1, fp 1, fn 1 -> 1/2 each
  CHECK(report.classes[1].f1 == doctest::Approx(0.5));
  // class 2: tp 3, fp 1, fn 1 -> p 3/4, r 3/4
  CHECK(report.classes[2].precision == doctest::Approx(0.75));
  CHECK(report.classes[2].recall == doctest::Approx(0.75));
  CHECK(report.macro_precision == doctest::Approx((2.0 / 3.0 + 0.5 + 0.75) / 3.0));
  CHECK(report.macro_f1 == doctest::Approx((2.0 / 3.0 + 0.5 + 0.75) / 3.0));

  // Spam as the positive class: tp 2, fp 1, fn 2 -> p 2/3, r 1/2, f1 = 2 * (1/3) / (7/6) = 4/7.
  const auto spam = loom::data::binary_scores({1, 1, 1, 0, 0, 0}, {1, 1, 0, 1, 1, 0}, 1);
  CHECK(spam.precision == doctest::Approx(2.0 / 3.0));
  CHECK(spam.recall == doctest::Approx(0.5));
  CHECK(spam.f1 == doctest::Approx(4.0 / 7.0));
  CHECK(spam.support == 4);
  // Never predicting the class: precision and F1 are 0, not NaN.
  const auto never = loom::data::binary_scores({0, 0}, {1, 0}, 1);
  CHECK(never.precision == 0.0);
  CHECK(never.f1 == 0.0);
  CHECK_THROWS_AS(loom::data::confusion_matrix({3}, {0}, 3), loom::IndexError);
  CHECK(loom::data::confusion_matrix({2, 0}, {-100, 0}, 2) == std::vector<Ids>{{1, 0}, {0, 0}});
}

TEST_CASE("regression errors and perplexity") {
  const std::vector<double> predicted = {110, 90, 100, 50};
  const std::vector<double> target = {100, 100, 100, 40};
  // errors 10, -10, 0, 10
  CHECK(loom::data::rmse(predicted, target) == doctest::Approx(std::sqrt(300.0 / 4.0)));
  CHECK(loom::data::mae(predicted, target) == doctest::Approx(7.5));
  CHECK(loom::data::mape(predicted, target) == doctest::Approx(100.0 * (0.1 + 0.1 + 0.0 + 0.25) / 4.0));
  const auto p = loom::from_vector(std::vector<float>{110, 90, 100, 50});
  const auto t = loom::from_vector(std::vector<double>{100, 100, 100, 40});
  CHECK(loom::data::rmse(p, t) == doctest::Approx(std::sqrt(75.0)));
  CHECK(loom::data::mae(p, t) == doctest::Approx(7.5));
  CHECK(loom::data::mape(p, t) == doctest::Approx(11.25));
  CHECK_THROWS_AS(loom::data::mape({1.0}, {0.0}), loom::ValueError);
  CHECK_THROWS_AS(loom::data::rmse(std::vector<double>{}, std::vector<double>{}), loom::ValueError);

  CHECK(loom::data::perplexity(0.0) == 1.0);
  CHECK(loom::data::perplexity(std::log(50.0)) == doctest::Approx(50.0));
  CHECK_THROWS_AS(loom::data::perplexity(-1.0), loom::ValueError);
  CHECK_THROWS_AS(loom::data::perplexity(NAN), loom::ValueError);
}
