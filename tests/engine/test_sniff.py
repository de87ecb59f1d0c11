"""The bounded look into a folder: DICOM folders are found, other folders are left at once.

napari asks about every dropped folder on its UI thread, so the look is measured by what it does
to the file system (files opened, folders listed, seen through Python's audit events), not by time.
"""

from __future__ import annotations

import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

import pydicom
import pytest

from napari_dicom_gpu.engine.sniff import FolderLookBudget, claims, folder_has_dicom
from tests.dicom_files import data_file

_recording: dict[str, list[str]] | None = None


def _audit(event: str, args: tuple) -> None:
    if _recording is not None and event in _recording:
        _recording[event].append(str(args[0]))


sys.addaudithook(_audit)  # audit hooks cannot be removed; it records only inside `file_system_use`


@contextmanager
def file_system_use():
    """Files opened and folders listed inside the block."""
    global _recording
    _recording = {"open": [], "os.scandir": []}
    try:
        yield _recording
    finally:
        _recording = None


def write_ct_series(folder: Path, slices: int = 3, extension: str = ".dcm") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ds = pydicom.dcmread(data_file("CT_small.dcm"))
    for k in range(slices):
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.{k + 1}"
        ds.ImagePositionPatient = [0, 0, float(k)]
        ds.save_as(folder / f"IM{k:06d}{extension}")
    return folder


def write_pngs(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    head = b"\x89PNG\r\n\x1a\n" + bytes(200)
    for k in range(count):
        (folder / f"frame{k:05d}.png").write_bytes(head)
    return folder


def test_a_flat_series_of_extensionless_files_is_dicom(tmp_path):
    assert folder_has_dicom(write_ct_series(tmp_path / "series", extension=""))


def test_a_patient_study_series_tree_is_dicom(tmp_path):
    write_pngs(tmp_path / "patient" / "a_snapshots", 3)  # looked into first, holds no DICOM
    write_ct_series(tmp_path / "patient" / "study" / "series", extension="")
    assert folder_has_dicom(tmp_path / "patient")


def test_a_folder_with_a_dicomdir_is_dicom_whatever_lies_below(tmp_path):
    (tmp_path / "DICOMDIR").write_bytes(b"")
    assert folder_has_dicom(tmp_path)


def test_pydicoms_dicomdir_study_is_dicom():
    assert folder_has_dicom(Path(data_file("DICOMDIR")).parent)


def test_a_dicom_file_deeper_than_the_look_is_not_found(tmp_path):
    write_ct_series(tmp_path / "export" / "patient" / "study" / "series")
    assert not folder_has_dicom(tmp_path / "export")  # a DICOMDIR or the widget's Open folder… opens it


@pytest.mark.parametrize("marker", [".zgroup", ".zattrs", ".zarray", "zarr.json"])
def test_a_zarr_store_is_never_dicom_even_holding_dicom_files(tmp_path, marker):
    store = write_ct_series(tmp_path / "store")
    (store / marker).write_text("{}")
    with file_system_use() as used:
        assert not folder_has_dicom(store)
    assert used["open"] == []  # left at the marker, before any file is read


def test_a_zarr_named_folder_is_left_without_listing_it(tmp_path):
    store = write_ct_series(tmp_path / "image.zarr")
    with file_system_use() as used:
        assert not claims(store)
    assert used["open"] == [] and used["os.scandir"] == []


def test_a_zarr_store_beside_nothing_else_is_not_dicom(tmp_path):
    (tmp_path / "image.zarr").mkdir()
    (tmp_path / "image.zarr" / ".zgroup").write_text("{}")
    write_pngs(tmp_path, 2)
    assert not folder_has_dicom(tmp_path)


def test_empty_and_missing_folders_are_not_dicom(tmp_path):
    (tmp_path / "empty").mkdir()
    assert not folder_has_dicom(tmp_path / "empty")
    assert not folder_has_dicom(tmp_path / "missing")


def test_an_unreadable_folder_is_not_dicom_and_raises_nothing(tmp_path, monkeypatch):
    folder = write_ct_series(tmp_path / "locked")

    def refused(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "scandir", refused)  # what a user without read permission gets
    assert not folder_has_dicom(folder)
    assert not claims(folder)


def test_unreadable_files_are_not_dicom(tmp_path):
    folder = tmp_path / "links"
    folder.mkdir()
    (folder / "IM000001").symlink_to(tmp_path / "nowhere")
    assert not folder_has_dicom(folder)


def test_a_folder_of_ten_thousand_pngs_is_left_after_a_few_files(tmp_path):
    folder = write_pngs(tmp_path / "stack", 10_000)
    budget = FolderLookBudget()
    with file_system_use() as used:
        assert not folder_has_dicom(folder)
    assert 0 < len(used["open"]) <= budget.files
    assert used["os.scandir"] == [str(folder)]


def test_a_wide_deep_tree_is_looked_into_only_a_little(tmp_path):
    for series in range(30):
        for level in ("a", "b"):
            write_pngs(tmp_path / "tree" / f"s{series:02d}" / level, 40)
    budget = FolderLookBudget()
    with file_system_use() as used:
        assert not folder_has_dicom(tmp_path / "tree")
    assert len(used["open"]) <= budget.files
    most_folders = 1 + budget.subfolders_per_folder + budget.subfolders_per_folder**2
    assert len(used["os.scandir"]) <= most_folders


def test_a_dicom_folder_is_found_after_one_file_read(tmp_path):
    folder = write_ct_series(tmp_path / "series", slices=20, extension="")
    with file_system_use() as used:
        assert folder_has_dicom(folder)
    assert len(used["open"]) == 1


def test_claims_takes_a_dicom_folder_copied_from_pydicom(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(data_file("MR_small.dcm"), folder / "mr")
    assert claims(folder)
