"""Open DICOM in napari, decoded in one nvImageCodec batch on the GPU (or fast on the CPU).

Importing the package is cheap: the engine, pydicom and the GPU libraries load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailableError",
    "DecodeResult",
    "DicomDecodeError",
    "__version__",
    "availability",
    "decode",
    "decode_frames",
    "decode_series",
]

if TYPE_CHECKING:  # pragma: no cover
    from .engine import (
        BackendUnavailableError,
        DecodeResult,
        DicomDecodeError,
        availability,
        decode,
        decode_frames,
        decode_series,
    )


def __getattr__(name: str):
    if name in __all__:
        from . import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
