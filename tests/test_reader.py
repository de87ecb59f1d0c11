"""The reader on real files, alone and through a real napari viewer."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from napari_dicom_gpu._reader import NOTHING_TO_ADD, get_reader, read_dicom, read_layers
from napari_dicom_gpu.engine.errors import DicomDecodeError
from tests.dicom_files import data_file, reference
from tests.engine.test_sniff import write_ct_series, write_pngs


def layers_of(name: str) -> list[tuple]:
    path = data_file(name)
    reader = get_reader(path)
    assert reader is not None, name
    return reader(path)


def test_ct_values_are_hounsfield_units_in_the_smallest_exact_dtype():
    (data, kwargs, kind), = layers_of("CT_small.dcm")
    ds = pydicom.dcmread(data_file("CT_small.dcm"))
    expected = ds.pixel_array.astype(np.int32) * int(ds.RescaleSlope) + int(ds.RescaleIntercept)
    assert kind == "image" and data.dtype == np.int16
    np.testing.assert_array_equal(data, expected)


def test_contrast_limits_come_from_the_first_voi_window():
    (data, kwargs, _), = layers_of("MR_small.dcm")
    ds = pydicom.dcmread(data_file("MR_small.dcm"))
    if "WindowCenter" in ds:
        center, width = float(ds.WindowCenter), float(ds.WindowWidth)
        assert kwargs["contrast_limits"] == (center - width / 2, center + width / 2)
    else:
        assert kwargs["contrast_limits"] == (float(data.min()), float(data.max()))


def test_without_window_contrast_limits_are_the_data_range():
    (data, kwargs, _), = layers_of("emri_small.dcm")
    assert "WindowCenter" not in pydicom.dcmread(data_file("emri_small.dcm"), stop_before_pixels=True)
    assert kwargs["contrast_limits"] == (float(data.min()), float(data.max()))


def test_monochrome1_is_shown_inverted_with_values_untouched():
    (data, kwargs, _), = layers_of("RG1_UNCI.dcm")
    assert kwargs["colormap"] == "gray_r"
    np.testing.assert_array_equal(data, reference(data_file("RG1_UNCI.dcm")))


def test_ybr_ultrasound_cine_is_one_rgb_layer_with_frames_first():
    (data, kwargs, _), = layers_of("examples_ybr_color.dcm")
    assert kwargs["rgb"] is True and data.shape == (30, 240, 320, 3) and data.dtype == np.uint8
    np.testing.assert_array_equal(data, reference(data_file("examples_ybr_color.dcm")))


def test_palette_colour_is_converted_to_rgb():
    (data, kwargs, _), = layers_of("OBXXXX1A.dcm")
    from pydicom.pixels import apply_color_lut

    ds = pydicom.dcmread(data_file("OBXXXX1A.dcm"))
    assert kwargs["rgb"] is True and data.shape == (600, 800, 3)
    np.testing.assert_array_equal(data, apply_color_lut(ds.pixel_array, ds))


def test_multiframe_is_one_layer_with_physical_scale():
    (data, kwargs, _), = layers_of("emri_small.dcm")
    ds = pydicom.dcmread(data_file("emri_small.dcm"), stop_before_pixels=True)
    assert data.shape == (10, 64, 64) and "PixelSpacing" not in ds
    # frames 1.2 mm apart (Spacing Between Slices); no pixel spacing in the file: 1 unit per pixel
    assert kwargs["scale"] == (float(ds.SpacingBetweenSlices), 1.0, 1.0)


def test_name_header_and_decode_record_are_in_the_layer():
    (data, kwargs, _), = layers_of("CT_small.dcm")
    meta = kwargs["metadata"]
    assert kwargs["name"] == "1 CT_small"  # "<Series Number> <description>", the file name without one
    assert meta["dicom"]["00080060"]["Value"] == ["CT"] and "7FE00010" not in meta["dicom"]
    import json

    json.dumps(meta["dicom"])  # JSON-friendly
    record = meta["decode"]
    assert record["backend"] in ("cpu", "gpu") and record["frames"] == 1
    assert set(record["seconds"]) >= {"read", "decode", "to_host", "total"}


def test_layer_name_falls_back_to_file_name():
    (_, kwargs, _), = layers_of("emri_small.dcm")
    assert kwargs["name"] == "301 emri_small"


def test_folder_gives_one_layer_per_series(tmp_path):
    src = pydicom.dcmread(data_file("CT_small.dcm"))
    for series, description in (("1.2.3.1", "A"), ("1.2.3.2", "B")):
        for k in range(3):
            src.SeriesInstanceUID, src.SeriesDescription = series, description
            src.SOPInstanceUID = f"{series}.{k}"
            src.ImagePositionPatient = [0, 0, float(k) * 2.5]
            src.save_as(tmp_path / f"{description}{k}")  # no extension
    (tmp_path / "notes.txt").write_text("not dicom")
    layers = read_dicom(str(tmp_path))
    assert sorted(k["name"] for _, k, _ in layers) == ["1 A", "1 B"]
    for data, kwargs, _ in layers:
        assert data.shape == (3, 128, 128) and kwargs["scale"][0] == pytest.approx(2.5)


def test_dicomdir_opens_its_series():
    folder = os.path.join(os.path.dirname(pydicom.data.__file__), "test_files", "dicomdirtests")
    layers = read_dicom(os.path.join(folder, "DICOMDIR"))
    assert len(layers) >= 5


def test_get_reader_claims_dicom_with_or_without_extension(tmp_path):
    plain = tmp_path / "image"
    shutil.copy(data_file("CT_small.dcm"), plain)
    assert get_reader(str(plain)) is read_dicom
    assert get_reader(data_file("CT_small.dcm")) is read_dicom


def test_get_reader_rejects_other_formats_and_never_raises(tmp_path):
    png = tmp_path / "image.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(1000))
    tif = tmp_path / "image.tif"
    tif.write_bytes(b"II*\x00" + bytes(1000))
    assert get_reader(str(png)) is None and get_reader(str(tif)) is None
    assert get_reader(str(tmp_path / "missing.xyz")) is None
    assert get_reader(None) is None  # type: ignore[arg-type]


def test_get_reader_reads_at_most_132_bytes_of_a_non_dicom_file(tmp_path, monkeypatch):
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(10_000_000))
    import builtins

    reads = []
    real_open = builtins.open

    def counting_open(*args, **kwargs):
        handle = real_open(*args, **kwargs)
        original = handle.read
        handle.read = lambda n=-1: reads.append(n) or original(n)
        return handle

    monkeypatch.setattr(builtins, "open", counting_open)
    assert get_reader(str(big)) is None
    assert reads and all(0 < n <= 132 for n in reads)


def test_get_reader_takes_dicom_folders(tmp_path):
    write_ct_series(tmp_path / "series", extension="")
    assert get_reader(str(tmp_path / "series")) is read_dicom
    assert get_reader(os.path.dirname(data_file("DICOMDIR"))) is read_dicom


def test_get_reader_rejects_folders_that_are_not_dicom(tmp_path):
    # without a reader preference for folders, napari's own reader gets these
    zarr_store = write_ct_series(tmp_path / "store")
    (zarr_store / ".zgroup").write_text('{"zarr_format": 2}')
    zarr_named = tmp_path / "image.zarr"
    zarr_named.mkdir()
    pngs = write_pngs(tmp_path / "pngs", 5)
    empty = tmp_path / "empty"
    empty.mkdir()
    for folder in (zarr_store, zarr_named, pngs, empty):
        assert get_reader(str(folder)) is None, folder.name


def test_get_reader_rejects_an_unreadable_folder_without_raising(tmp_path, monkeypatch):
    folder = write_ct_series(tmp_path / "locked")

    def refused(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "scandir", refused)  # what a user without read permission gets
    assert get_reader(str(folder)) is None


def test_get_reader_opens_few_files_of_a_folder_of_ten_thousand(tmp_path):
    from napari_dicom_gpu.engine.sniff import FolderLookBudget
    from tests.engine.test_sniff import file_system_use

    folder = write_pngs(tmp_path / "stack", 10_000)
    with file_system_use() as used:
        assert get_reader(str(folder)) is None
    opened_in_folder = [path for path in used["open"] if path.startswith(str(folder))]
    assert 0 < len(opened_in_folder) <= FolderLookBudget().files
    assert used["os.scandir"] == [str(folder)]


def test_file_without_pixel_data_gives_a_clear_error():
    with pytest.raises(DicomDecodeError, match=r"rtstruct\.dcm.*no pixel data"):
        read_layers(data_file("rtstruct.dcm"))


def test_truncated_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "cut.dcm"
    path.write_bytes(Path(data_file("CT_small.dcm")).read_bytes()[:2000])
    with pytest.raises(DicomDecodeError, match=r"cut\.dcm"):
        read_layers(str(path))


def test_napari_reader_turns_a_broken_file_into_one_notification_and_nothing_to_add():
    from napari.utils.notifications import Notification, notification_manager

    before = len(notification_manager.records)
    assert read_dicom(data_file("rtstruct.dcm")) == NOTHING_TO_ADD
    (note,) = notification_manager.records[before:]
    assert type(note) is Notification and "rtstruct.dcm" in note.message and "pixel data" in note.message


def test_folder_with_a_bad_file_opens_the_rest_with_one_warning(tmp_path):
    from napari.utils.notifications import notification_manager

    src = pydicom.dcmread(data_file("CT_small.dcm"))
    for k in range(3):
        src.SOPInstanceUID = f"1.2.3.{k}"
        src.ImagePositionPatient = [0, 0, float(k)]
        src.save_as(tmp_path / f"ct{k}.dcm")
    (tmp_path / "bad.dcm").write_text("plain text")
    shutil.copy(data_file("rtstruct.dcm"), tmp_path / "rtstruct.dcm")
    before = len(notification_manager.records)
    (layer,) = read_dicom(str(tmp_path))
    assert layer[0].shape == (3, 128, 128)
    (note,) = notification_manager.records[before:]
    assert note.message.startswith("Skipped 2 files or series") and "bad.dcm" in note.message


def test_sample_data_opens_the_bundled_files():
    from napari_dicom_gpu import _sample_data

    (cine, kwargs, _), = _sample_data.ultrasound_cine()
    assert cine.shape == (30, 240, 320, 3) and kwargs["rgb"]
    (ct, ct_kwargs, _), = _sample_data.ct_slice()
    assert ct.min() < 0  # HU
    (mr, _, _), = _sample_data.mr_image()
    assert mr.shape == (64, 64)


def test_viewer_opens_a_file_with_the_plugin(make_napari_viewer):
    viewer = make_napari_viewer()
    layers = viewer.open(data_file("examples_ybr_color.dcm"), plugin="napari-dicom-gpu")
    assert len(layers) == 1 and layers[0].rgb and layers[0].data.shape == (30, 240, 320, 3)
    assert layers[0].metadata["decode"]["frames"] == 30


def test_viewer_opens_ct_in_hu_with_window(make_napari_viewer):
    viewer = make_napari_viewer()
    (layer,) = viewer.open(data_file("CT_small.dcm"), plugin="napari-dicom-gpu")
    assert layer.data.min() < 0 and layer.colormap.name == "gray"
    (data, kwargs, _), = layers_of("CT_small.dcm")
    assert tuple(layer.contrast_limits) == pytest.approx(kwargs["contrast_limits"])
    assert tuple(layer.scale) == pytest.approx(kwargs["scale"])


def test_viewer_open_of_broken_file_reports_file_and_problem(make_napari_viewer):
    from napari.utils.notifications import notification_manager

    viewer = make_napari_viewer()
    before = len(notification_manager.records)
    assert viewer.open(data_file("rtstruct.dcm"), plugin="napari-dicom-gpu") == []
    (note,) = notification_manager.records[before:]
    assert "rtstruct.dcm" in note.message and "no pixel data" in note.message
    assert len(viewer.layers) == 0


def test_viewer_still_opens_png_with_another_reader(make_napari_viewer, tmp_path):
    from skimage.io import imsave

    png = tmp_path / "plain.png"
    imsave(png, np.zeros((8, 8), np.uint8), check_contrast=False)
    viewer = make_napari_viewer()
    layers = viewer.open(str(png))
    assert len(layers) == 1
