"""The reference backend: pydicom's decoders, minus the one that can take the process down.

pydicom tries GDCM first for JPEG, JPEG-LS and JPEG 2000 when python-gdcm is installed. GDCM calls
``abort()`` on some damaged codestreams, which no ``except`` can catch and which would close the
user's napari window. Its lossless output equals pylibjpeg's on every test file (lossy JPEG
differs by at most 5 levels, PSNR >= 55 dB), so this backend never calls it: it tries pydicom's
other plugins in the order below. Not even in worker processes, where an ``abort()`` would cost
only a retry: on 666 damaged JPEG 2000 codestreams GDCM returned a wrong image without an error
in 9 cases where pylibjpeg raised (``benchmarks/gdcm_vs_pylibjpeg.py``, 2026-11-29), so its
1.1-1.5x speed on one core would cost frames that are now reported as damaged. Rust codecs
(pylibjpeg-rle) panic with a ``BaseException``; those are caught like any codec error.
"""

from __future__ import annotations

import numpy as np
from pydicom.pixels import get_decoder

from ..source import Source
from .base import Availability, FrameFailure

NAME = "pydicom"
#: pydicom decoding plugins this backend uses, in the order it tries them (never "gdcm").
PLUGIN_ORDER = ("pylibjpeg", "pyjpegls", "pydicom", "pillow")
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
    return [name for name in PLUGIN_ORDER if name in available]


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
