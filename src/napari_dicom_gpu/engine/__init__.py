"""The decode engine: pure Python, NumPy and pydicom; GPU libraries are imported lazily.

Never imports napari or Qt, so it runs on a headless GPU machine.
"""

from .backends import availability
from .decode import (
    MODES,
    DecodeCancelled,
    DecodeResult,
    decode,
    decode_frames,
    decode_series,
    resolve_mode,
)
from .errors import BackendUnavailableError, DicomDecodeError
from .layout import PixelLayout
from .source import Source, load_source, read_dataset

__all__ = [
    "MODES",
    "BackendUnavailableError",
    "DecodeCancelled",
    "DecodeResult",
    "DicomDecodeError",
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
