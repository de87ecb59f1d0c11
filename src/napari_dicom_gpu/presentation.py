"""Turn decoded pixels into what a napari image layer needs: values, window, scale, colour.

Pure NumPy and pydicom (no napari import), so it is tested and reused headless.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_modality_lut

from .engine.api import DecodeResult
from .engine.geometry import FunctionalGroups, as_float, is_axial, orientation_name, stack_geometry
from .engine.series import Series, series_name
from .engine.source import Source

MONOCHROME = ("MONOCHROME1", "MONOCHROME2")


@dataclass
class LayerSpec:
    """An image layer: the array and the keyword arguments of ``viewer.add_image``."""

    data: np.ndarray
    kwargs: dict

    def as_layer_data(self) -> tuple:
        return (self.data, self.kwargs, "image")


def _groups_of(source: Source) -> FunctionalGroups | None:
    """Functional groups, only for files that may have them (enhanced files have no top-level position).

    Classic files answer from ``source.header`` alone, so the full dataset is not needed for them.
    """
    header = source.header
    if not isinstance(header, Dataset):
        return None  # the fast header parser declines files with functional groups
    if "RescaleSlope" in header or "ImagePositionPatient" in header:
        return None
    groups = FunctionalGroups(source.dataset)
    return groups if groups else None


def _rescale(header, groups: FunctionalGroups | None, frame: int, notes: list[str]) -> tuple[float, float]:
    """Rescale slope and intercept of a frame: top level, else the frame's functional groups."""
    slope, intercept = header.get("RescaleSlope"), header.get("RescaleIntercept")
    if slope in (None, "") and groups is not None:
        slope = groups.value(frame, "PixelValueTransformationSequence", "RescaleSlope")
        intercept = groups.value(frame, "PixelValueTransformationSequence", "RescaleIntercept")
    out = []
    for keyword, raw, default in (("RescaleSlope", slope, 1.0), ("RescaleIntercept", intercept, 0.0)):
        value = as_float(raw)
        if value is None or (keyword == "RescaleSlope" and value == 0):
            if raw not in (None, ""):
                _note(notes, f"{keyword} {raw!r} is not usable; {default:g} was used (values may not be in the modality's unit)")
            value = default
        out.append(value)
    return out[0], out[1]


def _note(notes: list[str], text: str) -> None:
    if text not in notes:
        notes.append(text)


_INT_DTYPES = [np.dtype(t) for t in ("u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8")]


def _holding_int_dtype(*values: float) -> np.dtype:
    """The smallest integer dtype that holds every value exactly."""
    lo, hi = min(values), max(values)
    for dtype in _INT_DTYPES:
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return dtype
    return np.dtype(np.float64)


def modality_values(pixels: np.ndarray, sources: list[Source], notes: list[str] | None = None) -> np.ndarray:
    """Apply the modality LUT (rescale slope/intercept: CT in HU) in the smallest exact dtype.

    Unusable rescale values are replaced by the identity and noted in ``notes``.
    """
    notes = [] if notes is None else notes
    layout = sources[0].layout
    if layout.samples_per_pixel != 1 or layout.photometric_interpretation not in MONOCHROME:
        return pixels
    if any("ModalityLUTSequence" in s.dataset for s in sources):
        blocks, start = [], 0
        for s in sources:
            n = s.layout.number_of_frames
            blocks.append(np.asarray(apply_modality_lut(pixels[start : start + n], s.dataset)))
            start += n
        return np.concatenate(blocks)
    params = []
    for s in sources:
        groups = _groups_of(s)
        params.extend(_rescale(s.header, groups, f, notes) for f in range(s.layout.number_of_frames))
        for text in groups.notes if groups is not None else ():
            _note(notes, text)
    params = np.array(params, dtype=float)
    slopes, intercepts = params[:, 0], params[:, 1]
    if np.all(slopes == 1) and np.all(intercepts == 0):
        return pixels
    flat = pixels.reshape(len(pixels), -1)
    lo, hi = flat.min(axis=1).astype(np.float64), flat.max(axis=1).astype(np.float64)
    ends = np.stack([lo * slopes + intercepts, hi * slopes + intercepts])
    if np.all(slopes == np.round(slopes)) and np.all(intercepts == np.round(intercepts)):
        dtype = _holding_int_dtype(ends.min(), ends.max(), lo.min(), hi.max(), (lo * slopes).min(), (hi * slopes).max())
        out = pixels.astype(dtype)
        if np.all(slopes == slopes[0]) and np.all(intercepts == intercepts[0]):
            if slopes[0] != 1:
                out *= out.dtype.type(slopes[0])
            out += out.dtype.type(intercepts[0])
            return out
        for k in range(len(out)):
            out[k] *= out.dtype.type(slopes[k])
            out[k] += out.dtype.type(intercepts[k])
        return out
    out = pixels.astype(np.float64)
    out *= slopes.reshape((-1,) + (1,) * (out.ndim - 1))
    out += intercepts.reshape((-1,) + (1,) * (out.ndim - 1))
    as32 = out.astype(np.float32)
    return as32 if np.array_equal(as32, out) else out


