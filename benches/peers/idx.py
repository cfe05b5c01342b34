"""IDX reading for the peer scripts: the same files the trainer reads, parsed with numpy.

Accepts raw and gzip-compressed IDX (detected by the gzip magic, not the file name) and
checks the header against the payload length, so a bad file is one clear error line.
"""

import argparse
import gzip
import os
import sys

import numpy as np

DATASETS = ("mnist", "fashion")


def arg_parser(doc):
    """An argument parser with the options every peer script shares: the variant, the
    dataset and the data folder (the trainer's defaults)."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--pooling", action="store_true", help="variant B: MaxPooling2D(2) after the conv")
    p.add_argument("--dataset", default="mnist", choices=DATASETS)
    p.add_argument("--data", default=os.environ.get("PICOCNN_DATA", "data"), help="data dir (default: data)")
    return p


def fail(message):
    """Prints one `error:` line on stderr and exits 2, like the trainer does."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _read(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw


def _find(data_dir, dataset, stem):
    base = os.path.join(data_dir, dataset, stem)
    for candidate in (base, base + ".gz"):
        if os.path.exists(candidate):
            return candidate
    fail(f"{base}[.gz]: not found (run scripts/fetch-data.sh)")


def read_images(path):
    """Returns a uint8 array of shape (count, rows, cols)."""
    raw = _read(path)
    if len(raw) < 16 or int.from_bytes(raw[0:4], "big") != 0x00000803:
        fail(f"{path}: not an IDX image file (bad magic)")
    count, rows, cols = (int.from_bytes(raw[i : i + 4], "big") for i in (4, 8, 12))
    if len(raw) != 16 + count * rows * cols:
        fail(f"{path}: header says {count}x{rows}x{cols}, payload is {len(raw) - 16} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, rows, cols)


def read_labels(path):
    """Returns a uint8 array of shape (count,)."""
    raw = _read(path)
    if len(raw) < 8 or int.from_bytes(raw[0:4], "big") != 0x00000801:
        fail(f"{path}: not an IDX label file (bad magic)")
    count = int.from_bytes(raw[4:8], "big")
    if len(raw) != 8 + count:
        fail(f"{path}: header says {count} labels, payload is {len(raw) - 8} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=8)


def load(data_dir, dataset):
    """Returns ((train_images, train_labels), (test_images, test_labels)) as uint8 arrays."""
    if dataset not in DATASETS:
        fail(f"unknown dataset {dataset!r} (mnist or fashion)")
    out = []
    for split in ("train", "t10k"):
        images = read_images(_find(data_dir, dataset, f"{split}-images-idx3-ubyte"))
        labels = read_labels(_find(data_dir, dataset, f"{split}-labels-idx1-ubyte"))
        if len(images) != len(labels):
            fail(f"{dataset}/{split}: {len(images)} images but {len(labels)} labels")
        out.append((images, labels))
    return tuple(out)
