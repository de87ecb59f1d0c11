"""From a decode to napari layer arguments: values, names, warnings, timing and placement.

Placement is checked through a real napari ``Image`` layer built from the arguments: a voxel's
world coordinate must be its patient position, LPS ``(z, y, x)`` mm.
"""

from __future__ import annotations

import copy

import numpy as np
import pydicom
import pytest
from napari.layers import Image
from pydicom.dataelem import DataElement

from napari_dicom_gpu.engine.api import decode, decode_series
from napari_dicom_gpu.engine.series import Series, load_series
from napari_dicom_gpu.engine.source import load_source
from napari_dicom_gpu.presentation import to_layer
from tests.dicom_files import data_file

SAGITTAL = [0.0, 1.0, 0.0, 0.0, 0.0, -1.0]


def write_ct_series(folder, iop, positions, **changes) -> list[str]:
    template = pydicom.dcmread(data_file("CT_small.dcm"))
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, position in enumerate(positions):
        ds = copy.deepcopy(template)
        ds.SeriesInstanceUID = "1.2.826.0.1.3680043.99.2"
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.99.2.{k + 1}"
        ds.InstanceNumber = k + 1
        ds.ImageOrientationPatient = list(iop)
        ds.ImagePositionPatient = list(position)
        for key, value in changes.items():
            setattr(ds, key, value)
        path = folder / f"slice{len(positions) - k:03d}"  # names in reverse order of positions
        ds.save_as(path, enforce_file_format=True)
        paths.append(str(path))
    return paths


def layers_of_folder(folder, **options) -> list:
    report = load_series([folder])
    return [to_layer(decode_series([], "cpu", sources=s.sources), s, **options) for s in report.series]


def patient_position(path, i: int, j: int) -> np.ndarray:
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    iop = np.asarray(ds.ImageOrientationPatient, float)
    row_mm, col_mm = (float(v) for v in ds.PixelSpacing)
    return np.asarray(ds.ImagePositionPatient, float) + i * row_mm * iop[3:] + j * col_mm * iop[:3]


def world_of(spec, index) -> np.ndarray:
    layer = Image(spec.data, **{k: v for k, v in spec.kwargs.items() if k != "name"})
    return np.asarray(layer.data_to_world(index), float)


def test_enhanced_multiframe_opens_as_a_volume_placed_from_its_functional_groups():
    spec = to_layer(decode(data_file("liver.dcm"), "cpu"))
    assert spec.data.shape[0] == 3 and spec.kwargs["metadata"]["spatial_frames"]
    assert spec.kwargs["scale"] == pytest.approx((1.0, 0.810547, 0.810547))
    assert spec.kwargs["translate"][0] == pytest.approx(-128.69, abs=0.01)
    assert spec.kwargs["metadata"]["skipped_metadata"] == []


def test_enhanced_file_with_damaged_optional_values_still_opens_and_says_what_was_skipped():
    ds = pydicom.dcmread(data_file("eCT_Supplemental.dcm"))
    shared = ds.SharedFunctionalGroupsSequence[0]
    shared.FrameVOILUTSequence[0].add(DataElement(0x00281050, "LO", "wide"))  # Window Center
    shared.PixelMeasuresSequence[0].add(DataElement(0x00280030, "LO", "a\\b"))  # Pixel Spacing
    spec = to_layer(decode_series([], "cpu", sources=[load_source(ds)]))
    meta = spec.kwargs["metadata"]
    assert meta["windows"] == [] and spec.kwargs["scale"][1:] == (1.0, 1.0)
    assert any("PixelSpacing" in note for note in meta["skipped_metadata"])
    assert any("VOI window" in note for note in meta["skipped_metadata"])
    assert spec.data.min() < 0  # the per-frame rescale (HU) still applies


def test_unusable_rescale_slope_is_replaced_by_the_identity_and_noted():
    ds = pydicom.dcmread(data_file("CT_small.dcm"))
    ds.add(DataElement(0x00281053, "LO", "n/a"))  # Rescale Slope
    spec = to_layer(decode_series([], "cpu", sources=[load_source(ds)]))
    np.testing.assert_array_equal(spec.data, ds.pixel_array.astype(np.int32) + int(ds.RescaleIntercept))
    assert any("RescaleSlope" in note for note in spec.kwargs["metadata"]["skipped_metadata"])


def test_frames_stored_against_the_normal_are_reordered_and_the_order_is_recorded():
    spec = to_layer(decode(data_file("eCT_Supplemental.dcm"), "cpu"))
    ds = pydicom.dcmread(data_file("eCT_Supplemental.dcm"))
    assert spec.kwargs["metadata"]["frame_order"] == [1, 0]
    np.testing.assert_array_equal(spec.data[0], ds.pixel_array[1].astype(np.int32) - 1024)


def test_value_and_layer_seconds_are_recorded_and_counted_in_the_total():
    result = decode(data_file("CT_small.dcm"), "cpu")
    before = result.record.seconds["total"]
    spec = to_layer(result)
    seconds = spec.kwargs["metadata"]["decode"]["seconds"]
    assert seconds["values"] > 0 and seconds["layer"] > 0
    assert seconds["total"] == pytest.approx(before + seconds["values"] + seconds["layer"])


def test_layer_name_is_the_series_name_or_number_and_description_of_the_file():
    result = decode(data_file("CT_small.dcm"), "cpu")
    assert to_layer(result).kwargs["name"] == "1 CT_small"  # no description: the file name
    named = Series(result.sources, name="4 Chest", number=4, warnings=["look"], metadata={"stack": "volume"})
    spec = to_layer(decode(data_file("CT_small.dcm"), "cpu"), named)
    assert spec.kwargs["name"] == "4 Chest"
    assert spec.kwargs["metadata"]["warnings"] == ["look"]
    assert spec.kwargs["metadata"]["series"]["number"] == 4


