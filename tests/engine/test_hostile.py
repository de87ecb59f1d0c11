"""Files that lie: the engine refuses clearly, fast and small, and never loses a good frame."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate, generate_frames

from napari_dicom_gpu.engine import decode
from napari_dicom_gpu.engine.errors import DicomDecodeError
from tests.dicom_files import data_file


def _mutated(tmp_path, name: str, **elements) -> str:
    ds = pydicom.dcmread(data_file(name))
    for keyword, value in elements.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    out = tmp_path / f"mutated_{name}"
    ds.save_as(out)
    return str(out)


def _refused_quickly_and_small(path: str) -> str:
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(DicomDecodeError) as info:
            decode(path, "cpu")
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Bounds that a bomb would blow by orders of magnitude, not timing assertions on real work.
    assert seconds < 5 and peak < 100e6, (seconds, peak)
    return str(info.value)


@pytest.mark.parametrize(
    ("name", "elements", "claim"),
    [
        ("CT_small.dcm", {"Rows": 65535, "Columns": 65535}, "65535 x 65535"),
        ("emri_small.dcm", {"NumberOfFrames": 2147483647}, "2147483647 frames"),
        ("emri_small_jpeg_2k_lossless.dcm", {"NumberOfFrames": 2147483647}, "2147483647 frames"),
        ("emri_small_jpeg_ls_lossless.dcm", {"Rows": 1, "Columns": 65535, "NumberOfFrames": 3000}, "3000 frames"),
        ("MR_small_jp2klossless.dcm", {"Rows": 32768, "Columns": 32768}, "32768 x 32768"),
        ("CT_small.dcm", {"SamplesPerPixel": 65535}, "Samples per Pixel is 65535"),
        ("CT_small.dcm", {"BitsAllocated": 65535}, "Bits Allocated is 65535"),
        ("JPEG-LL.dcm", {"SamplesPerPixel": 2}, "Samples per Pixel is 2"),
        ("SC_rgb.dcm", {"PlanarConfiguration": 65535}, "Planar Configuration is 65535"),
        ("CT_small.dcm", {"Rows": 0}, "Rows x Columns is 0 x 128"),
        ("MR_small_RLE.dcm", {"Rows": 32768, "Columns": 32768}, "the RLE data"),
    ],
)
def test_a_header_that_claims_too_much_is_refused_before_allocating(tmp_path, name, elements, claim):
    message = _refused_quickly_and_small(_mutated(tmp_path, name, **elements))
    assert f"mutated_{name}" in message and claim in message


@pytest.mark.parametrize("uid", [b"1.2.840.10008.5.1.4", b"1.2.3.4.5.6.7.8.9.0"])
def test_a_transfer_syntax_uid_that_is_not_one_is_named(tmp_path, uid):
    raw = Path(data_file("CT_small.dcm")).read_bytes()
    assert raw.count(b"1.2.840.10008.1.2.1\x00") == 1  # Explicit VR Little Endian, padded
    path = tmp_path / "bad_syntax.dcm"
    path.write_bytes(raw.replace(b"1.2.840.10008.1.2.1\x00", uid + b"\x00"))
    assert "is not a known transfer syntax" in _refused_quickly_and_small(str(path))


def test_a_text_file_named_dcm_is_not_a_dicom_file(tmp_path):
    path = tmp_path / "notes.dcm"
    path.write_text("These are my notes, not an image.\n" * 20)
    assert "not a DICOM file" in _refused_quickly_and_small(str(path))


def _damage_frame(tmp_path, name: str, frame: int) -> str:
    """Overwrite the middle of one frame's codestream with noise; keep every other frame intact."""
    ds = pydicom.dcmread(data_file(name))
    n = int(ds.get("NumberOfFrames", 1))
    frames = [bytearray(f) for f in generate_frames(ds.PixelData, number_of_frames=n)]
    damaged = frames[frame]
    start = len(damaged) // 3
    damaged[start : start + max(len(damaged) // 3, 8)] = np.random.default_rng(7).integers(
        0, 256, max(len(damaged) // 3, 8), dtype=np.uint8
    ).tobytes()[: len(damaged[start : start + max(len(damaged) // 3, 8)])]
    ds.PixelData = encapsulate([bytes(f) for f in frames])
    out = tmp_path / f"damaged_{name}"
    ds.save_as(out)
    return str(out)


@pytest.mark.parametrize(
    "name",
    [
        "examples_ybr_color.dcm",  # JPEG baseline, fast CPU codec then pydicom
        "emri_small_jpeg_2k_lossless.dcm",  # JPEG 2000
        "emri_small_jpeg_ls_lossless.dcm",  # JPEG-LS, pydicom only
        "emri_small_RLE.dcm",  # RLE, pydicom only (pylibjpeg-rle can panic)
    ],
)
@pytest.mark.parametrize("backend", ["cpu", "pydicom"])
def test_a_damaged_frame_never_costs_the_good_frames(tmp_path, name, backend):
    expected = np.asarray(decode(data_file(name), backend).pixels)  # the undamaged file, same backend
    damaged = 2
    result = decode(_damage_frame(tmp_path, name, damaged), backend)
    good = [k for k in range(len(expected)) if k != damaged]
    np.testing.assert_array_equal(np.asarray(result.pixels)[good], expected[good])
    events = result.record.errors + result.record.fallbacks
    assert all(event.frame == damaged for event in events)


def test_a_frame_nothing_decodes_is_black_and_listed(tmp_path):
    ds = pydicom.dcmread(data_file("emri_small_RLE.dcm"))
    frames = list(generate_frames(ds.PixelData, number_of_frames=10))
    frames[4] = b"\x00" * 64  # an RLE header that promises no segments
    ds.PixelData = encapsulate(frames)
    path = tmp_path / "rle_bad_frame.dcm"
    ds.save_as(path)
    result = decode(str(path), "cpu")
    assert [e.frame for e in result.record.errors] == [4]
    assert not np.asarray(result.pixels)[4].any()



def _cut_short(tmp_path, name: str, frame: int, keep: float = 0.7) -> str:
    """A copy whose frame ``frame`` lost its end (and end marker), the file length unchanged."""
    ds = pydicom.dcmread(data_file(name))
    n = int(ds.get("NumberOfFrames", 1) or 1)
    frames = list(generate_frames(ds.PixelData, number_of_frames=n))
    cut = frames[frame][: int(len(frames[frame]) * keep)]
    frames[frame] = cut + b"\x00" * (len(frames[frame]) - len(cut))
    ds.PixelData = encapsulate(frames)
    out = tmp_path / f"cut_{name}"
    ds.save_as(out)
    return str(out)


CUT_SHORT_FILES = ["examples_ybr_color.dcm", "emri_small_jpeg_2k_lossless.dcm", "emri_small_jpeg_ls_lossless.dcm"]


@pytest.mark.parametrize("name", CUT_SHORT_FILES)
def test_a_frame_cut_short_is_listed_and_black_never_shown(tmp_path, name):
    # the engine's modes; backend="pydicom" stays pydicom's reference output, cut frames included
    backend = "cpu"
    expected = np.asarray(decode(data_file(name), backend).pixels)
    result = decode(_cut_short(tmp_path, name, frame=2), backend)
    pixels = np.asarray(result.pixels)
    assert [e.frame for e in result.record.errors] == [2]
    assert "end marker" in result.record.errors[0].reason
    assert not pixels[2].any()
    good = [k for k in range(len(expected)) if k != 2]
    np.testing.assert_array_equal(pixels[good], expected[good])


def test_more_frames_claimed_than_codestreams_are_not_invented(tmp_path):
    # one lossless JPEG frame in two fragments; a header claiming two frames splits it in two
    path = _mutated(tmp_path, "JPEG-LL.dcm", NumberOfFrames=2)
    with pytest.raises(DicomDecodeError, match="end marker"):
        decode(path, "cpu")
