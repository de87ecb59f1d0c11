"""The worker-process pool: pydicom's values bit for bit, failures per file, never a hang."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from napari_dicom_gpu.engine import decode_series
from napari_dicom_gpu.engine.api import DecodeCancelled
from napari_dicom_gpu.engine.backends import processes
from tests.dicom_files import data_file, reference
from tests.engine.test_decode import corrupt_copy

#: signed J2K, JPEG-LS and RLE: files only pydicom decodes in the CPU mode
SERIES_FILES = ("MR_small_jp2klossless.dcm", "emri_small_jpeg_ls_lossless.dcm", "MR_small_RLE.dcm")
COPIES = 8


@pytest.fixture
def pool(monkeypatch):
    """Three decoding processes (two workers) even on a 2-core machine, used for any size."""
    monkeypatch.setenv(processes.ENV, "3")
    monkeypatch.setattr(processes, "COLD_SECONDS", 0.0)
    monkeypatch.setattr(processes, "WARM_SECONDS", 0.0)
    processes._shutdown()
    yield
    processes._shutdown()


def copies(name: str, folder: Path, count: int = COPIES) -> list[str]:
    source = data_file(name)
    paths = []
    for k in range(count):
        path = folder / f"{k:03d}_{name}"
        shutil.copy(source, path)
        paths.append(str(path))
    return paths


def stacked_reference(paths: list[str]) -> np.ndarray:
    arrays = [reference(p) for p in paths]
    return np.concatenate([a if a.ndim == 3 else a[None] for a in arrays])


@pytest.mark.parametrize("name", SERIES_FILES)
def test_pool_decodes_a_series_bit_identical_to_pydicom(pool, tmp_path, name):
    paths = copies(name, tmp_path)
    assert processes.wait_ready() == 2
    result = decode_series(paths, "cpu")
    assert processes.last_run["in_workers"] > 0
    assert processes.last_run["in_workers"] + processes.last_run["here"] == len(paths)
    expected = stacked_reference(paths)
    assert result.pixels.dtype == expected.dtype
    np.testing.assert_array_equal(result.pixels, expected)
    assert result.record.codecs == {"pydicom": len(expected)}
    assert not result.record.errors


def test_a_corrupt_file_costs_only_its_own_frames(pool, tmp_path):
    paths = copies("emri_small_jpeg_ls_lossless.dcm", tmp_path, 6)
    paths.insert(3, corrupt_copy(paths[0], tmp_path, bad_frame=4))
    assert processes.wait_ready() == 2
    result = decode_series(paths, "cpu")
    assert processes.last_run["in_workers"] > 0
    assert {(e.file, e.frame) for e in result.record.errors} == {(Path(paths[3]).name, 3 * 10 + 4)}
    expected = stacked_reference([paths[0]] * len(paths))  # the corrupt file is a copy too
    good = np.ones(len(expected), bool)
    good[34] = False
    np.testing.assert_array_equal(result.pixels[good], expected[good])
    assert not result.pixels[34].any()  # a frame nothing decoded is black


def test_pool_off_decodes_in_this_process(monkeypatch, tmp_path):
    monkeypatch.setenv(processes.ENV, "0")
    monkeypatch.setattr(processes, "COLD_SECONDS", 0.0)
    processes._shutdown()
    paths = copies("MR_small_RLE.dcm", tmp_path)
    assert processes.unavailable_reason()
    result = decode_series(paths, "cpu")
    assert processes._pool is None
    np.testing.assert_array_equal(result.pixels, stacked_reference(paths))


def test_single_files_stay_in_this_process(pool, tmp_path):
    path = copies("MR_small_jp2klossless.dcm", tmp_path, 1)
    processes.last_run.clear()
    result = decode_series(path, "cpu")
    assert processes._pool is None and not processes.last_run
    np.testing.assert_array_equal(result.pixels, stacked_reference(path))


def test_a_worker_that_dies_costs_time_not_frames(pool, monkeypatch, tmp_path):
    monkeypatch.setenv(processes.CRASH_ENV, "crash_me")  # the workers inherit it when they start
    paths = copies("MR_small_jpeg_ls_lossless.dcm", tmp_path, 12)
    crashing = tmp_path / "crash_me.dcm"
    shutil.move(paths[1], crashing)
    paths[1] = str(crashing)
    assert processes.wait_ready() == 2
    done = threading.Event()
    box = {}

    def run():
        box["result"] = decode_series(paths, "cpu")
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert done.wait(60), "the decode hung after a worker died"
    result = box["result"]
    np.testing.assert_array_equal(result.pixels, stacked_reference(paths))
    assert not result.record.errors
    assert any("decode process ended" in line for line in result.record.messages)
    # The next decode starts a worker in place of the dead one and still gives pydicom's values.
    again = decode_series(paths[2:], "cpu")
    np.testing.assert_array_equal(again.pixels, stacked_reference(paths[2:]))


def test_cancel_stops_the_pool_and_leaves_it_usable(pool, tmp_path):
    paths = copies("MR_small_jp2klossless.dcm", tmp_path, 12)
    assert processes.wait_ready() == 2
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(DecodeCancelled):
        decode_series(paths, "cpu", cancel=cancel)
    result = decode_series(paths, "cpu")
    assert processes.last_run["in_workers"] > 0
    np.testing.assert_array_equal(result.pixels, stacked_reference(paths))


def test_no_process_tries_gdcm():
    # GDCM returns wrong images without an error on some damaged JPEG 2000 where pylibjpeg raises
    # (benchmarks/results/2026-11-29-fuzz-gdcm-vs-pylibjpeg-no-GPU-2-core.md)
    from napari_dicom_gpu.engine.backends import pydicom_cpu
    from napari_dicom_gpu.engine.source import load_source

    for name in ("MR2_J2KR.dcm", "emri_small_jpeg_ls_lossless.dcm", "JPEG-LL.dcm"):
        assert "gdcm" not in pydicom_cpu.plugins(load_source(data_file(name)))
