"""Read a DICOM file into a dataset, its pixel layout and its encoded frames."""

from __future__ import annotations

import io
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
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
from .codestream import lacks_end_marker
from .errors import DicomDecodeError
from .header import HEADER_KEYWORDS, Header, encapsulated_items, parse_header
from .layout import PixelLayout
from .sniff import looks_like_dicom_bytes

PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
PIXEL_KEYWORD_OF_TAG = {0x7FE00010: "PixelData", 0x7FE00008: "FloatPixelData", 0x7FE00009: "DoubleFloatPixelData"}


@dataclass
class Source:
    """One DICOM file whose pixels are to be decoded.

    ``header`` holds the values the engine reads (see ``engine.header``): the fast parser's result
    when it accepted the file, else the pydicom dataset. ``dataset`` is the full pydicom dataset,
    parsed on first use. ``raw`` holds the file's bytes while decoding needs them; ``release()``
    drops them (and a dataset parsed from them) once the frames are decoded.

    A series' header pass reads only the start of each file (``raw_is_prefix``): the pixel data
    is read, and its claims checked, by ``load_pixels()`` when the decode reaches the file.
    """

    path: str
    header: Header
    layout: PixelLayout
    raw: bytes | None = field(default=None, repr=False)
    #: where the pixel data value starts in ``raw`` and how long it is (None: undefined length)
    pixel_offset: int | None = None
    pixel_length: int | None = None
    #: frame index -> why it could not be split out of the file (filled by ``encoded``)
    broken_frames: dict[int, str] = field(default_factory=dict)
    #: ``raw`` holds only the file's start: the pixel data is still to be read and checked
    raw_is_prefix: bool = False
    _dataset: Dataset | None = field(default=None, repr=False)
    _encoded: list[bytes] | None = field(default=None, repr=False)

    def load_pixels(self) -> None:
        """Have the whole file in ``raw`` (read now if only its start was, or if released).

        The first whole read of a file whose start alone was parsed checks the pixel data's
        claims (``check_pixel_data``); raises ``DicomDecodeError`` when they do not hold.
        """
        if self.pixel_offset is None or (self.raw is not None and not self.raw_is_prefix):
            return
        unchecked = self.raw_is_prefix
        raw = _read_bytes(self.path)
        if len(raw) != getattr(self.header, "file_size", len(raw)):
            raise DicomDecodeError(self.path, "the file changed size while it was being opened")
        self.raw, self.raw_is_prefix = raw, False
        if self.is_encapsulated and getattr(self.header, "fragments", None) is None:
            items = encapsulated_items(raw, self.pixel_offset)
            if items is not None:
                self.header.offset_table, self.header.fragments = items
        if unchecked:  # the layout and memory checks ran on the header: the pixel data's claims
            _checked(self.path, lambda: self, layout=False)

    @property
    def dataset(self) -> Dataset:
        """The full pydicom dataset (parsed, or read again from disk, on first use)."""
        if self._dataset is None:
            raw = self.raw if self.raw is not None and not self.raw_is_prefix else _read_bytes(self.path)
            self._dataset = _parse_dataset(self.path, raw)
        return self._dataset

    @property
    def name(self) -> str:
        return Path(self.path).name if self.path else "<dataset>"

    @cached_property
    def is_encapsulated(self) -> bool:
        return self.layout.transfer_syntax.is_encapsulated and self.pixel_keyword == "PixelData"

    @property
    def pixel_keyword(self) -> str:
        tag = getattr(self.header, "pixel_tag", None)
        if tag is not None:
            return PIXEL_KEYWORD_OF_TAG[tag]
        return next((k for k in PIXEL_KEYWORDS if k in self.dataset), "")

    def pixel_buffer(self):
        """The pixel data element's value: native samples, or the encapsulated items."""
        if self.pixel_offset is not None and self.path:
            self.load_pixels()
            end = None if self.pixel_length is None else self.pixel_offset + self.pixel_length
            return memoryview(self.raw)[self.pixel_offset : end]
        return self.dataset[self.pixel_keyword].value

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
        fragments = getattr(self.header, "fragments", None)
        if fragments and len(fragments) == self.layout.number_of_frames and self.raw is not None:
            encoded = self.encoded  # one fragment per frame: split them all, once (codecs need them)
            return encoded[0] if encoded else None
        try:
            buffer = bytes(self.pixel_buffer())  # pydicom's frame walk wants bytes
            return bytes(next(generate_frames(buffer, number_of_frames=self.layout.number_of_frames)))
        except Exception:
            return None

    def release(self) -> None:
        """Drop the file's bytes and encoded frames; the dataset can be read again from disk."""
        if self.path and os.path.isfile(self.path) and not self.raw_is_prefix:
            self.raw = None
            self._encoded = None
            if not isinstance(self.header, Dataset):
                self._dataset = None


