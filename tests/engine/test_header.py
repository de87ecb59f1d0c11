"""The fast header parser against pydicom, on every real file both can read."""

from __future__ import annotations

import math
import random
import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.multival import MultiValue
from pydicom.valuerep import IS, DSfloat

from napari_dicom_gpu.engine.header import (
    HEADER_KEYWORDS,
    FastHeader,
    encapsulated_items,
    parse_header,
)
from tests.dicom_files import data_file, data_folders

PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)


def _corpus() -> list[Path]:
    return sorted(p for folder in data_folders() for p in folder.rglob("*") if p.is_file())


CORPUS = _corpus()


def _pydicom_header(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:
            return None


def _normalised(value):
    """A pydicom value as plain Python: DSfloat -> float, IS -> int, MultiValue -> list, UID -> str."""
    if isinstance(value, (MultiValue, list, tuple)):
        return [_normalised(item) for item in value]
    if isinstance(value, DSfloat):
        return float(value)
    if isinstance(value, IS):
        return int(value)
    if isinstance(value, str):
        return str(value)
    return value


def _same(ours, theirs) -> bool:
    if isinstance(ours, list) and isinstance(theirs, list):
        return len(ours) == len(theirs) and all(_same(a, b) for a, b in zip(ours, theirs, strict=True))
    if isinstance(ours, float) and isinstance(theirs, float) and math.isnan(ours):
        return math.isnan(theirs)
    return type(ours) is type(theirs) and ours == theirs


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_values_match_pydicom_or_file_is_declined(path):
    ds = _pydicom_header(path)
    if ds is None:
        pytest.skip("pydicom cannot read it")
    raw = path.read_bytes()
    header = parse_header(raw, str(path))
    if header is None:
        return
    for keyword in HEADER_KEYWORDS:
        assert (keyword in header) == (keyword in ds), keyword
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = _normalised(ds.get(keyword))
        ours = header.get(keyword)
        assert _same(ours, theirs), f"{keyword}: {ours!r} != {theirs!r}"
    assert header.transfer_syntax == ds.file_meta.TransferSyntaxUID
    assert header.get("TransferSyntaxUID") == ds.file_meta.TransferSyntaxUID


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_pixel_data_position_matches_pydicom(path):
    raw = path.read_bytes()
    header = parse_header(raw, str(path))
    if header is None:
        pytest.skip("declined by the fast parser")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
    tags = [tag for tag in PIXEL_TAGS if tag in ds]
    if header.pixel_tag is None:
        assert not tags
        return
    assert tags == [header.pixel_tag]
    element = ds[header.pixel_tag]
    assert header.pixel_vr == element.VR
    value = element.value
    if header.is_encapsulated:
        assert header.pixel_length is None
        assert raw[header.pixel_offset:header.pixel_offset + 4] == b"\xfe\xff\x00\xe0"
        assert raw[header.pixel_offset:header.pixel_offset + len(value)] == value
    else:
        assert header.pixel_length == len(value)
        assert raw[header.pixel_offset:header.pixel_offset + header.pixel_length] == value


@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "rtdose.dcm", "emri_small.dcm", "SC_rgb_rle.dcm"]
)
def test_common_little_endian_files_take_the_fast_path(name):
    raw = Path(data_file(name)).read_bytes()
    assert isinstance(parse_header(raw), FastHeader)


@pytest.mark.parametrize(
    "name", ["MR_small_bigendian.dcm", "image_dfl.dcm", "no_meta.dcm"]
)
def test_big_endian_deflated_and_meta_less_files_are_declined(name):
    raw = Path(data_file(name)).read_bytes()
    assert parse_header(raw) is None


@pytest.mark.parametrize("name", ["CT_small.dcm", "rtdose.dcm", "JPEG2000.dcm"])
@pytest.mark.parametrize("kind", [memoryview, bytearray, lambda raw: memoryview(bytearray(raw))],
                         ids=["memoryview", "bytearray", "writable-memoryview"])
def test_other_buffers_give_the_same_header(name, kind):
    raw = Path(data_file(name)).read_bytes()
    from_bytes, from_other = parse_header(raw), parse_header(kind(raw))
    assert from_other.values == from_bytes.values
    assert (from_other.pixel_offset, from_other.pixel_length) == (from_bytes.pixel_offset, from_bytes.pixel_length)
    assert from_other.fragments == from_bytes.fragments


