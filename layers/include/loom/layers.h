#pragma once
/// Every layer in layers/: `#include <loom/layers.h>` beside `<loom/loom.h>`.
#include "loom/layers/attention.h"
#include "loom/layers/dropout.h"
#include "loom/layers/embedding.h"
#include "loom/layers/layer_norm.h"
#include "loom/layers/linear.h"
#include "loom/layers/sequential.h"
