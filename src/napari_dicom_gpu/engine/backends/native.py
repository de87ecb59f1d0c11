"""Native (uncompressed) little-endian pixel data, copied straight out of the file's bytes.

pydicom would parse the whole dataset first; this needs only the fast header's pixel data
location. Applies pydicom's correction of unused high bits, so the values equal ``pixel_array``.
Anything unusual (big endian, 1-bit, YBR colour that pydicom converts, planar colour, float
pixel data) stays with pydicom.
"""

from __future__ import annotations

import numpy as np
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from ..codestream import FrameCodestream
from ..conform import conform_in_place
from ..errors import DicomDecodeError
from ..source import Source
from .base import Availability

NAME = "native"
SYNTAXES = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)


def availability() -> Availability:
    return Availability(True, details={"codec": "numpy"})


def refusal(source: Source) -> str | None:
    """Why this file's pixels are not a plain copy, or ``None`` if they are."""
    layout = source.layout
    if layout.transfer_syntax not in SYNTAXES:
        return f"{layout.transfer_syntax.name} is not native little-endian data"
    if source.pixel_keyword != "PixelData" or layout.bits_allocated not in (8, 16, 32, 64):
        return "not integer samples of whole bytes"
    if layout.samples_per_pixel != 1 and (
        layout.planar_configuration or layout.photometric_interpretation != "RGB"
    ):
        return "colour that pydicom converts or re-orders"
    return None


def decode_source(source: Source, out, slots: list[int]) -> None:
    """Copy every frame of ``source`` into ``out[slots]`` (contiguous slots, frames in order)."""
    layout = source.layout
    count = layout.number_of_frames * int(np.prod(layout.frame_shape))
    frames = np.frombuffer(source.pixel_buffer(), layout.dtype, count=count)
    frames = frames.reshape((layout.number_of_frames, *layout.frame_shape))
    block = out[slots[0] : slots[-1] + 1]
    if hasattr(block, "__cuda_array_interface__"):
        import cupy

        block[...] = cupy.asarray(frames.astype(frames.dtype.newbyteorder("="), copy=False))
    else:
        block[...] = frames
    conform_in_place(block, layout, FrameCodestream(layout.photometric_interpretation))


def read_source(source: Source, out: np.ndarray, slots: list[int]) -> None:
    """Read every frame of ``source`` from its file straight into host ``out[slots]``.

    For a file whose header pass read only its start: no copy of the file is held, and the read
    releases the GIL, so several files are read at once.
    """
    layout = source.layout
    block = out[slots[0] : slots[-1] + 1]
    view = memoryview(block.reshape(-1).view(np.uint8))
    with open(source.path, "rb", buffering=0) as fh:
        fh.seek(source.pixel_offset)
        got = 0
        while got < len(view):
            count = fh.readinto(view[got:])
            if not count:
                raise DicomDecodeError(source.path, "the file ends inside its pixel data (it changed while it was being opened)")
            got += count
    conform_in_place(block, layout, FrameCodestream(layout.photometric_interpretation))
