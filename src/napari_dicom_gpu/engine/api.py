"""The engine's entry points: decode a file or a series into one volume, on the GPU or the CPU.

Stages, each in its own module: find files (``series``) -> read and check headers (``source``,
``header``, ``validate``) -> plan per source (``plan``, with the codec registry of ``backends``)
-> decode, fall back, conform, apply values, copy to host (``run``) -> the record (``record``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
from pydicom.dataset import Dataset

from .backends import nvimgcodec
from .errors import BackendUnavailableError, DicomDecodeError
from .modes import MODES, Mode
from .result import DecodeCancelled, DecodeResult
from .run import HOST_PATHS, Run, gpu_memory_budget, host_path
from .source import Source, load_sources
from .timing import StageTimer
from .values import rescale_of

__all__ = [
    "HOST_PATHS",
    "MODES",
    "DecodeCancelled",
    "DecodeResult",
    "Mode",
    "decode",
    "decode_frames",
    "decode_series",
    "gpu_memory_budget",
    "host_path",
    "resolve_mode",
]

PathLike = str | os.PathLike | Dataset
Progress = Callable[[int, int], None]


def resolve_mode(backend: str | Mode) -> Mode:
    """``auto`` -> ``gpu`` when a GPU decoder works here, else ``cpu``; ``gpu`` must work."""
    if backend not in MODES:
        raise ValueError(f"backend must be one of {', '.join(MODES)}, not {backend!r}")
    mode = Mode(backend)
    gpu = nvimgcodec.availability(nvimgcodec.GPU) if mode in (Mode.AUTO, Mode.GPU) else None
    if mode == Mode.GPU and not gpu:
        raise BackendUnavailableError(f"GPU decoding is not available: {gpu.reason}")
    if mode == Mode.AUTO:
        return Mode.GPU if gpu else Mode.CPU
    return mode


def decode(
    path: PathLike,
    backend: str = "auto",
    *,
    device: str = "host",
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> DecodeResult:
    """Decode all frames of one file; ``pixels`` has a leading frame axis."""
    return decode_series([path], backend, device=device, progress=progress, cancel=cancel)


def decode_frames(path: PathLike, backend: str = "auto") -> np.ndarray:
    """Every frame's stored values, shaped, typed and valued like ``dcmread(path).pixel_array``."""
    result = decode(path, backend)
    pixels = result.pixels
    return pixels[0] if result.layout.number_of_frames == 1 else pixels


def decode_series(
    paths: Sequence[PathLike],
    backend: str = "auto",
    *,
    device: str = "host",
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    sources: Sequence[Source] | None = None,
    values: bool = False,
) -> DecodeResult:
    """Decode the frames of several files with one layout into one volume, in one batch.

    With ``values=True`` the modality rescale (CT: HU) is applied too where the engine can
    (classic single-frame monochrome images; on the GPU before the copy to host), and
    ``result.values_applied`` says whether it was.
    """
    if device not in ("host", "cuda"):
        raise ValueError(f"device must be 'host' or 'cuda', not {device!r}")
    timer = StageTimer()
    mode = resolve_mode(backend)
    if device == "cuda" and mode != "gpu":
        raise BackendUnavailableError("device='cuda' needs the GPU backend")
    with timer.stage("read"):
        if sources is None:
            loaded = load_sources([os.fspath(p) if not isinstance(p, Dataset) else p for p in paths])
            errors = [s for s in loaded if isinstance(s, DicomDecodeError)]
            if errors:
                raise errors[0]
            sources = loaded
        sources = list(sources)
    if not sources:
        raise ValueError("nothing to decode")
    keys = {s.layout.stack_key() for s in sources}
    if len(keys) > 1:
        raise DicomDecodeError(sources[0].path, "the files do not share one image layout")
    run = Run(sources, mode, device, timer, progress, cancel)
    run.rescale = rescale_of(sources) if values else None
    return run.execute()
