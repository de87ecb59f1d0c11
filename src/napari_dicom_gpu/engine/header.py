"""The header values the engine needs from each file, without building a full pydicom dataset.

Every stage after reading (series grouping, geometry, layout, values) reads a file's header
through ``Source.header``: an object with ``get(keyword, default=None)`` and ``keyword in header``
for the keywords below. A pydicom ``Dataset`` has that interface, so it is the fallback for any
file the fast parser declines; the full dataset stays available as ``Source.dataset`` (lazily).

``parse_header`` is the fast parser: one pass over the bytes of a DICOM Part 10 file with
``struct``, keeping only the elements named in ``HEADER_KEYWORDS`` and the position of the pixel
data, about ten times faster than ``pydicom.dcmread(path, stop_before_pixels=True)``. It declines
(returns ``None``) anything it does not read exactly as pydicom would, so the caller falls back to
pydicom for those files.
"""

from __future__ import annotations

import struct
from typing import Any, Protocol

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.uid import AllTransferSyntaxes, ExplicitVRLittleEndian, ImplicitVRLittleEndian

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


class FastHeader:
    """The ``HEADER_KEYWORDS`` values of one file and where its pixel data lies.

    Values are typed as pydicom's become after ``float()``/``int()``/``str()``: DS -> ``float``,
    IS and US/UL/SS/SL -> ``int``, text -> ``str`` (trailing spaces and NULs removed as pydicom
    removes them), several values -> ``list`` of those. An element present but empty is kept, with
    pydicom's empty value: ``None`` for numbers (DS and IS included), ``""`` for text, and ``""``
    for a DS or IS holding only spaces; so ``kw in header`` and ``header.get(kw)`` answer as
    ``kw in ds`` and ``ds.get(kw)`` do on ``dcmread(path, stop_before_pixels=True)``.
    ``TransferSyntaxUID`` (from the file meta group) is also there, unlike on a pydicom dataset.

    Attributes
    ----------
    transfer_syntax : str
        The transfer syntax UID of the dataset.
    pixel_tag : int or None
        ``0x7FE00010`` (PixelData), ``0x7FE00008`` (FloatPixelData) or ``0x7FE00009``
        (DoubleFloatPixelData); ``None`` if the file has no pixel data.
    pixel_vr : str or None
        The pixel data's VR as pydicom reports it (``"OW"`` for implicit VR files).
    pixel_offset : int or None
        Where the pixel data's value starts in the file's bytes.
    pixel_length : int or None
        Its length in bytes; ``None`` for encapsulated pixel data (undefined length: the value is
        a sequence of items, the basic offset table first, ending with a sequence delimiter).
    is_encapsulated : bool
        Whether the pixel data is encapsulated (compressed frames in fragments).
    offset_table : tuple of int or None
        Encapsulated pixel data: (offset, length) of the basic offset table's value (length 0
        when empty).
    fragments : list of tuple of int or None
        Encapsulated pixel data: (offset, length) of each fragment's value, in file order; one
        fragment per frame in most files (``pydicom.encaps`` rules apply to grouping them).
    extended_offsets, extended_lengths : tuple of int or None
        (offset, length) of the values of Extended Offset Table (7FE0,0001) and Extended Offset
        Table Lengths (7FE0,0002) when the file has them (little-endian uint64 each).
    """

    __slots__ = (
        "values", "transfer_syntax", "pixel_tag", "pixel_vr", "pixel_offset", "pixel_length",
        "is_encapsulated", "offset_table", "fragments", "extended_offsets", "extended_lengths", "path",
        "file_size",
    )

    def __init__(self, values: dict[str, Any], transfer_syntax: str, path: str = "") -> None:
        self.values = values
        self.transfer_syntax = transfer_syntax
        self.path = path
        self.pixel_tag: int | None = None
        self.pixel_vr: str | None = None
        self.pixel_offset: int | None = None
        self.pixel_length: int | None = None
        self.is_encapsulated = False
        self.offset_table: tuple[int, int] | None = None
        self.fragments: list[tuple[int, int]] | None = None
        self.extended_offsets: tuple[int, int] | None = None
        self.extended_lengths: tuple[int, int] | None = None
        self.file_size: int | None = None

    def get(self, keyword: str, default: Any = None) -> Any:
        return self.values.get(keyword, default)

    def __contains__(self, keyword: object) -> bool:
        return keyword in self.values

    def __repr__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return (
            f"FastHeader({where}{len(self.values)} values, {self.transfer_syntax}, "
            f"pixels at {self.pixel_offset} length {self.pixel_length})"
        )


