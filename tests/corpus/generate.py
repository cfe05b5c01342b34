#!/usr/bin/env python3
"""Writes the small hand-made files of the bad-input corpus (tests/bad_inputs.rs).

Each file is malformed in one way, named `<what it pretends to be>-<problem>`. Files
derived from a real model (truncation, flipped CRC, wrong variant, ...) are made by the
test itself from a freshly exported model, so only these small ones are committed.
Rerun after editing: `python3 tests/corpus/generate.py` (the output is deterministic).
"""
import gzip
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def images(count, rows, cols, data):
    return struct.pack(">IIII", 0x803, count, rows, cols) + data


def labels(count, data):
    return struct.pack(">II", 0x801, count) + data


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def pixels(n):
    return bytes((i * 37 + 11) % 256 for i in range(n))


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width, height, rows):
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


def varint(n):
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])


def byte_string(data):
    return varint(len(data)) + data


def frame(magic, version, payload):
    body = magic + varint(version) + varint(len(payload)) + payload
    return body + struct.pack("<I", zlib.crc32(body))


def tiny_model(conv_weights):
    """A variant-B model file in format 2 (see core/src/format.rs and the golden bytes of
    core/tests/format.rs) whose tensors are far too short, with a valid CRC32."""
    layer = lambda weights, zero_point: (
        byte_string(weights)
        + byte_string(struct.pack("<f", 1.0))  # weight_scale
        + byte_string(struct.pack("<i", -2))  # bias
        + byte_string(struct.pack("<i", 1 << 30))  # multiplier
        + byte_string(bytes([31]))  # shift
        + struct.pack("<f", 0.25)  # out_scale
        + struct.pack("<b", zero_point)
    )
    payload = (
        bytes([1, 0])  # variant B, MNIST
        + b"".join(varint(d) for d in (28, 32, 3, 2, 128, 10))
        + b"".join(byte_string(str(c).encode()) for c in range(10))
        + struct.pack("<f", 0.5)
        + struct.pack("<b", -128)
        + layer(conv_weights, -128)
        + layer(b"\x7f", -128)
        + layer(b"", 0)
    )
    return frame(b"PCNN", 2, payload)


PIX3 = pixels(3 * 784)
GOOD_IMAGES = images(3, 28, 28, PIX3)
GOOD_LABELS = labels(3, bytes([7, 2, 1]))

FILES = {
    # Image files (IDX3)
    "images-empty.idx": b"",
    "images-short-header.idx": GOOD_IMAGES[:10],
    "images-labels-magic.idx": labels(3, PIX3[:3]),
    "images-not-idx.idx": b"\x89PNG\r\n\x1a\n" + bytes(64),
    "images-zero-count.idx": images(0, 28, 28, b""),
    "images-zero-rows.idx": images(3, 0, 28, b""),
    "images-huge-dims.idx": images(0xFFFFFFFF, 0xFFFF, 0xFFFF, PIX3[:784]),
    "images-lying-count.idx": images(60000, 28, 28, PIX3),
    "images-claims-1gib.idx": images(1_400_000, 28, 28, PIX3),
    "images-truncated.idx": GOOD_IMAGES[: 16 + 2 * 784 + 300],
    "images-trailing-bytes.idx": GOOD_IMAGES + b"\x00" * 100,
    "images-20x20.idx": images(3, 20, 20, pixels(3 * 400)),
    "images-bad-gzip.idx.gz": b"\x1f\x8b\x08\x00" + bytes(range(60)),
    "images-gzip-truncated.idx.gz": gz(GOOD_IMAGES)[:-40],
    "images-gzip-bad-crc.idx.gz": (lambda g: g[:-8] + bytes([g[-8] ^ 0xFF]) + g[-7:])(gz(GOOD_IMAGES)),
    "images-gzip-lying-count.idx.gz": gz(images(1 << 20, 28, 28, PIX3)),
    "images-gzip-trailing-garbage.idx.gz": gz(GOOD_IMAGES) + b"garbage after the stream",
    # Label files (IDX1)
    "labels-empty.idx": b"",
    "labels-images-magic.idx": images(3, 1, 1, bytes([1, 2, 3])),
    "labels-out-of-range.idx": labels(3, bytes([7, 10, 1])),
    "labels-255.idx": labels(3, bytes([255, 2, 1])),
    "labels-lying-count.idx": labels(1000000, bytes([7, 2, 1])),
    "labels-huge-count.idx": labels(0xFFFFFFFF, bytes([7, 2, 1])),
    "labels-count-mismatch.idx": labels(2, bytes([7, 2])),
    "labels-gzip-lying-count.idx.gz": gz(labels(0x7FFFFFFF, bytes([7, 2, 1]))),
    # Found by the idx fuzz target (its oracle, not the reader): gzip of a gzip file.
    "labels-gzip-twice.idx.gz": gz(gz(labels(3, bytes([7, 2, 1])))),
    # Model files
    "weights-empty.bin": b"",
    "weights-not-a-model.bin": b"GIF89a" + bytes(58),
    "weights-header-only.bin": b"PCNN\x02\xb0\xa1\x2a",
    # 11 bytes: the length varint never ends (its sixth byte still has the top bit set).
    "weights-header-bad-varint.bin": b"PCNN\x02\xff\xff\xff\xff\xff\xff",
    "weights-version-99.bin": b"PCNN\x63\x10" + bytes(20),
    "weights-absurd-length.bin": b"PCNN\x02\xff\xff\xff\xff\x0f" + bytes(32),
    "weights-version-1.bin": b"PCNN\x01\xb0\xa1\x2a" + bytes(20),
    "weights-idx-file.bin": GOOD_IMAGES,
    # A conv weight of -128 (0x80), outside the format's -127..=127; CRC valid. The weight
    # scan comes before the shape checks, so the tensors need not be full size.
    "weights-minus-128.bin": tiny_model(b"\x01\x80"),
    # Pictures for firmware-sim classify (PNG and PGM)
    # Found by the image_file fuzz target: the frame buffer was allocated from the header's
    # claim (54 GB) before the size check.
    "picture-png-huge-dims.png": png(20, 2_734_686_224, b"\x00" + bytes(20)),
    "picture-png-truncated.png": png(28, 28, b"".join(b"\x00" + pixels(28) for _ in range(28)))[:60],
    "picture-png-zero-width.png": png(0, 28, b"\x00"),
    "picture-pgm-huge-dims.pgm": b"P5 100000 100000 255\n" + bytes(16),
    "picture-pgm-plain-huge-count.pgm": b"P2 8192 8192 255\n1 2 3\n",
    "picture-pgm-short-raster.pgm": b"P5 28 28 255\n" + bytes(700),
    "picture-pgm-max-0.pgm": b"P5 28 28 0\n" + bytes(784),
    "picture-pgm-bad-header.pgm": b"P5 28 x 255\n" + bytes(784),
    # f32 checkpoints
    "ckpt-empty.ckpt": b"",
    "ckpt-not-a-checkpoint.ckpt": b"not a checkpoint at all, just text\n",
    "ckpt-header-bad-varint.ckpt": b"PCKP\x02\xff\xff\xff\xff\xff\xff",
}

for name, data in FILES.items():
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
print(f"{len(FILES)} files, {sum(map(len, FILES.values()))} bytes")
