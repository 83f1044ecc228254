#pragma once
/// Containers: Sequential chains one-input modules; ModuleList holds any modules. Children are
/// named "0", "1", ... so parameters read "0.weight", "2.bias", as in PyTorch.
///
///     loom::Sequential mlp({std::make_shared<loom::Linear>(4, 16),
///                           std::make_shared<loom::Dropout>(),
///                           std::make_shared<loom::Linear>(16, 1)});
///     auto y = mlp(x);                       // (B, 4) -> (B, 1)
///
///     loom::ModuleList blocks;
///     for (int i = 0; i < 3; ++i) blocks.push_back(std::make_shared<loom::Linear>(8, 8));
///     for (auto& block : blocks) { ... }     // std::shared_ptr<loom::Module>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <vector>

#include "loom/module.h"

namespace loom {

class Sequential : public UnaryModule {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<std::shared_ptr<UnaryModule>> modules);

  /// Appends `module` as child "<size()>".
  void push_back(std::shared_ptr<UnaryModule> module);
  std::size_t size() const { return modules_.size(); }
  /// The module at `index`; IndexError when out of range.
  const std::shared_ptr<UnaryModule>& operator[](std::size_t index) const;

  /// Each module's output feeds the next; an empty Sequential returns its input.
  Tensor forward(const Tensor& input) override;

 private:
  std::vector<std::shared_ptr<UnaryModule>> modules_;
};

class ModuleList : public Module {
 public:
  using Iterator = std::vector<std::shared_ptr<Module>>::const_iterator;

  ModuleList() = default;
  ModuleList(std::initializer_list<std::shared_ptr<Module>> modules);

  /// Appends `module` as child "<size()>".
  void push_back(std::shared_ptr<Module> module);
  std::size_t size() const { return modules_.size(); }
  /// The module at `index`; IndexError when out of range.
  const std::shared_ptr<Module>& operator[](std::size_t index) const;
  Iterator begin() const { return modules_.begin(); }
  Iterator end() const { return modules_.end(); }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

}  // namespace loom
