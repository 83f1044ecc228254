#!/usr/bin/env python3
"""Connected spoken digits in the TIDIGITS setting, synthesised with espeak-ng and flite (Debian
packages; GPL-3 and BSD-like, the audio they make is ours to use): utterances of 1-7 words from
the 11 of TIDIGITS ("zero", "oh", "one" ... "nine"), as 16-bit PCM mono WAV files at the
synthesiser's own rate (espeak-ng 22,050 Hz, flite 8,000 or 16,000 Hz).

The test set is spoken by voices that never occur in training, so its figure measures new
speakers, not new recordings of known ones:
  training and validation  espeak-ng accents en-us, en-gb, en-gb-scotland, en-gb-x-rp, en-us-nyc,
                           each plain and with 95 of its voice variants (all but the test's and
                           the whispered ones); flite awb, slt, kal, kal16 (30% of the utterances)
  test                     espeak-ng accents en-029, en-gb-x-gbclan, en-gb-x-gbcwmd with the
                           variants +m6, +m7, +f4 (accents and variants both unseen); flite rms
Every utterance draws its speed and pitch at random: in training espeak-ng 100-230 words a minute
and pitch 5-95, flite duration 0.7-1.4, mean F0 70-220 Hz and F0 spread 5-45 Hz, and a quarter of
the words espeak-ng says in a regional pronunciation (PRONUNCIATIONS); the test keeps the first
recipe's narrower ranges (espeak-ng 120-200 and 25-75; flite 0.8-1.25 and 80-180 Hz), so its
files are those of every earlier version. Fixed seeds: the same files each time.

Writes OUT/{train,validation,test}/NNNNN.wav and OUT/{train,validation,test}.tsv with the header
`file TAB words TAB voice`, words as the digit string ("o" for "oh", "z" for "zero": "4o7").

Usage: speech_digits.py OUT [TRAIN VALIDATION TEST]     (default 9000 600 1200 utterances)
"""
import concurrent.futures
import os
import random
import subprocess
import sys

WORDS = {"z": "zero", "o": "oh", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five",
         "6": "six", "7": "seven", "8": "eight", "9": "nine"}

# The 95 voice variants of Debian 12's espeak-ng (1.51) less the test's +m6, +m7, +f4, the two
# whispered ones (no voicing) and "Mr serious" (a space in its name): written out rather than
# read from the installed package, so the same script makes the same files.
TRAINING_VARIANTS = """
    Alex Alicia Andrea Andy Annie AnxiousAndy Demonic Denis Diogo Gene Gene2 Henrique Hugo Jacky Lee
    Marco Mario Michael Mike Nguyen RicishayMax RicishayMax2 RicishayMax3 Storm Tweaky UniRobot adam
    anika anikaRobot announcer antonio aunty belinda benjamin boris caleb croak david ed edward edward2
    f1 f2 f3 f5 fast grandma grandpa gustave iven iven2 iven3 iven4 john kaukovalta klatt klatt2 klatt3
    klatt4 klatt5 klatt6 linda m1 m2 m3 m4 m5 m8 marcelo max michel miguel norbert pablo paul pedro
    quincy rob robert robosoft robosoft2 robosoft3 robosoft4 robosoft5 robosoft6 robosoft7 robosoft8
    sandro shelby steph steph2 steph3 travis victor zac""".split()
TRAINING_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-us-nyc")
TRAINING_FLITE = ("awb", "slt", "kal", "kal16")
ESPEAK_TRAINING = [("espeak", f"{accent}{variant}") for accent in TRAINING_ACCENTS
                   for variant in [""] + [f"+{name}" for name in TRAINING_VARIANTS]]
