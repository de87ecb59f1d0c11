"""The shape, dtype and colour model of a dataset's pixels, as pydicom decodes them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRBigEndian


def _int(ds, keyword: str, default: int | None = None) -> int:
    value = ds.get(keyword, default)
    if value in (None, ""):
        if default is None:
            raise KeyError(keyword)
        return default
    return int(value)


@dataclass(frozen=True)
class PixelLayout:
    """Image Pixel module values that decide how frames decode and stack."""

    transfer_syntax: UID
    rows: int
    columns: int
    samples_per_pixel: int
    number_of_frames: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    photometric_interpretation: str
    planar_configuration: int = 0

    @classmethod
    def from_dataset(cls, ds: Dataset) -> PixelLayout:
        """Read the layout; raises ``KeyError`` naming a missing required element."""
        meta = getattr(ds, "file_meta", None)
        tsyntax = UID(meta.get("TransferSyntaxUID", "")) if meta is not None else UID("")
        return cls.from_header(ds, tsyntax)

    @classmethod
    def from_header(cls, ds, tsyntax: UID) -> PixelLayout:
        """Read the layout from anything with ``get(keyword)`` (a dataset or a fast header)."""
        bits_allocated = _int(ds, "BitsAllocated")
        return cls(
            transfer_syntax=tsyntax,
            rows=_int(ds, "Rows"),
            columns=_int(ds, "Columns"),
            samples_per_pixel=_int(ds, "SamplesPerPixel", 1),
            number_of_frames=max(_int(ds, "NumberOfFrames", 1), 1),
            bits_allocated=bits_allocated,
            bits_stored=_int(ds, "BitsStored", bits_allocated),
            pixel_representation=_int(ds, "PixelRepresentation", 0),
            photometric_interpretation=str(ds.get("PhotometricInterpretation", "MONOCHROME2")),
            planar_configuration=_int(ds, "PlanarConfiguration", 0),
        )

    @property
    def dtype(self) -> np.dtype:
        """The dtype of ``pixel_array`` for this layout (pydicom's rule)."""
        if self.bits_allocated == 1:
            return np.dtype(np.uint8)
        kind = "i" if self.pixel_representation else "u"
        size = max(self.bits_allocated // 8, 1)
        if size not in (1, 2, 4, 8):
            size = 1 << int(np.ceil(np.log2(size)))
        big_endian = self.transfer_syntax == ExplicitVRBigEndian
        return np.dtype(f"{'>' if big_endian else '<'}{kind}{size}")

    @property
    def frame_shape(self) -> tuple[int, ...]:
        if self.samples_per_pixel > 1:
            return (self.rows, self.columns, self.samples_per_pixel)
        return (self.rows, self.columns)

    @property
    def frame_nbytes(self) -> int:
        return int(np.prod(self.frame_shape)) * self.dtype.itemsize

    @property
    def is_color(self) -> bool:
        return self.samples_per_pixel > 1

    def stack_key(self) -> tuple:
        """Frames whose layouts share this key can live in one volume and one decode batch."""
        return (
            self.transfer_syntax,
            self.frame_shape,
            self.dtype.str,
            self.bits_stored,
            self.photometric_interpretation,
        )