def test_axial_series_voxels_land_at_their_patient_position(tmp_path):
    paths = write_ct_series(tmp_path, [1, 0, 0, 0, 1, 0], [[-100.0, -120.0, z] for z in (10.0, 12.5, 15.0)])
    (spec,) = layers_of_folder(tmp_path)
    assert spec.kwargs["metadata"]["placement"] == "image-aligned"
    for k, (i, j) in enumerate([(0, 0), (3, 9), (127, 64)]):
        np.testing.assert_allclose(world_of(spec, [k, i, j]), patient_position(paths[k], i, j)[[2, 1, 0]], atol=1e-6)


def test_gap_parts_are_each_placed_where_their_slices_lie(tmp_path):
    write_ct_series(tmp_path, [1, 0, 0, 0, 1, 0], [[0.0, 0.0, z] for z in (0.0, 2.0, 4.0, 30.0, 32.0, 34.0)])
    first, second = layers_of_folder(tmp_path)
    assert first.kwargs["translate"][0] == pytest.approx(0.0) and second.kwargs["translate"][0] == pytest.approx(30.0)
    assert first.kwargs["scale"][0] == second.kwargs["scale"][0] == pytest.approx(2.0)
    assert "gap" in first.kwargs["metadata"]["warnings"][0]


def test_uneven_series_shows_its_warning_and_measured_spacings(tmp_path):
    write_ct_series(tmp_path, [1, 0, 0, 0, 1, 0], [[0.0, 0.0, z] for z in (0.0, 1.0, 2.25, 3.25)])
    (spec,) = layers_of_folder(tmp_path)
    meta = spec.kwargs["metadata"]
    assert meta["slice_spacings"] == [1.0, 1.25, 1.0] and spec.kwargs["scale"][0] == pytest.approx(3.25 / 3)
    assert any("unevenly spaced" in w for w in meta["warnings"])


def test_sagittal_series_is_image_aligned_by_default_with_its_affine_in_metadata(tmp_path):
    write_ct_series(tmp_path, SAGITTAL, [[x, -50.0, 80.0] for x in (6.0, 3.0, 0.0)])
    (spec,) = layers_of_folder(tmp_path)
    meta = spec.kwargs["metadata"]
    assert spec.kwargs["scale"][0] == pytest.approx(3.0) and "affine" not in spec.kwargs
    assert meta["orientation"] == "sagittal" and "image-aligned" in meta["placement_note"]
    affine = np.asarray(meta["affine_lps"])
    np.testing.assert_allclose((affine @ [0, 0, 0, 1])[:3], [6.0, -50.0, 80.0])


def test_sagittal_series_world_aligned_lands_in_the_patient_frame(tmp_path):
    paths = write_ct_series(tmp_path, SAGITTAL, [[x, -50.0, 80.0] for x in (6.0, 3.0, 0.0)])
    (spec,) = layers_of_folder(tmp_path, world_aligned=True)
    assert spec.kwargs["metadata"]["placement"] == "world-aligned" and "scale" not in spec.kwargs
    for k, (i, j) in enumerate([(0, 0), (5, 100), (127, 1)]):
        np.testing.assert_allclose(world_of(spec, [k, i, j]), patient_position(paths[k], i, j)[[2, 1, 0]], atol=1e-6)


def test_single_slice_world_aligned_keeps_its_position_as_a_one_slice_volume():
    spec = to_layer(decode(data_file("CT_small.dcm"), "cpu"), world_aligned=True)
    assert spec.data.shape == (1, 128, 128)
    np.testing.assert_allclose(
        world_of(spec, [0, 4, 7]), patient_position(data_file("CT_small.dcm"), 4, 7)[[2, 1, 0]], atol=1e-6
    )


def test_cine_frame_axis_keeps_scale_one_in_both_placements():
    for world_aligned in (False, True):
        spec = to_layer(decode(data_file("examples_ybr_color.dcm"), "cpu"), world_aligned=world_aligned)
        assert spec.kwargs["scale"][0] == 1.0 and not spec.kwargs["metadata"]["spatial_frames"]


def test_projection_series_is_a_cine_not_a_volume():
    import os

    folder = os.path.join(os.path.dirname(pydicom.data.__file__), "test_files", "dicomdirtests", "98892003", "MR700")
    (series,) = load_series([folder]).series
    spec = to_layer(decode_series([], "cpu", sources=series.sources), series)
    assert spec.data.shape == (7, 16, 16) and spec.kwargs["scale"][0] == 1.0
    assert spec.kwargs["name"] == "700 ANGIO Projected from   C" and "not as a volume" in spec.kwargs["metadata"]["warnings"][0]


def test_header_json_is_built_on_first_read_and_serialises_before_any_read():
    import json

    dicom = to_layer(decode(data_file("CT_small.dcm"), "cpu")).kwargs["metadata"]["dicom"]
    assert dict.__len__(dicom) == 1  # only the placeholder: nothing built while the layer was made
    serialised = json.loads(json.dumps(dicom))
    assert serialised["00080060"]["Value"] == ["CT"] and "7FE00010" not in serialised
    assert dicom == serialised and copy.deepcopy(dicom) == serialised


def test_layer_metadata_does_not_keep_the_decoded_pixels():
    import gc
    import weakref

    result = decode(data_file("CT_small.dcm"), "cpu")
    pixels = weakref.ref(result.pixels)
    metadata = to_layer(result).kwargs["metadata"]
    del result
    gc.collect()
    assert pixels() is None and metadata["dicom"]["00080060"]["Value"] == ["CT"]
