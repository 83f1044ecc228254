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

// ---- sequence metrics ---------------------------------------------------------------------------
namespace {
loom::data::Tokens words(const std::string& text) {
  loom::data::Tokens out;
  std::string word;
  for (char c : text + " ")
    if (c == ' ') {
      if (!word.empty()) out.push_back(word), word.clear();
    } else {
      word += c;
    }
  return out;
}
}  // namespace

TEST_CASE("edit distance, token error rate and exact match against hand counts") {
  using loom::data::edit_distance;
  CHECK(edit_distance(words("k i t t e n"), words("s i t t i n g")) == 3);  // 2 substitutions, 1 insertion
  CHECK(edit_distance(words(""), words("a b c")) == 3);
  CHECK(edit_distance(words("a b c"), words("a b c")) == 0);
  CHECK(edit_distance(Ids{1, 2, 3, 4}, Ids{2, 3, 4, 5}) == 2);  // delete the 1, insert the 5
  // 1 deletion (reference of 4 phones) + 1 substitution (of 3): 2 / 7.
  const std::vector<loom::data::Tokens> hyp = {words("K AE T"), words("D AA G")}, ref = {words("K AE T S"), words("D AO G")};
  CHECK(loom::data::token_error_rate(hyp, ref) == doctest::Approx(2.0 / 7.0));
  CHECK(loom::data::exact_match(hyp, ref) == 0.0);
  CHECK(loom::data::exact_match({words("a b"), words("c")}, {words("a b"), words("d")}) == 0.5);
  CHECK_THROWS_AS(loom::data::token_error_rate({words("a")}, {}), loom::ValueError);
  CHECK_THROWS_AS(loom::data::token_error_rate({words("a")}, {words("")}), loom::ValueError);
  // The same over ids (a digit reader): 4 4 5 6 for 4 7 is a substitution and two extra digits, 3 / 5.
  const std::vector<Ids> read = {Ids{1, 2, 3}, Ids{4, 4, 5, 6}}, digits = {Ids{1, 2, 3}, Ids{4, 7}};
  CHECK(loom::data::token_error_rate(read, digits) == doctest::Approx(3.0 / 5.0));
  CHECK(loom::data::exact_match(read, digits) == 0.5);
  CHECK_THROWS_AS(loom::data::exact_match(read, {Ids{1}}), loom::ValueError);
}

TEST_CASE("corpus BLEU: clipped n-gram precisions, brevity penalty, corpus sums (hand-computed)") {
  using loom::data::corpus_bleu;
  // p1 = 5/6 (both "the"s match), p2 = 3/5, p3 = 1/4, p4 = 0/3; same length, BP = 1.
  const auto hyp = words("the cat sat on the mat"), ref = words("the cat is on the mat");
  const auto bleu4 = corpus_bleu({hyp}, {ref});
  CHECK(bleu4.precisions[0] == doctest::Approx(5.0 / 6.0));
  CHECK(bleu4.precisions[1] == doctest::Approx(3.0 / 5.0));
  CHECK(bleu4.precisions[2] == doctest::Approx(1.0 / 4.0));
  CHECK(bleu4.precisions[3] == 0.0);
  CHECK(bleu4.score == 0.0);  // no 4-gram matches and no smoothing
  CHECK(bleu4.brevity_penalty == 1.0);
  CHECK(corpus_bleu({hyp}, {ref}, 3).score == doctest::Approx(0.5));           // (5/6 * 3/5 * 1/4)^(1/3)
  CHECK(corpus_bleu({hyp}, {ref}, 2).score == doctest::Approx(std::sqrt(0.5)));  // (5/6 * 3/5)^(1/2)
  // Too short: p1 = p2 = 1, BP = exp(1 - 6/2).
  const auto short_one = corpus_bleu({words("the cat")}, {words("the cat sat on the mat")}, 2);
  CHECK(short_one.brevity_penalty == doctest::Approx(std::exp(-2.0)));
  CHECK(short_one.score == doctest::Approx(std::exp(-2.0)));
  // Clipping: "the" counts once, as often as the reference has it.
  CHECK(corpus_bleu({words("the the the the")}, {words("the cat")}, 1).score == doctest::Approx(0.25));
  // Corpus-level: counts are summed before dividing (9/10, 6/8, 3/6, 1/4), not averaged per sentence.
  const auto corpus = corpus_bleu({words("a b c d"), hyp}, {words("a b c d"), ref});
  CHECK(corpus.score == doctest::Approx(std::pow(0.9 * 0.75 * 0.5 * 0.25, 0.25)));
  CHECK(corpus.hypothesis_length == 10);
  // Several references: clip by the most any one has; r = the closest length, the shorter on a tie.
  using References = std::vector<std::vector<loom::data::Tokens>>;
  const auto multi = corpus_bleu({words("a a b")}, References{{words("a b c d"), words("a a")}}, 1);
  CHECK(multi.precisions[0] == doctest::Approx(1.0));
  CHECK(multi.reference_length == 2);  // |3-4| = |3-2|: the shorter
  const auto far = corpus_bleu({words("a b c")}, References{{words("a b c d e"), words("a b c d e f g")}}, 1);
  CHECK(far.brevity_penalty == doctest::Approx(std::exp(1.0 - 5.0 / 3.0)));
  CHECK(corpus_bleu({words("x y z w")}, {words("x y z w")}).score == doctest::Approx(1.0));
  CHECK_THROWS_AS(corpus_bleu({hyp}, {ref}, 5), loom::ValueError);
  CHECK_THROWS_AS(corpus_bleu({hyp}, References{{}}), loom::ValueError);
}

