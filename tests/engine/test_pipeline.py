"""A series' load: headers from the start of each file, pixels read chunk by chunk during the decode."""

from __future__ import annotations

import os

import numpy as np
import pydicom
import pytest

from napari_dicom_gpu.engine import run as run_module
from napari_dicom_gpu.engine import source as source_module
from napari_dicom_gpu.engine.api import decode_series
from napari_dicom_gpu.engine.series import load_series
from napari_dicom_gpu.engine.source import load_sources
from napari_dicom_gpu.engine.values import apply_rescale
from tests.dicom_files import data_file


def _series(tmp_path, name: str, count: int = 6) -> list[str]:
    """``count`` copies of a real file as one series, at positions 0, 1, 2, ... mm."""
    paths = []
    for k in range(count):
        ds = pydicom.dcmread(data_file(name))
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.ImagePositionPatient = [0.0, 0.0, float(k)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.InstanceNumber = k + 1
        path = tmp_path / f"slice_{k:02d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(str(path))
    return paths


def _reference(paths: list[str]) -> np.ndarray:
    return np.stack([pydicom.dcmread(p).pixel_array for p in paths])


@pytest.fixture
def small_prefix(monkeypatch):
    """Headers of the small test files fit in 8 KiB; their files are larger than twice that."""
    monkeypatch.setattr(source_module, "HEADER_PREFIX", 8192)


@pytest.mark.parametrize("name", ["CT_small.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm"])
def test_series_header_pass_reads_only_the_start_of_each_file(tmp_path, small_prefix, name):
    sources = load_sources(_series(tmp_path, name))
    assert all(s.raw_is_prefix and len(s.raw) <= 8192 for s in sources)


@pytest.mark.parametrize("name", ["CT_small.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm"])
@pytest.mark.parametrize("chunk_frames", [1, 256])
def test_series_read_in_chunks_decodes_like_pydicom(tmp_path, small_prefix, monkeypatch, name, chunk_frames):
    monkeypatch.setattr(run_module, "CHUNK_FRAMES", chunk_frames)
    paths = _series(tmp_path, name)
    result = decode_series(paths, "cpu")
    np.testing.assert_array_equal(result.pixels, _reference(paths))
    assert not result.record.errors


def test_single_file_is_read_whole(tmp_path):
    (source,) = load_sources([data_file("CT_small.dcm")])
    assert not source.raw_is_prefix


def test_damaged_pixel_data_found_during_the_decode_costs_only_that_file(tmp_path, small_prefix, monkeypatch):
    monkeypatch.setattr(run_module, "CHUNK_FRAMES", 2)
    paths = _series(tmp_path, "JPGLosslessP14SV1_1s_1f_8b.dcm")
    reference = _reference(paths)
    size = os.path.getsize(paths[3])
    with open(paths[3], "r+b") as fh:  # the header is intact, the pixel data ends too early
        fh.truncate(size - 50_000)
    report = load_series(paths)
    assert not report.skipped and len(report.series) == 1
    result = decode_series([], "cpu", sources=report.series[0].sources)
    assert [e.file for e in result.record.errors] == ["slice_03.dcm"]
    assert "slice_03.dcm" in {s.name for s in report.series[0].sources}
    good = [i for i in range(6) if i != 3]
    np.testing.assert_array_equal(result.pixels[good], reference[good])
    assert not result.pixels[3].any()


def test_file_changed_between_header_and_decode_is_reported_not_fatal(tmp_path, small_prefix):
    paths = _series(tmp_path, "CT_small.dcm")
    sources = load_sources(paths)
    with open(paths[0], "r+b") as fh:
        fh.truncate(os.path.getsize(paths[0]) - 1000)
    result = decode_series([], "cpu", sources=sources)
    assert [e.file for e in result.record.errors] == ["slice_00.dcm"]
    np.testing.assert_array_equal(result.pixels[1:], _reference(paths[1:]))


def test_decode_keeps_no_file_bytes_after_a_chunked_series(tmp_path, small_prefix, monkeypatch):
    monkeypatch.setattr(run_module, "CHUNK_FRAMES", 2)
    paths = _series(tmp_path, "JPGLosslessP14SV1_1s_1f_8b.dcm")
    sources = load_sources(paths)
    decode_series([], "cpu", sources=sources)
    assert all(s.raw is None or s.raw_is_prefix for s in sources)


@pytest.mark.parametrize(
    ("stored", "slope", "intercept"),
    [
        (np.array([[0, 1, 1023, 1024, 33791]], np.uint16), 1, -1024),  # CT: uint16 -> int16
        (np.array([[0, 7, 60000]], np.uint16), 1, -1024),  # needs int32: a new array
        (np.array([[-5, 0, 100]], np.int16), 2, -3),
        (np.array([[0, 255]], np.uint8), 1, -128),
    ],
)
def test_in_place_rescale_equals_the_copying_one(stored, slope, intercept):
    slopes, intercepts = np.array([float(slope)]), np.array([float(intercept)])
    expected = apply_rescale(stored.copy(), slopes, intercepts)
    got = apply_rescale(stored.copy(), slopes, intercepts, in_place=True)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(expected, stored.astype(np.int64) * slope + intercept)


def _open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_header_pass_reports_missing_files_in_place_and_leaves_no_file_open(tmp_path, small_prefix):
    paths = _series(tmp_path, "CT_small.dcm")
    paths.insert(2, str(tmp_path / "gone.dcm"))
    paths.insert(4, str(tmp_path))  # a folder among the files
    before = _open_files()
    loaded = load_sources(paths)
    assert _open_files() == before
    assert [type(item).__name__ for item in loaded] == ["Source", "Source", "DicomDecodeError", "Source", "DicomDecodeError", "Source", "Source", "Source"]
    assert "does not exist" in str(loaded[2]) and "folder" in str(loaded[4])
