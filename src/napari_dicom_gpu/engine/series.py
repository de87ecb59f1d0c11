"""Expand paths (files, folders, DICOMDIR) into files, then group files into series."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from . import geometry
from .errors import DicomDecodeError
from .sniff import DICOM_SUFFIXES, is_dicom_file, is_dicomdir
from .source import Source, load_sources, read_dataset


def expand_paths(paths: list[str | os.PathLike]) -> list[str]:
    """Every candidate DICOM file under ``paths``, in a stable order, without duplicates.

    String operations only (a study folder holds thousands of files): files with a DICOM suffix
    are taken by name, other names by their first 132 bytes.
    """
    found: list[str] = []
    for path in paths:
        path = os.fspath(path)
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    if name.upper() == "DICOMDIR":
                        continue  # its records point at files this walk finds anyway
                    child = os.path.join(root, name)
                    if os.path.splitext(name)[1].lower() in DICOM_SUFFIXES or is_dicom_file(child):
                        found.append(child)
        elif is_dicomdir(path):
            found.extend(dicomdir_files(Path(path)))
        else:
            found.append(path)
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
    #: facts for ``layer.metadata``: ``stack`` ("volume": slices in mm, "frames": a frame axis
    #: not in mm, "single"), ``series_instance_uid``, ``slice_spacings`` (measured, mm) and
    #: ``slice_spacing`` (used), ``split`` (which part of its series), ``duplicate_files``,
    #: ``duplicate_positions``, ``series_slice_spacings`` (before a split at a gap)
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


# -- grouping -----------------------------------------------------------------------------------
#
# What a radiologist expects (3D Slicer's DICOM import and dcm2niix are the reference):
#
# * one layer per Series Instance UID, split further when images differ in pixel layout (size,
#   bit depth, colour), in orientation (beyond ``geometry.ORIENTATION_TOLERANCE``), or when
#   positions repeat within one orientation (then by echo, temporal position, acquisition, in that
#   order; what still repeats is split into repeats "1", "2", ...: nothing is stacked twice at one
#   position and nothing is hidden). An exact copy (same SOP Instance UID) is dropped and reported.
# * a volume only from parallel slices at distinct positions, sorted along the slice normal. A gap
#   (a step over ``geometry.GAP_FACTOR`` median steps) splits the volume into parts, each placed
#   where it lies; smaller unevenness keeps one volume with a warning and the measured spacings.
# * localizers (Image Type LOCALIZER) are 2D layers, one per image; images of one series at several
#   orientations (a three-plane scout) are one layer per plane; projection images at several angles
#   (rotating MIPs) are one cine layer in Instance Number order whose frame axis is not in mm.
# * images without patient position are a stack in Instance Number order, frame axis not in mm.
# * multi-frame files are a layer each (their frames are already a stack).
# * layers are ordered by study (first seen first), then Series Number; named
#   "<Series Number> <Series Description>" plus what told the parts apart, e.g. "(sagittal)".
#
# Per file only ``source.header`` values are read, once, into an ``_Image``; everything after is
# sorting and linear passes, O(n log n) for n files.


@dataclass
class _Image:
    """The header values grouping needs from one file, each read at most once."""

    source: Source
    order: int
    iop: np.ndarray | None
    position: np.ndarray | None
    instance: int | None
    image_type: tuple[str, ...]
    distance: float = 0.0  # along the slice normal of its orientation group

    # Read only for images that share a position (rare), to keep look-ups per file few.
    @cached_property
    def sop_uid(self) -> str:
        return _text(self.source.header.get("SOPInstanceUID"))

    @cached_property
    def echo(self) -> str:
        return _text(self.source.header.get("EchoNumbers"))

    @cached_property
    def temporal(self) -> str:
        return _text(self.source.header.get("TemporalPositionIdentifier"))

    @cached_property
    def acquisition(self) -> str:
        return _text(self.source.header.get("AcquisitionNumber"))

    @property
    def sort_key(self) -> tuple:
        return (self.instance is None, self.instance or 0, self.source.path)


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _int_or_none(value) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _image_type(value) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    values = [value] if isinstance(value, str) else list(value)
    return tuple(str(v).strip().upper() for v in values)


def _image(source: Source, order: int) -> _Image:
    header = source.header
    return _Image(
        source=source,
        order=order,
        iop=geometry.orientation(header.get("ImageOrientationPatient")),
        position=geometry.as_floats(header.get("ImagePositionPatient"), 3),
        instance=_int_or_none(header.get("InstanceNumber")),
        image_type=_image_type(header.get("ImageType")),
    )


def series_name(source: Source, number: int | None = None, *, files: int = 1) -> str:
    """"<Series Number> <Series Description>".

    Without a description: the file name for one file, else the modality (or folder name).
    """
    header = source.header
    if number is None:
        number = _int_or_none(header.get("SeriesNumber"))
    description = _text(header.get("SeriesDescription"))
    if not description and files == 1:
        description = Path(source.path).stem
    description = description or _text(header.get("Modality")) or Path(source.path).parent.name or "DICOM"
    return f"{number} {description}" if number is not None else description


@dataclass
class _Part:
    """A piece of a series on its way to becoming a ``Series``."""

    images: list[_Image]
    labels: list[str] = field(default_factory=list)
    stack: str = "volume"  # volume (slices, mm), frames (not mm), single
    warnings: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    def child(self, images: list[_Image], label: str | None = None, **changes) -> _Part:
        labels = [*self.labels, label] if label else list(self.labels)
        part = _Part(images, labels, self.stack, list(self.warnings), dict(self.metadata))
        for key, value in changes.items():
            setattr(part, key, value)
        return part


def group_series(sources: list[Source]) -> list[Series]:
    """One ``Series`` per layer a radiologist expects (see the notes above), in display order."""
    by_series: dict[str, list[_Image]] = defaultdict(list)
    study_rank: dict[str, int] = {}
    for order, source in enumerate(sources):
        header = source.header
        uid = _text(header.get("SeriesInstanceUID")) or source.path
        study_rank.setdefault(_text(header.get("StudyInstanceUID")), len(study_rank))
        by_series[uid].append(_image(source, order))
    ranked = []
    for uid, images in by_series.items():
        header = images[0].source.header
        number = _int_or_none(header.get("SeriesNumber"))
        rank = (study_rank[_text(header.get("StudyInstanceUID"))], number is None, number or 0, images[0].order)
        ranked.append((rank, uid, number, images))
    ranked.sort(key=lambda item: item[0])
    out: list[Series] = []
    for _rank, uid, number, images in ranked:
        base = series_name(images[0].source, number, files=len(images))
        parts = _split_series(images)
        for index, part in enumerate(parts):
            labels = list(part.labels)
            if len(parts) > 1 and not labels:
                labels = [f"part {index + 1}"]
            name = f"{base} ({', '.join(labels)})" if labels else base
            metadata = {"series_instance_uid": uid, "stack": part.stack, **part.metadata}
            if len(parts) > 1:
                metadata["split"] = f"part {index + 1} of {len(parts)} of the series"
            sources_in_order = [image.source for image in part.images]
            out.append(Series(sources_in_order, name, number, part.warnings, metadata))
    return out


def _split_series(images: list[_Image]) -> list[_Part]:
    """Split one Series Instance UID by layout, then per layout by geometry."""
    by_layout: dict[tuple, list[_Image]] = defaultdict(list)
    multiframe: list[_Image] = []
    for image in images:
        if image.source.layout.number_of_frames > 1:
            multiframe.append(image)
        else:
            by_layout[image.source.layout.stack_key()].append(image)
    parts: list[_Part] = []
    several_layouts = len(by_layout) + len(multiframe) > 1
    layouts = [members[0].source.layout for members in by_layout.values()]
    for members in sorted(by_layout.values(), key=lambda group: min(im.sort_key for im in group)):
        label = _layout_label(members[0].source.layout, layouts) if several_layouts else None
        root = _Part(members, [label] if label else [])
        parts.extend(_split_geometry(root))
    instances = [im.instance for im in multiframe]
    for image in sorted(multiframe, key=lambda im: im.sort_key):
        unique = image.instance is not None and instances.count(image.instance) == 1
        label = f"instance {image.instance}" if unique else Path(image.source.path).stem
        parts.append(_Part([image], [label] if several_layouts else [], stack="volume"))
    return parts


def _layout_label(layout, layouts: list) -> str:
    """What tells this layout apart from the others of its series: size, then colour, bits, syntax."""
    size = f"{layout.columns}x{layout.rows}"
    same_size = [other for other in layouts if (other.columns, other.rows) == (layout.columns, layout.rows)]
    if len(same_size) == 1:
        return size
    extra = []
    if len({other.photometric_interpretation for other in same_size}) > 1:
        extra.append(layout.photometric_interpretation)
    if len({(other.bits_stored, other.dtype.str) for other in same_size}) > 1:
        extra.append(f"{layout.bits_stored} bit")
    if len({other.transfer_syntax for other in same_size}) > 1:
        extra.append(layout.transfer_syntax.name or str(layout.transfer_syntax))
    return ", ".join([size, *extra])


def _split_geometry(part: _Part) -> list[_Part]:
    images = part.images
    without = [im for im in images if im.iop is None or im.position is None]
    located = [im for im in images if im.iop is not None and im.position is not None]
    out: list[_Part] = []
    if without:
        stack = sorted(without, key=lambda im: im.sort_key)
        child = part.child(stack, "no position" if located else None, stack="frames" if len(stack) > 1 else "single")
        if len(stack) > 1:
            child.warnings.append(
                "these images have no patient position: shown in Instance Number order, the frame axis is not in mm"
            )
        out.append(child)
    if not located:
        return out
    # orientation groups: few per series, so a linear scan over representatives
    groups: list[tuple[np.ndarray, list[_Image]]] = []
    for image in located:
        for iop, members in groups:
            if geometry.same_orientation(iop, image.iop):
                members.append(image)
                break
        else:
            groups.append((image.iop, [image]))
    # parts in acquisition order (lowest Instance Number first), whatever the file names
    groups.sort(key=lambda group: min(im.sort_key for im in group[1]))
    if len(groups) > 1 and all("PROJECTION IMAGE" in im.image_type for im in located):
        stack = sorted(located, key=lambda im: im.sort_key)
        child = part.child(stack, None, stack="frames")
        child.warnings.append(
            f"{len(stack)} projection images at {len(groups)} angles: shown as frames in Instance Number "
            "order (a cine), not as a volume"
        )
        return [*out, child]
    names = [geometry.orientation_name(iop) for iop, _ in groups]
    for index, ((iop, members), name) in enumerate(zip(groups, names, strict=False)):
        label = None
        if len(groups) > 1:
            # two planes of one kind (two oblique sagittals) get a number: "sagittal 2"
            label = name if names.count(name) == 1 else f"{name} {names[: index + 1].count(name)}"
        out.extend(_split_positions(part.child(members, label), iop))
    return out


def _split_positions(part: _Part, iop: np.ndarray) -> list[_Part]:
    """Sort along the normal; resolve repeated positions; split at gaps; report spacing."""
    normal = geometry.slice_normal(iop)
    if part.images:
        distances = np.stack([im.position for im in part.images]) @ normal
        for image, distance in zip(part.images, distances.tolist(), strict=True):
            image.distance = distance
    images = sorted(part.images, key=lambda im: (im.distance, *im.sort_key))
    if any("LOCALIZER" in im.image_type for im in images) and len(images) > 1:
        return [part.child([im], f"image {im.instance if im.instance is not None else k + 1}", stack="single")
                for k, im in enumerate(sorted(images, key=lambda im: im.sort_key))]
    images, dropped = _drop_copies(images) if _repeated_runs(images) else (images, [])
    if dropped:
        part.warnings.append(
            f"{len(dropped)} file(s) repeat an image already loaded (same SOP Instance UID) and were left out"
        )
        part.metadata["duplicate_files"] = dropped
    return [p for sub in _split_repeats(part.child(images), ("echo", "temporal", "acquisition")) for p in _split_gaps(sub)]


def _drop_copies(images: list[_Image]) -> tuple[list[_Image], list[str]]:
    seen: set[str] = set()
    kept, dropped = [], []
    for image in images:
        if image.sop_uid and image.sop_uid in seen:
            dropped.append(image.source.path)
            continue
        seen.add(image.sop_uid)
        kept.append(image)
    return kept, dropped


_REPEAT_LABELS = {"echo": "echo", "temporal": "time", "acquisition": "acquisition"}


def _repeated_runs(images: list[_Image]) -> list[list[_Image]]:
    """Images sharing a position (sorted by distance), only the runs with more than one image."""
    distances = np.array([im.distance for im in images])
    return [images[run] for run in geometry.position_runs(distances) if run.stop - run.start > 1]


def _split_repeats(part: _Part, keys: tuple[str, ...]) -> list[_Part]:
    """Split images that share a position by the first key that tells them apart."""
    repeated = _repeated_runs(part.images)
    if not repeated:
        return [part]
    for position, key in enumerate(keys):
        if any(len({getattr(im, key) for im in run}) > 1 for run in repeated):
            by_value: dict[str, list[_Image]] = defaultdict(list)
            for image in part.images:
                by_value[getattr(image, key)].append(image)
            out = []
            for value in sorted(by_value, key=lambda v: (_int_or_none(v) is None, _int_or_none(v) or 0, v)):
                label = f"{_REPEAT_LABELS[key]} {value}" if value else f"no {_REPEAT_LABELS[key]}"
                out.extend(_split_repeats(part.child(by_value[value], label), keys[position + 1 :]))
            return out
    # Nothing tells them apart: the k-th image at each position (by Instance Number) goes to repeat k.
    slots: list[list[_Image]] = []
    runs = geometry.position_runs(np.array([im.distance for im in part.images]))
    for run in runs:
        for k, image in enumerate(sorted(part.images[run], key=lambda im: im.sort_key)):
            if k == len(slots):
                slots.append([])
            slots[k].append(image)
    count = sum(len(run) - 1 for run in repeated)
    out = []
    for k, images in enumerate(slots):
        child = part.child(images, f"repeat {k + 1}")
        child.warnings.append(
            f"{count} image(s) lie at a position already taken with nothing (echo, time, acquisition) "
            f"telling them apart: split into {len(slots)} repeats, this is repeat {k + 1}"
        )
        child.metadata["duplicate_positions"] = len(repeated)
        out.append(child)
    return out


def _split_gaps(part: _Part) -> list[_Part]:
    images = part.images
    if len(images) == 1:
        return [part.child(images, stack="single")]
    distances = np.array([im.distance for im in images])
    runs = geometry.gap_runs(distances)
    out = []
    for index, run in enumerate(runs):
        members = images[run]
        child = part.child(members, f"part {index + 1} of {len(runs)}" if len(runs) > 1 else None)
        if len(runs) > 1:
            steps = np.diff(distances).round(6).tolist()
            child.warnings.append(
                f"the slices have a gap (steps {min(steps):.3g} to {max(steps):.3g} mm): "
                f"split into {len(runs)} parts, each placed where it lies"
            )
            child.metadata["series_slice_spacings"] = steps
        if len(members) == 1:
            child.stack = "single"
        else:
            spacing = geometry.Spacing.of(distances[run])
            child.metadata["slice_spacings"] = spacing.steps
            child.metadata["slice_spacing"] = spacing.step
            if not spacing.even:
                child.warnings.append(spacing.describe())
        out.append(child)
    return out


def sort_slices(group: list[Source]) -> list[Source]:
    """By position along the slice normal, else Instance Number, else file name."""
    if len(group) < 2:
        return group
    images = [_image(s, k) for k, s in enumerate(group)]
    normal = geometry.slice_normal(images[0].iop)
    if normal is not None and all(im.position is not None for im in images):
        return [im.source for im in sorted(images, key=lambda im: (float(np.dot(normal, im.position)), *im.sort_key))]
    return [im.source for im in sorted(images, key=lambda im: im.sort_key)]
