"""A seeded, deterministic corpus of damaged DICOM files made from real test files.

``plan(seed)`` lists every case (cheap: no file is written); ``write(case, folder)`` writes one
case's bytes. The same seed always gives the same bytes. The source files are only ever read.

Element edits go through pydicom (edit the dataset, save it); damage that pydicom would refuse to
write (codestream bytes, fragments, offset tables, VR bytes, lengths, the file meta) is done on the
raw bytes.
"""

from __future__ import annotations

import io
import random
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pydicom
from pydicom.dataelem import DataElement

#: The real files mutated, and what each brings: native, multi-frame, every codec family, colour,
#: palette, big-endian and implicit VR.
SOURCES: tuple[str, ...] = (
    "CT_small.dcm",  # native 16-bit, explicit VR little endian
    "MR_small_implicit.dcm",  # native, implicit VR
    "emri_small_big_endian.dcm",  # native multi-frame (10), explicit VR big endian
    "OBXXXX1A.dcm",  # native PALETTE COLOR with its lookup tables
    "MR_small_RLE.dcm",  # RLE, one frame
    "SC_rgb_rle_2frame.dcm",  # RLE colour, two frames
    "JPEG-LL.dcm",  # lossless JPEG (process 14)
    "examples_ybr_color.dcm",  # JPEG baseline YBR_FULL_422, 30 frames
    "emri_small_jpeg_ls_lossless.dcm",  # JPEG-LS, 10 frames
    "emri_small_jpeg_2k_lossless.dcm",  # JPEG 2000, 10 frames
)

PIXEL_TAG = {"<": b"\xe0\x7f\x10\x00", ">": b"\x7f\xe0\x00\x10"}
ITEM_TAG = b"\xfe\xff\x00\xe0"
SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"


@dataclass(frozen=True)
class Case:
    """One mutated file: which mutation of which source, and how to name it."""

    index: int
    kind: str
    source: str
    variant: int
    seed: int

    @property
    def name(self) -> str:
        return f"{self.index:05d}_{self.kind}_{Path(self.source).stem}_{self.variant}.dcm"


@dataclass
class Mutated:
    """The bytes of a mutated file, what was done in words, and how many leading frames must
    still equal the source's (the undamaged frames of a file whose later frames were damaged)."""

    data: bytes
    description: str
    intact_frames: int = 0
    #: Frames the pixel data really holds where the header claims otherwise: decoding more than
    #: this many frames means frames were made up (0: not checked).
    frames_present: int = 0


# ----------------------------------------------------------------------------------------------
# Source facts


def source_path(name: str) -> str:
    from tests.dicom_files import data_file

    return data_file(name)


@dataclass(frozen=True)
class SourceInfo:
    name: str
    data: bytes
    endian: str  # "<" or ">"
    implicit: bool
    encapsulated: bool
    frames: int
    pixel_value_offset: int  # first byte of the Pixel Data value
    pixel_value_end: int  # one past its last byte (sequence delimiter included if encapsulated)
    pixel_header_offset: int  # first byte of the Pixel Data element (its tag)


@cache
def source_info(name: str) -> SourceInfo:
    data = Path(source_path(name)).read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(io.BytesIO(data))
    endian = ">" if ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.2" else "<"
    implicit = ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2"
    tag_at = data.rfind(PIXEL_TAG[endian])
    header = 8 if implicit else 12
    length = struct.unpack(endian + "I", data[tag_at + header - 4 : tag_at + header])[0]
    value_at = tag_at + header
    encapsulated = length == 0xFFFFFFFF
    end = data.find(SEQUENCE_DELIMITER, value_at) + 8 if encapsulated else value_at + length
    return SourceInfo(
        name=name,
        data=data,
        endian=endian,
        implicit=implicit,
        encapsulated=encapsulated,
        frames=int(ds.get("NumberOfFrames", 1) or 1),
        pixel_value_offset=value_at,
        pixel_value_end=end,
        pixel_header_offset=tag_at,
    )


def load(data: bytes) -> pydicom.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(io.BytesIO(data), force=True)


