# Sourced by the loom program's tests: tiny stand-ins for the data sets CI does not fetch.

# tiny_images DIR TRAIN TEST [mnist]: Fashion-MNIST's files in DIR (train-* and t10k-*, gzip'ed
# IDX), or with `mnist` those of scripts/fetch_data.sh mnist (train-* and test-*, raw IDX), with
# TRAIN and TEST images of 28x28 pixels, image i filled with the value 10 * i (mod 256), label i % 10.
tiny_images() {
  mkdir -p "$1"
  python3 - "$@" <<'PY'
import gzip, struct, sys
folder, mnist = sys.argv[1], len(sys.argv) > 4 and sys.argv[4] == "mnist"
counts = {"train": int(sys.argv[2]), "test" if mnist else "t10k": int(sys.argv[3])}
write, suffix = (open, "") if mnist else (gzip.open, ".gz")
for part, n in counts.items():
    with write(f"{folder}/{part}-images-idx3-ubyte{suffix}", "wb") as f:
        f.write(struct.pack(">IIII", 2051, n, 28, 28) + b"".join(bytes([10 * i % 256]) * 784 for i in range(n)))
    with write(f"{folder}/{part}-labels-idx1-ubyte{suffix}", "wb") as f:
        f.write(struct.pack(">II", 2049, n) + bytes(i % 10 for i in range(n)))
PY
}

# tiny_dictionary FILE: a CMUdict of 300 made-up words whose phones are their letters upper-cased.
tiny_dictionary() {
  local a b
  for a in a b c d e f g h i j k l m n o p q r s t; do
    for b in a e i o u l n r s t m k p d g; do echo "$a$b$a ${a^^} ${b^^} ${a^^}"; done
  done > "$1"
}

# tiny_speech DIR: the speech task's files in DIR, made by the real recipe (espeak-ng and flite):
# 12 training, 4 validation and 4 test utterances.
tiny_speech() {
  python3 "$(dirname "${BASH_SOURCE[0]}")/../../scripts/data/speech_digits.py" "$1" 12 4 4
}
