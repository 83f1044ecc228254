#!/usr/bin/env python3
"""UCI Sentiment Labelled Sentences (Kotzias et al., KDD 2015; CC BY 4.0), as shipped in the test
fixtures of the npm package sentiment@5, to one TSV per source: `label TAB sentence` (1 = positive).

Usage: sentiment_tsv.py PKG_DIR OUTDIR      (PKG_DIR = node_modules/sentiment)
"""
import json
import os
import re
import sys

pkg, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
for source in ("amazon", "imdb", "yelp"):
    with open(os.path.join(pkg, "test", "fixtures", source + ".json"), encoding="utf-8") as f:
        rows = json.load(f)
    counts = {0: 0, 1: 0}
    with open(os.path.join(out, source + ".tsv"), "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            # Tabs and newlines inside a sentence become spaces, so a line is a row.
            text = re.sub(r"\s+", " ", row.get("text", "")).strip()
            if row.get("class") not in (0, 1) or not text:  # each file ends with an empty entry
                continue
            f.write(f"{row['class']}\t{text}\n")
            counts[row["class"]] += 1
    print(f"{source}.tsv: {counts[1]} positive, {counts[0]} negative")
