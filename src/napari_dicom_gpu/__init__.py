"""Open DICOM in napari, decoded in one nvImageCodec batch on the GPU (or fast on the CPU)."""

from .engine import (
    BackendUnavailableError,
    DecodeResult,
    DicomDecodeError,
    availability,
    decode,
    decode_frames,
    decode_series,
)

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
