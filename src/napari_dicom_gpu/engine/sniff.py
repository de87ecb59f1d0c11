"""Decide cheaply whether a path is DICOM: at most 132 bytes of a file are read."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

DICOM_SUFFIXES = {".dcm", ".dicom", ".dic"}
_VRS = {
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"OB",
    b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM",
    b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV",
}
#: groups a dataset without preamble plausibly starts with
_FIRST_GROUPS = {0x0002, 0x0008}


def looks_like_dicom_bytes(head: bytes) -> bool:
    """'DICM' at byte 128, or a first element that reads as a DICOM data element."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    if len(head) < 8:
        return False
    for order in ("<", ">"):
        group, element = struct.unpack(f"{order}HH", head[:4])
        if group not in _FIRST_GROUPS or element > 0x0100:
            continue
        if head[4:6] in _VRS:
            return True  # explicit VR
        (length,) = struct.unpack(f"{order}I", head[4:8])
        if order == "<" and length < 0x10000 and element in (0x0000, 0x0001, 0x0005, 0x0008):
            return True  # implicit VR little endian: a short first element
    return False


def is_dicom_file(path: str | os.PathLike) -> bool:
    """Sniff a file's first 132 bytes. Never raises."""
    try:
        with open(path, "rb") as fh:
            return looks_like_dicom_bytes(fh.read(132))
    except OSError:
        return False


def is_dicomdir(path: str | os.PathLike) -> bool:
    return Path(path).name.upper() == "DICOMDIR"


def claims(path: str | os.PathLike) -> bool:
    """Whether the reader should take this path. Never raises."""
    try:
        p = Path(path)
        if p.is_dir():
            return folder_has_dicom(p)
        if p.suffix.lower() in DICOM_SUFFIXES or is_dicomdir(p):
            return True
        return p.is_file() and is_dicom_file(p)
    except Exception:
        return False


#: Zarr stores (v2 and v3) are folders holding these; a DICOM folder never does
ZARR_MARKERS = frozenset({".zgroup", ".zattrs", ".zarray", "zarr.json"})


@dataclass
class FolderLookBudget:
    """How much a look into a folder may read: never a walk of a big tree.

    napari asks the reader about every dropped folder on the UI thread, so the look is bounded
    by directory entries and files opened, whatever the tree holds.
    """

    #: directory entries read from one folder
    entries_per_folder: int = 24
    #: directory entries read in all, the folder and its subfolders together
    entries: int = 96
    #: files whose first 132 bytes are read
    files: int = 12
    #: subfolder levels looked into below the folder (patient / study / series)
    depth: int = 2
    #: subfolders of one folder looked into
    subfolders_per_folder: int = 3


class _NotDicomFolder(Exception):
    """A Zarr store: no DICOM reader should take it, whatever else it holds."""


def folder_has_dicom(folder: str | os.PathLike, budget: FolderLookBudget | None = None) -> bool:
    """Whether a folder can be DICOM, from a bounded look. Never raises.

    True at a DICOMDIR or a DICOM file among the first entries of the folder and of its first
    subfolders; False at once for a Zarr store (a ``.zarr`` name or Zarr metadata), and False when
    the budget runs out before anything DICOM is found (a folder of PNGs, an empty or unreadable
    folder, a DICOM file buried deeper than ``budget.depth``).
    """
    try:
        return _look(Path(folder), 0, budget or FolderLookBudget())
    except (_NotDicomFolder, OSError, ValueError):
        return False


def _look(folder: Path, depth: int, budget: FolderLookBudget) -> bool:
    if folder.suffix.lower() == ".zarr":
        raise _NotDicomFolder
    files: list[str] = []
    subfolders: list[str] = []
    with os.scandir(folder) as entries:
        for count, entry in enumerate(entries):
            if count >= budget.entries_per_folder or budget.entries <= 0:
                break
            budget.entries -= 1
            if entry.name in ZARR_MARKERS:
                raise _NotDicomFolder
            if is_dicomdir(entry.name):
                return True
            if entry.name.startswith("."):
                continue  # .DS_Store, ._IM0001: never the DICOM of a folder
            try:
                is_folder = entry.is_dir()
            except OSError:
                continue
            (subfolders if is_folder else files).append(entry.path)
    for path in sorted(files):
        if Path(path).suffix.lower() in DICOM_SUFFIXES:
            return True
        if budget.files <= 0:
            break
        budget.files -= 1
        if is_dicom_file(path):
            return True
    if depth >= budget.depth:
        return False
    for path in sorted(subfolders)[: budget.subfolders_per_folder]:
        if Path(path).suffix.lower() == ".zarr":
            continue  # a Zarr store beside DICOM series is not the DICOM
        if _look(Path(path), depth + 1, budget):
            return True
    return False
