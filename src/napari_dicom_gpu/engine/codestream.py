"""What pydicom learns from a frame's codestream before decoding it, reproduced for our codecs."""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.pixels.utils import get_j2k_parameters
from pydicom.uid import JPEG2000TransferSyntaxes, JPEGBaseline8Bit, JPEGTransferSyntaxes

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
