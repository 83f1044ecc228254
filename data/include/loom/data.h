#pragma once
/// Data: vocabularies, tokenizers, padding and batching, loaders (CSV/TSV, IDX, time series,
/// the embedded sentiment sentences, spam mail; the checked fields they read), truecasing and metrics:
/// `#include <loom/data.h>`.
#include "loom/data/audio.h"
#include "loom/data/batching.h"
#include "loom/data/bible.h"
#include "loom/data/cmudict.h"
#include "loom/data/delimited.h"
#include "loom/data/fields.h"
#include "loom/data/files.h"
#include "loom/data/idx.h"
#include "loom/data/metrics.h"
#include "loom/data/pgm.h"
#include "loom/data/scenes.h"
#include "loom/data/sentiment.h"
#include "loom/data/spam.h"
#include "loom/data/timeseries.h"
#include "loom/data/tokenizer.h"
#include "loom/data/truecase.h"
#include "loom/data/utf8.h"
#include "loom/data/vocabulary.h"
