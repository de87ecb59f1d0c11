"""What a decode returns, and how it stops when the caller cancels."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from .layout import PixelLayout
from .record import DecodeRecord
from .source import Source


class DecodeCancelled(Exception):
    """The caller's ``cancel`` callback asked to stop."""


@dataclass
class DecodeResult:
    """Pixels of every frame, stacked, and a record of what ran and how long it took."""

    pixels: object  # numpy.ndarray, or a CuPy array when decoded with device="cuda"
    record: DecodeRecord
    sources: list[Source] = field(default_factory=list)
    #: the modality rescale (HU) is already applied to ``pixels``
    values_applied: bool = False

    @property
    def layout(self) -> PixelLayout:
        return self.sources[0].layout

    @property
    def dataset(self) -> Dataset:
        return self.sources[0].dataset
