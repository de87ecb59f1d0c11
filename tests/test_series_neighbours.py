"""A folder whose one file is damaged: its neighbours still open (found by ``python -m tests.fuzz --series``)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pydicom
import pytest

from napari_dicom_gpu._reader import read_layers
from napari_dicom_gpu.engine import source as source_module
from napari_dicom_gpu.engine.api import decode_series
from napari_dicom_gpu.engine.errors import DicomDecodeError
from napari_dicom_gpu.engine.series import load_series
from tests.dicom_files import data_file


def _copies(folder, name: str, count: int, *, positions: bool = True) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(count):
        ds = pydicom.dcmread(data_file(name))
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = k + 1
        if positions:
            ds.ImagePositionPatient = [0.0, 0.0, float(k)]
            ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        path = folder / f"{k:02d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(str(path))
    return paths


def test_a_damaged_vr_in_one_file_does_not_stop_the_folder(tmp_path):
    paths = _copies(tmp_path / "ct", "CT_small.dcm", 5)
    raw = Path(paths[2]).read_bytes()
    instance_number = b"\x20\x00\x13\x00IS"
    assert raw.count(instance_number) == 1
    with open(paths[2], "wb") as fh:  # an unknown VR: pydicom raises only when the value is read
        fh.write(raw.replace(instance_number, b"\x20\x00\x13\x00I\xfa"))
    layers = read_layers(str(tmp_path / "ct"))
    assert sum(layer[0].shape[0] if layer[0].ndim == 3 else 1 for layer in layers) == 5


def test_a_palette_file_without_its_tables_borrows_its_series_tables(tmp_path):
    paths = _copies(tmp_path / "pal", "OBXXXX1A.dcm", 4, positions=False)
    ds = pydicom.dcmread(paths[0])
    for colour in ("Red", "Green", "Blue"):
        delattr(ds, f"{colour}PaletteColorLookupTableData")
    ds.save_as(paths[0])
    (data, kwargs, _kind), = read_layers(str(tmp_path / "pal"))
    assert data.shape[-1] == 3 and data.shape[0] == 4
    assert any("palette" in note for note in kwargs["metadata"]["skipped_metadata"])
    reference = pydicom.pixels.apply_color_lut(pydicom.dcmread(paths[1]).pixel_array, pydicom.dcmread(paths[1]))
    np.testing.assert_array_equal(data[1], reference)


def test_a_file_whose_pixel_data_is_far_smaller_than_its_claim_allocates_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(source_module, "HEADER_PREFIX", 4096)  # the header pass reads only its start
    folder = tmp_path / "mixed"
    _copies(folder, "CT_small.dcm", 4)
    ds = pydicom.dcmread(data_file("JPEG-LL.dcm"))
    ds.NumberOfFrames = 3000  # one fragment, 3000 frames claimed: 1.5 GB decoded
    ds.save_as(folder / "claims.dcm")
    report = load_series([str(folder)])
    (claims,) = [s for s in report.series if s.sources[0].name == "claims.dcm"]
    assert claims.sources[0].raw_is_prefix
    tracemalloc.start()
    try:
        with pytest.raises(DicomDecodeError, match="3000 frames"):
            decode_series([], "cpu", sources=claims.sources)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50e6