def save(ds: pydicom.Dataset) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(buffer, enforce_file_format=False)
    return buffer.getvalue()


def edit(info: SourceInfo, change: Callable[[pydicom.Dataset], None]) -> bytes:
    """Load the source with pydicom, apply ``change``, save."""
    ds = load(info.data)
    change(ds)
    return save(ds)


def set_element(keyword: str, value, vr: str | None = None) -> Callable[[pydicom.Dataset], None]:
    """Set (or, with ``value is None``, delete) an element; ``vr`` forces another VR so values
    that do not fit the dictionary VR (Rows=2**31-1) can still be written."""

    def change(ds: pydicom.Dataset) -> None:
        if value is None:
            if keyword in ds:
                delattr(ds, keyword)
            return
        if vr is not None:
            tag = pydicom.datadict.tag_for_keyword(keyword)
            ds[tag] = DataElement(tag, vr, value)
        else:
            setattr(ds, keyword, value)

    return change


def fragments(info: SourceInfo, data: bytes | None = None) -> list[bytes]:
    """The items of encapsulated Pixel Data (the first is the basic offset table), as values."""
    data = info.data if data is None else data
    items, at = [], info.pixel_value_offset
    while data[at : at + 4] == ITEM_TAG:
        length = struct.unpack("<I", data[at + 4 : at + 8])[0]
        items.append(data[at + 8 : at + 8 + length])
        at += 8 + length
    return items


def with_items(info: SourceInfo, items: list[bytes], delimiter: bool = True) -> bytes:
    """The source with its encapsulated Pixel Data rebuilt from ``items`` (lengths as given)."""
    body = b"".join(ITEM_TAG + struct.pack("<I", len(item)) + item for item in items)
    tail = SEQUENCE_DELIMITER if delimiter else b""
    return info.data[: info.pixel_value_offset] + body + tail + info.data[info.pixel_value_end :]


def native_frame_bytes(info: SourceInfo) -> int:
    return (info.pixel_value_end - info.pixel_value_offset) // max(info.frames, 1)


def set_meta_transfer_syntax(data: bytes, uid: str | None) -> bytes:
    """Rewrite the file meta group with another Transfer Syntax UID (or none) on the raw bytes:
    pydicom refuses to write a dataset in a syntax it does not know."""
    at, elements = 132, []
    while data[at : at + 2] == b"\x02\x00":
        tag = data[at : at + 4]
        vr = data[at + 4 : at + 6]
        if vr in (b"OB", b"OW", b"UN", b"SQ", b"UT", b"UC", b"UR"):
            length = struct.unpack("<I", data[at + 8 : at + 12])[0]
            head = 12
        else:
            length = struct.unpack("<H", data[at + 6 : at + 8])[0]
            head = 8
        elements.append((tag, data[at : at + head + length]))
        at += head + length
    rebuilt = []
    for tag, raw in elements:
        if tag == b"\x02\x00\x00\x00":
            continue
        if tag == b"\x02\x00\x10\x00":
            if uid is None:
                continue
            value = uid.encode("ascii", "replace")
            if len(value) % 2:
                value += b"\x00"
            raw = tag + b"UI" + struct.pack("<H", len(value)) + value
        rebuilt.append(raw)
    group = b"".join(rebuilt)
    length_element = b"\x02\x00\x00\x00UL" + struct.pack("<HI", 4, len(group))
    return data[:132] + length_element + group + data[at:]


# ----------------------------------------------------------------------------------------------
# Mutation kinds: each takes (rng, source info, variant) and returns Mutated, or None where the
# kind does not apply to that source. ``VARIANTS`` says how many variants of each kind per source.


def m_truncate(rng: random.Random, info: SourceInfo, variant: int) -> Mutated:
    size = len(info.data)
    cut = [
        lambda: rng.randrange(0, 132),  # inside the preamble
        lambda: rng.randrange(132, info.pixel_header_offset),  # inside the header
        lambda: rng.randrange(info.pixel_header_offset, info.pixel_value_offset + 8),  # pixel tag
        lambda: rng.randrange(info.pixel_value_offset + 8, size),  # inside the pixel data
        lambda: size - rng.randrange(1, 9),  # a few bytes short
    ][variant]()
    return Mutated(info.data[:cut], f"truncated to {cut} of {size} bytes")


