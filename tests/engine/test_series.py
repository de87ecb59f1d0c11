"""Series grouping as a radiologist expects, on pydicom's dicomdirtests study and synthetic series.

Synthetic series are copies of CT_small.dcm with changed position, orientation, identity, echo,
time or size, saved under shuffled file names so that folder order never gives the answer.
"""

from __future__ import annotations

import copy
import os
import random
from pathlib import Path

import numpy as np
import pydicom
import pytest

from napari_dicom_gpu.engine.series import group_series, load_series
from napari_dicom_gpu.engine.source import load_source
from tests.dicom_files import data_file

AXIAL = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
CORONAL = [1.0, 0.0, 0.0, 0.0, 0.0, -1.0]
SAGITTAL = [0.0, 1.0, 0.0, 0.0, 0.0, -1.0]


def write_series(folder: Path, slices: list[dict], *, series_uid: str = "1.2.826.0.1.3680043.99.1", **common) -> list[str]:
    """Write one file per entry (header changes on top of CT_small.dcm) under shuffled names."""
    folder.mkdir(parents=True, exist_ok=True)
    template = pydicom.dcmread(data_file("CT_small.dcm"))
    names = [f"f{k:03d}" for k in range(len(slices))]
    random.Random(len(slices) * 7 + len(series_uid)).shuffle(names)
    paths = []
    for k, (changes, name) in enumerate(zip(slices, names, strict=True)):
        ds = copy.deepcopy(template)
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = f"{series_uid}.{k + 1}"
        ds.InstanceNumber = k + 1
        ds.ImageOrientationPatient = AXIAL
        for key, value in {**common, **changes}.items():
            if key == "size":
                ds.PixelData = np.ascontiguousarray(template.pixel_array[:value, :value]).tobytes()
                ds.Rows = ds.Columns = value
            elif value is None:
                if key in ds:
                    delattr(ds, key)
            else:
                setattr(ds, key, value)
        path = folder / name
        ds.save_as(path, enforce_file_format=True)
        paths.append(str(path))
    return paths


def axial_at(*z: float, **changes) -> list[dict]:
    return [{"ImagePositionPatient": [-100.0, -100.0, float(v)], **changes} for v in z]


def names_of(series) -> list[str]:
    return [s.name for s in series]


def z_of(series) -> list[float]:
    return [float(s.header.get("ImagePositionPatient")[2]) for s in series.sources]


def test_shuffled_file_names_give_one_volume_sorted_along_the_normal(tmp_path):
    write_series(tmp_path, axial_at(10, 0, 7.5, 2.5, 5), SeriesNumber=3, SeriesDescription="Chest")
    (series,) = load_series([tmp_path]).series
    assert series.name == "3 Chest" and series.number == 3
    assert z_of(series) == [0, 2.5, 5, 7.5, 10]
    assert series.metadata["stack"] == "volume" and series.warnings == []
    assert series.metadata["slice_spacing"] == pytest.approx(2.5)
    assert series.metadata["slice_spacings"] == [2.5, 2.5, 2.5, 2.5]


def test_a_gap_splits_the_volume_into_parts_each_with_its_slices(tmp_path):
    write_series(tmp_path, axial_at(0, 2, 4, 6, 20, 22, 24), SeriesNumber=2, SeriesDescription="Head")
    parts = load_series([tmp_path]).series
    assert names_of(parts) == ["2 Head (part 1 of 2)", "2 Head (part 2 of 2)"]
    assert [z_of(p) for p in parts] == [[0, 2, 4, 6], [20, 22, 24]]
    assert all("gap" in p.warnings[0] for p in parts)
    assert parts[1].metadata["slice_spacings"] == [2, 2]


def test_uneven_spacing_without_a_gap_keeps_one_volume_with_a_warning_and_the_spacings(tmp_path):
    write_series(tmp_path, axial_at(0, 1, 2.25, 3.25, 4.5))
    (series,) = load_series([tmp_path]).series
    assert series.metadata["slice_spacings"] == [1, 1.25, 1, 1.25]
    assert series.metadata["slice_spacing"] == pytest.approx(1.125)
    assert any("unevenly spaced" in w for w in series.warnings)


def test_an_exact_copy_of_a_file_is_left_out_and_reported(tmp_path):
    paths = write_series(tmp_path / "a", axial_at(0, 1, 2))
    copy = tmp_path / "a" / "copy_of_first"
    copy.write_bytes(Path(paths[0]).read_bytes())
    (series,) = load_series([tmp_path]).series
    assert len(series.sources) == 3 and z_of(series) == [0, 1, 2]
    assert series.metadata["duplicate_files"] and "same SOP Instance UID" in series.warnings[0]


