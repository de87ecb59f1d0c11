"""The header values the engine needs from each file, without building a full pydicom dataset.

Every stage after reading (series grouping, geometry, layout, values) reads a file's header
through ``Source.header``: an object with ``get(keyword, default=None)`` and ``keyword in header``
for the keywords below. A pydicom ``Dataset`` has that interface, so it is the fallback for any
file the fast parser declines; the full dataset stays available as ``Source.dataset`` (lazily).
"""

from __future__ import annotations

from typing import Any, Protocol

#: Keywords the engine reads per file. Anything else (functional groups of enhanced files, the
#: header tree the widget shows) comes from the full dataset.
HEADER_KEYWORDS = (
    # identity and grouping
    "SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "SeriesNumber",
    "SeriesDescription", "Modality", "FrameOfReferenceUID", "ImageType", "AcquisitionNumber",
    "InstanceNumber", "EchoNumbers", "TemporalPositionIdentifier",
    # geometry
    "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "ImagerPixelSpacing",
    "SliceThickness", "SpacingBetweenSlices",
    # pixel layout
    "Rows", "Columns", "SamplesPerPixel", "NumberOfFrames", "BitsAllocated", "BitsStored",
    "HighBit", "PixelRepresentation", "PhotometricInterpretation", "PlanarConfiguration",
    # values and display
    "RescaleSlope", "RescaleIntercept", "RescaleType", "WindowCenter", "WindowWidth",
    "WindowCenterWidthExplanation",
)


class Header(Protocol):
    """What ``Source.header`` offers (a pydicom ``Dataset`` is one)."""

    def get(self, keyword: str, default: Any = None) -> Any: ...

    def __contains__(self, keyword: object) -> bool: ...


def parse_header(raw: bytes, path: str = ""):
    """The fast parser's header for ``raw``, or ``None`` to let pydicom parse the file.

    Placeholder until the fast parser lands: always ``None``.
    """
    return None