def _infer_transfer_syntax(ds: Dataset) -> UID | None:
    """A transfer syntax for a file without meta information, from how pydicom read it."""
    encoding = getattr(ds, "original_encoding", None)
    if not encoding or encoding[0] is None:
        return None
    implicit, little = encoding
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:  # one read, then parse from memory: far fewer system calls
            return fh.read()
    except FileNotFoundError:
        raise DicomDecodeError(path, "the file does not exist") from None
    except IsADirectoryError:
        raise DicomDecodeError(path, "this is a folder, not a file") from None
    except OSError as exc:
        raise DicomDecodeError(path, f"the file cannot be read ({exc.strerror or exc})") from None


def _parse_dataset(path: str, raw: bytes) -> Dataset:
    """A full pydicom dataset from a file's bytes, with or without preamble."""
    buffer = io.BytesIO(raw)
    try:
        try:
            ds = dcmread(buffer)
        except InvalidDicomError:
            # A dataset without preamble and meta header: pydicom reads it when forced, but it
            # "reads" any bytes that way, so the start must look like a DICOM element first.
            if not looks_like_dicom_bytes(raw[:132]):
                raise
            buffer.seek(0)
            ds = dcmread(buffer, force=True)
            if not len(ds):
                raise
        ds.filename = path
    except InvalidDicomError:
        raise DicomDecodeError(path, "this is not a DICOM file") from None
    except Exception as exc:
        raise DicomDecodeError(path, f"the file is damaged or truncated ({_first_line(exc)})") from None
    if getattr(ds, "file_meta", None) is None:
        ds.file_meta = FileMetaDataset()
    if "TransferSyntaxUID" not in ds.file_meta:
        inferred = _infer_transfer_syntax(ds)
        if inferred is not None:
            ds.file_meta.TransferSyntaxUID = inferred
    return ds


def read_dataset(path: str | os.PathLike) -> Dataset:
    """Read a DICOM file, with or without preamble; errors name the file and the problem."""
    path = os.fspath(path)
    return _parse_dataset(path, _read_bytes(path))


def has_pixels(ds: Dataset) -> bool:
    return any(keyword in ds for keyword in PIXEL_KEYWORDS)


def describe_missing_pixels(ds: Dataset) -> str:
    kind = getattr(ds.get("SOPClassUID", None), "name", "") or str(ds.get("Modality", ""))
    what = f" ({kind})" if kind else ""
    return f"it holds no pixel data{what}, so there is no image to show"


def load_source(path: str | os.PathLike | Dataset, raw: bytes | None = None) -> Source:
    """Read a file (or take a dataset), check its claims, and leave its frames encoded.

    ``raw``, when given, is the file's content already read. Raises ``DicomDecodeError`` for a
    file that has no image, or whose header is invalid or claims more pixel data than the file
    holds or than this machine's memory can take.
    """
    if isinstance(path, Dataset):
        ds, where = path, str(getattr(path, "filename", "") or "")
        if getattr(ds, "file_meta", None) is None:
            ds.file_meta = FileMetaDataset()
        return _checked(where, lambda: _source_from_dataset(where, ds))
    where = os.fspath(path)
    raw = _read_bytes(where) if raw is None else raw
    return _checked(where, lambda: _source_from_bytes(where, raw))