def _as_list(value) -> list:
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        return [value]
    return list(value)


def windows(source: Source, notes: list[str] | None = None) -> list[dict]:
    """VOI windows stored in the file (classic or enhanced), first one first; unusable ones noted."""
    notes = [] if notes is None else notes
    header = source.header
    centers, widths = header.get("WindowCenter"), header.get("WindowWidth")
    explanations = header.get("WindowCenterWidthExplanation")
    if centers in (None, "") or widths in (None, ""):
        groups = _groups_of(source)
        if groups is None:
            return []
        centers = groups.value(0, "FrameVOILUTSequence", "WindowCenter")
        widths = groups.value(0, "FrameVOILUTSequence", "WindowWidth")
        explanations = groups.value(0, "FrameVOILUTSequence", "WindowCenterWidthExplanation")
        for text in groups.notes:
            _note(notes, text)
    if centers in (None, "") or widths in (None, ""):
        return []
    centers, widths = _as_list(centers), _as_list(widths)
    names = _as_list(explanations) if explanations not in (None, "") else []
    out = []
    for i, (c, w) in enumerate(zip(centers, widths, strict=False)):
        center, width = as_float(c), as_float(w)
        if center is None or width is None or width <= 0:
            _note(notes, f"the VOI window {c!r}/{w!r} is not usable; it was skipped")
            continue
        name = str(names[i]) if i < len(names) else f"File window {i + 1}"
        out.append({"center": center, "width": width, "name": name})
    return out


def window_limits(center: float, width: float) -> tuple[float, float]:
    return (center - width / 2, center + width / 2)


def data_range(data: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.min(data)), float(np.max(data))
    return (lo, hi) if hi > lo else (lo, lo + 1)


def header_json(ds: Dataset) -> dict:
    """The DICOM header as DICOM JSON, without pixel data or other bulk data."""
    try:
        header = ds.to_json_dict(bulk_data_threshold=4096, bulk_data_element_handler=lambda _elem: "")
    except Exception:
        header = {}
        for elem in ds.iterall():
            if elem.tag.group != 0x7FE0 and elem.VR not in ("OB", "OW", "SQ", "UN"):
                header[f"{elem.tag:08X}"] = {"vr": elem.VR, "Value": [str(elem.value)]}
    for tag in ("7FE00010", "7FE00008", "7FE00009"):
        header.pop(tag, None)
    return header


class LazyHeaderJson(dict):
    """``header_json`` of a file, built on first use: a dict like any other to its readers.

    Converting a header to DICOM JSON costs more than decoding a small file, and only the
    widget's header view (or a script) ever reads it. Every read of the mapping fills it first;
    ``json.dumps`` calls ``items()`` on a non-empty dict subclass, so it sees the filled header
    too: until then the dict holds one placeholder entry (an empty one is written as ``{}``).
    """

    PLACEHOLDER = "(header)"

    def __init__(self, dataset: Callable[[], Dataset]) -> None:
        super().__init__({self.PLACEHOLDER: "read from the file on first use"})
        self._dataset: Callable[[], Dataset] | None = dataset

    def _fill(self) -> None:
        if self._dataset is not None:
            dataset, self._dataset = self._dataset, None
            try:
                header = header_json(dataset())
            except Exception as exc:  # the file went away or changed since it was opened
                header = {"error": f"the header cannot be read again ({type(exc).__name__}: {exc})"}
            super().clear()
            super().update(header)

    def __getitem__(self, key):
        self._fill()
        return super().__getitem__(key)

    def __contains__(self, key) -> bool:
        self._fill()
        return super().__contains__(key)

    def __iter__(self):
        self._fill()
        return super().__iter__()

    def __len__(self) -> int:
        self._fill()
        return super().__len__()

    def __eq__(self, other) -> bool:
        self._fill()
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        self._fill()
        return super().__repr__()

    def __reduce__(self):
        self._fill()
        return (dict, (dict(super().items()),))

    def get(self, key, default=None):
        self._fill()
        return super().get(key, default)

    def keys(self):
        self._fill()
        return super().keys()

    def values(self):
        self._fill()
        return super().values()

    def items(self):
        self._fill()
        return super().items()

    def copy(self) -> dict:
        self._fill()
        return dict(super().items())


def _lazy_header(source: Source) -> LazyHeaderJson:
    # The source alone, never the result: the layer's metadata must not keep the decoded pixels.
    return LazyHeaderJson(lambda: source.dataset)


def layer_name(sources: list[Source]) -> str:
    """"<Series Number> <Series Description>" (the file name when there is no description)."""
    return series_name(sources[0], files=len(sources))


