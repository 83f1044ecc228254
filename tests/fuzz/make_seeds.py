#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target into corpus/NAME/ (checked into the repository;
run again only to change the seeds). Each seed is a small valid input of its reader, so the
fuzzer starts from files the reader accepts and mutates its way into every branch."""
import gzip
import json
import os
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata=None):
    """tensors: name -> (dtype, shape, raw bytes), written in name order as Loom does."""
    header, offset, data = {}, 0, b""
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        dtype, shape, raw = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text.encode() + data


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


def f64(*values):
    return struct.pack("<%dd" % len(values), *values)


def i64(*values):
    return struct.pack("<%dq" % len(values), *values)


put("safetensors", "three_dtypes", safetensors(
    {"weight": ("F32", [2, 3], f32(1, 2, 3, 4, 5, 6)), "ids": ("I64", [3], i64(1, -2, 3)),
     "scale": ("F64", [], f64(0.5)), "empty": ("F32", [0, 4], b"")}, {"epoch": "3"}))
put("safetensors", "one_tensor", safetensors({"w": ("F32", [1], f32(7))}))

# The trainer's last.safetensors for the fuzz target's model (fc: Linear(3, 2)) and Adam.
state = {"epoch": 2, "rng_default": "1 2 3 4 0 0x0p+0", "rng_trainer": "5 6 7 8 1 0x1.8p+0",
         "best_epoch": 1, "best_value": 0.25, "epochs_without_improvement": 1,
         "history": [{"epoch": 1, "values": {"train_loss": 0.5, "val_loss": 0.25}},
                     {"epoch": 2, "values": {"train_loss": 0.4, "val_loss": 0.3}}],
         "lrs": [0.001], "scheduler_epoch": 2, "plateau": [0.25, 1.0, 0.0]}
tensors = {"model.fc.weight": ("F32", [2, 3], f32(*range(6))), "model.fc.bias": ("F32", [2], f32(0, 1))}
for param, shape, count in (("fc.weight", [2, 3], 6), ("fc.bias", [2], 2)):
    tensors["optimizer.%s.exp_avg" % param] = ("F32", shape, f32(*[0.1] * count))
    tensors["optimizer.%s.exp_avg_sq" % param] = ("F32", shape, f32(*[0.01] * count))
    tensors["optimizer.%s.step" % param] = ("I64", [], i64(8))
put("checkpoint", "adam_epoch2", safetensors(tensors, {"loom_trainer_state": json.dumps(state)}))
state_no_optimizer = dict(state, epoch=0, history=[], best_epoch=0, epochs_without_improvement=0, best_value=None)
del state_no_optimizer["plateau"]
put("checkpoint", "fresh", safetensors({k: v for k, v in tensors.items() if k.startswith("model.")},
                                       {"loom_trainer_state": json.dumps(state_no_optimizer)}))

# IDX: the first byte picks the reader (bit 0: labels), the rest is the file.
images = struct.pack(">IIII", 0x803, 2, 3, 2) + bytes(range(0, 240, 20))
labels = struct.pack(">II", 0x801, 4) + bytes([0, 9, 3, 1])
put("idx", "images_raw", b"\x00" + images)
put("idx", "images_gzip", b"\x00" + gzip.compress(images, mtime=0))
put("idx", "labels_raw", b"\x01" + labels)
put("idx", "labels_gzip", b"\x01" + gzip.compress(labels, mtime=0))

# Delimited: the first byte is the mode (bit 0 tab, bit 1 header, bit 2 quoting, bit 3 a number
# column "close"), the rest is the file.
put("delimited", "csv_quoted", "\x06" + '\ufeffname,text\r\nA,"say ""hi"", twice"\r\nB,"two\nlines"\n\nC,plain\n')
put("delimited", "tsv_sentences", "\x01" + 'So "good" it hurts.\t1\nNot worth it\t0\n')
put("delimited", "csv_close", "\x0e" + "date,close\n2000-01-03,1455.22\n2000-01-04, 1399.42\n")

put("vocabulary", "words", "<pad>\n<unk>\n<bos>\n<eos>\nthe\nfilm\ndon't\n3.5\n")
put("vocabulary", "characters", "<pad>\n<unk>\n<bos>\n<eos>\n\\n\n\\r\n\\\\\n \né\n中\n")

# A word run's spanish_case.txt for the fuzz target's table (<specials> . dios dijo señor é).
put("truecase", "cased", "<pad>\n<unk>\n<bos>\n<eos>\n.\nDios\ndijo\nSeñor\nÉ\n")
put("truecase", "lower", "<pad>\n<unk>\n<bos>\n<eos>\n.\ndios\ndijo\nseñor\né\n")

config = {"task": "sentiment", "data_dir": "data/sentiment", "model": "rows", "cell": "lstm",
          "embedding_dim": 64, "hidden": 64, "layers": 1, "bidirectional": True, "dropout": 0.5,
          "pooling": "max", "optimizer": "adam", "lr": 0.003, "weight_decay": 0.05, "epochs": 12,
          "batch": 32, "min_frequency": 1, "max_tokens": 0, "seed": 0, "threads": 1}
put("run_config", "sentiment", json.dumps(config, indent=2) + "\n")
put("run_config", "charlm", json.dumps(dict(config, task="charlm", cell="gru", hidden=256,
                                            bidirectional=False, seed=18446744073709551615)) + "\n")

# The tasks' data files, each as the task reads it.
put("sentiment", "sentences", '1\tSo "good" it hurts.\n0\tNot worth it\r\n1\tCafé crème, très bien\n')
put("sentiment", "one_line", "0\tAwful.")
put("spam", "groups", "group\tlabel\ttext\nspam-1\t1\tfrom: a@b.com subject: win \"now\"\n"
                      "easy-ham-2\t0\tlunch? café\r\n")
put("spam", "columns_reordered", "\ufefftext\tgroup\tlabel\nhi\thard-ham-1\t0\n")
put("daily_closes", "sp500", "date,open,high,low,close,adjclose,volume\n2000-01-03,1469.25,1478,1438.36,1455.22,"
                             "1455.22,931800000\n2000-01-04,1455.22,1455.22,1397.43,1399.42,1399.42,1009000000\n")
put("daily_closes", "quoted", 'close,date\r\n" 2.5",2019-12-31\r\n1e3,2020-01-02\r\n')
verses = [("Genesis 1:1", "In the beginning God created.", "En el principio crió Dios."),
          ("Galatians 1:1", "Paul, an apostle", "Pablo, apóstol"),
          ("I John 1:1", "That which was from the beginning", "Lo que era desde el principio")]
put("bible", "three_books", "".join("\t".join(v) + "\n" for v in verses))
put("bible", "crlf_blank", "\r\n".join("\t".join(v) for v in reversed(verses)) + "\r\n\r\n")
put("cmudict", "pocketsphinx", "a AH\na(2) EY\nabandon AH B AE N D AH N\nzebra Z IY B R AH\nyes Y EH S\n")
put("cmudict", "original", ";;; comment\nABANDON  AH0 B AE1 N D AH0 N\nHELLO  HH AH0 L OW1 # greeting\n"
                           "WORLD  W ER1 L D\nDON'T  D OW1 N T\n")
# Labelled IDX: bytes 0-1 the image file's length, then the image file and the label file.
fashion_images = struct.pack(">IIII", 0x803, 2, 28, 28) + bytes(range(256)) * 6 + bytes(32)
fashion_labels = struct.pack(">II", 0x801, 2) + bytes([0, 9])
put("labelled_idx", "raw", struct.pack(">H", len(fashion_images)) + fashion_images + fashion_labels)
fashion_images_gzip = gzip.compress(fashion_images, mtime=0)
put("labelled_idx", "gzip", struct.pack(">H", len(fashion_images_gzip)) + fashion_images_gzip
    + gzip.compress(fashion_labels, mtime=0))
put("utf8_text", "sentences", "The café was fine.\nA wonderful, touching film — 中文.\n")
put("utf8_text", "empty", "")
put("pgm", "scene_8bit", b"P5\n# a comment\n3 2\n255\n" + bytes([0, 64, 128, 192, 255, 7]))
put("pgm", "wide_16bit", b"P5 2 1 1000\n" + struct.pack(">HH", 500, 1000))


def wav(format_code, channels, rate, bits, data):
    """A WAV file: the canonical 44-byte header with these fields, then `data`."""
    fmt = struct.pack("<HHIIHH", format_code, channels, rate, rate * channels * bits // 8, channels * bits // 8, bits)
    return b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + \
        struct.pack("<I", len(data)) + data


put("wav", "mono_16k", wav(1, 1, 16000, 16, struct.pack("<8h", 0, 1000, 2000, 1000, 0, -1000, -2000, -1000) * 60))
put("wav", "stereo_22k", wav(1, 2, 22050, 16, struct.pack("<4h", 100, -100, 3000, 3000) * 50))
put("spoken_digits", "two_voices", "file\twords\tvoice\ntrain/00000.wav\t4o7\tespeak:en-us+m3\n"
    "train/00001.wav\tz19\tflite:rms\n")
put("spoken_digits", "crlf_long", "file\twords\tvoice\r\ntest/00000.wav\t123456789zo\tespeak:en-gb-x-gbclan+f4\r\n")


def sentencepiece_model(model_type, rules=None):
    """A SentencePiece model as Loom's subword runs have them (<pad> <unk> <bos> <eos> at ids 0-3, byte
    fallback), trained by spm_train (Debian's sentencepiece package) on a few verses. NFKC's character
    map alone is some 200 KB, past the fuzzers' 64 KiB inputs, so the normaliser is the identity, or a
    character map of a few `rules` (code points TAB code points, in hex)."""
    with tempfile.TemporaryDirectory() as folder:
        normaliser = "--normalization_rule_name=identity"
        if rules:
            normaliser = "--normalization_rule_tsv=rules.tsv"
            with open(os.path.join(folder, "rules.tsv"), "w") as f:
                f.write(rules)
        text = os.path.join(folder, "text.txt")
        with open(text, "w", encoding="utf-8") as f:
            f.write("In the beginning God created the heavens and the earth.\n"
                    "En el principio creó Dios los cielos y la tierra.\n"
                    "Love your neighbor as yourself.\nAmarás a tu prójimo como a ti mismo.\n"
                    "¿Quién es mi prójimo? Jesus answered, \"A certain man was going down from Jerusalem.\"\n")
        prefix = os.path.join(folder, "m")
        # Relative names, run in the folder: the model keeps them, and the seeds stay the same bytes.
        subprocess.run(["spm_train", "--input=text.txt", "--model_prefix=m", "--vocab_size=300",
                        f"--model_type={model_type}", "--pad_id=0", "--unk_id=1", "--bos_id=2", "--eos_id=3",
                        "--byte_fallback=true", "--character_coverage=1.0", normaliser,
                        "--num_threads=1", "--hard_vocab_limit=false", "--minloglevel=1"], check=True, cwd=folder)
        with open(prefix + ".model", "rb") as f:
            return f.read()


put("subwords", "unigram_identity", sentencepiece_model("unigram"))
put("subwords", "bpe_identity", sentencepiece_model("bpe"))
put("subwords", "unigram_character_map", sentencepiece_model("unigram", "41\t61\n42\t62\nC1\t61\nFF21\t61\n"))
put("metrics_log", "two_epochs", '{"epoch":1,"values":{"lr":0.002,"seconds":568.97,"train_loss":5.6015,"val_bleu":0.0}}\n'
    '{"epoch":2,"values":{"lr":0.002,"seconds":541.04,"train_loss":5.1044,"val_bleu":1.5}}\n')
put("metrics_log", "one_epoch_no_newline", '{"epoch":7,"values":{"val_accuracy":0.93,"train_loss":1e-3}}')