def _flip(rng: random.Random, data: bytes, start: int, stop: int, count: int) -> tuple[bytes, list]:
    out = bytearray(data)
    places = sorted(rng.randrange(start, stop) for _ in range(count))
    for at in places:
        out[at] ^= 1 << rng.randrange(8) if rng.random() < 0.5 else rng.randrange(1, 256)
    return bytes(out), places


def m_header_byteflip(rng: random.Random, info: SourceInfo, variant: int) -> Mutated:
    count = (1, 1, 2, 4, 8, 16)[variant]
    data, places = _flip(rng, info.data, 132, info.pixel_value_offset, count)
    return Mutated(data, f"{count} header byte(s) changed at {places[:4]}")


def m_codestream_byteflip(rng: random.Random, info: SourceInfo, variant: int) -> Mutated:
    count = (1, 1, 4, 16, 64, 256)[variant]
    start = info.pixel_value_offset + (16 if info.encapsulated else 0)
    data, places = _flip(rng, info.data, start, info.pixel_value_end - 8, count)
    return Mutated(data, f"{count} pixel-data byte(s) changed from offset {places[0]}")


ABSURD = (0, 1, 65535, 2147483647, None)


def _absurd(keyword: str, info: SourceInfo, value) -> Mutated:
    vr = "UL" if value == 2147483647 and keyword != "NumberOfFrames" else None
    shown = "missing" if value is None else value
    return Mutated(edit(info, set_element(keyword, value, vr)), f"{keyword}={shown}")


def m_rows(rng: random.Random, info: SourceInfo, variant: int) -> Mutated:
    return _absurd("Rows", info, ABSURD[variant])


def m_columns(rng: random.Random, info: SourceInfo, variant: int) -> Mutated:
    return _absurd("Columns", info, ABSURD[variant])


def m_number_of_frames(rng: random.Random, info: SourceInfo, variant: int) -> Mutated:
    values = (*ABSURD, 3000, info.frames + 1, 2 * info.frames)
    mutated = _absurd("NumberOfFrames", info, values[variant])
    mutated.frames_present = info.frames
    return mutated


def m_bits_allocated(rng: random.Random, info: SourceInfo, variant: int) -> Mutated:
    return _absurd("BitsAllocated", info, (2, 4, 65535, 0, 32, 12)[variant])


def m_bits_stored(rng: random.Random, info: SourceInfo, variant: int) -> Mutated:
    return _absurd("BitsStored", info, (2, 4, 65535, 0, 33, None)[variant])


def m_samples_per_pixel(rng: random.Random, info: SourceInfo, variant: int) -> Mutated:
    return _absurd("SamplesPerPixel", info, (2, 4, 65535, 0, 3, 1)[variant])


def m_planar_configuration(rng: random.Random, info: SourceInfo, variant: int) -> Mutated:
    return _absurd("PlanarConfiguration", info, (0, 1, 2, 65535)[variant])


def m_pixel_representation(rng: random.Random, info: SourceInfo, variant: int) -> Mutated:
    if variant < 4:
        return _absurd("PixelRepresentation", info, (0, 1, 2, None)[variant])
    return _absurd("HighBit", info, (0, 65535)[variant - 4])


