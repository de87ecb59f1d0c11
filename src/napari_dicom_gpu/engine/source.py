"""Read a DICOM file into a dataset, its pixel layout and its encoded frames."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import generate_frames
from pydicom.errors import InvalidDicomError
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from . import validate
from .errors import DicomDecodeError
from .layout import PixelLayout
from .sniff import looks_like_dicom_bytes

PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


@dataclass
class Source:
    """One DICOM file whose pixels are to be decoded."""

    path: str
    dataset: Dataset
    layout: PixelLayout
    #: frame index -> why it could not be split out of the file (filled by ``encoded``)
    broken_frames: dict[int, str] = field(default_factory=dict)
    _encoded: list[bytes] | None = field(default=None, repr=False)

    @property
    def header(self) -> Dataset:
        """The values listed in ``header.HEADER_KEYWORDS`` (``get`` and ``in``); see ``engine.header``."""
        return self.dataset

    @property
    def name(self) -> str:
        return Path(self.path).name if self.path else "<dataset>"

    @property
    def is_encapsulated(self) -> bool:
        return self.layout.transfer_syntax.is_encapsulated and "PixelData" in self.dataset

    @property
    def encoded(self) -> list[bytes] | None:
        """Every encoded frame, split out on first use (only codecs other than pydicom need it)."""
        if self._encoded is None and self.is_encapsulated:
            self._encoded = split_frames(self)
        return self._encoded

    def first_frame(self) -> bytes | None:
        """The first encoded frame, without splitting the rest; ``None`` if unreadable."""
        if not self.is_encapsulated:
            return None
        if self._encoded:
            return self._encoded[0]
        try:
            return bytes(next(generate_frames(self.dataset.PixelData, number_of_frames=self.layout.number_of_frames)))
        except Exception:
            return None


def _infer_transfer_syntax(ds: Dataset) -> UID | None:
    """A transfer syntax for a file without meta information, from how pydicom read it."""
    encoding = getattr(ds, "original_encoding", None)
    if not encoding or encoding[0] is None:
        return None
    implicit, little = encoding
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def read_dataset(path: str | os.PathLike) -> Dataset:
    """Read a DICOM file, with or without preamble; errors name the file and the problem."""
    path = os.fspath(path)
    try:
        # One read, then parse from memory: far fewer system calls than pydicom's small reads.
        with open(path, "rb") as fh:
            raw = io.BytesIO(fh.read())
        try:
            ds = dcmread(raw)
        except InvalidDicomError:
            # A dataset without preamble and meta header: pydicom reads it when forced, but it
            # "reads" any bytes that way, so the start must look like a DICOM element first.
            if not looks_like_dicom_bytes(raw.getvalue()[:132]):
                raise
            raw.seek(0)
            ds = dcmread(raw, force=True)
            if not len(ds):
                raise
        ds.filename = path
    except FileNotFoundError:
        raise DicomDecodeError(path, "the file does not exist") from None
    except IsADirectoryError:
        raise DicomDecodeError(path, "this is a folder, not a file") from None
    except InvalidDicomError:
        raise DicomDecodeError(path, "this is not a DICOM file") from None
    except Exception as exc:
        raise DicomDecodeError(path, f"the file is damaged or truncated ({exc})") from None
    if getattr(ds, "file_meta", None) is None:
        ds.file_meta = FileMetaDataset()
    if "TransferSyntaxUID" not in ds.file_meta:
        inferred = _infer_transfer_syntax(ds)
        if inferred is not None:
            ds.file_meta.TransferSyntaxUID = inferred
    return ds


def has_pixels(ds: Dataset) -> bool:
    return any(keyword in ds for keyword in PIXEL_KEYWORDS)


def describe_missing_pixels(ds: Dataset) -> str:
    kind = getattr(ds.get("SOPClassUID", None), "name", "") or str(ds.get("Modality", ""))
    what = f" ({kind})" if kind else ""
    return f"it holds no pixel data{what}, so there is no image to show"


def load_source(path: str | os.PathLike | Dataset) -> Source:
    """Read a file (or take a dataset), check its claims, and leave its frames encoded.

    Raises ``DicomDecodeError`` for a file that has no image, or whose header is invalid or
    claims more pixel data than the file holds or than this machine's memory can take.
    """
    if isinstance(path, Dataset):
        ds, where = path, str(getattr(path, "filename", "") or "")
        if getattr(ds, "file_meta", None) is None:
            ds.file_meta = FileMetaDataset()
    else:
        where = os.fspath(path)
        ds = read_dataset(where)
    try:
        if not has_pixels(ds):
            raise DicomDecodeError(where, describe_missing_pixels(ds))
        validate.check_transfer_syntax(UID(ds.file_meta.get("TransferSyntaxUID", "") or ""), where)
        try:
            layout = PixelLayout.from_dataset(ds)
        except KeyError as exc:
            raise DicomDecodeError(where, f"the image description is incomplete: {exc} is missing") from None
        except Exception as exc:
            raise DicomDecodeError(where, f"the image description cannot be read ({_first_line(exc)})") from None
        validate.check_layout(layout, where)
        source = Source(path=where, dataset=ds, layout=layout)
        check_pixel_data(source)
    except DicomDecodeError:
        raise
    except Exception as exc:  # a damaged element that pydicom only parses on access
        raise DicomDecodeError(where, f"the file is damaged ({_first_line(exc)})") from None
    return source


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:200]


def check_pixel_data(source: Source) -> None:
    """The header's claims against the pixel data present and the memory free, before decoding."""
    ds, layout, where = source.dataset, source.layout, source.path
    if source.is_encapsulated:
        validate.check_encapsulated_frames(
            layout, ds.PixelData, where, "ExtendedOffsetTable" in ds and "ExtendedOffsetTableLengths" in ds
        )
        first = source.first_frame()
        if first is not None:
            validate.check_codestream(layout, first, where)
    else:
        keyword = next(k for k in PIXEL_KEYWORDS if k in ds)
        validate.check_native_length(layout, len(ds[keyword].value or b""), where)
    validate.check_memory(validate.decoded_nbytes(layout), f"decoding {validate.claim(layout)}", where)


def split_frames(source: Source) -> list[bytes]:
    """The encoded frames; frames that cannot be split out are recorded, not fatal."""
    ds, n = source.dataset, source.layout.number_of_frames
    frames: list[bytes] = []
    offsets = None
    if "ExtendedOffsetTable" in ds and "ExtendedOffsetTableLengths" in ds:
        offsets = (ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths)
    try:
        for frame in generate_frames(ds.PixelData, number_of_frames=n, extended_offsets=offsets):
            frames.append(bytes(frame))
    except Exception as exc:
        source.broken_frames[len(frames)] = f"the encapsulated data is damaged ({exc})"
    if not frames and not source.broken_frames:
        source.broken_frames[0] = "the encapsulated pixel data holds no frames"
    for missing in range(len(frames), n):
        source.broken_frames.setdefault(missing, "the frame is missing from the file")
    return frames
