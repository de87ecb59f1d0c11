"""Checks a file's claims before anything large is allocated or any codec runs.

A header can claim anything: 65535 x 65535 pixels, two billion frames, 65535 samples per pixel.
Codecs and NumPy believe it and allocate first. These checks compare what the header claims with
the pixel data actually present (and with the memory this machine has) and refuse clearly, the
way DCMTK and GDCM refuse an inconsistent file, in well under a second and without allocating.
"""

from __future__ import annotations

import os
import struct
import time

from pydicom.uid import (
    UID,
    JPEG2000TransferSyntaxes,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
    RLELossless,
)

from .errors import DicomDecodeError
from .layout import PixelLayout

BITS_ALLOCATED = (1, 8, 16, 32, 64)
MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
ONE_SAMPLE = (*MONOCHROME, "PALETTE COLOR")
THREE_SAMPLES = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420", "YBR_PARTIAL_422")
#: Never plan to use more than this share of the memory that is free now.
MEMORY_SHARE = 0.8


def _mb(nbytes: float) -> str:
    if nbytes >= 1e9:
        return f"{nbytes / 1e9:.1f} GB"
    return f"{nbytes / 1e6:.1f} MB" if nbytes >= 1e6 else f"{nbytes:,} bytes"


def check_transfer_syntax(tsyntax: UID, path: str) -> None:
    """The UID must name a transfer syntax that pydicom knows how to read pixels from."""
    if not tsyntax:
        raise DicomDecodeError(path, "the file has no Transfer Syntax UID, so its pixels cannot be decoded")
    try:
        known = tsyntax.is_transfer_syntax
    except ValueError:  # pydicom cannot tell for a private UID; it has no decoder for one anyway
        known = False
    if not known:
        raise DicomDecodeError(path, f"its Transfer Syntax UID '{tsyntax}' is not a known transfer syntax")


def check_layout(layout: PixelLayout, path: str) -> None:
    """Image Pixel module values must be ones a DICOM image can have."""
    problems = []
    if not 1 <= layout.rows <= 65535 or not 1 <= layout.columns <= 65535:
        problems.append(f"Rows x Columns is {layout.rows} x {layout.columns}")
    if layout.bits_allocated not in BITS_ALLOCATED:
        problems.append(f"Bits Allocated is {layout.bits_allocated} (expected 1, 8, 16, 32 or 64)")
    elif not 1 <= layout.bits_stored <= layout.bits_allocated:
        problems.append(f"Bits Stored is {layout.bits_stored} with Bits Allocated {layout.bits_allocated}")
    if layout.pixel_representation not in (0, 1):
        problems.append(f"Pixel Representation is {layout.pixel_representation} (expected 0 or 1)")
    pi = layout.photometric_interpretation
    if layout.samples_per_pixel == 1:
        if pi not in ONE_SAMPLE:
            problems.append(f"Photometric Interpretation '{pi}' does not fit 1 sample per pixel")
    elif layout.samples_per_pixel == 3:
        if pi not in THREE_SAMPLES:
            problems.append(f"Photometric Interpretation '{pi}' does not fit 3 samples per pixel")
        if layout.planar_configuration not in (0, 1):
            problems.append(f"Planar Configuration is {layout.planar_configuration} (expected 0 or 1)")
    else:
        problems.append(f"Samples per Pixel is {layout.samples_per_pixel} (expected 1 or 3)")
    if layout.number_of_frames < 1:
        problems.append(f"Number of Frames is {layout.number_of_frames}")
    if problems:
        raise DicomDecodeError(path, "the image description is invalid: " + "; ".join(problems))