PHOTOMETRIC = ("MONOCHROME1", "RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "GARBAGE", "", None)


def m_photometric(rng: random.Random, info: SourceInfo, variant: int) -> Mutated:
    return _absurd("PhotometricInterpretation", info, PHOTOMETRIC[variant])


LUT_KEYWORDS = [
    f"{colour}PaletteColorLookupTable{part}"
    for colour in ("Red", "Green", "Blue")
    for part in ("Descriptor", "Data")
] + ["SegmentedRedPaletteColorLookupTableData", "PaletteColorLookupTableUID"]


def _lut(ds: pydicom.Dataset, colour: str, part: str, vr: str, value) -> None:
    tag = pydicom.datadict.tag_for_keyword(f"{colour}PaletteColorLookupTable{part}")
    ds[tag] = DataElement(tag, vr, value)


def m_palette(rng: random.Random, info: SourceInfo, variant: int) -> Mutated:
    def change(ds: pydicom.Dataset) -> None:
        ds.PhotometricInterpretation = "PALETTE COLOR"
        if variant == 0:  # no lookup table at all
            for keyword in LUT_KEYWORDS:
                if keyword in ds:
                    delattr(ds, keyword)
        elif variant == 1:  # descriptors kept, data gone
            for colour in ("Red", "Green", "Blue"):
                if f"{colour}PaletteColorLookupTableData" in ds:
                    delattr(ds, f"{colour}PaletteColorLookupTableData")
            if "RedPaletteColorLookupTableDescriptor" not in ds:
                for colour in ("Red", "Green", "Blue"):
                    _lut(ds, colour, "Descriptor", "US", [256, 0, 16])
        else:  # a table far shorter than its descriptor says
            for colour in ("Red", "Green", "Blue"):
                _lut(ds, colour, "Descriptor", "US", [0, 0, 16])
                _lut(ds, colour, "Data", "OW", b"\x00\x01")

    words = ("without lookup tables", "with descriptors but no data", "with a 2-byte table")
    return Mutated(edit(info, change), f"PALETTE COLOR {words[variant]}")


BAD_SYNTAXES = (
    ("1.2.3.4", "an unknown UID"),
    ("", "an empty UID"),
    ("1.2.840.10008.5.1.4.1.1.2", "CT Image Storage (not a transfer syntax)"),
    ("1.2.840.10008.1.2.4.50", "JPEG baseline"),
    ("1.2.840.10008.1.2.5", "RLE"),
    ("1.2.840.10008.1.2.1", "explicit VR little endian"),
    ("1.2.840.10008.1.2.1.99", "deflated"),
    ("1.2.840.10008.1.2.4.90", "JPEG 2000"),
    (None, "no transfer syntax"),
    ("1.2.840.10008.1.2.4.80\x00garbage\xff", "JPEG-LS followed by garbage"),
)


def m_transfer_syntax(rng: random.Random, info: SourceInfo, variant: int) -> Mutated:
    uid, words = BAD_SYNTAXES[variant]
    return Mutated(set_meta_transfer_syntax(info.data, uid), f"TransferSyntaxUID {words}")


def m_offset_table(rng: random.Random, info: SourceInfo, variant: int) -> Mutated | None:
    if not info.encapsulated:
        return None
    items = fragments(info)
    frames = max(info.frames, 1)
    total = sum(len(item) + 8 for item in items[1:])
    if variant == 0:
        table = [rng.randrange(0, 2**32) for _ in range(frames)]
        words = "random basic offset table"
    elif variant == 1:
        table = [total + 1000 * i for i in range(frames)]
        words = "basic offsets beyond the end"
    elif variant == 2:
        table = list(range(frames))[::-1]
        words = "basic offsets descending"
    elif variant == 3:
        table = [0] * (frames + 7)
        words = "basic offset table with too many entries"
    if variant <= 3:
        items[0] = b"".join(struct.pack("<I", value & 0xFFFFFFFF) for value in table)
        return Mutated(with_items(info, items), words)
    if variant == 4:
        items[0] = b"\x01\x02\x03"  # not a multiple of 4
        return Mutated(with_items(info, items), "basic offset table of 3 bytes")

    def extended(ds: pydicom.Dataset) -> None:
        if variant == 5:
            offsets = [rng.randrange(0, 2**63) for _ in range(frames)]
            lengths = [rng.randrange(0, 2**63) for _ in range(frames)]
        elif variant == 6:
            offsets = [0] * frames
            lengths = [2**40] * frames
        else:
            offsets = [0] * (frames + 3)
            lengths = [1] * (frames - 1 if frames > 1 else 0)
        ds.ExtendedOffsetTable = b"".join(struct.pack("<Q", v) for v in offsets)
        ds.ExtendedOffsetTableLengths = b"".join(struct.pack("<Q", v) for v in lengths)

    words = ("random", "huge lengths", "mismatched counts")[variant - 5]
    return Mutated(edit(info, extended), f"extended offset table: {words}")


def m_fragments(rng: random.Random, info: SourceInfo, variant: int) -> Mutated | None:
    if not info.encapsulated:
        return None
    items = fragments(info)
    table, frames = items[0], items[1:]
    pick = rng.randrange(len(frames))
    if variant == 0:
        frames.insert(pick, frames[pick])
        words = f"fragment {pick} duplicated"
    elif variant == 1:
        del frames[pick]
        words = f"fragment {pick} removed"
    elif variant == 2:
        frames.insert(pick, b"")
        words = f"zero-length fragment inserted before {pick}"
    elif variant == 3:
        frames[pick] = b""
        words = f"fragment {pick} emptied"
    elif variant == 4:
        frames = []
        words = "every fragment removed"
    elif variant == 5:
        return Mutated(with_items(info, [table, *frames], delimiter=False), "no sequence delimiter")
    elif variant == 6:
        body = with_items(info, [table, *frames])
        at = info.pixel_value_offset + 8 + len(table)
        for _ in range(pick):
            at += 8 + struct.unpack("<I", body[at + 4 : at + 8])[0]
        data = body[: at + 4] + struct.pack("<I", 0x7FFFFFF0) + body[at + 8 :]
        return Mutated(data, f"fragment {pick} claims 2 GiB")
    else:
        data = bytearray(with_items(info, [table, *frames]))
        at = info.pixel_value_offset + 8 + len(table)
        data[at : at + 4] = b"\xfe\xff\x0d\xe0"  # not an item tag
        return Mutated(bytes(data), "first fragment tag is not an item")
    return Mutated(with_items(info, [table, *frames]), words)


def m_damage_last_frame(rng: random.Random, info: SourceInfo, variant: int) -> Mutated | None:
    if info.frames < 2:
        return None
    if info.encapsulated:
        items = fragments(info)
        if len(items) - 1 != info.frames:
            return None
        last = bytearray(items[-1])
        start = (len(last) * (1, 2, 5, 9, 0, 0)[variant]) // 10
        # Variants 4 and 5 destroy the codestream's own header (SOI/SIZ/RLE header) too.
        part = (3, 5, 2, 1, 5, 10)[variant]
        stop = min(len(last), start + max(8, (len(last) * part) // 10))
        last[start:stop] = rng.randbytes(stop - start)
        items[-1] = bytes(last)
        data = with_items(info, items)
    else:
        size = native_frame_bytes(info)
        first = info.pixel_value_offset + size * (info.frames - 1)
        start = first + (size * (1, 2, 5, 9, 0, 0)[variant]) // 10
        stop = min(first + size, start + size // 3)
        data = info.data[:start] + rng.randbytes(stop - start) + info.data[stop:]
    return Mutated(
        data, f"random bytes over part of the last of {info.frames} frames", info.frames - 1
    )


NUMBER_STRINGS = (
    ("PixelSpacing", "abc\\def", "DS"),
    ("SliceThickness", "1..2", "DS"),
    ("RescaleSlope", "nan", "DS"),
    ("RescaleIntercept", "1e999", "DS"),
    ("RescaleSlope", "", "DS"),
    ("ImagePositionPatient", "1\\2", "DS"),
    ("WindowCenter", "x", "DS"),
    ("NumberOfFrames", "1.5", "IS"),
    ("NumberOfFrames", "-3", "IS"),
    ("InstanceNumber", "one", "IS"),
)


def m_number_string(rng: random.Random, info: SourceInfo, variant: int) -> Mutated:
    keyword, text, vr = NUMBER_STRINGS[variant]
    tag = pydicom.datadict.tag_for_keyword(keyword)

    def change(ds: pydicom.Dataset) -> None:
        # A raw element keeps the damaged text exactly: pydicom would refuse to convert it.
        ds[tag] = pydicom.dataelem.RawDataElement(
            pydicom.tag.Tag(tag),
            vr,
            len(text.encode()),
            text.encode(),
            0,
            info.implicit,
            info.endian == "<",
        )

    return Mutated(edit(info, change), f"{keyword} ({vr}) = {text!r}")


def _explicit_vr_positions(info: SourceInfo) -> list[int]:
    """Offsets of the VR bytes of the top-level data set's elements (explicit VR only)."""
    if info.implicit:
        return []
    data, endian = info.data, info.endian
    at, found = 132, []
    # The file meta is always little endian; the data set follows the source's byte order.
    while at < info.pixel_header_offset:
        group = struct.unpack(
            "<H" if data[at : at + 2] == b"\x02\x00" else endian + "H", data[at : at + 2]
        )[0]
        order = "<" if group == 2 else endian
        vr = data[at + 4 : at + 6]
        found.append(at + 4)
        if vr in (b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"SQ", b"UC", b"UN", b"UR", b"UT"):
            length = struct.unpack(order + "I", data[at + 8 : at + 12])[0]
            if length == 0xFFFFFFFF:
                break  # a sequence of undefined length: stop listing here
            at += 12 + length
        else:
            at += 8 + struct.unpack(order + "H", data[at + 6 : at + 8])[0]
    return found


def m_vr_flip(rng: random.Random, info: SourceInfo, variant: int) -> Mutated | None:
    positions = _explicit_vr_positions(info)
    if not positions:
        return None
    at = rng.choice(positions[8:] or positions)
    out = bytearray(info.data)
    old = bytes(out[at : at + 2]).decode("latin-1")
    new = ("XX", "\x00\x00", "OB", "SQ", "US")[variant]
    out[at : at + 2] = new.encode("latin-1")
    return Mutated(bytes(out), f"VR {old!r} at offset {at} changed to {new!r}")


def m_pixel_length(rng: random.Random, info: SourceInfo, variant: int) -> Mutated | None:
    out = bytearray(info.data)
    at = info.pixel_value_offset - 4
    real = info.pixel_value_end - info.pixel_value_offset
    value = (real + 1, 0xFFFFFFF0, 0, real * 2)[variant]
    out[at : at + 4] = struct.pack(info.endian + "I", value)
    return Mutated(bytes(out), f"Pixel Data length {real} written as {value}")


def m_huge_length(rng: random.Random, info: SourceInfo, variant: int) -> Mutated | None:
    positions = _explicit_vr_positions(info)
    if info.implicit or not positions:
        return None
    out = bytearray(info.data)
    # An element with a long (4-byte) length in the data set: point it past the end of the file.
    for at in positions[10:]:
        vr = bytes(out[at : at + 2])
        if vr in (b"OB", b"OW", b"UN", b"UT", b"SQ"):
            out[at + 4 : at + 8] = struct.pack(info.endian + "I", (0xFFFFFFF0, 0x7FFFFFFF)[variant])
            return Mutated(bytes(out), f"{vr.decode()} element at {at} claims a huge length")
    # Otherwise make a short element's 2-byte length far too long.
    at = positions[12 + variant] if len(positions) > 13 else positions[-1]
    out[at + 2 : at + 4] = struct.pack(info.endian + "H", 0xFFF0)
    return Mutated(bytes(out), f"element at {at - 4} claims 65520 bytes")


def m_file_meta(rng: random.Random, info: SourceInfo, variant: int) -> Mutated:
    data = info.data
    if variant == 0:
        return Mutated(data[128:], "no preamble (starts with DICM)")
    if variant == 1:
        return Mutated(data[:128] + b"DICN" + data[132:], "DICM prefix damaged")
    if variant == 2:
        out = bytearray(data)
        out[140:144] = struct.pack("<I", 0xFFFFFF00)
        return Mutated(bytes(out), "file meta group length absurd")
    return Mutated(data[: info.pixel_header_offset] + b"", "no Pixel Data element at all")


def m_bomb(rng: random.Random, info: SourceInfo, variant: int) -> Mutated:
    combos = (
        {"Rows": 1, "Columns": 65535, "NumberOfFrames": 3000},
        {"Rows": 65535, "Columns": 65535},
        {"Rows": 32768, "Columns": 32768, "BitsAllocated": 16},
        {"Rows": 65535, "Columns": 65535, "SamplesPerPixel": 3, "NumberOfFrames": 1000},
    )
    values = combos[variant]

    def change(ds: pydicom.Dataset) -> None:
        for keyword, value in values.items():
            setattr(ds, keyword, value)

    shown = ", ".join(f"{k}={v}" for k, v in values.items())
    present = info.frames if set(values) == {"Rows", "Columns", "NumberOfFrames"} else 0
    return Mutated(edit(info, change), shown, frames_present=present)


MUTATIONS: dict[str, tuple[Callable[..., Mutated | None], int]] = {
    "truncate": (m_truncate, 5),
    "header-byteflip": (m_header_byteflip, 6),
    "codestream-byteflip": (m_codestream_byteflip, 6),
    "rows": (m_rows, 5),
    "columns": (m_columns, 5),
    "number-of-frames": (m_number_of_frames, 8),
    "bits-allocated": (m_bits_allocated, 6),
    "bits-stored": (m_bits_stored, 6),
    "samples-per-pixel": (m_samples_per_pixel, 6),
    "planar-configuration": (m_planar_configuration, 4),
    "pixel-representation": (m_pixel_representation, 6),
    "photometric": (m_photometric, len(PHOTOMETRIC)),
    "palette-without-lut": (m_palette, 3),
    "transfer-syntax": (m_transfer_syntax, len(BAD_SYNTAXES)),
    "offset-table": (m_offset_table, 8),
    "fragments": (m_fragments, 8),
    "damage-last-frame": (m_damage_last_frame, 6),
    "number-string": (m_number_string, len(NUMBER_STRINGS)),
    "vr-flip": (m_vr_flip, 5),
    "pixel-data-length": (m_pixel_length, 4),
    "huge-element-length": (m_huge_length, 2),
    "file-meta": (m_file_meta, 4),
    "size-bomb": (m_bomb, 4),
}

#: Files that are not DICOM at all but are named .dcm: (description, bytes).
NOT_DICOM: tuple[tuple[str, bytes], ...] = (
    ("a text file named .dcm", b"This is not a DICOM file.\nJust some notes.\n" * 20),
    ("an empty file", b""),
    ("a PNG signature", b"\x89PNG\r\n\x1a\n" + bytes(200)),
    ("a DICM prefix and nothing else", bytes(128) + b"DICM"),
    ("a DICM prefix then random bytes", bytes(128) + b"DICM" + random.Random(7).randbytes(4000)),
    ("random bytes", random.Random(8).randbytes(5000)),
    ("a JSON file named .dcm", b'{"PatientName": "x", "Rows": 512}'),
    ("a zip signature", b"PK\x03\x04" + bytes(300)),
)


def plan(seed: int = 0) -> list[Case]:
    """Every case, in a fixed order; nothing is read or written yet (``mutate`` gives None for a
    kind that does not apply to a source: offset tables of a native file, for example)."""
    cases: list[Case] = []
    for kind, (_, variants) in MUTATIONS.items():
        for source in SOURCES:
            for variant in range(variants):
                cases.append(Case(len(cases), kind, source, variant, seed))
    for variant in range(len(NOT_DICOM)):
        cases.append(Case(len(cases), "not-dicom", "(none)", variant, seed))
    return cases


def mutate(case: Case) -> Mutated | None:
    """The case's bytes, or None where its kind does not apply to its source."""
    if case.kind == "not-dicom":
        words, data = NOT_DICOM[case.variant]
        return Mutated(data, words)
    function, _ = MUTATIONS[case.kind]
    rng = random.Random(f"{case.seed}:{case.kind}:{case.source}:{case.variant}")
    return function(rng, source_info(case.source), case.variant)


def quick_subset(cases: list[Case], size: int = 150) -> list[Case]:
    """About ``size`` cases spread evenly over every kind and source (deterministic)."""
    by_kind: dict[str, list[Case]] = {}
    for case in cases:
        by_kind.setdefault(case.kind, []).append(case)
    share = size / len(cases)
    chosen = []
    for members in by_kind.values():
        count = max(3, round(len(members) * share))
        step = len(members) / count
        chosen.extend(members[int(i * step)] for i in range(count))
    return chosen