# --- tables, computed once -------------------------------------------------------------------

def _swapped(tag: int) -> int:
    """A tag as the little-endian uint32 of its four bytes reads: (element << 16) | group."""
    return ((tag & 0xFFFF) << 16) | (tag >> 16)


_UNDEFINED = 0xFFFFFFFF  # the length of sequences, items and encapsulated pixel data
_ITEM = _swapped(0xFFFEE000)
_ITEM_END = _swapped(0xFFFEE00D)
_SEQUENCE_END = _swapped(0xFFFEE0DD)
_CHARSET = _swapped(0x00080005)
_TRANSFER_SYNTAX = _swapped(0x00020010)
_PIXEL_TAGS = {_swapped(0x7FE00010): 0x7FE00010, _swapped(0x7FE00008): 0x7FE00008,
               _swapped(0x7FE00009): 0x7FE00009}
_PIXEL_IMPLICIT_VR = {0x7FE00010: "OW", 0x7FE00008: "OF", 0x7FE00009: "OD"}
#: Extended Offset Table and its lengths (explicit VR, before encapsulated pixel data).
_EXTENDED_OFFSETS = {_swapped(0x7FE00001): "extended_offsets", _swapped(0x7FE00002): "extended_lengths"}
#: Functional groups: an enhanced multi-frame file keeps its geometry there, so it goes to pydicom.
_FUNCTIONAL_GROUPS = {_swapped(0x52009229), _swapped(0x52009230)}