TEST_CASE("13a tokenisation follows mteval-v13a's rules (expected tokens checked against sacreBLEU's regexes)") {
  using loom::data::tokenize_13a;
  using Tokens = loom::data::Tokens;
  CHECK(tokenize_13a("Hello, world.") == Tokens{"Hello", ",", "world", "."});
  // Periods and commas between digits stay; a dash after a digit splits; non-ASCII marks stay on the word.
  CHECK(tokenize_13a("¿Quién dijo: \"3.5-4,0\"?") == Tokens{"¿Quién", "dijo", ":", "\"", "3.5", "-", "4,0", "\"", "?"});
  CHECK(tokenize_13a("It costs $3,000.50 (approx.)") == Tokens{"It", "costs", "$", "3,000.50", "(", "approx", ".", ")"});
  CHECK(tokenize_13a("3.14, pi. 5,0-1") == Tokens{"3.14", ",", "pi", ".", "5,0", "-", "1"});
  CHECK(tokenize_13a("well-known 1990-2000") == Tokens{"well-known", "1990", "-", "2000"});
  CHECK(tokenize_13a("e.g., a.b") == Tokens{"e", ".", "g", ".", ",", "a", ".", "b"});
  CHECK(tokenize_13a("«Sí», dijo él.") == Tokens{"«Sí»", ",", "dijo", "él", "."});
  // Entities, <skipped> and hyphenated line breaks.
  CHECK(tokenize_13a("A&amp;B &lt;tag&gt; x&quot;y") == Tokens{"A", "&", "B", "<", "tag", ">", "x", "\"", "y"});
  CHECK(tokenize_13a("<skipped>end-\nof line\nnext") == Tokens{"endof", "line", "next"});
  CHECK(tokenize_13a("a_b|c~d[e]f^g`h\\i{j}k@l#m=n+o*p/q") ==
        Tokens{"a", "_", "b", "|", "c", "~", "d", "[", "e", "]", "f", "^", "g", "`", "h", "\\", "i",
               "{", "j", "}", "k", "@", "l", "#", "m", "=", "n", "+", "o", "*", "p", "/", "q"});
  CHECK(tokenize_13a("  \t ").empty());
}

