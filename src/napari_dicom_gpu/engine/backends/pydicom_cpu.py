"""The reference backend: pydicom's decoders, minus the one that can take the process down.

pydicom tries GDCM first for JPEG, JPEG-LS and JPEG 2000 when python-gdcm is installed. GDCM calls
``abort()`` on some damaged codestreams, which no ``except`` can catch and which would close the
user's napari window. Its lossless output equals pylibjpeg's on every test file (lossy JPEG
differs by at most 5 levels, PSNR >= 55 dB), so this process never calls it: it tries pydicom's
other plugins in the order below. Worker processes (``processes.py``) do call it first for JPEG
2000, where it is faster and equal to pylibjpeg on every test file: there an ``abort()`` costs
a retry in the calling process, never the user's window. Rust codecs (pylibjpeg-rle) panic with
a ``BaseException``; those are caught like any codec error.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from pydicom.pixels import get_decoder
from pydicom.uid import JPEG2000, JPEG2000Lossless

from ..source import Source
from .base import Availability, FrameFailure

NAME = "pydicom"
#: pydicom decoding plugins this backend uses, in the order it tries them (never "gdcm").
PLUGIN_ORDER = ("pylibjpeg", "pyjpegls", "pydicom", "pillow")
#: syntaxes GDCM decodes faster than pylibjpeg, with the same values on every pydicom test file
#: (18 JPEG 2000 files, lossless and lossy, signed and unsigned). One 512x512 16-bit lossless
#: frame: 18.5 ms against 21.2 ms; 1024x1024: 75 ms against 113 ms (2-core machine, 2026-11-29).
GDCM_SYNTAXES = frozenset({JPEG2000Lossless, JPEG2000})
_gdcm_allowed = False


def allow_gdcm() -> None:
    """Let this process try GDCM first for ``GDCM_SYNTAXES``: for worker processes only."""
    global _gdcm_allowed
    _gdcm_allowed = True


@cache
def gdcm_installed() -> bool:
    """Whether pydicom's GDCM plugin can decode JPEG 2000 here."""
    try:
        return "gdcm" in get_decoder(JPEG2000Lossless).available_plugins
    except Exception:
        return False


#: what a codec may raise that is still only a failed decode (pyo3's PanicException is a BaseException)
_NOT_CODEC_ERRORS = (KeyboardInterrupt, SystemExit, GeneratorExit)


def availability() -> Availability:
    return Availability(True, details={"codec": "pydicom"})


def plugins(source: Source) -> list[str]:
    """pydicom plugins to try for this file, in order; ``[""]`` for native data (no plugin)."""
    decoder = get_decoder(source.layout.transfer_syntax)
    if not source.layout.transfer_syntax.is_encapsulated:
        return [""]
    available = set(decoder.available_plugins)
    names = [name for name in PLUGIN_ORDER if name in available]
    if _gdcm_allowed and source.layout.transfer_syntax in GDCM_SYNTAXES and "gdcm" in available:
        names.insert(0, "gdcm")
    return names


def _as_array(source: Source, index: int | None) -> tuple[np.ndarray | None, str]:
    """Decode one frame (or all, ``index=None``) with the first plugin that succeeds."""
    try:
        decoder = get_decoder(source.layout.transfer_syntax)
        names = plugins(source)
    except Exception as exc:
        return None, _short(exc)
    if not names:
        return None, f"no decoder without GDCM is installed for {source.layout.transfer_syntax.name}"
    reason = ""
    for name in names:
        try:
            arr, _ = decoder.as_array(source.dataset, index=index, validate=index is None, decoding_plugin=name)
            return arr, ""
        except _NOT_CODEC_ERRORS:
            raise
        except BaseException as exc:  # noqa: B036 - a Rust panic must not escape a decode
            reason = _short(exc)
    return None, reason


def decode_whole(source: Source) -> np.ndarray | None:
    """All frames at once, frames first, exactly as ``pixel_array``; ``None`` if that fails."""
    layout = source.layout
    whole, _ = _as_array(source, None)
    if whole is None:
        return None
    frames = layout.number_of_frames
    if frames == 1 and whole.shape == layout.frame_shape:
        return whole[None]
    if whole.ndim == len(layout.frame_shape) + 1 and whole.shape[1:] == layout.frame_shape and len(whole) >= frames:
        return whole[:frames]  # pydicom may append excess JPEG frames
    return None


def decode_source(source: Source, out: np.ndarray, slots: list[int], frames: list[int]) -> list[FrameFailure]:
    """Decode ``frames`` of ``source`` into ``out[slots]``; a failing frame never loses the others."""
    layout = source.layout
    if len(frames) == layout.number_of_frames and not source.broken_frames:
        whole = decode_whole(source)
        if whole is not None:
            out[slots] = whole[frames]
            return []
        # else decode frame by frame below, so one bad frame does not take the rest
    failures = []
    for frame, slot in zip(frames, slots, strict=True):
        if frame in source.broken_frames:
            failures.append(FrameFailure(slot, source.broken_frames[frame]))
            continue
        arr, reason = _as_array(source, frame)
        if arr is None or arr.size != int(np.prod(layout.frame_shape)):
            why = reason or f"decoded to {arr.shape}, not {layout.frame_shape}"
            failures.append(FrameFailure(slot, f"pydicom could not decode it ({why})"))
            continue
        out[slot] = arr.reshape(layout.frame_shape)
    return failures


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:200]