# Explicit VR: VRs with a 2-byte reserved field and a 4-byte length (PS3.5 7.1.2).
_LONG_VRS = (b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV")
_SHORT_VRS = (b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT",
              b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US")
#: VR bytes -> header size of an explicit VR element (8 or 12); a VR not here is declined.
_HEADER_SIZE = {**dict.fromkeys(_SHORT_VRS, 8), **dict.fromkeys(_LONG_VRS, 12)}

_SHORT_VR_SET = frozenset(_SHORT_VRS)
_LONG_VR_SET = frozenset(_LONG_VRS)

_ELEMENT = struct.Struct("<I2sH")   # explicit VR: swapped tag, VR, short length
_TAG_LENGTH = struct.Struct("<II")  # implicit VR, items and delimiters: swapped tag, length
_UINT32 = struct.Struct("<I")
#: Binary numbers: VR -> the format of one value.
_NUMBERS = {vr: struct.Struct("<" + code) for vr, code in (
    (b"US", "H"), (b"SS", "h"), (b"UL", "I"), (b"SL", "i"), (b"FL", "f"), (b"FD", "d"), (b"SV", "q"), (b"UV", "Q"),
)}
#: VRs whose empty value pydicom reads as ``None`` (text VRs read as "").
_EMPTY_IS_NONE = frozenset(_NUMBERS) | {b"DS", b"IS"}

#: Text VRs decoded like pydicom's ``convert_string``/``convert_UI`` (default repertoire; DA, DT
#: and TM as pydicom reads them by default, without ``config.datetime_conversion``).
_STRING_VRS = frozenset((b"AS", b"CS", b"DA", b"DT", b"TM", b"UI"))
#: Text VRs in the file's character set, split on backslashes (pydicom's ``convert_text``).
_TEXT_VRS = frozenset((b"LO", b"SH", b"UC"))
#: Text VRs in the file's character set, never split (pydicom's ``convert_single_string``).
_SINGLE_TEXT_VRS = frozenset((b"LT", b"ST", b"UT", b"UR"))
#: Character sets decoded here; any other is accepted only for values in plain ASCII.
_CHARSETS = {"": "latin_1", "ISO_IR 6": "latin_1", "ISO_IR 100": "latin_1", "ISO_IR 192": "utf_8"}

_WANTED: dict[int, tuple[str, bytes]] = {}  # swapped tag -> (keyword, dictionary VR)
for _keyword in HEADER_KEYWORDS:
    _tag = tag_for_keyword(_keyword)
    _WANTED[_swapped(_tag)] = (_keyword, dictionary_VR(_tag).encode())
del _keyword, _tag

def _sequence_tags() -> frozenset[int]:
    from pydicom.datadict import DicomDictionary

    return frozenset(_swapped(tag) for tag, entry in DicomDictionary.items() if entry[0] == "SQ")


#: Sequences of the DICOM dictionary, recognised in implicit VR files by their tag.
_SEQUENCE_TAGS = _sequence_tags()
#: Top-level tags the walk keeps: the wanted ones and the character set.
_KEEP = frozenset(_WANTED) | {_CHARSET}
_KEPT, _PIXELS, _SEQUENCE, _GROUPS = 1, 2, 3, 4
#: Implicit VR: what a top-level tag needs, for the tags that need anything (one look-up each).
_IMPLICIT_SPECIAL = {
    **dict.fromkeys(_SEQUENCE_TAGS, _SEQUENCE), **dict.fromkeys(_FUNCTIONAL_GROUPS, _GROUPS),
    **dict.fromkeys(_KEEP, _KEPT), **dict.fromkeys(_PIXEL_TAGS, _PIXELS),
}
#: Explicit VR: pixel data with a short VR (invalid) is noted, then declined.
_KEEP_EXPLICIT = _KEEP | frozenset(_PIXEL_TAGS)

def _encapsulated_syntaxes() -> frozenset[str]:
    """Encapsulated little-endian syntaxes pydicom knows, without the JPIP (pixels elsewhere),
    deflated and SMPTE ST 2110 ones."""
    return frozenset(
        str(uid) for uid in AllTransferSyntaxes
        if uid.is_encapsulated and uid.is_little_endian and not uid.is_deflated
        and not any(word in uid.name for word in ("JPIP", "Deflate", "SMPTE"))
    )


#: Transfer syntax -> how its dataset is walked; any other is left to pydicom (big endian,
#: deflated, private or unknown).
_SYNTAX_KIND = {
    str(ImplicitVRLittleEndian): "implicit", str(ExplicitVRLittleEndian): "explicit",
    **dict.fromkeys(_encapsulated_syntaxes(), "encapsulated"),
}


class _Decline(Exception):
    """The file is outside what the fast path reads exactly; pydicom takes it."""


# --- the walk --------------------------------------------------------------------------------

def parse_header(
    raw: bytes | bytearray | memoryview, path: str = "", *, file_size: int | None = None
) -> FastHeader | None:
    """Read the ``HEADER_KEYWORDS`` values and the pixel data's position from a Part 10 file.

    Parameters
    ----------
    raw : bytes-like
        The whole file, or its first bytes when ``file_size`` is given (an ``mmap`` works too).
    path : str, optional
        Where it came from, kept on the header for messages.
    file_size : int, optional
        The size of the whole file when ``raw`` holds only its start: the header must then end
        inside ``raw`` (else ``None``: read more and try again), and the pixel data's length is
        checked against ``file_size``. Encapsulated pixel data's ``offset_table`` and
        ``fragments`` are ``None`` when they do not all lie inside ``raw`` (list them later with
        ``encapsulated_items`` on the bytes from ``pixel_offset``).

    Returns
    -------
    FastHeader or None
        ``None`` when the file is not one this parser reads exactly as pydicom does: no ``DICM``
        preamble, big endian, deflated or unknown transfer syntax, an unknown VR, a length running
        past the end, an undecodable value, a character set it cannot decode for a value it keeps,
        functional groups (enhanced multi-frame), or a kept keyword found only inside a sequence.
        It never raises on damaged input.
    """
    try:
        return _parse(raw, path, file_size)
    except (_Decline, struct.error, KeyError, ValueError, IndexError, TypeError, UnicodeError, RecursionError):
        return None


def _parse(buf: bytes | bytearray | memoryview, path: str, file_size: int | None = None) -> FastHeader | None:
    end = len(buf)
    if file_size is None:
        file_size = end
    elif file_size < end:
        return None
    if end < 132 or buf[128:132] != b"DICM":
        return None
    # File meta group: always explicit VR little endian; read until the first non-0002 group.
    pos = 132
    syntax = None
    unpack_element = _ELEMENT.unpack_from
    while pos + 8 <= end:
        swapped, vr, length = unpack_element(buf, pos)
        if swapped & 0xFFFF != 0x0002:
            break
        size = _HEADER_SIZE.get(vr)
        if size is None:
            return None
        if size == 12:
            length = _UINT32.unpack_from(buf, pos + 8)[0]
            if length == _UNDEFINED:
                return None
        start = pos + size
        pos = start + length
        if pos > end:
            return None
        if swapped == _TRANSFER_SYNTAX:
            syntax = str(buf[start:pos], "latin_1").rstrip("\0 ")
    if syntax is None:
        return None
    kind = _SYNTAX_KIND.get(syntax)
    if kind is None:
        return None
    header = FastHeader({}, syntax, path)
    header.file_size = file_size
    found: dict[int, tuple[bytes, int, int]] = {}  # swapped tag -> (VR, value offset, length)
    nested: set[int] = set()
    if kind == "implicit":
        # pydicom reads a dataset whose first element carries a VR as explicit, whatever the
        # meta group says; leave such files to it.
        if pos + 6 <= end and bytes(buf[pos + 4:pos + 6]) in _HEADER_SIZE:
            return None
        pos = _walk_implicit_top(buf, pos, end, found, nested, header)
    else:
        pos = _walk_explicit_top(buf, pos, end, found, nested, header)
    if header.pixel_tag is not None and header.is_encapsulated != (kind == "encapsulated"):
        return None  # native pixels in a compressed syntax or the reverse
    if nested and any(tag not in found for tag in nested):
        return None
    if kind != "implicit" and not _PIXEL_TAGS.keys().isdisjoint(found):
        return None  # pixel data with a short VR
    header.values = _convert(buf, found)
    header.values["TransferSyntaxUID"] = syntax
    return header


def _walk_explicit_top(buf, pos: int, end: int, found: dict, nested: set, header: FastHeader) -> int:
    """The dataset's top level in explicit VR; stops at the pixel data.

    The hot loop of the parser: an element with a short VR that is not kept costs one unpack,
    two set look-ups and an addition. Unknown VR bytes raise ``KeyError`` (declined).
    """
    unpack_element = _ELEMENT.unpack_from
    unpack_uint32 = _UINT32.unpack_from
    short_vrs = _SHORT_VR_SET
    long_vrs = _LONG_VR_SET
    keep = _KEEP_EXPLICIT
    while pos < end:
        swapped, vr, length = unpack_element(buf, pos)
        if vr in short_vrs:
            pos += 8 + length
            if swapped in keep:
                found[swapped] = (vr, pos - length, length)
            continue
        if vr not in long_vrs:
            raise _Decline
        length = unpack_uint32(buf, pos + 8)[0]
        start = pos + 12
        if swapped in _PIXEL_TAGS:
            _found_pixels(buf, header, swapped, vr.decode(), start, length, end)
            return start
        if swapped in _EXTENDED_OFFSETS and length != 0xFFFFFFFF:
            setattr(header, _EXTENDED_OFFSETS[swapped], (start, length))
        if length == 0xFFFFFFFF:
            if swapped in _FUNCTIONAL_GROUPS or swapped in keep:
                raise _Decline
            if vr == b"SQ":
                pos = _skip_items(buf, start, end, False, 1, nested)
            elif vr == b"UN":
                # An undefined-length UN is a sequence in implicit VR (PS3.5 6.2.2).
                pos = _skip_items(buf, start, end, True, 1, nested)
            else:
                raise _Decline
            continue
        pos = start + length
        if swapped in keep:
            found[swapped] = (vr, start, length)
        elif vr == b"SQ" and length:
            if swapped in _FUNCTIONAL_GROUPS or pos > end:
                raise _Decline
            _skip_items(buf, start, pos, False, 1, nested, defined=True)
    if pos != end:
        raise _Decline  # the last element ran past the end of the file
    return pos


def _walk_implicit_top(buf, pos: int, end: int, found: dict, nested: set, header: FastHeader) -> int:
    """The dataset's top level in implicit VR; stops at the pixel data."""
    unpack_tag_length = _TAG_LENGTH.unpack_from
    special = _IMPLICIT_SPECIAL
    while pos < end:
        swapped, length = unpack_tag_length(buf, pos)
        pos += 8
        what = special.get(swapped)
        if what is None:
            if length == 0xFFFFFFFF:
                # In implicit VR an undefined length can only be a sequence (private ones too).
                pos = _skip_items(buf, pos, end, True, 1, nested)
            else:
                pos += length
            continue
        if what == _KEPT:
            if length == 0xFFFFFFFF:
                raise _Decline
            found[swapped] = (None, pos, length)
            pos += length
        elif what == _PIXELS:
            if length == 0xFFFFFFFF:
                raise _Decline
            _found_pixels(buf, header, swapped, _PIXEL_IMPLICIT_VR[_PIXEL_TAGS[swapped]], pos, length, end)
            return pos
        elif what == _SEQUENCE:
            if length == 0xFFFFFFFF:
                pos = _skip_items(buf, pos, end, True, 1, nested)
            else:
                if pos + length > end:
                    raise _Decline
                if length:
                    _skip_items(buf, pos, pos + length, True, 1, nested, defined=True)
                pos += length
        else:  # functional groups
            raise _Decline
    if pos != end:
        raise _Decline
    return pos


def _found_pixels(buf, header: FastHeader, swapped: int, vr: str, start: int, length: int, end: int) -> None:
    header.pixel_tag = _PIXEL_TAGS[swapped]
    header.pixel_vr = vr
    header.pixel_offset = start
    if length == _UNDEFINED:
        if vr not in ("OB", "OW"):
            raise _Decline
        header.is_encapsulated = True
        header.pixel_length = None
        items = _fragments(buf, start, end)
        if items is not None:
            header.offset_table, header.fragments = items
        elif header.file_size == end:
            raise _Decline  # truncated: pydicom drops such pixel data
    else:
        if start + length > header.file_size:
            raise _Decline
        header.pixel_length = length


def _fragments(buf, pos: int, end: int) -> tuple[tuple[int, int], list[tuple[int, int]]] | None:
    """The basic offset table and the fragments of encapsulated pixel data, as (offset, length).

    ``None`` when the value runs past ``end`` before its sequence delimiter; declines a value
    that is not a sequence of items.
    """
    unpack_tag_length = _TAG_LENGTH.unpack_from
    items = []
    while True:
        if pos + 8 > end:
            return None
        swapped, length = unpack_tag_length(buf, pos)
        pos += 8
        if swapped == _ITEM and length != _UNDEFINED:
            if pos + length > end:
                return None
            items.append((pos, length))
            pos += length
        elif swapped == _SEQUENCE_END and items:
            return items[0], items[1:]
        else:
            raise _Decline


def encapsulated_items(
    raw: bytes | bytearray | memoryview, offset: int = 0
) -> tuple[tuple[int, int], list[tuple[int, int]]] | None:
    """The basic offset table and fragments of encapsulated pixel data starting at ``offset``.

    Returns ``((offset, length), [(offset, length), ...])`` for the offset table's value and each
    fragment's value, positions in ``raw``; ``None`` if the items are damaged or run past the end.
    """
    try:
        return _fragments(raw, offset, len(raw))
    except (_Decline, struct.error):
        return None


_MAX_DEPTH = 16


def _skip_items(buf, pos: int, end: int, implicit: bool, depth: int, nested: set, *,
                defined: bool = False, fragments: bool = False) -> int:
    """Step over the items of a sequence starting at ``pos``; returns where the sequence ends.

    ``defined``: the sequence has a defined length and ends at ``end``; otherwise it ends with a
    sequence delimiter. Item contents are walked (to note kept keywords found nested) unless they
    are ``fragments`` of encapsulated pixel data.
    """
    if depth > _MAX_DEPTH:
        raise _Decline
    unpack_tag_length = _TAG_LENGTH.unpack_from
    while True:
        if defined and pos == end:
            return pos
        swapped, length = unpack_tag_length(buf, pos)
        pos += 8
        if swapped == _ITEM:
            if length == _UNDEFINED:
                if fragments:
                    raise _Decline
                pos = _walk_nested(buf, pos, end, implicit, depth, nested, delimited=True)
            else:
                item_end = pos + length
                if item_end > end:
                    raise _Decline
                if length and not fragments:
                    _walk_nested(buf, pos, item_end, implicit, depth, nested, delimited=False)
                pos = item_end
        elif swapped == _SEQUENCE_END and not defined:
            return pos
        else:
            raise _Decline


def _walk_nested(buf, pos: int, end: int, implicit: bool, depth: int, nested: set, *, delimited: bool) -> int:
    """Walk the elements of an item, noting kept keywords; returns where the item ends."""
    unpack_element = _ELEMENT.unpack_from
    unpack_tag_length = _TAG_LENGTH.unpack_from
    while pos < end or delimited:
        if implicit:
            swapped, length = unpack_tag_length(buf, pos)
            vr = None
            start = pos + 8
        else:
            swapped, vr, length = unpack_element(buf, pos)
            if swapped == _ITEM_END:
                start = pos + 8
            else:
                size = _HEADER_SIZE.get(vr)
                if size is None:
                    raise _Decline
                if size == 12:
                    length = _UINT32.unpack_from(buf, pos + 8)[0]
                start = pos + size
        if swapped == _ITEM_END:
            if not delimited:
                raise _Decline
            return start
        if swapped in _WANTED:
            nested.add(swapped)
        if length == _UNDEFINED:
            if implicit or vr == b"SQ":
                pos = _skip_items(buf, start, end, implicit, depth + 1, nested)
            elif vr == b"UN":
                pos = _skip_items(buf, start, end, True, depth + 1, nested)
            elif vr in (b"OB", b"OW") and swapped in _PIXEL_TAGS:
                # Encapsulated pixel data of an icon image.
                pos = _skip_items(buf, start, end, False, depth + 1, nested, fragments=True)
            else:
                raise _Decline
            continue
        pos = start + length
        if pos > end:
            raise _Decline
        if length and (vr == b"SQ" or (implicit and swapped in _SEQUENCE_TAGS)):
            _skip_items(buf, start, pos, implicit, depth + 1, nested, defined=True)
    if pos != end:
        raise _Decline
    return pos


# --- values ----------------------------------------------------------------------------------

def _charset_codec(found: dict, buf) -> str | None:
    """The codec for text values: one pydicom would use, or ``None`` for 'plain ASCII only'."""
    entry = found.pop(_CHARSET, None)
    if entry is None:
        return "latin_1"
    _, start, length = entry
    value = str(buf[start:start + length], "latin_1").rstrip(" \0")
    return _CHARSETS.get(value)


def _decode_text(data, codec: str | None) -> str:
    if codec is None:
        data = bytes(data)
        if not data.isascii() or b"\x1b" in data:
            raise _Decline  # a character set decoded here only for plain ASCII values
        return data.decode("ascii")
    return str(data, codec)


def _integer_string(item: str) -> int | str:
    if not item.strip():
        return ""
    try:
        return int(item)
    except ValueError:
        number = float(item)
        if not number.is_integer():
            raise _Decline from None  # pydicom keeps a non-integral IS as a float
        return int(number)


#: converted values by (tag, VR, character set codec, raw bytes). The files of a series repeat
#: most of their values (UIDs, sizes, spacing, window); converting each once per series made the
#: header pass ~1.5x faster on 250-file series (2026-11-29). Lists are copied out, never shared.
_MEMO: dict[tuple, Any] = {}
_MEMO_LIMIT = 65536
#: longer values are converted every time: the memo stays under ~20 MB whatever the files hold
_MEMO_VALUE_BYTES = 256
_MISSING = object()


def _convert(buf, found: dict) -> dict[str, Any]:
    codec = _charset_codec(found, buf)
    values: dict[str, Any] = {}
    memo = _MEMO
    if len(memo) > _MEMO_LIMIT:
        memo.clear()
    for swapped, (vr, start, length) in found.items():
        raw = buf[start:start + length]
        if type(raw) is bytes and length <= _MEMO_VALUE_BYTES:  # slices of other buffers are not hashable
            key = (swapped, vr, codec, raw)
            value = memo.get(key, _MISSING)
            if value is _MISSING:
                value = memo[key] = _convert_one(raw, swapped, vr, codec)
        else:
            value = _convert_one(raw, swapped, vr, codec)
        values[_WANTED[swapped][0]] = value.copy() if type(value) is list else value
    return values


def _convert_one(raw, swapped: int, vr: bytes | None, codec: str | None) -> Any:
    """One element's value (its bytes ``raw``) as pydicom gives it; raises ``_Decline`` where it
    would differ."""
    if vr is None or vr == b"UN":
        # Implicit VR, or UN for a known tag (pydicom then reads it with the dictionary's VR).
        vr = _WANTED[swapped][1]
    length = len(raw)
    if vr in _STRING_VRS:
        text = str(raw, "latin_1").rstrip(" \0")
        return text.split("\\") if "\\" in text else text
    if not length and vr in _EMPTY_IS_NONE:
        return None
    if vr == b"DS":
        items = str(raw, "latin_1").strip().rstrip(" \0").split("\\")
        if len(items) == 1:
            return float(items[0]) if items[0].strip() else ""
        return [float(item) for item in items]  # a blank item raises: declined
    if vr == b"IS":
        items = str(raw, "latin_1").rstrip(" \0").split("\\")
        if len(items) == 1:
            return _integer_string(items[0])
        numbers = [_integer_string(item) for item in items]
        if "" in numbers:
            raise _Decline
        return numbers
    if vr in _NUMBERS:
        single = _NUMBERS[vr]
        if length == single.size:
            return single.unpack_from(raw)[0]
        count, rest = divmod(length, single.size)
        if rest:
            raise _Decline  # pydicom refuses the value
        return list(struct.unpack_from(f"<{count}{single.format[-1]}", raw))
    if vr in _TEXT_VRS:
        parts = [part.rstrip("\0 ") for part in _decode_text(raw, codec).split("\\")]
        return parts[0] if len(parts) == 1 else parts
    if vr in _SINGLE_TEXT_VRS:
        return _decode_text(raw, codec).rstrip("\0 ")
    raise _Decline  # PN, AT, binary and ambiguous VRs: not read here