def _values(result: DecodeResult, pixels: np.ndarray, notes: list[str]) -> tuple[np.ndarray, bool]:
    """Display values (modality LUT, palette -> RGB) and whether they are RGB."""
    layout = result.layout
    if layout.photometric_interpretation == "PALETTE COLOR":
        rgb = np.asarray(_palette_to_rgb(pixels if len(pixels) > 1 else pixels[0], result.sources, notes))
        return (rgb if len(pixels) > 1 else rgb[None]), True
    if result.values_applied:  # the engine applied the rescale (on the GPU, before the copy)
        return pixels, False
    return modality_values(pixels, result.sources, notes), layout.samples_per_pixel == 3


def _palette_to_rgb(pixels: np.ndarray, sources: list[Source], notes: list[str]) -> np.ndarray:
    """The series' palette applied with the first file's lookup tables that work: one file without
    (or with damaged) tables must not cost the series."""
    failures = []
    for source in sources[:16]:
        try:
            rgb = apply_color_lut(pixels, source.dataset)
        except Exception as exc:
            failures.append(f"{source.name}: {type(exc).__name__}: {exc}")
            continue
        if failures:
            notes.append("palette lookup tables unusable in " + "; ".join(failures) + f"; used {source.name}'s")
        return rgb
    raise ValueError(failures[0].split(": ", 1)[1] if failures else "no palette lookup tables")


def to_layer(result: DecodeResult, series: Series | None = None, *, world_aligned: bool = False) -> LayerSpec:
    """Values, display, placement and metadata for one series (or, with ``series=None``, one file).

    Placement is image-aligned by default and world-aligned (napari ``affine``) on request; see
    ``engine.geometry`` for what each means. The seconds spent on values and on the rest of the
    layer are added to ``result.record`` (stages ``values`` and ``layer``, and to ``total``).
    """
    start = time.perf_counter()
    sources, layout = result.sources, result.layout
    pixels = np.asarray(result.pixels)
    notes: list[str] = []  # optional values that could not be used
    data, rgb = _values(result, pixels, notes)
    values_done = time.perf_counter()

    pi = layout.photometric_interpretation
    spatial = None
    if series is not None and series.metadata.get("stack") == "frames":
        spatial = False
    geo = stack_geometry(sources, spatial=spatial)
    if geo.frame_order is not None and len(data) == len(geo.frame_order):
        data = data[geo.frame_order]
    volume = data.shape[0] > 1
    if not volume:
        data = data[0]
    kwargs: dict = {"name": series.name if series is not None and series.name else layer_name(sources)}
    stored = windows(sources[0], notes)
    if rgb:
        kwargs["rgb"] = True
        if data.dtype == np.uint8 or pi == "PALETTE COLOR":
            top = int(np.iinfo(data.dtype).max)
        else:
            top = (1 << min(layout.bits_stored, 16)) - 1
        kwargs["contrast_limits"] = (0, top)
    else:
        kwargs["contrast_limits"] = window_limits(stored[0]["center"], stored[0]["width"]) if stored else data_range(data)
        kwargs["colormap"] = "gray_r" if pi == "MONOCHROME1" else "gray"

    place = geo.placement(volume=volume, world_aligned=world_aligned)
    placement = place.pop("placement")
    if "affine" in place and not volume:
        data = data[None]  # a single slice keeps its position along its normal as a 1-slice volume
    kwargs.update(place)
    warnings = list(series.warnings) if series is not None else []
    warnings += [w for w in geo.warnings if w not in warnings]
    note = ""
    if placement == "image-aligned" and geo.iop is not None and not is_axial(geo.iop):
        iop = ", ".join(f"{v:.3g}" for v in geo.iop)
        note = (
            f"{orientation_name(geo.iop)} images (orientation {iop}) are shown image-aligned, in their own "
            "plane rather than the axial patient frame; metadata['affine_lps'] holds the voxel->patient "
            "affine and the world-aligned option places them in patient space"
        )
    affine = geo.affine_lps()
    metadata = {
        "dicom": _lazy_header(sources[0]),
        "source_paths": [s.path for s in sources],
        "windows": stored,
        "modality": str(sources[0].header.get("Modality", "") or ""),
        "photometric_interpretation": pi,
        "spatial_frames": geo.spatial_frames,
        "affine_lps": affine.tolist() if affine is not None else None,
        "placement": placement,
        "placement_note": note,
        "orientation": orientation_name(geo.iop),
        "warnings": warnings,
        "skipped_metadata": [*notes, *(n for n in geo.notes if n not in notes)],
    }
    if geo.spacing is not None and geo.spacing.steps:
        metadata["slice_spacings"] = geo.spacing.steps
    if geo.step is not None:
        metadata["slice_spacing"] = geo.step
    if geo.frame_order is not None:
        metadata["frame_order"] = geo.frame_order
    if series is not None:
        metadata["series"] = {
            "name": series.name,
            "number": series.number,
            **{k: v for k, v in series.metadata.items() if k not in metadata},
        }
    kwargs["metadata"] = metadata
    end = time.perf_counter()
    record = result.record
    record.add_seconds("values", values_done - start)
    record.add_seconds("layer", end - values_done)
    if "total" in record.seconds:
        record.add_seconds("total", end - start)
    metadata["decode"] = record.to_dict()
    return LayerSpec(data, kwargs)
