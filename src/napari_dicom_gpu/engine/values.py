"""Stored values to modality values (CT in HU) in the smallest exact dtype, on NumPy or CuPy.

The engine applies this itself for series of classic single-frame images (the large ones): on the
GPU path it runs before the copy to host, so the host receives the final volume once. Anything
else (modality LUT sequences, per-frame functional groups of enhanced files) is left to
``presentation``, which reads the full dataset.
"""

from __future__ import annotations

import numpy as np

from .source import Source

MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
_INT_DTYPES = [np.dtype(t) for t in ("u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8")]


def _number(value, default: float) -> float:
    if value in (None, ""):
        return default
    if isinstance(value, list | tuple):
        value = value[0] if value else default
    return float(value)


def rescale_of(sources: list[Source]) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-frame (slopes, intercepts) when the engine can apply them, else ``None``.

    ``None`` for colour, for modality LUT sequences and for multi-frame files, whose rescale may
    live in functional groups: those are ``presentation``'s to apply.
    """
    layout = sources[0].layout
    if layout.samples_per_pixel != 1 or layout.photometric_interpretation not in MONOCHROME:
        return None
    if any(s.layout.number_of_frames != 1 for s in sources):
        return None
    try:
        if any("ModalityLUTSequence" in s.header for s in sources):
            return None
        slopes = np.array([_number(s.header.get("RescaleSlope"), 1.0) for s in sources])
        intercepts = np.array([_number(s.header.get("RescaleIntercept"), 0.0) for s in sources])
    except (TypeError, ValueError):
        return None  # a damaged number: presentation reports it
    if np.all(slopes == 1) and np.all(intercepts == 0):
        return None  # nothing to apply here; presentation applies any modality LUT sequence
    return slopes, intercepts


def holding_int_dtype(lo: float, hi: float) -> np.dtype:
    """The smallest integer dtype that holds every value in [lo, hi] exactly (float64 if none)."""
    for dtype in _INT_DTYPES:
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return dtype
    return np.dtype(np.float64)


def apply_rescale(pixels, slopes: np.ndarray, intercepts: np.ndarray, *, in_place: bool = False):
    """``pixels * slope + intercept`` per frame, in the smallest dtype that is exact.

    Works on NumPy and CuPy arrays alike (frames first). Returns ``pixels`` itself when the
    rescale is the identity. ``in_place`` lets an integer result of the same size as the stored
    samples (CT's uint16 -> int16 HU) overwrite ``pixels``: integer arithmetic wraps modulo
    2**bits, so the bits are exact whenever the true result fits the new dtype, which the
    range check guarantees; no second volume is allocated.
    """
    if np.all(slopes == 1) and np.all(intercepts == 0):
        return pixels
    xp = _xp(pixels)
    flat = pixels.reshape(len(pixels), -1)
    lo = np.asarray(_host(flat.min(axis=1)), np.float64)
    hi = np.asarray(_host(flat.max(axis=1)), np.float64)
    shape = (-1,) + (1,) * (pixels.ndim - 1)
    uniform = bool(np.all(slopes == slopes[0]) and np.all(intercepts == intercepts[0]))
    if np.all(slopes == np.round(slopes)) and np.all(intercepts == np.round(intercepts)):
        ends = np.concatenate([lo * slopes + intercepts, hi * slopes + intercepts, lo, hi, lo * slopes, hi * slopes])
        dtype = holding_int_dtype(ends.min(), ends.max())
        if dtype.kind in "iu":
            if in_place and dtype.itemsize == pixels.dtype.itemsize and pixels.dtype.isnative:
                out = pixels.view(dtype)
            else:
                out = pixels.astype(dtype, copy=pixels.dtype != dtype)
            if uniform:
                if slopes[0] != 1:
                    out *= out.dtype.type(slopes[0])
                out += out.dtype.type(intercepts[0])
            else:
                out *= xp.asarray(slopes.astype(dtype)).reshape(shape)
                out += xp.asarray(intercepts.astype(dtype)).reshape(shape)
            return out
    out = pixels.astype(np.float64)
    out *= xp.asarray(slopes).reshape(shape)
    out += xp.asarray(intercepts).reshape(shape)
    as32 = out.astype(np.float32)
    return as32 if bool((as32 == out).all()) else out


def _xp(array):
    if hasattr(array, "__cuda_array_interface__"):
        import cupy

        return cupy
    return np


def _host(array) -> np.ndarray:
    return array.get() if hasattr(array, "get") and not isinstance(array, np.ndarray) else np.asarray(array)