def _source_from_bytes(where: str, raw: bytes) -> Source:
    fast = parse_header(raw, where)
    if fast is None:
        return _source_from_dataset(where, _parse_dataset(where, raw), raw)
    if fast.pixel_tag is None:
        return _source_from_dataset(where, _parse_dataset(where, raw), raw)  # says what it holds
    tsyntax = _uid(fast.transfer_syntax or "")
    validate.check_transfer_syntax(tsyntax, where)
    layout = _layout(where, lambda: PixelLayout.from_header(fast, tsyntax))
    return Source(where, fast, layout, raw, fast.pixel_offset, fast.pixel_length)


def _source_from_dataset(where: str, ds: Dataset, raw: bytes | None = None) -> Source:
    if not has_pixels(ds):
        raise DicomDecodeError(where, describe_missing_pixels(ds))
    validate.check_transfer_syntax(UID(ds.file_meta.get("TransferSyntaxUID", "") or ""), where)
    layout = _layout(where, lambda: PixelLayout.from_dataset(ds))
    _drop_unreadable(ds)
    return Source(where, ds, layout, raw, _dataset=ds)


def _drop_unreadable(ds: Dataset) -> list[str]:
    """Remove header elements the engine reads that pydicom cannot convert (a damaged VR or
    value raises only when read): grouping a folder reads them from every file, and one file's
    damaged Instance Number must not stop its neighbours. Returns the keywords removed."""
    dropped = []
    for keyword in HEADER_KEYWORDS:
        try:
            ds.get(keyword)
        except Exception:
            dropped.append(keyword)
            try:
                del ds[keyword]
            except Exception:
                pass
    return dropped


def _layout(where: str, build) -> PixelLayout:
    try:
        return build()
    except KeyError as exc:
        raise DicomDecodeError(where, f"the image description is incomplete: {exc} is missing") from None
    except Exception as exc:
        raise DicomDecodeError(where, f"the image description cannot be read ({_first_line(exc)})") from None


def _checked(where: str, build, pixels: bool = True, layout: bool = True) -> Source:
    """``build()``'s source after the checks: of its layout and the memory the decoded image
    needs (``layout``), of the pixel data's claims (``pixels``); every failure is a
    ``DicomDecodeError``."""
    try:
        source = build()
        if layout:
            validate.check_layout(source.layout, where)
            validate.check_memory(validate.decoded_nbytes(source.layout), f"decoding {validate.claim(source.layout)}", where)
        if pixels:
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
    """The header's claims against the pixel data present, before decoding."""
    layout, where = source.layout, source.path
    if source.is_encapsulated:
        validate.check_encapsulated_frames(layout, source.pixel_buffer(), where, _has_extended_offsets(source))
        first = source.first_frame()
        if first is not None:
            validate.check_codestream(layout, first, where)
    else:
        validate.check_native_length(layout, len(source.pixel_buffer() or b""), where)


def _has_extended_offsets(source: Source) -> bool:
    header = source.header
    if isinstance(header, Dataset):
        return "ExtendedOffsetTable" in header and "ExtendedOffsetTableLengths" in header
    return getattr(header, "extended_offsets", None) is not None and header.extended_lengths is not None


