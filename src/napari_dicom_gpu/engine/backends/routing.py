"""When nvImageCodec should decline a file: per transfer syntax, bit depth, sign and colour model.

The choices follow measurements (``benchmarks/`` and the project's decode facts): nvImageCodec's
CPU backend is exact and far faster than pydicom for 8-bit JPEG, slower for JPEG 2000 lossless,
and cannot decode signed JPEG 2000, >8-bit lossless JPEG, JPEG-LS or RLE.
"""

from __future__ import annotations

import os

from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLossless,
    JPEGLosslessSV1,
)

from ..codestream import FrameCodestream, jpeg_precision
from ..layout import PixelLayout
from . import nvimgcodec

GPU_SYNTAXES = frozenset(
    {
        JPEGBaseline8Bit,
        JPEGLossless,
        JPEGLosslessSV1,
        JPEG2000Lossless,
        JPEG2000,
        HTJ2KLossless,
        HTJ2KLosslessRPCL,
        HTJ2K,
    }
)
LOSSLESS_JPEG = frozenset({JPEGLossless, JPEGLosslessSV1})
HTJ2K_SYNTAXES = frozenset({HTJ2KLossless, HTJ2KLosslessRPCL, HTJ2K})
J2K_FAMILY = frozenset({JPEG2000Lossless, JPEG2000}) | HTJ2K_SYNTAXES
#: cores from which nvImageCodec's thread pool beats pydicom on a lossless JPEG 2000 series (one
#: of its frames takes 1.35x pydicom's time on one core, 2026-11-27)
THREADED_J2K_CORES = 4


def colour_spec(layout: PixelLayout, info: FrameCodestream) -> str:
    """nvImageCodec colour spec that reproduces pydicom's default (``as_rgb=True``) output."""
    if layout.samples_per_pixel == 1:
        return "UNCHANGED"
    pi = info.photometric_interpretation
    if pi in ("YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT"):
        return "SRGB"
    if pi == "RGB" and layout.transfer_syntax == JPEGBaseline8Bit:
        # Components are already RGB whatever the JPEG header claims: skip the conversion.
        return "SYCC"
    return "UNCHANGED"


def is_high_bit_lossless_jpeg(layout: PixelLayout, first_frame: bytes) -> bool:
    if layout.transfer_syntax not in LOSSLESS_JPEG:
        return False
    precision = jpeg_precision(first_frame) or layout.bits_stored
    return 8 < precision < 16


def gpu_refusal(layout: PixelLayout, first_frame: bytes) -> str | None:
    """Why the GPU should not take this file, or ``None`` if it should."""
    if layout.transfer_syntax not in GPU_SYNTAXES:
        return f"{layout.transfer_syntax.name} has no GPU decoder in nvImageCodec"
    if layout.samples_per_pixel not in (1, 3):
        return f"{layout.samples_per_pixel} samples per pixel"
    if is_high_bit_lossless_jpeg(layout, first_frame) and not nvimgcodec.high_bit_lossless_jpeg_is_safe(
        nvimgcodec.GPU
    ):
        return "9-15-bit lossless JPEG failed the nvJPEG self-test (nvImageCodec issue #50)"
    return None


def cpu_refusal(layout: PixelLayout, info: FrameCodestream, first_frame: bytes, files: int = 1) -> str | None:
    """Why nvImageCodec's CPU backend should not take this file (pydicom is faster or exact).

    ``files``: how many files of this layout the decode holds. For several frames of unsigned
    JPEG 2000, nvImageCodec's own thread pool uses every core and releases the GIL: 11.9x its
    one-thread speed on an H200 machine's 16 cores, exact against pydicom
    (``benchmarks/cpu_parallel.py``, 2026-11-28). One lossless frame decodes faster in pydicom.
    Signed JPEG 2000 it cannot decode: pydicom (in worker processes for a series) takes it.
    """
    if not nvimgcodec.availability(nvimgcodec.CPU):
        return nvimgcodec.availability(nvimgcodec.CPU).reason
    tsyntax = layout.transfer_syntax
    if layout.samples_per_pixel not in (1, 3):
        return f"{layout.samples_per_pixel} samples per pixel"
    if tsyntax == JPEGBaseline8Bit:
        return None
    if tsyntax in LOSSLESS_JPEG:
        if (jpeg_precision(first_frame) or layout.bits_stored) <= 8:
            return None
        return "lossless JPEG above 8 bits is not decoded by nvImageCodec's CPU backend"
    if tsyntax in J2K_FAMILY and layout.samples_per_pixel == 1 and not info.j2k_signed:
        if tsyntax == JPEG2000:
            return None  # lossy J2K: measured faster than pydicom's OpenJPEG path, frame for frame
        if layout.pixel_representation:
            return "signed JPEG 2000 is decoded by pydicom"
        if tsyntax in HTJ2K_SYNTAXES:
            return None  # 3.8 ms a 512x512 frame on one core against pydicom's 7.1 ms (H200 machine)
        if files * layout.number_of_frames >= 4 and (os.cpu_count() or 1) >= THREADED_J2K_CORES:
            return None
        return "pydicom's OpenJPEG is faster for a lossless JPEG 2000 file on one core"
    return f"pydicom is faster or exact where nvImageCodec's CPU backend is not ({tsyntax.name})"