def test_empty_values_read_as_pydicom_reads_them(tmp_path):
    ds = pydicom.dcmread(data_file("CT_small.dcm"))
    ds.SliceThickness = None
    ds.InstanceNumber = None
    ds.SeriesDescription = None
    ds.Rows = None
    ds.WindowCenter = "  "
    path = tmp_path / "empty.dcm"
    ds.save_as(path, enforce_file_format=True)
    header = parse_header(path.read_bytes())
    reference = pydicom.dcmread(path, stop_before_pixels=True)
    for keyword in ("SliceThickness", "InstanceNumber", "SeriesDescription", "Rows", "WindowCenter"):
        assert keyword in header
        assert header.get(keyword) == reference.get(keyword)
    assert header.get("SliceThickness") is None
    assert header.get("SeriesDescription") == ""
    assert header.get("WindowCenter") == ""


def test_keyword_only_inside_a_sequence_is_declined(tmp_path):
    ds = pydicom.dcmread(data_file("CT_small.dcm"))
    item = pydicom.Dataset()
    item.EchoNumbers = "3"
    ds.ReferencedImageSequence = [item]
    path = tmp_path / "nested.dcm"
    ds.save_as(path, enforce_file_format=True)
    assert parse_header(path.read_bytes()) is None


def test_text_in_a_character_set_it_does_not_decode_is_declined(tmp_path):
    ds = pydicom.dcmread(data_file("CT_small.dcm"))
    ds.SpecificCharacterSet = "ISO_IR 144"
    ds.SeriesDescription = "Серия"
    path = tmp_path / "cyrillic.dcm"
    ds.save_as(path, enforce_file_format=True)
    assert parse_header(path.read_bytes()) is None
    ds.SeriesDescription = "plain"
    ds.save_as(path, enforce_file_format=True)
    assert parse_header(path.read_bytes()).get("SeriesDescription") == "plain"


def test_utf8_text_is_decoded(tmp_path):
    ds = pydicom.dcmread(data_file("CT_small.dcm"))
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SeriesDescription = "Thorax \u00e9t\u00e9 \u2013 axial"
    path = tmp_path / "utf8.dcm"
    ds.save_as(path, enforce_file_format=True)
    assert parse_header(path.read_bytes()).get("SeriesDescription") == ds.SeriesDescription


def test_values_repeated_across_files_are_not_shared(tmp_path):
    raw = Path(data_file("CT_small.dcm")).read_bytes()
    first, second = parse_header(raw), parse_header(raw)
    spacing = first.get("PixelSpacing")
    assert isinstance(spacing, list)
    spacing.append(99.0)
    assert second.get("PixelSpacing") == pydicom.dcmread(data_file("CT_small.dcm")).PixelSpacing


def test_same_bytes_in_another_character_set_are_not_taken_from_the_first(tmp_path):
    latin1 = _ct_small_with(tmp_path, SpecificCharacterSet="ISO_IR 100", SeriesDescription="\u00e9t\u00e9")
    assert parse_header(latin1).get("SeriesDescription") == "\u00e9t\u00e9"
    # the same value bytes under a character set this parser does not decode: declined
    assert parse_header(latin1.replace(b"ISO_IR 100", b"ISO_IR 144")) is None


FUZZ_FILES = ["CT_small.dcm", "JPEG2000.dcm", "rtdose.dcm", "nested_priv_SQ.dcm", "emri_small.dcm"]


