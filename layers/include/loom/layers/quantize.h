#pragma once
/// Dynamic int8 quantization for inference, as torch.ao.quantization.quantize_dynamic: the
/// weights of every Linear, Embedding, LSTM and GRU in a model are quantized once to int8 (per
/// output channel; embedding tables per row), the activations at each call (per row, and h_t at
/// every time step), the products summed exactly in int32 by AVX2 kernels, or AVX-512 VNNI ones
/// where the CPU has them (chosen at run time; the same bits).
///
///     loom::load(model, "best.safetensors");
///     loom::quantize_dynamic(model);          // now in eval mode, int8 from here on
///     auto logits = model.forward(ids);       // faster; within ~2% of the float outputs
///
/// Inference only: the quantized modules refuse training mode (ValueError) and backward
/// (AutogradError). Their float parameters stay, so the model still saves as before; to train
/// again, load the float checkpoint into a fresh model. Needs float32 parameters (DtypeError
/// otherwise); RNN layers and the other modules keep running in float.
#include <cstdint>

#include "loom/module.h"

namespace loom {

/// Quantizes the Linear, Embedding, LSTM and GRU modules of `module` and its descendants (those
/// not quantized yet) and puts the whole tree in eval mode. Returns how many it quantized.
std::int64_t quantize_dynamic(Module& module);

}  // namespace loom