TEST_CASE("corpus BLEU 13a on detokenised text and corpus chrF (hand-computed)") {
  using loom::data::corpus_bleu_13a;
  using loom::data::corpus_chrf;
  // Tokens: "El perro come carne ." twice (5/5, 4/4, 3/3, 2/2 matches); "Un gato , duerme ." against
  // "El gato duerme ." (3/5, 1/4, 0/3, 0/2). Corpus: 8/10, 5/8, 3/6, 2/4; c = 10 > r = 9, BP 1.
  const auto bleu = corpus_bleu_13a({"El perro come carne.", "Un gato, duerme."},
                                    {"El perro come carne.", "El gato duerme."});
  CHECK(bleu.precisions[0] == doctest::Approx(0.8));
  CHECK(bleu.precisions[1] == doctest::Approx(0.625));
  CHECK(bleu.precisions[2] == doctest::Approx(0.5));
  CHECK(bleu.precisions[3] == doctest::Approx(0.5));
  CHECK(bleu.hypothesis_length == 10);
  CHECK(bleu.reference_length == 9);
  CHECK(bleu.score == doctest::Approx(std::pow(0.8 * 0.625 * 0.5 * 0.5, 0.25)));  // 0.594604
  CHECK(corpus_bleu_13a({"a b c d."}, {"a b c d ."}).score == doctest::Approx(1.0));  // the period splits either way
  CHECK_THROWS_AS(corpus_bleu_13a({"a"}, {}), loom::ValueError);
  // sacreBLEU's "exp" smoothing: "a b c d" against "a b x c d" matches 4/4, 2/3, 0/2, 0/1; the two
  // orders without a match count 1 / (2 * 2) and 1 / (4 * 1); c = 4 < r = 5, BP exp(-1/4). Unsmoothed
  // corpus_bleu gives 0, which left a translate run's learning-rate plateau halving at every epoch.
  const auto smoothed = corpus_bleu_13a({"a b c d"}, {"a b x c d"});
  CHECK(smoothed.score == doctest::Approx(std::exp(-0.25) * std::pow(2.0 / 3.0 * 0.25 * 0.25, 0.25)));  // 0.351863
  CHECK(smoothed.precisions[2] == 0.0);
  CHECK(loom::data::corpus_bleu(std::vector<loom::data::Tokens>{{"a", "b", "c", "d"}},
                                std::vector<loom::data::Tokens>{{"a", "b", "x", "c", "d"}}).score == 0.0);
  CHECK(corpus_bleu_13a({"x y"}, {"a b c"}).score == 0.0);  // no match at all, nothing to smooth from
  CHECK(corpus_bleu_13a({"a"}, {"a b"}).score == 0.0);      // no 2-grams in the hypothesis: 0, as sacreBLEU

  // chrF: "ab" against "abc": 1-grams 2 / 3 / 2 matches (P 1, R 2/3), 2-grams 1 / 2 / 1 (P 1, R 1/2),
  // longer orders absent from the hypothesis. P = 1, R = 7/12, F2 = 5 P R / (4 P + R) = 7/11.
  CHECK(corpus_chrf({"ab"}, {"abc"}) == doctest::Approx(7.0 / 11.0));
  // Whitespace is removed: "a b" reads as "ab".
  CHECK(corpus_chrf({"a b"}, {"abc"}) == doctest::Approx(7.0 / 11.0));
  // Over a corpus the counts add up: with "xy" / "xy", 1-grams 4 / 5 / 4, 2-grams 2 / 3 / 2:
  // P = 1, R = (4/5 + 2/3) / 2 = 11/15, F2 = 55/71.
  CHECK(corpus_chrf({"ab", "xy"}, {"abc", "xy"}) == doctest::Approx(55.0 / 71.0));
  // Code points, not bytes: "añb" / "anb" share a and b (2 of 3), no 2- or 3-gram: P = R = 2/9.
  CHECK(corpus_chrf({"añb"}, {"anb"}) == doctest::Approx(2.0 / 9.0));
  // beta 1 weighs precision and recall alike: P 1, R 7/12 -> 2 * 7/12 / (1 + 7/12) = 14/19.
  CHECK(corpus_chrf({"ab"}, {"abc"}, 6, 1.0) == doctest::Approx(14.0 / 19.0));
  // Clipped: "aaaa" against "a" matches one 1-gram: P 1/4, R 1 -> 5 * 1/4 / (1 + 1) = 5/8.
  CHECK(corpus_chrf({"aaaa"}, {"a"}) == doctest::Approx(0.625));
  CHECK(corpus_chrf({"xyz"}, {"abc"}) == 0.0);
  CHECK(corpus_chrf({"ñu"}, {"ñu"}) == doctest::Approx(1.0));
  CHECK(loom_test::message_of<loom::ValueError>([] { corpus_chrf({"a\xff"}, {"a"}); }).find("invalid byte at offset 1") !=
        std::string::npos);
  CHECK_THROWS_AS(corpus_chrf({"a"}, {"a"}, 0), loom::ValueError);
  CHECK_THROWS_AS(corpus_chrf({"a", "b"}, {"a"}), loom::ValueError);
}