def test_images_at_one_position_are_split_by_echo(tmp_path):
    slices = axial_at(0, 1, 2, EchoNumbers=1) + axial_at(0, 1, 2, EchoNumbers=2)
    write_series(tmp_path, slices, SeriesNumber=7, SeriesDescription="Dual echo")
    series = load_series([tmp_path]).series
    assert names_of(series) == ["7 Dual echo (echo 1)", "7 Dual echo (echo 2)"]
    assert [len(s.sources) for s in series] == [3, 3]
    assert all(s.metadata["stack"] == "volume" for s in series)


def test_images_at_one_position_are_split_by_temporal_position(tmp_path):
    slices = [
        {**s, "TemporalPositionIdentifier": t} for t in (2, 1) for s in axial_at(0, 1)
    ]
    write_series(tmp_path, slices, SeriesNumber=8, SeriesDescription="Dynamic")
    assert names_of(load_series([tmp_path]).series) == ["8 Dynamic (time 1)", "8 Dynamic (time 2)"]


def test_different_acquisitions_that_tile_space_stay_one_volume(tmp_path):
    # a gated CT acquired in steps: Acquisition Number changes, positions do not repeat
    write_series(tmp_path, axial_at(0, 2.5, 5, AcquisitionNumber=1) + axial_at(7.5, 10, AcquisitionNumber=2))
    (series,) = load_series([tmp_path]).series
    assert len(series.sources) == 5 and series.warnings == []


def test_repeated_positions_with_nothing_telling_them_apart_become_repeats_with_a_warning(tmp_path):
    write_series(tmp_path, axial_at(0, 1, 2) + axial_at(0, 1, 2), SeriesDescription="Again")
    series = load_series([tmp_path]).series
    assert [s.name.rsplit("(", 1)[-1] for s in series] == ["repeat 1)", "repeat 2)"]
    assert all(len(s.sources) == 3 and "repeats" in s.warnings[0] for s in series)


def test_mixed_orientations_become_one_layer_per_plane(tmp_path):
    slices = axial_at(0, 1, 2) + [
        {"ImageOrientationPatient": SAGITTAL, "ImagePositionPatient": [x, -100.0, 100.0]} for x in (0.0, 3.0)
    ]
    write_series(tmp_path, slices, SeriesNumber=1, SeriesDescription="Mixed")
    series = load_series([tmp_path]).series
    assert names_of(series) == ["1 Mixed (axial)", "1 Mixed (sagittal)"]
    assert [len(s.sources) for s in series] == [3, 2]
    assert series[1].metadata["slice_spacing"] == pytest.approx(3.0)


