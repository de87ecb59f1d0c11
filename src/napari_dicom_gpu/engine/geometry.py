"""Patient geometry: orientation, slice normal, positions, spacing, and where a layer goes in napari.

DICOM places images in the patient frame, LPS millimetres (x to the patient's left, y to the back,
z to the head). Data arrays are indexed ``(frame, row, column)``; ``row`` runs along the column
direction cosine (``ImageOrientationPatient[3:]``) and ``column`` along the row direction cosine
(``ImageOrientationPatient[:3]``).

How layers are placed (the decision, also in the README):

* **image-aligned** (the default): the array is shown as stored, with ``scale`` (slice step, row
  spacing, column spacing) and ``translate`` (the first voxel's position projected on the image's
  own axes). For axial series (by far the most common) the world axes are then exactly LPS
  ``(z, y, x)`` in mm, so every axial layer of every study shares one patient frame. Sagittal,
  coronal and oblique series are shown in their own plane (what a reader of that series expects
  slice by slice); their full voxel->patient affine is in ``metadata["affine_lps"]`` and a warning
  says the layer is not in the axial patient frame.
* **world-aligned** (the option): the voxel->LPS affine goes to napari's ``affine`` argument, world
  axes are LPS ``(z, y, x)`` mm for every series, so oblique, sagittal and coronal series line up
  with axial ones (best seen in 3D; napari's 2D view of a rotated layer is not a reslice). A
  single slice becomes a one-slice volume so that its position along its normal is kept.

A frame axis is in millimetres only when its frames are parallel slices at distinct positions (or
the file states a Spacing Between Slices and has no per-frame positions); otherwise (cine, time,
segments, projections) it keeps scale 1 and no translate. Uneven spacing is never hidden: the
measured spacings are returned with a warning, and the mean step (which puts the first and last
slices exactly) is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

#: Largest difference of direction cosines still read as the same orientation.
ORIENTATION_TOLERANCE = 1e-3
#: Positions closer than this along the normal (mm) are the same slice position.
POSITION_TOLERANCE = 1e-2
#: A step larger than this many median steps is a gap (a missing range of slices).
GAP_FACTOR = 1.5


def _relative_spacing_tolerance(step: float) -> float:
    """Steps may differ this much (mm) and still be even: 0.01 mm or 0.5 %, the larger."""
    return max(0.01, 0.005 * abs(step))


# -- plain values ------------------------------------------------------------------------------


def _float_tuple(value: Any, count: int) -> tuple[float, ...] | None:
    if value is None or isinstance(value, str | bytes):
        return None
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    if len(out) != count or not all(math.isfinite(v) for v in out):
        return None
    return out


def as_floats(value: Any, count: int) -> np.ndarray | None:
    """``count`` finite floats from a DICOM multi-value, or ``None`` if it is not that."""
    out = _float_tuple(value, count)
    return None if out is None else np.array(out)


def as_float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def orientation(value: Any) -> np.ndarray | None:
    """Image Orientation (Patient) as 6 floats, ``None`` if missing or degenerate."""
    iop = _float_tuple(value, 6)
    if iop is None:
        return None
    # plain arithmetic: this runs once per file of a series
    rx, ry, rz, cx, cy, cz = iop
    nx, ny, nz = ry * cz - rz * cy, rz * cx - rx * cz, rx * cy - ry * cx
    if rx * rx + ry * ry + rz * rz < 0.25 or cx * cx + cy * cy + cz * cz < 0.25 or nx * nx + ny * ny + nz * nz < 0.25:
        return None
    return np.array(iop)


def slice_normal(iop: Any) -> np.ndarray | None:
    """The unit normal (row x column direction) of an orientation, ``None`` if there is none."""
    iop = orientation(iop)
    if iop is None:
        return None
    normal = np.cross(iop[:3], iop[3:])
    return normal / np.linalg.norm(normal)


def same_orientation(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return all(abs(x - y) <= ORIENTATION_TOLERANCE for x, y in zip(a.tolist(), b.tolist(), strict=True))


def orientation_name(iop: np.ndarray | None) -> str:
    """axial, coronal, sagittal, or oblique (by the normal's main axis, within 1 degree)."""
    normal = slice_normal(iop)
    if normal is None:
        return "no orientation"
    axis = int(np.argmax(np.abs(normal)))
    plane = ("sagittal", "coronal", "axial")[axis]
    return plane if abs(normal[axis]) > np.cos(np.radians(1.0)) else f"oblique {plane}"


def is_axial(iop: np.ndarray | None) -> bool:
    """Rows along +x and columns along +y (within tolerance): image axes are the LPS axes."""
    iop = orientation(iop)
    return iop is not None and same_orientation(iop, np.array([1.0, 0, 0, 0, 1.0, 0]))


# -- spacing -----------------------------------------------------------------------------------


@dataclass
class Spacing:
    """Steps between sorted slice positions along the normal (mm)."""

    steps: list[float]
    step: float | None  # the step used for the layer (mean), None for fewer than 2 slices
    even: bool

    @classmethod
    def of(cls, distances: np.ndarray) -> Spacing:
        distances = np.asarray(distances, float)
        if len(distances) < 2:
            return cls([], None, True)
        steps = np.diff(distances)
        step = float((distances[-1] - distances[0]) / (len(distances) - 1))
        even = bool(np.max(np.abs(steps - step)) <= _relative_spacing_tolerance(step))
        return cls([round(float(s), 6) for s in steps], step, even)

    def describe(self) -> str:
        lo, hi = min(self.steps), max(self.steps)
        return (
            f"slices are unevenly spaced ({lo:.3g} to {hi:.3g} mm); shown at the mean step "
            f"{self.step:.4g} mm, measured spacings in metadata['slice_spacings']"
        )


def gap_runs(distances: np.ndarray) -> list[slice]:
    """Runs of sorted positions without a gap (a step over ``GAP_FACTOR`` median steps)."""
    distances = np.asarray(distances, float)
    if len(distances) < 3:
        return [slice(0, len(distances))]
    steps = np.diff(distances)
    median = float(np.median(steps))
    cuts = np.nonzero(steps > GAP_FACTOR * median + POSITION_TOLERANCE)[0] + 1
    bounds = [0, *cuts.tolist(), len(distances)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=False)]


