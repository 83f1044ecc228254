#!/usr/bin/env python3
"""Verse-aligned English-Spanish Bible pairs from Debian's SWORD modules (both public domain):
the World English Bible (sword-text-web, module engWEB2015eb) and the Reina-Valera 1909
(sword-text-sparv, module spaRV1909eb), exported with `mod2imp` (libsword-utils).

Writes OUT_DIR/web-es.tsv, one verse a line: `reference TAB English TAB Spanish`, reference as
"Genesis 1:1" / "1 John 5:7" (book = everything before the last space), in WEB's book order.
Cleaning: footnotes (<note>), non-canonical titles (section headings) and all other markup are
removed, entities unescaped, whitespace runs made single spaces; WEB's glossary, which the module
attaches to Revelation 22:21, is cut off; book and chapter introductions (":0" verses) are left
out. WEB and RV1909 number some verses differently, so the two are joined on the reference and a
verse missing from either is left out. Standard library only.

Usage: bible_tsv.py OUT_DIR
"""
import html
import os
import re
import subprocess
import sys


def verses(module):
    """{reference: text} in the module's order (dicts keep insertion order)."""
    imp = subprocess.run(["mod2imp", module], check=True, capture_output=True, text=True).stdout
    out, ref = {}, None
    for line in imp.split("\n"):
        if line.startswith("$$$"):
            ref = line[3:].strip()
            continue
        if ref is None or ref.startswith("[") or ref.endswith(":0"):
            continue
        text = re.split(r'<div [^>]*type="(?:glossary|back|x-back)"', line)[0]  # WEB's glossary at Rev 22:21
        text = re.sub(r"<note\b.*?</note>", " ", text, flags=re.S)
        text = re.sub(r'<title(?![^>]*canonical="true")[^>]*>.*?</title>', " ", text, flags=re.S)
        text = re.sub(r"<[^>]+>", "", text)
        text = re.sub(r"\s+", " ", html.unescape(text)).strip()
        if text:
            out[ref] = (out[ref] + " " + text) if ref in out else text
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bible_tsv.py OUT_DIR")
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    english, spanish = verses("engWEB2015eb"), verses("spaRV1909eb")
    path = os.path.join(out_dir, "web-es.tsv")
    pairs = 0
    with open(path, "w", encoding="utf-8") as f:
        for ref, text in english.items():
            if ref in spanish:
                f.write(f"{ref}\t{text}\t{spanish[ref]}\n")  # \s+ above already made tabs spaces
                pairs += 1
    with open(os.path.join(out_dir, "LICENSE"), "w", encoding="utf-8") as f:
        f.write("web-es.tsv: the World English Bible (engWEB2015eb, Debian sword-text-web) and the\n"
                "Reina-Valera 1909 (spaRV1909eb, Debian sword-text-sparv), verse by verse.\n"
                "Both texts are in the public domain.\n")
    print(f"{path}: {pairs} verse pairs (English {len(english)}, Spanish {len(spanish)} verses)")


if __name__ == "__main__":
    main()
