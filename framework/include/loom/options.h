#pragma once
/// LOOM_ARG declares one option of an options struct: a private member, a chainable setter and
/// a getter, as PyTorch's TORCH_ARG does, so options read as
///
///     auto options = loom::LSTMOptions(64, 128).num_layers(2).bidirectional(true);
///     options.num_layers();  // 2
#define LOOM_ARG(type, name, default_value)            \
 public:                                               \
  auto& name(const type& value) {                      \
    name##_ = value;                                   \
    return *this;                                      \
  }                                                    \
  const type& name() const { return name##_; }         \
                                                       \
 private:                                              \
  type name##_ = default_value;                        \
                                                       \
 public:
