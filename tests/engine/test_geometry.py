"""Patient geometry: orientation, normal, spacing, functional groups, affine and napari placement."""

from __future__ import annotations

import copy

import numpy as np
import pydicom
import pytest
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from napari_dicom_gpu.engine import geometry
from napari_dicom_gpu.engine.geometry import FunctionalGroups, Spacing, stack_geometry
from napari_dicom_gpu.engine.source import load_source
from tests.dicom_files import data_file

AXIAL = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
SAGITTAL = [0.0, 1.0, 0.0, 0.0, 0.0, -1.0]
CORONAL = [1.0, 0.0, 0.0, 0.0, 0.0, -1.0]


@pytest.mark.parametrize(
    ("iop", "normal", "name"),
    [(AXIAL, (0, 0, 1), "axial"), (SAGITTAL, (-1, 0, 0), "sagittal"), (CORONAL, (0, 1, 0), "coronal")],
)
def test_slice_normal_and_plane_name_of_standard_orientations(iop, normal, name):
    np.testing.assert_allclose(geometry.slice_normal(iop), normal, atol=1e-12)
    assert geometry.orientation_name(np.array(iop)) == name


def test_a_tilted_plane_is_named_oblique():
    tilt = np.radians(10)
    iop = [1.0, 0.0, 0.0, 0.0, np.cos(tilt), np.sin(tilt)]
    assert geometry.orientation_name(np.array(iop)) == "oblique axial"


@pytest.mark.parametrize("value", [None, "", "1\\0\\0", [1, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0], ["a"] * 6, [1, 0, 0, 1, 0, 0]])
def test_missing_or_degenerate_orientation_has_no_normal(value):
    assert geometry.orientation(value) is None and geometry.slice_normal(value) is None


def test_orientations_within_tolerance_are_the_same():
    a = np.array(AXIAL)
    assert geometry.same_orientation(a, a + 1e-4)
    assert not geometry.same_orientation(a, a + 1e-2)
    assert geometry.same_orientation(None, None) and not geometry.same_orientation(a, None)


def test_even_spacing_within_rounding_is_even_and_uneven_is_reported():
    assert Spacing.of([0, 1.25, 2.5, 3.749]).even
    uneven = Spacing.of([0, 1, 2.25, 3.25])
    assert not uneven.even and uneven.steps == [1, 1.25, 1] and uneven.step == pytest.approx(3.25 / 3)
    assert "unevenly spaced" in uneven.describe()
    assert Spacing.of([5.0]).step is None


def test_gap_runs_cut_only_at_steps_well_over_the_median():
    assert geometry.gap_runs([0, 1, 2, 3, 10, 11]) == [slice(0, 4), slice(4, 6)]
    assert geometry.gap_runs([0, 1, 2.3, 3.3]) == [slice(0, 4)]
    assert geometry.position_runs([0, 0.001, 1, 2, 2]) == [slice(0, 2), slice(2, 3), slice(3, 5)]


# -- functional groups ---------------------------------------------------------------------------


def _item(**sequences) -> Dataset:
    item = Dataset()
    for keyword, values in sequences.items():
        inner = Dataset()
        for key, value in values.items():
            setattr(inner, key, value)
        setattr(item, keyword, Sequence([inner]))
    return item


def _raw(ds: Dataset, tag: int, value: bytes) -> None:
    """An element as pydicom holds it before decoding (VR UN, as from an implicit-VR file)."""
    ds._dict[Tag(tag)] = RawDataElement(Tag(tag), "UN", len(value), value, 0, True, True)


def test_functional_groups_take_per_frame_values_before_shared_ones():
    ds = Dataset()
    ds.SharedFunctionalGroupsSequence = Sequence(
        [_item(PixelValueTransformationSequence={"RescaleSlope": 2, "RescaleIntercept": -5})]
    )
    ds.PerFrameFunctionalGroupsSequence = Sequence(
        [_item(PixelValueTransformationSequence={"RescaleSlope": 3, "RescaleIntercept": 1}), Dataset()]
    )
    groups = FunctionalGroups(ds)
    assert groups.value(0, "PixelValueTransformationSequence", "RescaleSlope") == 3
    assert groups.value(1, "PixelValueTransformationSequence", "RescaleSlope") == 2
    assert groups.value(7, "PixelValueTransformationSequence", "RescaleIntercept") == -5
    assert groups.notes == []


def test_missing_and_empty_functional_groups_give_nothing_without_notes():
    assert not FunctionalGroups(Dataset())
    ds = Dataset()
    ds.PerFrameFunctionalGroupsSequence = Sequence([])
    ds.SharedFunctionalGroupsSequence = Sequence([Dataset()])
    ds.SharedFunctionalGroupsSequence[0].PlanePositionSequence = Sequence([])
    groups = FunctionalGroups(ds)
    assert groups.value(0, "PlanePositionSequence", "ImagePositionPatient") is None
    assert groups.value(0, "PixelMeasuresSequence", "PixelSpacing") is None
    assert groups.notes == []


def test_undecodable_and_damaged_functional_group_values_are_skipped_and_noted():
    ds = Dataset()
    item = Dataset()
    # a sequence that arrived undecoded (bytes, VR UN) where a sequence should be
    _raw(item, 0x00209113, b"\x01\x02\x03\x04")  # Plane Position Sequence
    item.PixelMeasuresSequence = Sequence([Dataset()])
    item.PixelMeasuresSequence[0].add(DataElement(0x00280030, "LO", "not\\a\\spacing"))
    ds.PerFrameFunctionalGroupsSequence = Sequence([item])
    groups = FunctionalGroups(ds)
    assert groups.value(0, "PlanePositionSequence", "ImagePositionPatient") is None
    assert groups.floats(0, "PixelMeasuresSequence", "PixelSpacing", 2) is None
    assert len(groups.notes) == 2 and all("skipped" in note for note in groups.notes)


def test_private_and_nested_items_do_not_disturb_the_lookup():
    ds = Dataset()
    item = _item(PlanePositionSequence={"ImagePositionPatient": [1, 2, 3]})
    block = item.private_block(0x0029, "ACME 1.0", create=True)
    block.add_new(0x10, "SQ", Sequence([_item(PlanePositionSequence={"ImagePositionPatient": [9, 9, 9]})]))
    ds.PerFrameFunctionalGroupsSequence = Sequence([item])
    groups = FunctionalGroups(ds)
    np.testing.assert_array_equal(groups.floats(0, "PlanePositionSequence", "ImagePositionPatient", 3), [1, 2, 3])


def test_a_functional_groups_element_that_cannot_be_read_is_noted():
    ds = Dataset()
    _raw(ds, 0x52009230, b"\xff" * 7)  # Per-Frame Functional Groups, undecodable
    groups = FunctionalGroups(ds)
    assert groups.value(0, "PlanePositionSequence", "ImagePositionPatient") is None
    assert len(groups.notes) == 1 and "PerFrameFunctionalGroupsSequence" in groups.notes[0]


# -- stack geometry ------------------------------------------------------------------------------


def ct_slices(iop, positions) -> list:
    template = pydicom.dcmread(data_file("CT_small.dcm"))
    sources = []
    for k, position in enumerate(positions):
        ds = copy.deepcopy(template)
        ds.ImageOrientationPatient = list(iop)
        ds.ImagePositionPatient = list(position)
        ds.SOPInstanceUID = f"1.2.3.{k}"
        sources.append(load_source(ds))
    return sources


def test_affine_maps_each_voxel_to_its_patient_position():
    iop = SAGITTAL
    # the sagittal normal is (-1, 0, 0): slices in display order run towards the patient's right
    sources = ct_slices(iop, [[x, -50.0, 80.0] for x in (-4.0, -7.0, -10.0)])
    geo = stack_geometry(sources)
    affine = geo.affine_lps()
    row_mm, col_mm = geo.pixel_spacing
    for k, source in enumerate(sources):
        origin = np.asarray(source.header.get("ImagePositionPatient"), float)
        for i, j in ((0, 0), (5, 7), (127, 3)):
            expected = origin + i * row_mm * np.array(iop[3:]) + j * col_mm * np.array(iop[:3])
            np.testing.assert_allclose((affine @ [k, i, j, 1])[:3], expected, atol=1e-9)
    assert geo.step == pytest.approx(3.0) and geo.spatial_frames


