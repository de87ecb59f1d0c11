"""The decode engine: pure Python, NumPy and pydicom; GPU libraries are imported lazily.

Never imports napari or Qt, so it runs on a headless GPU machine. Names load on first use, so
``import napari_dicom_gpu.engine`` costs almost nothing.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

_EXPORTS = {
    "availability": ".backends",
    "MODES": ".api",
    "DecodeCancelled": ".api",
    "DecodeResult": ".api",
    "decode": ".api",
    "decode_frames": ".api",
    "decode_series": ".api",
    "resolve_mode": ".api",
    "BackendUnavailableError": ".errors",
    "DicomDecodeError": ".errors",
    "PixelLayout": ".layout",
    "Mode": ".modes",
    "DecodeRecord": ".record",
    "Source": ".source",
    "load_source": ".source",
    "read_dataset": ".source",
}
__all__ = [
    "BackendUnavailableError",
    "DecodeCancelled",
    "DecodeRecord",
    "DecodeResult",
    "DicomDecodeError",
    "MODES",
    "Mode",
    "PixelLayout",
    "Source",
    "availability",
    "decode",
    "decode_frames",
    "decode_series",
    "load_source",
    "read_dataset",
    "resolve_mode",
]

if TYPE_CHECKING:  # pragma: no cover
    from .api import (
        MODES,
        DecodeCancelled,
        DecodeResult,
        decode,
        decode_frames,
        decode_series,
        resolve_mode,
    )
    from .backends import availability
    from .errors import BackendUnavailableError, DicomDecodeError
    from .layout import PixelLayout
    from .modes import Mode
    from .record import DecodeRecord
    from .source import Source, load_source, read_dataset


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
