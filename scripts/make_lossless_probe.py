"""Write the engine's 12-bit lossless JPEG self-test image (a true 12-bit precision stream).

The GPU backend decodes it once per process to prove that nvJPEG handles 9-15-bit lossless JPEG
(nvImageCodec issue #50: older nvJPEG returns silent zeros). A minimal process-14 encoder,
selection value 1, one Huffman table with every category coded in 5 bits.
Usage: python scripts/make_lossless_probe.py OUT.jpg
"""

from __future__ import annotations

import struct
import sys

import numpy as np

sys.path.insert(0, "src")
from napari_dicom_gpu.engine.backends.nvimgcodec import probe_expected  # noqa: E402


def encode_lossless(image: np.ndarray, precision: int) -> bytes:
    rows, cols = image.shape
    bits: list[int] = []
    for y in range(rows):
        for x in range(cols):
            if x == 0 and y == 0:
                pred = 1 << (precision - 1)
            elif y == 0 or x > 0:
                pred = int(image[y, x - 1]) if x > 0 else int(image[y - 1, x])
            else:
                pred = int(image[y - 1, x])
            diff = (int(image[y, x]) - pred) % 65536
            diff = diff - 65536 if diff > 32768 else diff
            size = abs(diff).bit_length()
            bits += [(size >> (4 - i)) & 1 for i in range(5)]  # canonical code: all 5 bits long
            if 0 < size < 16:
                extra = diff if diff > 0 else diff + (1 << size) - 1
                bits += [(extra >> (size - 1 - i)) & 1 for i in range(size)]
    bits += [1] * (-len(bits) % 8)
    data = bytearray()
    for i in range(0, len(bits), 8):
        byte = int("".join(map(str, bits[i : i + 8])), 2)
        data.append(byte)
        if byte == 0xFF:
            data.append(0x00)
    counts = [0, 0, 0, 0, 17] + [0] * 11
    dht = bytes([0x00, *counts, *range(17)])
    sof = struct.pack(">BHHB", precision, rows, cols, 1) + bytes([1, 0x11, 0])
    sos = bytes([1, 1, 0x00, 1, 0, 0])
    segment = lambda marker, body: struct.pack(">BBH", 0xFF, marker, len(body) + 2) + body  # noqa: E731
    return b"\xff\xd8" + segment(0xC4, dht) + segment(0xC3, sof) + segment(0xDA, sos) + bytes(data) + b"\xff\xd9"


if __name__ == "__main__":
    stream = encode_lossless(probe_expected(), 12)
    with open(sys.argv[1], "wb") as fh:
        fh.write(stream)
    print(f"wrote {len(stream)} bytes")