def position_runs(distances: np.ndarray) -> list[slice]:
    """Runs of sorted positions that are the same slice position (within tolerance)."""
    distances = np.asarray(distances, float)
    if not len(distances):
        return []
    cuts = np.nonzero(np.diff(distances) > POSITION_TOLERANCE)[0] + 1
    bounds = [0, *cuts.tolist(), len(distances)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=False)]


# -- enhanced multi-frame functional groups ------------------------------------------------------


class FunctionalGroups:
    """Values of an enhanced multi-frame file's functional groups, read defensively.

    A value comes from the frame's Per-Frame Functional Groups item, else the Shared one. Missing,
    empty, private, undecodable or oddly nested items give ``None``; what could not be read is
    noted once in ``notes`` (for ``layer.metadata``), never raised.
    """

    def __init__(self, ds: Any) -> None:
        self.notes: list[str] = []
        self.per_frame = self._items(ds, "PerFrameFunctionalGroupsSequence")
        self.shared = self._items(ds, "SharedFunctionalGroupsSequence")

    def __bool__(self) -> bool:
        return bool(self.per_frame or self.shared)

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def _items(self, ds: Any, keyword: str) -> list:
        try:
            if ds is None or keyword not in ds:
                return []
            value = ds[keyword].value
            return list(value) if value else []
        except Exception as exc:
            self._note(f"{keyword} could not be read ({exc}); it was skipped")
            return []

    def _lookup(self, item: Any, sequence: str, keyword: str) -> Any:
        try:
            if item is None or sequence not in item:
                return None
            inner = item[sequence].value
            if not inner or not len(inner):
                return None
            first = inner[0]
            if keyword not in first:
                return None
            value = first[keyword].value
        except Exception as exc:
            self._note(f"{sequence} > {keyword} could not be read ({exc}); it was skipped")
            return None
        return None if value in (None, "", b"") else value

    def value(self, frame: int, sequence: str, keyword: str) -> Any:
        """The frame's value of ``sequence > keyword``: per-frame first, then shared."""
        if 0 <= frame < len(self.per_frame):
            found = self._lookup(self.per_frame[frame], sequence, keyword)
            if found is not None:
                return found
        if self.shared:
            return self._lookup(self.shared[0], sequence, keyword)
        return None

    def floats(self, frame: int, sequence: str, keyword: str, count: int) -> np.ndarray | None:
        raw = self.value(frame, sequence, keyword)
        if raw is None:
            return None
        out = as_floats(raw, count)
        if out is None:
            self._note(f"{sequence} > {keyword} of frame {frame + 1} is not {count} numbers; it was skipped")
        return out


