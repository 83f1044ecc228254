// Predictions from a trained run folder in a program of your own, without the loom program:
//   ./build/loom train sentiment                 # writes runs/sentiment/
//   ./build/predict_run runs/sentiment "A wonderful, touching film." "Terrible battery."
// It loads the run once, classifies the texts, then classifies them again from 4 threads at
// once, as a server would, and checks that every thread got the same answers.
#include <loom/loom.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "run.h"  // loom::tools::TextClassifier (target loom_run)

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s RUN_DIR TEXT...\n", argv[0]);
    return 2;
  }
  const std::vector<std::string> texts(argv + 2, argv + argc);
  try {
    loom::set_num_threads(1);  // one BLAS thread per caller: the callers are the parallelism
    const auto classifier = loom::tools::TextClassifier::load(argv[1]);
    const auto predictions = classifier.predict(texts);
    for (std::size_t i = 0; i < texts.size(); ++i)
      std::printf("%s (%.2f)\t%s\n", predictions[i].label.c_str(), predictions[i].probability, texts[i].c_str());

    std::vector<std::vector<loom::tools::TextClassifier::Prediction>> answers(4);
    std::vector<std::thread> threads;
    for (auto& answer : answers) threads.emplace_back([&] { answer = classifier.predict(texts); });
    for (auto& thread : threads) thread.join();
    for (const auto& answer : answers)
      for (std::size_t i = 0; i < texts.size(); ++i)
        if (answer[i].label_id != predictions[i].label_id || answer[i].probability != predictions[i].probability) {
          std::fprintf(stderr, "a thread got a different answer for '%s'\n", texts[i].c_str());
          return 1;
        }
    std::printf("4 threads at once: the same answers\n");
  } catch (const loom::Error& e) {
    std::fprintf(stderr, "predict_run: %s\n", e.what());
    return 2;
  }
  return 0;
}
