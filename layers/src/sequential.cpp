// Sequential and ModuleList: ordered children registered under their positions.
#include "loom/layers/sequential.h"

#include <fmt/format.h>

#include <string>

namespace loom {

namespace {
template <class M>
const std::shared_ptr<M>& at(const char* container, const std::vector<std::shared_ptr<M>>& modules,
                             std::size_t index) {
  if (index >= modules.size())
    throw IndexError(fmt::format("{}: index {} is out of range for {} modules", container, index,
                                 modules.size()));
  return modules[index];
}
}  // namespace

Sequential::Sequential(std::initializer_list<std::shared_ptr<UnaryModule>> modules) {
  for (const auto& module : modules) push_back(module);
}

void Sequential::push_back(std::shared_ptr<UnaryModule> module) {
  register_module(std::to_string(modules_.size()), module);  // throws on a null module
  modules_.push_back(std::move(module));
}

const std::shared_ptr<UnaryModule>& Sequential::operator[](std::size_t index) const {
  return at("Sequential", modules_, index);
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& module : modules_) x = module->forward(x);
  return x;
}

ModuleList::ModuleList(std::initializer_list<std::shared_ptr<Module>> modules) {
  for (const auto& module : modules) push_back(module);
}

void ModuleList::push_back(std::shared_ptr<Module> module) {
  register_module(std::to_string(modules_.size()), module);  // throws on a null module
  modules_.push_back(std::move(module));
}

const std::shared_ptr<Module>& ModuleList::operator[](std::size_t index) const {
  return at("ModuleList", modules_, index);
}

}  // namespace loom