# flite has few speakers: each is listed often enough that flite says 30% of the training
# utterances (the test's share is 25%, all of it rms, which a 10% share left at 15% errors).
FLITE_COPIES = round(0.3 / 0.7 * len(ESPEAK_TRAINING) / len(TRAINING_FLITE))
TRAINING_VOICES = ESPEAK_TRAINING + [("flite", name) for name in TRAINING_FLITE] * FLITE_COPIES
TEST_VOICES = (
    [("espeak", f"{accent}{variant}") for accent in ("en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
     for variant in ("+m6", "+m7", "+f4")]
    + [("flite", "rms")] * 3)  # flite's one unseen voice as often as each espeak-ng accent

# Regional pronunciations of the words, in espeak-ng's phoneme mnemonics (every accent it has
# says each word one way): th-stopping "tree" (Irish, Caribbean, West African, Indian, New York
# English) and th-fronting "free" (London); rhotic and non-rhotic "four"; the two vowels of "one";
# the Southern US monophthongs of "five" and "nine"; Scottish "five"; "sev'n"; "zero" with a
# short or long first vowel.
PRONUNCIATIONS = {"3": ["tr'i:", "fr'i:"], "4": ["f'O@", "f'o@r"], "1": ["w'0n", "w'Vn"], "5": ["f'A:v", "f'aI2v"],
                  "9": ["n'A:n"], "7": ["s'Evn"], "z": ["z'i:roU", "z'IroU"]}

# Ranges drawn per utterance: espeak-ng words a minute and pitch (0-99); flite duration stretch,
# mean F0 in Hz and F0 spread in Hz (None: the voice's own). Training draws wider than the test,
# whose ranges are the recipe's first ones (so its files stay as they were). "regional": the
# probability that espeak-ng says a word in one of its PRONUNCIATIONS.
TRAINING_PROSODY = {"speed": (100, 230), "pitch": (5, 95), "stretch": (0.7, 1.4), "f0_mean": (70, 220),
                    "f0_spread": (5, 45), "regional": 0.25}
TEST_PROSODY = {"speed": (120, 200), "pitch": (25, 75), "stretch": (0.8, 1.25), "f0_mean": (80, 180),
                "f0_spread": None, "regional": 0.0}


def espeak_text(words, prosody, rng):
    if not prosody["regional"]:
        return " ".join(WORDS[w] for w in words)
    return " ".join(f"[[{rng.choice(PRONUNCIATIONS[w])}]]" if w in PRONUNCIATIONS and rng.random() < prosody["regional"]
                    else WORDS[w] for w in words)


def command(engine, voice, words, prosody, rng, path):
    if engine == "espeak":
        text = espeak_text(words, prosody, rng)
        return ["espeak-ng", "-v", voice, "-s", str(rng.randint(*prosody["speed"])),
                "-p", str(rng.randint(*prosody["pitch"])), "-w", path, text]
    settings = ["--setf", f"duration_stretch={rng.uniform(*prosody['stretch']):.3f}",
                "--setf", f"int_f0_target_mean={rng.randint(*prosody['f0_mean'])}"]
    if prosody["f0_spread"]:
        settings += ["--setf", f"int_f0_target_stddev={rng.randint(*prosody['f0_spread'])}"]
    return ["flite", "-voice", voice, *settings, "-t", " ".join(WORDS[w] for w in words), "-o", path]


def make_part(out, part, count, voices, prosody, seed):
    rng = random.Random(seed)
    os.makedirs(os.path.join(out, part), exist_ok=True)
    jobs, rows = [], []
    for index in range(count):
        words = "".join(rng.choice(list(WORDS)) for _ in range(rng.randint(1, 7)))
        engine, voice = rng.choice(voices)
        name = f"{part}/{index:05d}.wav"
        jobs.append(command(engine, voice, words, prosody, rng, os.path.join(out, name)))
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
    train, validation, test = (int(n) for n in sys.argv[2:5]) if len(sys.argv) == 5 else (9000, 600, 1200)
    make_part(out, "train", train, TRAINING_VOICES, TRAINING_PROSODY, 1)
    make_part(out, "validation", validation, TRAINING_VOICES, TRAINING_PROSODY, 2)
    make_part(out, "test", test, TEST_VOICES, TEST_PROSODY, 3)


main()
