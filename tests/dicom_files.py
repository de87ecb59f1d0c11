"""Real DICOM files for the tests: pydicom's bundled test files and the pydicom-data package.

On the GPU machine, where pydicom-data is too big to carry, ``DICOM_GPU_DATA`` names a folder
holding a chosen dozen of its files.
"""

from __future__ import annotations

import os
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pydicom
import pydicom.data
from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLSNearLossless,
)

LOSSY_SYNTAXES = {JPEGBaseline8Bit, JPEGExtended12Bit, JPEG2000, HTJ2K, JPEGLSNearLossless}


def data_folders() -> list[Path]:
    folders = [Path(pydicom.data.__file__).parent / "test_files"]
    if os.environ.get("DICOM_GPU_DATA"):
        folders.append(Path(os.environ["DICOM_GPU_DATA"]))
    else:
        try:
            import data_store

            folders.append(Path(data_store.__file__).parent / "data")
        except ImportError:
            pass
    return folders


def data_file(name: str) -> str:
    """Path of a named test file, wherever it lives."""
    for folder in data_folders():
        hits = sorted(folder.rglob(name))
        if hits:
            return str(hits[0])
    return pydicom.data.get_testdata_file(name)


@cache
def decodable_files() -> list[Path]:
    """Every file with pixel data that pydicom itself decodes (the parity set)."""
    found = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for folder in data_folders():
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                try:
                    ds = pydicom.dcmread(path)
                    if "PixelData" in ds:
                        ds.pixel_array
                        found.append(path)
                except Exception:
                    continue
    return found


def reference(path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path).pixel_array


def is_lossy(path) -> bool:
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    lossy_flag = str(ds.get("LossyImageCompression", "00")) == "01"
    return ds.file_meta.TransferSyntaxUID in LOSSY_SYNTAXES or lossy_flag


def psnr(ours: np.ndarray, ref: np.ndarray) -> float:
    diff = ours.astype(np.float64) - ref.astype(np.float64)
    mse = float(np.mean(diff**2))
    if mse == 0:
        return float("inf")
    peak = float(max(np.abs(ref).max(), 1))
    return 10 * np.log10(peak**2 / mse)


def assert_matches_pydicom(ours: np.ndarray, path, *, allow_lossy: bool) -> None:
    ref = reference(path)
    assert ours.shape == ref.shape, f"{Path(path).name}: shape {ours.shape} != {ref.shape}"
    assert ours.dtype == ref.dtype, f"{Path(path).name}: dtype {ours.dtype} != {ref.dtype}"
    if allow_lossy and is_lossy(path):
        value = psnr(ours, ref)
        assert value >= 40, f"{Path(path).name}: PSNR {value:.1f} dB < 40 dB"
    else:
        if not np.array_equal(ours, ref):
            worst = np.abs(ours.astype(np.int64) - ref.astype(np.int64)).max()
            raise AssertionError(f"{Path(path).name}: differs from pydicom (max diff {worst})")