# -- the geometry of one layer -----------------------------------------------------------------


@dataclass
class StackGeometry:
    """Where a stack of frames lies in the patient frame (what is known of it)."""

    frames: int
    pixel_spacing: tuple[float, float] | None = None  # (between rows, between columns) in mm
    iop: np.ndarray | None = None
    origin: np.ndarray | None = None  # LPS position of the first displayed frame's first pixel
    step: float | None = None  # mm between displayed frames along the normal; None: not spatial
    spacing: Spacing | None = None
    frame_order: list[int] | None = None  # stored frame index of each displayed frame, if reordered
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # optional values that could not be read

    @property
    def spatial_frames(self) -> bool:
        return self.frames > 1 and self.step is not None

    @property
    def normal(self) -> np.ndarray | None:
        return slice_normal(self.iop)

    def affine_lps(self) -> np.ndarray | None:
        """4x4 voxel ``(frame, row, column)`` -> LPS ``(x, y, z)`` mm, or ``None`` without geometry."""
        if self.iop is None or self.origin is None:
            return None
        row_mm, col_mm = self.pixel_spacing or (1.0, 1.0)
        affine = np.eye(4)
        affine[:3, 0] = self.normal * (self.step if self.step else 1.0)
        affine[:3, 1] = self.iop[3:] * row_mm
        affine[:3, 2] = self.iop[:3] * col_mm
        affine[:3, 3] = self.origin
        return affine

    def placement(self, *, volume: bool, world_aligned: bool = False) -> dict:
        """napari keyword arguments (``scale`` and ``translate``, or ``affine``) and how it was placed.

        ``volume``: the layer has a frame axis (3D data). World-aligned placement needs patient
        geometry and spatial frames; otherwise it falls back to image-aligned and says so.
        """
        row_mm, col_mm = self.pixel_spacing or (1.0, 1.0)
        affine = self.affine_lps()
        out: dict = {}
        frame_axis_ok = self.spatial_frames or self.frames == 1
        if world_aligned and affine is not None and frame_axis_ok:
            # LPS (x, y, z) -> napari world (z, y, x): reverse the rows of the affine.
            world = np.eye(4)
            world[:3, :] = affine[[2, 1, 0], :]
            out["affine"] = world
            out["placement"] = "world-aligned"
            return out
        if volume:
            out["scale"] = (self.step if self.spatial_frames else 1.0, row_mm, col_mm)
        else:
            out["scale"] = (row_mm, col_mm)
        if self.iop is not None and self.origin is not None:
            in_plane = (float(np.dot(self.iop[3:], self.origin)), float(np.dot(self.iop[:3], self.origin)))
            if volume:
                along = float(np.dot(self.normal, self.origin)) if self.spatial_frames else 0.0
                out["translate"] = (along, *in_plane)
            else:
                out["translate"] = in_plane
        out["placement"] = "image-aligned"
        if world_aligned:
            out["placement"] = "image-aligned (world-aligned needs patient geometry and spatial frames)"
        return out


def _pixel_spacing(header: Any, groups: FunctionalGroups | None) -> tuple[float, float] | None:
    for keyword in ("PixelSpacing", "FunctionalGroups", "ImagerPixelSpacing"):
        if keyword == "FunctionalGroups":
            spacing = groups.floats(0, "PixelMeasuresSequence", "PixelSpacing", 2) if groups else None
        else:
            value = header.get(keyword)
            spacing = as_floats(value, 2)
            if spacing is None and value not in (None, "") and groups is not None:
                groups.notes.append(f"{keyword} is not 2 numbers ({value!r}); it was skipped")
        if spacing is not None and np.all(spacing > 0):
            return (float(spacing[0]), float(spacing[1]))
    return None


def _declared_step(header: Any, groups: FunctionalGroups | None) -> float | None:
    value = header.get("SpacingBetweenSlices")
    if value in (None, "") and groups:
        value = groups.value(0, "PixelMeasuresSequence", "SpacingBetweenSlices")
    step = as_float(value)
    return step if step and step > 0 else None