def test_localizer_images_are_2d_layers_even_when_parallel(tmp_path):
    write_series(tmp_path, axial_at(0, 50), ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"], SeriesDescription="Scout")
    series = load_series([tmp_path]).series
    assert [s.metadata["stack"] for s in series] == ["single", "single"]
    assert names_of(series) == ["1 Scout (image 1)", "1 Scout (image 2)"]


def test_projections_at_several_angles_are_one_cine_in_instance_order(tmp_path):
    angles = np.radians([0, 30, 60, 90])
    slices = [
        {
            "ImageOrientationPatient": [float(np.cos(a)), float(np.sin(a)), 0.0, 0.0, 0.0, -1.0],
            "ImagePositionPatient": [0.0, 0.0, 0.0],
            "ImageType": ["DERIVED", "SECONDARY", "PROJECTION IMAGE"],
        }
        for a in angles
    ]
    write_series(tmp_path, slices)
    (series,) = load_series([tmp_path]).series
    assert series.metadata["stack"] == "frames" and len(series.sources) == 4
    assert [int(s.header.get("InstanceNumber")) for s in series.sources] == [1, 2, 3, 4]
    assert "not as a volume" in series.warnings[0]


def test_images_of_two_sizes_in_one_series_are_two_layers(tmp_path):
    write_series(tmp_path, axial_at(0, 1) + axial_at(0, 1, size=64))
    series = load_series([tmp_path]).series
    assert names_of(series) == ["1 CT (128x128)", "1 CT (64x64)"]
    assert sorted(len(s.sources) for s in series) == [2, 2]
    assert {s.sources[0].layout.rows for s in series} == {64, 128}


def test_images_without_position_stack_in_instance_order_with_a_warning(tmp_path):
    write_series(tmp_path, [{"ImagePositionPatient": None, "ImageOrientationPatient": None}] * 3)
    (series,) = load_series([tmp_path]).series
    assert series.metadata["stack"] == "frames"
    assert [int(s.header.get("InstanceNumber")) for s in series.sources] == [1, 2, 3]
    assert "no patient position" in series.warnings[0]


def test_layers_are_ordered_by_study_then_series_number(tmp_path):
    write_series(tmp_path / "s10", axial_at(0, 1), series_uid="1.2.3.10", SeriesNumber=10, SeriesDescription="Late")
    write_series(tmp_path / "s2", axial_at(0, 1), series_uid="1.2.3.2", SeriesNumber=2, SeriesDescription="Early")
    write_series(tmp_path / "s0", axial_at(0, 1), series_uid="1.2.3.0", SeriesNumber=None, SeriesDescription="None")
    assert names_of(load_series([tmp_path]).series) == ["2 Early", "10 Late", "None"]


def test_group_series_reads_only_header_keywords(tmp_path):
    """Grouping asks each file's header for known keywords only (the fast parser's contract)."""
    from napari_dicom_gpu.engine.header import HEADER_KEYWORDS

    asked: set[str] = set()

    class Recording:
        def __init__(self, ds):
            self.ds = ds

        def get(self, keyword, default=None):
            asked.add(keyword)
            return self.ds.get(keyword, default)

        def __contains__(self, keyword):
            asked.add(keyword)
            return keyword in self.ds

    paths = write_series(tmp_path, axial_at(0, 1, 2, 2))
    sources = [load_source(p) for p in paths]

    for source in sources:
        source.header = Recording(source.dataset)
    group_series(sources)
    assert asked and asked <= set(HEADER_KEYWORDS)


# -- pydicom's dicomdirtests study --------------------------------------------------------------

DICOMDIR = os.path.join(os.path.dirname(pydicom.data.__file__), "test_files", "dicomdirtests", "DICOMDIR")

#: Written by hand from the files' headers (Study, Series Number, Description, orientation,
#: positions, Image Type): (name, number of images, stack).
DICOMDIRTESTS_LAYERS = [
    # study 77654033 (CR + CT): three radiographs, then a brain CT with slices at
    # z = -99.48 | 103.02, 104.27, 105.52: a gap, so one lone slice and a 1.25 mm volume
    ("1 Cervical LAT", 1, "single"),
    ("2 Cervical OBLI 1", 1, "single"),
    ("3 Cervical OBLI 2", 1, "single"),
    ("2 Routine Brain (part 1 of 2)", 1, "single"),
    ("2 Routine Brain (part 2 of 2)", 3, "volume"),
    # study 98892001 (CT): two orthogonal scouts (LOCALIZER, lateral = sagittal, AP = coronal),
    # then gated calcium scoring, 5 slices 2.5 mm apart over two acquisitions
    ("4 Scout (sagittal)", 1, "single"),
    ("4 Scout (coronal)", 1, "single"),
    ("5 SmartScore - Gated 0.5 sec", 5, "volume"),
    # study 98892003 (MR, four localizer sessions): single sagittal localizers and three-plane pilots
    ("1 FAST LOCALIZER", 1, "single"),
    ("2 FAST LOCALIZER", 1, "single"),
    ("1 FAST LOCALIZER", 1, "single"),
    ("2 T/S/C RF FAST PILOT (coronal)", 1, "single"),
    ("2 T/S/C RF FAST PILOT (sagittal)", 1, "single"),
    ("2 T/S/C RF FAST PILOT (axial)", 1, "single"),
    ("1 FAST LOCALIZER", 1, "single"),
    ("2 T/S/C RF FAST PILOT (coronal)", 1, "single"),
    ("2 T/S/C RF FAST PILOT (sagittal)", 1, "single"),
    ("2 T/S/C RF FAST PILOT (axial)", 1, "single"),
    # seven MR angiography projections rotating about the vertical axis: one cine, not a volume
    ("700 ANGIO Projected from   C", 7, "frames"),
]


def test_dicomdirtests_study_gives_the_layers_a_radiologist_expects():
    report = load_series([DICOMDIR])
    assert report.skipped == []
    got = [(s.name, len(s.sources), s.metadata["stack"]) for s in report.series]
    assert got == DICOMDIRTESTS_LAYERS


def test_dicomdirtests_brain_ct_never_gets_a_silent_spacing():
    report = load_series([DICOMDIR])
    brain = [s for s in report.series if "Routine Brain" in s.name]
    assert [z_of(s) for s in brain] == [pytest.approx([-99.48]), pytest.approx([103.02, 104.27, 105.52])]
    assert brain[1].metadata["slice_spacing"] == pytest.approx(1.25)
    assert all(any("gap" in w for w in s.warnings) for s in brain)
