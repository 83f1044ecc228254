#pragma once
/// Loom's core alone (tensors, ops, autograd, Module, checkpoints): `#include <loom/core.h>`.
/// `<loom/loom.h>` is all of Loom: the core, layers, models, optim and data.
#include "loom/autograd.h"
#include "loom/conv_ops.h"
#include "loom/ctc.h"
#include "loom/errors.h"
#include "loom/gradcheck.h"
#include "loom/indexing.h"
#include "loom/init.h"
#include "loom/io.h"
#include "loom/module.h"
#include "loom/ops.h"
#include "loom/options.h"
#include "loom/random.h"
#include "loom/runtime.h"
#include "loom/serialization.h"
#include "loom/tensor.h"
#include "loom/version.h"
