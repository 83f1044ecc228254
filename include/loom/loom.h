#pragma once
/// All of Loom, as <torch/torch.h> is all of PyTorch: the core (tensors, ops, autograd, Module,
/// checkpoints), layers, models, optimizers and the trainer, data. Narrower headers:
/// <loom/core.h>, <loom/layers.h>, <loom/models.h>, <loom/optim.h>, <loom/data.h>.
#include "loom/core.h"
#include "loom/data.h"
#include "loom/layers.h"
#include "loom/models.h"
#include "loom/optim.h"
