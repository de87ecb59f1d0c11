"""Expand paths (files, folders, DICOMDIR) into files, then group files into series."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DicomDecodeError
from .sniff import DICOM_SUFFIXES, is_dicom_file, is_dicomdir
from .source import Source, load_sources, read_dataset


def expand_paths(paths: list[str | os.PathLike]) -> list[str]:
    """Every candidate DICOM file under ``paths``, in a stable order, without duplicates."""
    found: list[str] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for name in sorted(files):
                    child = Path(root, name)
                    if is_dicomdir(child):
                        continue  # its records point at files this walk finds anyway
                    if child.suffix.lower() in DICOM_SUFFIXES or is_dicom_file(child):
                        found.append(str(child))
        elif is_dicomdir(p):
            found.extend(dicomdir_files(p))
        else:
            found.append(str(p))
    return list(dict.fromkeys(found))


def dicomdir_files(path: Path) -> list[str]:
    """Files referenced by a DICOMDIR's image records."""
    from pydicom.fileset import FileSet

    try:
        fileset = FileSet(read_dataset(path))
    except DicomDecodeError:
        raise
    except Exception as exc:
        raise DicomDecodeError(path, f"the DICOMDIR cannot be read ({exc})") from None
    return [str(instance.path) for instance in fileset]


@dataclass
class Series:
    """Files (or one multi-frame file) shown as one layer, slices in display order."""

    sources: list[Source]
    name: str = ""
    number: int | None = None
    #: things a user should know about this series (uneven spacing, duplicates, ...)
    warnings: list[str] = field(default_factory=list)
    #: facts for ``layer.metadata`` (measured slice spacings, why it was split, ...)
    metadata: dict = field(default_factory=dict)


@dataclass
class LoadReport:
    """Sources grouped into series, and the files that could not be used (with why)."""

    series: list[Series] = field(default_factory=list)
    skipped: list[DicomDecodeError] = field(default_factory=list)


def load_series(paths: list[str | os.PathLike]) -> LoadReport:
    """Read every file and group them into series; unreadable files are reported, not fatal."""
    report = LoadReport()
    sources = []
    for outcome in load_sources(expand_paths(paths)):
        if isinstance(outcome, DicomDecodeError):
            report.skipped.append(outcome)
        else:
            sources.append(outcome)
    report.series = group_series(sources)
    return report


def group_series(sources: list[Source]) -> list[Series]:
    """One group per series and image layout, slices sorted along the slice normal."""
    groups: dict[tuple, list[Source]] = defaultdict(list)
    for source in sources:
        ds = source.dataset
        uid = str(ds.get("SeriesInstanceUID", "")) or source.path
        key = (uid, source.layout.stack_key())
        # Multi-frame files stay on their own: their frames are already a stack.
        if source.layout.number_of_frames > 1:
            key = (*key, source.path)
        groups[key].append(source)
    return [Series(sort_slices(group)) for group in groups.values()]


def slice_normal(ds) -> np.ndarray | None:
    orientation = ds.get("ImageOrientationPatient")
    if orientation is None or len(orientation) != 6:
        return None
    row, col = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    return np.cross(row, col)


def sort_slices(group: list[Source]) -> list[Source]:
    """By position along the slice normal, else Instance Number, else file name."""
    if len(group) < 2:
        return group
    normal = slice_normal(group[0].dataset)
    if normal is not None and all("ImagePositionPatient" in s.dataset for s in group):
        return sorted(group, key=lambda s: float(np.dot(normal, np.asarray(s.dataset.ImagePositionPatient, float))))
    def instance(s: Source):
        value = s.dataset.get("InstanceNumber")
        return (0, int(value), s.path) if value not in (None, "") else (1, 0, s.path)
    return sorted(group, key=instance)
