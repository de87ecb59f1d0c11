"""What pydicom learns from a frame's codestream before decoding it, reproduced for our codecs."""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.pixels.utils import get_j2k_parameters
from pydicom.uid import (
    UID,
    JPEG2000TransferSyntaxes,
    JPEGBaseline8Bit,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
)

from .layout import PixelLayout

try:  # private in pydicom 3; without it we keep the dataset's Photometric Interpretation
    from pydicom.pixels.utils import _get_jpg_parameters
except ImportError:  # pragma: no cover - depends on the pydicom release
    _get_jpg_parameters = None


@dataclass(frozen=True)
class FrameCodestream:
    """The values that change how pydicom interprets a decoded frame."""

    photometric_interpretation: str
    j2k_precision: int | None = None
    j2k_signed: bool | None = None


def inspect_frame(frame: bytes, layout: PixelLayout) -> FrameCodestream:
    """Mirror ``DecodeRunner._get_frame_info`` and ``_conform_jpg_colorspace`` of pydicom 3."""
    tsyntax, pi = layout.transfer_syntax, layout.photometric_interpretation
    if tsyntax in JPEG2000TransferSyntaxes:
        info = get_j2k_parameters(frame)
        return FrameCodestream(
            pi,
            j2k_precision=int(info.get("precision", layout.bits_stored)),
            j2k_signed=bool(info.get("is_signed", layout.pixel_representation)),
        )
    if tsyntax in JPEGTransferSyntaxes and layout.samples_per_pixel == 3 and _get_jpg_parameters:
        info = _get_jpg_parameters(frame)
        if info.get("component_ids") in ([82, 71, 66], [114, 103, 98]):
            return FrameCodestream("RGB")
        if "YBR" not in pi and any(m.startswith(b"JFIF") for m in info.get("app", {}).values()):
            return FrameCodestream("YBR_FULL_422" if tsyntax == JPEGBaseline8Bit else "YBR_FULL")
    return FrameCodestream(pi)


def jpeg_precision(frame: bytes) -> int | None:
    """Sample precision from a JPEG frame's SOF marker, or ``None`` if none is found."""
    if _get_jpg_parameters is None:  # pragma: no cover
        return None
    return _get_jpg_parameters(frame).get("precision")


#: syntaxes whose every frame ends with the end-of-image (JPEG, JPEG-LS) or end-of-codestream
#: (JPEG 2000, HTJ2K) marker, 0xFFD9, which the coded data itself can never contain
MARKER_TERMINATED = frozenset([*JPEGTransferSyntaxes, *JPEGLSTransferSyntaxes, *JPEG2000TransferSyntaxes])
#: how far from a frame's end its end marker may lie: padding and bytes some writers append
END_MARKER_WINDOW = 1024


def lacks_end_marker(frame: bytes, tsyntax: UID) -> bool:
    """Whether a frame of a marker-terminated syntax has no end marker near its end.

    Such a frame was cut short: a truncated file, or a frame split out of the middle of another
    (a header claiming more frames than the data holds). Codecs still decode the part they get
    and return a wrong image without an error, so it is never decoded. Every frame of pydicom's
    test files and pydicom-data (210) has its marker within its last 64 bytes.
    """
    if tsyntax not in MARKER_TERMINATED:
        return False
    return frame.find(b"\xff\xd9", max(0, len(frame) - END_MARKER_WINDOW)) < 0