def stack_geometry(sources: list, *, spatial: bool | None = None) -> StackGeometry:
    """The geometry of ``sources`` (files in display order, or one multi-frame file).

    ``spatial=False`` says the frames are not slices (the series grouping decided so, e.g.
    projections); ``None`` lets the positions decide. Functional groups are read (from the full
    dataset) only for a single file.
    """
    frames = sum(s.layout.number_of_frames for s in sources)
    if len(sources) > 1:
        return _files_geometry(sources, frames, spatial)
    first = sources[0]
    header = first.header
    # The fast header parser declines files with functional groups: only a dataset can have them.
    groups = FunctionalGroups(first.dataset if isinstance(header, Dataset) else None)
    geo = StackGeometry(frames=frames, pixel_spacing=_pixel_spacing(header, groups))
    geo.iop = orientation(header.get("ImageOrientationPatient"))
    if geo.iop is None and groups:
        geo.iop = orientation(groups.value(0, "PlaneOrientationSequence", "ImageOrientationPatient"))
    geo.origin = as_floats(header.get("ImagePositionPatient"), 3)
    if geo.origin is None and groups:
        geo.origin = _first_position(groups)
    if frames > 1 and spatial is not False:
        decided = _frames_geometry(geo, groups)
        if not decided:
            geo.step = _declared_step(header, groups)
    geo.notes = groups.notes
    return geo


def _first_position(groups: FunctionalGroups | None) -> np.ndarray | None:
    return groups.floats(0, "PlanePositionSequence", "ImagePositionPatient", 3) if groups else None


def _frames_geometry(geo: StackGeometry, groups: FunctionalGroups) -> bool:
    """Per-frame positions of a multi-frame file: slices (sorted if needed) or plain frames.

    Returns whether per-frame positions decided it (else a declared spacing may).
    """
    if not groups.per_frame:
        return False
    positions, orientations = [], []
    for k in range(geo.frames):
        positions.append(groups.floats(k, "PlanePositionSequence", "ImagePositionPatient", 3))
        orientations.append(orientation(groups.value(k, "PlaneOrientationSequence", "ImageOrientationPatient")))
    if all(p is None for p in positions):
        return False
    if any(p is None for p in positions):
        geo.warnings.append("per-frame positions could not all be read: the frame axis is the frame number, not mm")
        geo.origin = positions[0]
        return True
    if geo.iop is None or not all(same_orientation(o, geo.iop) for o in orientations if o is not None):
        geo.warnings.append("frames are not parallel slices: the frame axis is the frame number, not mm")
        geo.origin = positions[0]
        return True
    distances = np.stack(positions) @ geo.normal  # the normal is computed once
    order = np.argsort(distances, kind="stable")
    sorted_distances = distances[order]
    if len(position_runs(sorted_distances)) != len(sorted_distances):
        geo.warnings.append(
            "several frames share one position (segments, time points or echoes): "
            "the frame axis is the frame number, not mm"
        )
        geo.origin = positions[0]
        return True
    if not np.array_equal(order, np.arange(len(order))):
        geo.frame_order = order.tolist()
    geo.spacing = Spacing.of(sorted_distances)
    geo.step = geo.spacing.step
    geo.origin = positions[int(order[0])]
    if not geo.spacing.even:
        geo.warnings.append(geo.spacing.describe())
    return True


def _files_geometry(sources: list, frames: int, spatial: bool | None) -> StackGeometry:
    """Single-frame files in display order (sorted by the series grouping)."""
    header = sources[0].header
    geo = StackGeometry(frames=frames, pixel_spacing=_pixel_spacing(header, None))
    geo.iop = orientation(header.get("ImageOrientationPatient"))
    positions = [as_floats(s.header.get("ImagePositionPatient"), 3) for s in sources]
    geo.origin = positions[0]
    if spatial is False or geo.iop is None or any(p is None for p in positions):
        if spatial is not False and geo.iop is None:
            geo.warnings.append("the files have no patient geometry: the slice axis is the file order, not mm")
        return geo
    distances = np.stack(positions) @ geo.normal  # the normal is computed once
    geo.spacing = Spacing.of(distances)
    if geo.spacing.step is not None and geo.spacing.step > 0:
        geo.step = geo.spacing.step
        if not geo.spacing.even:
            geo.warnings.append(geo.spacing.describe())
    else:
        geo.warnings.append("the files are not in slice order: the slice axis is the file order, not mm")
    return geo