def split_frames(source: Source) -> list[bytes]:
    """The encoded frames; frames that cannot be split out are recorded, not fatal."""
    n = source.layout.number_of_frames
    source.load_pixels()
    fragments = getattr(source.header, "fragments", None)
    if fragments is not None and len(fragments) == n and source.raw is not None:
        raw = source.raw  # one fragment per frame: the frames, without pydicom's walk
        return _mark_cut_frames(source, [raw[offset : offset + length] for offset, length in fragments])
    frames: list[bytes] = []
    offsets = None
    if _has_extended_offsets(source):
        ds = source.dataset  # the tables' values, parsed once by pydicom (rare files)
        offsets = (ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths)
    try:
        for frame in generate_frames(bytes(source.pixel_buffer()), number_of_frames=n, extended_offsets=offsets):
            frames.append(bytes(frame))
    except Exception as exc:
        source.broken_frames[len(frames)] = f"the encapsulated data is damaged ({exc})"
    if not frames and not source.broken_frames:
        source.broken_frames[0] = "the encapsulated pixel data holds no frames"
    for missing in range(len(frames), n):
        source.broken_frames.setdefault(missing, "the frame is missing from the file")
    return _mark_cut_frames(source, frames)


def _mark_cut_frames(source: Source, frames: list[bytes]) -> list[bytes]:
    """Record the frames that end without their end marker (see ``codestream.lacks_end_marker``)."""
    tsyntax = source.layout.transfer_syntax
    for index, frame in enumerate(frames):
        if lacks_end_marker(frame, tsyntax):
            source.broken_frames.setdefault(
                index, "the frame's codestream ends without its end marker: the frame is cut short (damaged or truncated data)"
            )
    return frames


#: threads reading whole files during the decode (the main thread mostly waits on the codec)
READ_THREADS = min(2, os.cpu_count() or 1)
#: how much of each file a series' header pass reads: headers of CT and MR slices take 1-10 KiB;
#: a longer one is read whole. Files up to twice this size are read whole at once.
HEADER_PREFIX = 16 * 1024
#: files opened ahead of the one being parsed, with the kernel asked to read their starts now
READ_AHEAD = 64


def _read_error(path: str, exc: OSError) -> DicomDecodeError:
    if isinstance(exc, FileNotFoundError):
        return DicomDecodeError(path, "the file does not exist")
    if isinstance(exc, IsADirectoryError):
        return DicomDecodeError(path, "this is a folder, not a file")
    return DicomDecodeError(path, f"the file cannot be read ({exc.strerror or exc})")


def _open_ahead(path: str) -> int | DicomDecodeError:
    """An open file whose start the kernel reads in the background (Linux ``posix_fadvise``)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        return _read_error(path, exc)
    if _FADVISE:
        try:
            os.posix_fadvise(fd, 0, HEADER_PREFIX, os.POSIX_FADV_WILLNEED)
        except OSError:
            pass
    return fd


_FADVISE = hasattr(os, "posix_fadvise")


def _read_start(path: str, fd: int | DicomDecodeError) -> tuple[bytes, int] | DicomDecodeError:
    """The first ``HEADER_PREFIX`` bytes of a file (all of a small one) and the file's size."""
    if isinstance(fd, DicomDecodeError):
        return fd
    try:
        size = os.fstat(fd).st_size
        wanted = size if size <= 2 * HEADER_PREFIX else HEADER_PREFIX
        chunks, got = [], 0
        while got < wanted:
            chunk = os.read(fd, wanted - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), size
    except OSError as exc:
        return _read_error(path, exc)
    finally:
        os.close(fd)


def _read_starts(paths: list[str]) -> Iterator[tuple[bytes, int] | DicomDecodeError]:
    """Each file's start, in order. No threads: a thread reading for a parser that holds the GIL
    waits for it at every read (measured slower, even with one thread); the kernel reads ahead
    instead, ``READ_AHEAD`` files before the parser gets there."""
    ahead: deque = deque()
    upcoming = iter(paths)
    try:
        for path in upcoming:
            ahead.append((path, _open_ahead(path)))
            if len(ahead) >= READ_AHEAD:
                break
        for path in upcoming:
            done, fd = ahead.popleft()
            ahead.append((path, _open_ahead(path)))
            yield _read_start(done, fd)
        while ahead:
            yield _read_start(*ahead.popleft())
    finally:  # a consumer that stops early leaves no file open
        for _, fd in ahead:
            if isinstance(fd, int):
                os.close(fd)


