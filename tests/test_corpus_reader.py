"""Every file pydicom decodes opens through the reader, as napari calls it, with pydicom's values.

The set is every file with pixel data that pydicom decodes in its own test files and in
pydicom-data (``tests.dicom_files.decodable_files``). Each goes through
``get_reader(path)(path)`` and must give one layer whose values equal pydicom's ``pixel_array``
with the modality LUT applied (per-frame rescale for enhanced files, palette colour as RGB).
A different dtype is accepted only where every value is equal. Lossy files decoded by a codec
other than pydicom's may differ within the lossy tolerance of the parity test (PSNR >= 40 dB).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_color_lut, apply_modality_lut

from napari_dicom_gpu._reader import get_reader
from napari_dicom_gpu.loading import load
from napari_dicom_gpu.settings import get_settings
from tests.dicom_files import data_folders, decodable_files, is_lossy, psnr

FILES = decodable_files()


def _file_id(path: Path) -> str:
    for folder in data_folders():
        if path.is_relative_to(folder):
            return str(path.relative_to(folder))
    return path.name


def _frame_rescale(ds, frame: int) -> tuple[float, float]:
    """Slope and intercept of one frame of an enhanced file (per-frame group, else shared)."""
    for groups, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        items = ds.get(groups) or []
        if index < len(items) and "PixelValueTransformationSequence" in items[index]:
            transform = items[index].PixelValueTransformationSequence[0]
            return float(transform.RescaleSlope), float(transform.RescaleIntercept)
    return 1.0, 0.0


def expected_values(path: Path) -> np.ndarray:
    """pydicom's pixels with the modality LUT (or palette) applied: what a viewer should show."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array
    photometric = str(ds.get("PhotometricInterpretation", ""))
    if photometric == "PALETTE COLOR":
        return np.asarray(apply_color_lut(pixels, ds))
    if int(ds.get("SamplesPerPixel", 1)) != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        return pixels
    if "ModalityLUTSequence" in ds or "RescaleSlope" in ds:
        return np.asarray(apply_modality_lut(pixels, ds))
    if "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds:
        frames = pixels if int(ds.get("NumberOfFrames", 1) or 1) > 1 else pixels[None]
        rescale = [_frame_rescale(ds, k) for k in range(len(frames))]
        if all(r == (1.0, 0.0) for r in rescale):
            return pixels
        out = np.stack([frame * slope + intercept for frame, (slope, intercept) in zip(frames, rescale, strict=True)])
        return out if pixels.ndim == out.ndim else out[0]
    return pixels


def open_with_reader(path: Path, backend: str) -> list[tuple]:
    """As napari calls the reader; the ``pydicom`` mode, which the settings do not offer, goes
    through ``loading.load`` (the reader's own path, minus the backend setting)."""
    reader = get_reader(str(path))
    assert reader is not None, f"{path.name}: the reader does not claim it"
    if backend == "pydicom":
        outcome = load([str(path)], backend)
        assert not outcome.problems, outcome.problems
        return [layer.as_layer_data() for layer in outcome.layers]
    get_settings().set_backend(backend)
    return reader(str(path))


def assert_layer_shows_pydicom_values(path: Path, backend: str) -> None:
    layers = open_with_reader(path, backend)
    assert len(layers) == 1, f"{path.name}: {len(layers)} layers"
    data, kwargs, kind = layers[0]
    assert kind == "image"
    expected = expected_values(path)
    order = kwargs["metadata"].get("frame_order")
    if order is not None:
        expected = expected[order]  # frames shown in slice order along the normal
    assert data.shape == expected.shape, f"{path.name}: shape {data.shape} != {expected.shape}"
    ours, theirs = np.asarray(data, np.float64), np.asarray(expected, np.float64)
    if np.array_equal(ours, theirs):
        return
    if backend != "pydicom" and is_lossy(path):
        value = psnr(ours, theirs)
        assert value >= 40, f"{path.name}: PSNR {value:.1f} dB < 40 dB against pydicom"
        return
    worst = float(np.max(np.abs(ours - theirs)))
    raise AssertionError(f"{path.name}: values differ from pydicom's (max difference {worst}, dtype {data.dtype})")


@pytest.mark.parametrize("path", FILES, ids=[_file_id(p) for p in FILES])
def test_every_decodable_file_opens_through_the_reader_with_pydicom_values(path):
    assert_layer_shows_pydicom_values(path, "cpu")


ENHANCED = [p for p in FILES if p.name in ("liver.dcm", "liver_1frame.dcm", "eCT_Supplemental.dcm", "emri_small.dcm")]


@pytest.mark.parametrize("path", ENHANCED, ids=[p.name for p in ENHANCED])
def test_multiframe_files_open_through_the_reader_with_the_pydicom_backend(path):
    assert_layer_shows_pydicom_values(path, "pydicom")


def test_corpus_holds_the_enhanced_files_that_used_to_crash_the_reader():
    names = {p.name for p in FILES}
    assert {"liver.dcm", "liver_1frame.dcm", "liver_expb.dcm", "liver_expb_1frame.dcm", "eCT_Supplemental.dcm"} <= names
