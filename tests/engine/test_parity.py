"""Our decode equals pydicom's pixel_array, file by file, on the CPU (and on the GPU machine)."""

from __future__ import annotations

import importlib.util

import pytest

from napari_dicom_gpu import decode_frames
from tests.dicom_files import assert_matches_pydicom, decodable_files

FILES = decodable_files()
IDS = [f"{p.parent.name}/{p.name}" for p in FILES]
HAVE_GDCM = importlib.util.find_spec("gdcm") is not None


def test_parity_set_is_complete():
    # pydicom 3.0.2 + pydicom-data 1.0.0: 124 top-level files, 31 more in the DICOMDIR tests
    assert len(FILES) >= 124 or len(FILES) >= 80 and "DICOM_GPU_DATA" in __import__("os").environ


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_pydicom_backend_is_pydicom(path):
    # pydicom's default tries GDCM first; our pydicom backend never calls GDCM (it can abort the
    # process on damaged data), so lossy JPEG may differ from GDCM's output by a few levels.
    assert_matches_pydicom(decode_frames(path, backend="pydicom"), path, allow_lossy=HAVE_GDCM)


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_cpu_backend_matches_pydicom(path):
    # Lossless: bit-identical. Lossy JPEG that nvImageCodec's CPU backend cannot convert falls
    # back to pylibjpeg, a few levels from GDCM's output (PSNR >= 55 dB measured).
    assert_matches_pydicom(decode_frames(path, backend="cpu"), path, allow_lossy=True)


@pytest.mark.gpu
@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_gpu_backend_matches_pydicom(path):
    assert_matches_pydicom(decode_frames(path, backend="gpu"), path, allow_lossy=True)
