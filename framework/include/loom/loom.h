#pragma once
/// The umbrella header: everything in Loom's core.
#include "loom/autograd.h"
#include "loom/conv_ops.h"
#include "loom/errors.h"
#include "loom/gradcheck.h"
#include "loom/init.h"
#include "loom/module.h"
#include "loom/ops.h"
#include "loom/options.h"
#include "loom/random.h"
#include "loom/runtime.h"
#include "loom/serialization.h"
#include "loom/tensor.h"