def load_source_start(path: str, start: bytes, size: int) -> Source:
    """A source from the start of its file: its header, its layout and the checks a header allows.

    The pixel data is read and checked when it is decoded (``Source.load_pixels``). Files whose
    header the fast parser does not take from ``start`` are read whole, as ``load_source`` does.
    """
    if len(start) < size:
        fast = parse_header(start, path, file_size=size)
        if fast is not None and fast.pixel_tag is not None:
            layout = _ACCEPTED_LAYOUTS.get(_layout_key(fast))
            if layout is None:
                source = _checked(path, lambda: _source_from_start(path, fast, start), pixels=False)
                _remember_layout(source)
                return source
            return _source_from_start(path, fast, start, layout)
        start = _read_bytes(path)
    return load_source(path, start)


#: layouts that passed the header checks, by their header values: the files of a series share one
_ACCEPTED_LAYOUTS: dict[tuple, PixelLayout] = {}
_LAYOUT_KEYWORDS = (
    "Rows", "Columns", "SamplesPerPixel", "NumberOfFrames", "BitsAllocated", "BitsStored",
    "PixelRepresentation", "PhotometricInterpretation", "PlanarConfiguration",
)


def _layout_key(fast) -> tuple:
    get = fast.values.get
    # repr: a multi-valued (invalid) element is a list, and 16 must not match "16"
    return (fast.transfer_syntax, *[repr(get(keyword)) for keyword in _LAYOUT_KEYWORDS])


def _source_from_start(where: str, fast, start: bytes, layout: PixelLayout | None = None) -> Source:
    if layout is None:
        tsyntax = _uid(fast.transfer_syntax or "")
        validate.check_transfer_syntax(tsyntax, where)
        layout = _layout(where, lambda: PixelLayout.from_header(fast, tsyntax))
    source = Source(where, fast, layout, start, fast.pixel_offset, fast.pixel_length, raw_is_prefix=True)
    if not source.is_encapsulated:
        validate.check_native_length(layout, fast.pixel_length or 0, where)
    return source


def _remember_layout(source: Source) -> None:
    """Keep a layout that passed every header check for the next files with the same values."""
    if len(_ACCEPTED_LAYOUTS) > 1024:
        _ACCEPTED_LAYOUTS.clear()
    _ACCEPTED_LAYOUTS[_layout_key(source.header)] = source.layout


def load_sources(paths: list) -> list[Source | DicomDecodeError]:
    """Read and check every file's header (datasets are taken as they are); errors in order.

    A single file (or two or three) is read whole. A series' files are read only up to their
    pixel data (the kernel reading ahead): the decode reads the rest, chunk by chunk.
    """
    files = [os.fspath(p) for p in paths if not isinstance(p, Dataset)]
    if len(files) < 4:
        whole = iter([_read_or_error(p) for p in files])

        def load(item) -> Source | DicomDecodeError:
            raw = next(whole)
            return raw if isinstance(raw, DicomDecodeError) else load_source(item, raw)
    else:
        starts = _read_starts(files)

        def load(item) -> Source | DicomDecodeError:
            read = next(starts)
            return read if isinstance(read, DicomDecodeError) else load_source_start(item, *read)

    out: list[Source | DicomDecodeError] = []
    for item in paths:
        try:
            out.append(load_source(item) if isinstance(item, Dataset) else load(os.fspath(item)))
        except DicomDecodeError as exc:
            out.append(exc)
    return out


def _read_or_error(path: str) -> bytes | DicomDecodeError:
    try:
        return _read_bytes(path)
    except DicomDecodeError as exc:
        return exc


_UIDS: dict[str, UID] = {}


def _uid(value: str) -> UID:
    """pydicom's ``UID`` for a transfer syntax string, made once (its constructor is not cheap)."""
    uid = _UIDS.get(value)
    if uid is None:
        uid = _UIDS[value] = UID(value)
    return uid
