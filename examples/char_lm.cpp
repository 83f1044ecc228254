// A character-level language model (one-to-many generation): a CharLM learns a short rhyme,
// fed as 8 parallel streams in chunks of 32 characters with the LSTM state carried between
// chunks (truncated backpropagation through time), then writes text at two temperatures.
// Exits non-zero if the loss does not fall, so CI runs it as a test.
#include <loom/loom.h>
#include <loom/models.h>
#include <loom/optim/optimizers.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace {

// "The Star" by Jane Taylor (1806), public domain.
const char* kText =
    "Twinkle, twinkle, little star,\nHow I wonder what you are!\nUp above the world so high,\n"
    "Like a diamond in the sky.\nWhen the blazing sun is gone,\nWhen he nothing shines upon,\n"
    "Then you show your little light,\nTwinkle, twinkle, all the night.\nThen the traveller in "
    "the dark\nThanks you for your tiny spark;\nHe could not see which way to go,\nIf you did not "
    "twinkle so.\n";

}  // namespace

int main() {
  loom::manual_seed(1);
  const std::string text = std::string(kText) + kText;  // twice, so every stream has enough
  std::map<char, std::int64_t> id_of;
  std::string chars;
  for (char ch : text)
    if (id_of.emplace(ch, static_cast<std::int64_t>(chars.size())).second) chars += ch;
  const auto vocab = static_cast<std::int64_t>(chars.size());

  // 8 contiguous streams side by side: row b holds text[b * stream, (b + 1) * stream).
  const std::int64_t batch = 8, chunk = 32, stream = static_cast<std::int64_t>(text.size()) / batch;
  std::vector<std::int64_t> ids;
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = 0; t < stream; ++t) ids.push_back(id_of[text[b * stream + t]]);
  const loom::Tensor streams = loom::from_vector(ids, {batch, stream});  // (B, stream)

  loom::models::CharLM lm(loom::models::CharLMOptions(vocab).embedding_dim(32).hidden_size(128));
  loom::optim::Adam adam(lm.named_parameters(), loom::optim::AdamOptions(0.01));
  double epoch_loss = 0;
  for (int epoch = 1; epoch <= 25; ++epoch) {
    loom::models::CharLMState state;  // each epoch starts the streams from a zero state
    double total = 0;
    int chunks = 0;
    for (std::int64_t start = 0; start + 1 < stream; start += chunk, ++chunks) {
      const std::int64_t steps = std::min(chunk, stream - 1 - start);
      const loom::Tensor x = streams.narrow(1, start, steps),
                         y = streams.narrow(1, start + 1, steps);
      auto out = lm.forward(x, state);  // logits (B, T, V)
      auto loss = loom::cross_entropy(out.logits.reshape({-1, vocab}), y.reshape({-1}));
      state = out.state.detach();  // carry the state forward, but not the graph
      adam.zero_grad();
      loss.backward();
      adam.step();
      total += loss.item();
    }
    epoch_loss = total / chunks;
    if (epoch % 5 == 0) std::printf("epoch %d: loss %.3f\n", epoch, epoch_loss);
  }

  loom::Generator generator(42);
  for (double temperature : {0.5, 1.5}) {
    const auto drawn = lm.sample({id_of['T']}, 120, temperature, /*top_k=*/0, &generator);
    std::string sample = "T";
    for (auto id : drawn) sample += chars[static_cast<std::size_t>(id)];
    std::printf("\n--- temperature %.1f ---\n%s\n", temperature, sample.c_str());
  }
  return epoch_loss < 0.3 ? 0 : 1;  // an untrained model scores ln(35 characters) = 3.6
}
