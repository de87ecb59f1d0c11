"""Make a codec's output equal to what pydicom's ``pixel_array`` returns.

pydicom 3 applies, after any decoder plugin, a sign correction for JPEG 2000 and a shift
correction of unused high bits (``pydicom.pixels.decoders.base``). Our codecs write raw samples,
so the same corrections are applied here, in place, on NumPy or CuPy arrays alike.
"""

from __future__ import annotations

from pydicom.uid import JPEG2000TransferSyntaxes, JPEGLSTransferSyntaxes

from .codestream import FrameCodestream
from .layout import PixelLayout


def conform_in_place(frames, layout: PixelLayout, info: FrameCodestream) -> None:
    """Apply pydicom's sign/shift corrections to ``frames`` (already in ``layout.dtype``)."""
    tsyntax = layout.transfer_syntax
    nbits = 8 * frames.dtype.itemsize
    if tsyntax in JPEG2000TransferSyntaxes:
        monochrome = layout.photometric_interpretation in ("MONOCHROME1", "MONOCHROME2")
        precision = info.j2k_precision or layout.bits_stored
        shift = nbits - precision
        if monochrome and shift and bool(info.j2k_signed) != bool(layout.pixel_representation):
            frames <<= shift
            frames >>= shift
    elif tsyntax not in JPEGLSTransferSyntaxes and layout.bits_allocated > layout.bits_stored:
        shift = layout.bits_allocated - layout.bits_stored
        frames <<= shift
        frames >>= shift
