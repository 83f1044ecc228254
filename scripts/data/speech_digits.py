#!/usr/bin/env python3
"""Connected spoken digits in the TIDIGITS setting, synthesised with espeak-ng and flite (Debian
packages; GPL-3 and BSD-like, the audio they make is ours to use): utterances of 1-7 words from
the 11 of TIDIGITS ("zero", "oh", "one" ... "nine"), as 16-bit PCM mono WAV files at the
synthesiser's own rate (espeak-ng 22,050 Hz, flite 8,000 or 16,000 Hz).

The test set is spoken by voices that never occur in training, so its figure measures new
speakers, not new recordings of known ones:
  training and validation  espeak-ng accents en-us, en-gb, en-gb-scotland, en-gb-x-rp, each plain
                           and with the variants +m1..+m5, +f1..+f3; flite awb, slt, kal, kal16
  test                     espeak-ng accents en-029, en-gb-x-gbclan, en-gb-x-gbcwmd with the
                           variants +m6, +m7, +f4 (accents and variants both unseen); flite rms
Every utterance draws its speed (espeak-ng 120-200 words a minute; flite duration 0.8-1.25) and
pitch (espeak-ng 25-75; flite mean F0 80-180 Hz) at random. Fixed seeds: the same files each time.

Writes OUT/{train,validation,test}/NNNNN.wav and OUT/{train,validation,test}.tsv with the header
`file TAB words TAB voice`, words as the digit string ("o" for "oh", "z" for "zero": "4o7").

Usage: speech_digits.py OUT [TRAIN VALIDATION TEST]     (default 6000 600 1200 utterances)
"""
import concurrent.futures
import os
import random
import subprocess
import sys

WORDS = {"z": "zero", "o": "oh", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five",
         "6": "six", "7": "seven", "8": "eight", "9": "nine"}

TRAINING_VOICES = (
    [("espeak", f"{accent}{variant}") for accent in ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp")
     for variant in ["", "+m1", "+m2", "+m3", "+m4", "+m5", "+f1", "+f2", "+f3"]]
    + [("flite", name) for name in ("awb", "slt", "kal", "kal16")])
TEST_VOICES = (
    [("espeak", f"{accent}{variant}") for accent in ("en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
     for variant in ("+m6", "+m7", "+f4")]
    + [("flite", "rms")] * 3)  # flite's one unseen voice as often as each espeak-ng accent


def command(engine, voice, words, rng, path):
    text = " ".join(WORDS[w] for w in words)
    if engine == "espeak":
        return ["espeak-ng", "-v", voice, "-s", str(rng.randint(120, 200)), "-p", str(rng.randint(25, 75)),
                "-w", path, text]
    return ["flite", "-voice", voice, "--setf", f"duration_stretch={rng.uniform(0.8, 1.25):.3f}",
            "--setf", f"int_f0_target_mean={rng.randint(80, 180)}", "-t", text, "-o", path]


def make_part(out, part, count, voices, seed):
    rng = random.Random(seed)
    os.makedirs(os.path.join(out, part), exist_ok=True)
    jobs, rows = [], []
    for index in range(count):
        words = "".join(rng.choice(list(WORDS)) for _ in range(rng.randint(1, 7)))
        engine, voice = rng.choice(voices)
        name = f"{part}/{index:05d}.wav"
        jobs.append(command(engine, voice, words, rng, os.path.join(out, name)))
        rows.append(f"{name}\t{words}\t{engine}:{voice}\n")
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for job, result in zip(jobs, pool.map(lambda j: subprocess.run(j, capture_output=True), jobs)):
            if result.returncode != 0:
                sys.exit(f"speech_digits: {' '.join(job)} failed: {result.stderr.decode(errors='replace')}")
    with open(os.path.join(out, f"{part}.tsv"), "w") as tsv:
        tsv.write("file\twords\tvoice\n")
        tsv.writelines(rows)


def main():
    if len(sys.argv) not in (2, 5):
        sys.exit(__doc__.rsplit("Usage: ", 1)[1])
    out = sys.argv[1]
    train, validation, test = (int(n) for n in sys.argv[2:5]) if len(sys.argv) == 5 else (6000, 600, 1200)
    make_part(out, "train", train, TRAINING_VOICES, 1)
    make_part(out, "validation", validation, TRAINING_VOICES, 2)
    make_part(out, "test", test, TEST_VOICES, 3)


main()
