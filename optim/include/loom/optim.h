#pragma once
/// Optimizers, clipping, schedulers and the training loop: `#include <loom/optim.h>`.
#include "loom/optim/clip.h"
#include "loom/optim/optimizer.h"
#include "loom/optim/optimizers.h"
#include "loom/optim/replicas.h"
#include "loom/optim/scheduler.h"
#include "loom/optim/trainer.h"
