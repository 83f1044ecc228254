#pragma once
/// Every model in models/: `#include <loom/models.h>` (or `<loom/loom.h>`: all of Loom).
#include "loom/models/char_lm.h"
#include "loom/models/decoding.h"
#include "loom/models/forecaster.h"
#include "loom/models/image_captioner.h"
#include "loom/models/sequence_classifier.h"
#include "loom/models/seq2seq.h"
#include "loom/models/sequence_tagger.h"