def test_axial_image_aligned_placement_is_the_lps_frame():
    sources = ct_slices(AXIAL, [[-100.0, -120.0, z] for z in (10.0, 12.5, 15.0)])
    geo = stack_geometry(sources)
    place = geo.placement(volume=True)
    row_mm, col_mm = geo.pixel_spacing
    assert place["scale"] == pytest.approx((2.5, row_mm, col_mm))
    assert place["translate"] == pytest.approx((10.0, -120.0, -100.0))  # (z, y, x)
    assert place["placement"] == "image-aligned"


def test_world_aligned_placement_puts_lps_z_y_x_on_the_world_axes():
    sources = ct_slices(SAGITTAL, [[x, -50.0, 80.0] for x in (4.0, 2.0, 0.0)])
    geo = stack_geometry(sources)
    place = geo.placement(volume=True, world_aligned=True)
    assert place["placement"] == "world-aligned" and "scale" not in place
    lps = geo.affine_lps() @ [2, 10, 20, 1]
    np.testing.assert_allclose((place["affine"] @ [2, 10, 20, 1])[:3], lps[[2, 1, 0]])


def test_world_aligned_falls_back_to_image_aligned_for_frames_that_are_not_slices():
    geo = stack_geometry([load_source(data_file("examples_ybr_color.dcm"))])
    place = geo.placement(volume=True, world_aligned=True)
    assert place["scale"][0] == 1.0 and place["placement"].startswith("image-aligned")


def test_cine_frames_keep_scale_one_and_no_translate_on_the_frame_axis():
    geo = stack_geometry([load_source(data_file("examples_ybr_color.dcm"))])
    assert not geo.spatial_frames and geo.step is None
    assert geo.placement(volume=True)["scale"][0] == 1.0


def test_enhanced_file_positions_come_from_per_frame_groups():
    geo = stack_geometry([load_source(data_file("liver.dcm"))])
    assert geo.spatial_frames and geo.step == pytest.approx(1.0)
    assert geo.pixel_spacing == pytest.approx((0.810547, 0.810547))
    np.testing.assert_allclose(geo.origin, [-235.2, -226.8, -128.69], atol=0.01)
    assert geo.frame_order is None and geo.notes == []


def test_enhanced_frames_stored_against_the_normal_are_shown_in_slice_order():
    geo = stack_geometry([load_source(data_file("eCT_Supplemental.dcm"))])
    # rows run to the patient's right, so the normal points to the feet: -149 comes first
    assert geo.frame_order == [1, 0] and geo.step == pytest.approx(10.0)
    assert geo.origin[2] == pytest.approx(-149.0)


def test_enhanced_frames_at_one_position_are_frames_not_slices():
    ds = pydicom.dcmread(data_file("liver.dcm"))
    for item in ds.PerFrameFunctionalGroupsSequence:
        item.PlanePositionSequence[0].ImagePositionPatient = [0, 0, 0]
    geo = stack_geometry([load_source(ds)])
    assert not geo.spatial_frames and "share one position" in geo.warnings[0]


def test_damaged_per_frame_position_keeps_the_file_and_notes_it():
    ds = pydicom.dcmread(data_file("liver.dcm"))
    ds.PerFrameFunctionalGroupsSequence[1].PlanePositionSequence[0].add(DataElement(0x00200032, "LO", "x\\y"))
    geo = stack_geometry([load_source(ds)])
    assert not geo.spatial_frames and "could not all be read" in geo.warnings[0]
    assert any("ImagePositionPatient" in note for note in geo.notes)


def test_declared_spacing_between_slices_scales_a_classic_multiframe():
    geo = stack_geometry([load_source(data_file("emri_small.dcm"))])
    assert geo.step == pytest.approx(1.2) and geo.spatial_frames


def test_series_marked_as_frames_is_never_scaled_in_mm():
    sources = ct_slices(AXIAL, [[0.0, 0.0, z] for z in (0.0, 5.0)])
    geo = stack_geometry(sources, spatial=False)
    assert not geo.spatial_frames and geo.placement(volume=True)["scale"][0] == 1.0