def decoded_nbytes(layout: PixelLayout, frames: int | None = None) -> int:
    """Bytes of the decoded frames (``frames`` of them, default all)."""
    frames = layout.number_of_frames if frames is None else frames
    pixels = layout.rows * layout.columns * layout.samples_per_pixel
    if layout.bits_allocated == 1:
        return (pixels * frames + 7) // 8
    return pixels * frames * (layout.bits_allocated // 8)


def claim(layout: PixelLayout) -> str:
    frames = layout.number_of_frames
    what = f"{frames} frame{'s' if frames != 1 else ''} of {layout.rows} x {layout.columns}"
    if layout.samples_per_pixel > 1:
        what += f" x {layout.samples_per_pixel} samples"
    return f"{what} at {layout.bits_allocated} bits"


def check_native_length(layout: PixelLayout, present: int, path: str) -> None:
    """Native pixel data must hold every frame the header claims."""
    needed = decoded_nbytes(layout)
    if layout.photometric_interpretation == "YBR_FULL_422":
        needed = needed // 3 * 2  # two chroma samples shared by each pair of pixels
    if present < needed:
        raise DicomDecodeError(
            path,
            f"the header claims {claim(layout)} ({_mb(needed)}), "
            f"but the file holds only {present:,} bytes of pixel data",
        )


def count_fragments(buffer, limit: int) -> int:
    """Fragments of encapsulated pixel data after the offset table (at most ``limit + 1`` counted)."""
    offset, count, end = 0, -1, len(buffer)  # the first item is the basic offset table
    while offset + 8 <= end and count <= limit:
        group, element, length = struct.unpack_from("<HHI", buffer, offset)
        if (group, element) == (0xFFFE, 0xE0DD):
            break
        if (group, element) != (0xFFFE, 0xE000) or length == 0xFFFFFFFF:
            break
        offset += 8 + length
        count += 1
    return max(count, 0)


def check_encapsulated_frames(layout: PixelLayout, buffer, path: str, has_extended_table: bool) -> None:
    """Every frame needs at least its own fragment."""
    if layout.number_of_frames <= 1 or has_extended_table:
        return
    # Counting only fragments that begin a codestream would catch one frame split in two, but it
    # would also refuse a file whose one damaged frame lost its first bytes: good frames first.
    fragments = count_fragments(buffer, layout.number_of_frames)
    if fragments < layout.number_of_frames:
        raise DicomDecodeError(
            path,
            f"the header claims {layout.number_of_frames} frames, but the pixel data holds only "
            f"{fragments} fragment{'s' if fragments != 1 else ''}",
        )


#: RLE's densest run (2 bytes for 128 equal bytes) bounds what one byte of data can become
RLE_MAX_EXPANSION = 64

_memory_seen: tuple[float, int | None] = (-1.0, None)


def available_memory() -> int | None:
    """Bytes of memory free for new allocations now, if the system says (read at most every 0.5 s:
    a series checks every file)."""
    global _memory_seen
    now = time.monotonic()
    if now - _memory_seen[0] > 0.5:
        _memory_seen = (now, _read_available_memory())
    return _memory_seen[1]


def _read_available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(nbytes: int, what: str, path: str) -> None:
    free = available_memory()
    if free is not None and nbytes > MEMORY_SHARE * free:
        raise DicomDecodeError(
            path, f"{what} needs {_mb(nbytes)} of memory, but only {_mb(free)} is free on this machine"
        )


def codestream_size(frame: bytes, tsyntax: UID) -> tuple[int, int, int] | None:
    """(rows, columns, components) from a frame's own codestream header, if it can be read."""
    try:
        if tsyntax in JPEG2000TransferSyntaxes:
            return _j2k_size(frame)
        if tsyntax in JPEGTransferSyntaxes or tsyntax in JPEGLSTransferSyntaxes:
            return _jpeg_size(frame)
    except (struct.error, IndexError):
        return None
    return None


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xF7}


def _jpeg_size(frame: bytes) -> tuple[int, int, int] | None:
    if frame[:2] != b"\xff\xd8":
        return None
    offset = 2
    while offset + 4 <= len(frame):
        if frame[offset] != 0xFF:
            return None
        marker = frame[offset + 1]
        if marker == 0xFF:
            offset += 1
            continue
        (length,) = struct.unpack_from(">H", frame, offset + 2)
        if marker in _SOF:
            _, rows, columns, components = struct.unpack_from(">BHHB", frame, offset + 4)
            return rows, columns, components
        if marker in (0xDA, 0xD9):
            return None
        offset += 2 + length
    return None


def _j2k_size(frame: bytes) -> tuple[int, int, int] | None:
    start = frame.find(b"\xff\x4f\xff\x51", 0, 64)  # SOC then SIZ, possibly after a JP2 box header
    if start < 0:
        return None
    _, _, xsiz, ysiz, xosiz, yosiz = struct.unpack_from(">HHIIII", frame, start + 4)
    (components,) = struct.unpack_from(">H", frame, start + 4 + 36)
    return ysiz - yosiz, xsiz - xosiz, components


def check_codestream(layout: PixelLayout, frame: bytes, path: str) -> None:
    """A frame's codestream must describe the image the header describes."""
    size = codestream_size(frame, layout.transfer_syntax)
    if size is not None:
        rows, columns, components = size
        if (rows, columns) != (layout.rows, layout.columns) and rows != 0:
            raise DicomDecodeError(
                path,
                f"the header says {layout.rows} x {layout.columns} pixels, but the "
                f"{layout.transfer_syntax.name} data is {rows} x {columns}",
            )
        if components != layout.samples_per_pixel:
            raise DicomDecodeError(
                path,
                f"the header says {layout.samples_per_pixel} sample(s) per pixel, but the "
                f"{layout.transfer_syntax.name} data has {components} component(s)",
            )
    elif layout.transfer_syntax == RLELossless and decoded_nbytes(layout, 1) > RLE_MAX_EXPANSION * len(frame):
        raise DicomDecodeError(
            path,
            f"the header says {layout.rows} x {layout.columns} pixels, but the RLE data "
            f"({len(frame):,} bytes) can hold at most {RLE_MAX_EXPANSION * len(frame):,} bytes of them",
        )
    elif layout.transfer_syntax == RLELossless and len(frame) >= 64:
        (segments,) = struct.unpack_from("<I", frame, 0)
        expected = layout.samples_per_pixel * max(layout.bits_allocated // 8, 1)
        if segments != expected:
            raise DicomDecodeError(
                path,
                f"the RLE data has {segments} segment(s) where {layout.samples_per_pixel} sample(s) of "
                f"{layout.bits_allocated} bits need {expected}",
            )
