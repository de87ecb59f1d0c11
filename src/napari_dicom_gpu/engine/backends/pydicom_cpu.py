"""The reference backend: pydicom's own ``pixel_array`` with its installed plugins."""

from __future__ import annotations

import numpy as np
from pydicom.pixels import get_decoder

from ..source import Source
from .base import Availability, FrameFailure

NAME = "pydicom"


def availability() -> Availability:
    return Availability(True, details={"codec": "pydicom"})


def decode_whole(source: Source) -> np.ndarray | None:
    """All frames at once, frames first, exactly as ``pixel_array``; ``None`` if that fails."""
    layout = source.layout
    try:
        whole = source.dataset.pixel_array
    except Exception:
        return None
    if layout.number_of_frames > 1:
        whole = whole[: layout.number_of_frames]  # pydicom may append excess JPEG frames
    return whole.reshape((layout.number_of_frames, *layout.frame_shape))


def decode_source(source: Source, out: np.ndarray, slots: list[int], frames: list[int]) -> list[FrameFailure]:
    """Decode ``frames`` of ``source`` into ``out[slots]``; a failing frame never loses the others."""
    layout = source.layout
    wanted = dict(zip(frames, slots, strict=True))
    if len(frames) == layout.number_of_frames and not source.broken_frames:
        whole = decode_whole(source)
        if whole is not None:
            out[slots] = whole[frames]
            return []
        # else decode frame by frame below, so one bad frame does not take the rest
    failures = []
    decoder = None
    for frame, slot in wanted.items():
        if frame in source.broken_frames:
            failures.append(FrameFailure(slot, source.broken_frames[frame]))
            continue
        try:
            decoder = decoder or get_decoder(layout.transfer_syntax)
            arr, _ = decoder.as_array(source.dataset, index=frame, validate=False)
            out[slot] = arr.reshape(layout.frame_shape)
        except Exception as exc:
            failures.append(FrameFailure(slot, f"pydicom could not decode it ({_short(exc)})"))
    return failures


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:200]