@pytest.mark.parametrize("name", FUZZ_FILES)
def test_truncated_files_never_raise(name):
    raw = Path(data_file(name)).read_bytes()
    for cut in range(0, len(raw), max(1, len(raw) // 400)):
        result = parse_header(raw[:cut])
        assert result is None or isinstance(result, FastHeader)


@pytest.mark.parametrize("name", FUZZ_FILES)
def test_damaged_bytes_never_raise(name):
    raw = Path(data_file(name)).read_bytes()
    rng = random.Random(name)
    limit = min(len(raw), 8000)  # the header, where damage changes the walk
    for _ in range(600):
        damaged = bytearray(raw)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(128, limit)] = rng.randrange(256)
        result = parse_header(bytes(damaged))
        assert result is None or isinstance(result, FastHeader)


def test_garbage_never_raises():
    rng = random.Random(7)
    for size in (0, 10, 131, 132, 140, 300, 5000):
        for _ in range(50):
            junk = bytearray(rng.randbytes(size))
            if size >= 132:
                junk[128:132] = b"DICM"
            result = parse_header(bytes(junk))
            assert result is None or isinstance(result, FastHeader)


@pytest.mark.parametrize("name", ["JPEG2000.dcm", "SC_rgb_rle.dcm", "emri_small_jpeg_2k_lossless.dcm"])
def test_fragments_are_pydicoms_fragments(name):
    from pydicom.encaps import generate_fragments

    path = Path(data_file(name))
    raw = path.read_bytes()
    header = parse_header(raw)
    ds = pydicom.dcmread(path)
    expected = list(generate_fragments(ds.PixelData))
    items = [header.offset_table, *header.fragments]  # pydicom counts the offset table as a fragment
    assert [raw[start:start + size] for start, size in items] == expected


def _with_sequences(tmp_path, *, implicit: bool, defined_length: bool) -> Path:
    """CT_small with nested sequences repeating kept keywords, written as asked."""
    ds = pydicom.dcmread(data_file("CT_small.dcm"))
    inner = pydicom.Dataset()
    inner.SeriesInstanceUID = "1.2.3.4"
    inner.Rows = 7
    outer = pydicom.Dataset()
    outer.SeriesInstanceUID = "1.2.3.5"
    outer.ReferencedImageSequence = [inner, inner]
    ds.ReferencedSeriesSequence = [outer]
    for element in (ds["ReferencedSeriesSequence"], outer["ReferencedImageSequence"]):
        element.is_undefined_length = not defined_length
    for item in (inner, outer):
        item.is_undefined_length_sequence_item = not defined_length
    path = tmp_path / f"sequences-{implicit}-{defined_length}.dcm"
    if implicit:
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("defined_length", [False, True], ids=["undefined-length", "defined-length"])
@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_nested_sequences_are_stepped_over(tmp_path, implicit, defined_length):
    path = _with_sequences(tmp_path, implicit=implicit, defined_length=defined_length)
    raw = path.read_bytes()
    header = parse_header(raw)
    reference = pydicom.dcmread(path)
    assert header is not None
    assert header.get("SeriesInstanceUID") == reference.SeriesInstanceUID != "1.2.3.5"
    assert header.get("Rows") == reference.Rows == 128
    assert raw[header.pixel_offset:header.pixel_offset + header.pixel_length] == reference.PixelData


def test_extended_offset_table_is_located(tmp_path):
    import numpy as np
    from pydicom.encaps import encapsulate_extended

    ds = pydicom.dcmread(data_file("SC_rgb_rle_2frame.dcm"))
    frames = [bytes(frame) for frame in pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=2)]
    ds.PixelData, ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths = encapsulate_extended(frames)
    path = tmp_path / "extended.dcm"
    ds.save_as(path, enforce_file_format=True)
    raw = path.read_bytes()
    header = parse_header(raw)
    offset, length = header.extended_offsets
    assert np.frombuffer(raw, "<u8", length // 8, offset).tolist() == list(
        np.frombuffer(ds.ExtendedOffsetTable, "<u8"))
    offset, length = header.extended_lengths
    assert np.frombuffer(raw, "<u8", length // 8, offset).tolist() == [len(frame) for frame in frames]
    assert [raw[start:start + size] for start, size in header.fragments] == frames


@pytest.mark.parametrize("name", ["CT_small.dcm", "rtdose.dcm", "JPEG2000.dcm", "emri_small_jpeg_2k_lossless.dcm"])
def test_start_of_a_file_is_enough_given_its_size(name):
    raw = Path(data_file(name)).read_bytes()
    whole = parse_header(raw)
    start = parse_header(raw[: whole.pixel_offset + 8], file_size=len(raw))
    assert start.values == whole.values
    assert (start.pixel_offset, start.pixel_length) == (whole.pixel_offset, whole.pixel_length)
    if whole.is_encapsulated:
        assert start.fragments is None
        assert encapsulated_items(raw, start.pixel_offset) == (whole.offset_table, whole.fragments)


def test_start_of_a_file_that_ends_inside_the_header_is_declined():
    raw = Path(data_file("CT_small.dcm")).read_bytes()
    assert parse_header(raw[:1000], file_size=len(raw)) is None


def test_native_pixels_longer_than_the_file_are_declined():
    raw = Path(data_file("CT_small.dcm")).read_bytes()
    cut = raw[: parse_header(raw).pixel_offset + 100]
    assert parse_header(cut) is None
    assert parse_header(cut, file_size=len(cut)) is None


def _ct_small_with(tmp_path, **elements) -> bytes:
    """CT_small.dcm's bytes with ``elements`` set (warnings about their length silenced)."""
    ds = pydicom.dcmread(data_file("CT_small.dcm"))
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    path = tmp_path / "changed.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(path, enforce_file_format=True)
    return path.read_bytes()


def test_long_values_are_not_kept_between_files(tmp_path):
    from napari_dicom_gpu.engine import header as header_module

    raw = _ct_small_with(tmp_path, SeriesDescription="x" * 300)  # longer than LO allows, as some scanners write
    header_module._MEMO.clear()
    assert parse_header(raw).get("SeriesDescription") == "x" * 300
    kept = [key[3] for key in header_module._MEMO]
    assert kept and max(len(raw) for raw in kept) <= header_module._MEMO_VALUE_BYTES
