"""Turn decoded pixels into what a napari image layer needs: values, window, scale, colour.

Pure NumPy and pydicom (no napari import), so it is tested and reused headless.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_modality_lut

from .engine.api import DecodeResult
from .engine.series import slice_normal
from .engine.source import Source

MONOCHROME = ("MONOCHROME1", "MONOCHROME2")


@dataclass
class LayerSpec:
    """An image layer: the array and the keyword arguments of ``viewer.add_image``."""

    data: np.ndarray
    kwargs: dict

    def as_layer_data(self) -> tuple:
        return (self.data, self.kwargs, "image")


def _functional(ds: Dataset, frame: int, sequence: str, item: str):
    """An item of an enhanced multi-frame functional group: per-frame first, then shared."""
    for groups, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        seq = ds.get(groups)
        if seq and len(seq) > index and sequence in seq[index]:
            inner = seq[index][sequence]
            if len(inner) and item in inner[0]:
                return inner[0][item]
    return None


def _rescale(ds: Dataset, frame: int) -> tuple[float, float]:
    slope = ds.get("RescaleSlope", _functional(ds, frame, "PixelValueTransformationSequence", "RescaleSlope"))
    intercept = ds.get(
        "RescaleIntercept", _functional(ds, frame, "PixelValueTransformationSequence", "RescaleIntercept")
    )
    return float(slope if slope not in (None, "") else 1), float(intercept if intercept not in (None, "") else 0)


_INT_DTYPES = [np.dtype(t) for t in ("u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8")]


def _holding_int_dtype(*values: float) -> np.dtype:
    """The smallest integer dtype that holds every value exactly."""
    lo, hi = min(values), max(values)
    for dtype in _INT_DTYPES:
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return dtype
    return np.dtype(np.float64)


def modality_values(pixels: np.ndarray, sources: list[Source]) -> np.ndarray:
    """Apply the modality LUT (rescale slope/intercept: CT in HU) in the smallest exact dtype."""
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
    params = np.array([_rescale(s.dataset, f) for s in sources for f in range(s.layout.number_of_frames)])
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


def windows(ds: Dataset) -> list[dict]:
    """VOI windows stored in the file (classic or enhanced), first one first."""
    centers = ds.get("WindowCenter", _functional(ds, 0, "FrameVOILUTSequence", "WindowCenter"))
    widths = ds.get("WindowWidth", _functional(ds, 0, "FrameVOILUTSequence", "WindowWidth"))
    explanations = ds.get(
        "WindowCenterWidthExplanation", _functional(ds, 0, "FrameVOILUTSequence", "WindowCenterWidthExplanation")
    )
    if centers in (None, "") or widths in (None, ""):
        return []
    centers, widths = _as_list(centers), _as_list(widths)
    names = _as_list(explanations) if explanations not in (None, "") else []
    out = []
    for i, (c, w) in enumerate(zip(centers, widths, strict=False)):
        try:
            c, w = float(c), float(w)
        except (TypeError, ValueError):
            continue
        if w > 0:
            out.append({"center": c, "width": w, "name": str(names[i]) if i < len(names) else f"File window {i + 1}"})
    return out


def window_limits(center: float, width: float) -> tuple[float, float]:
    return (center - width / 2, center + width / 2)


def data_range(data: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.min(data)), float(np.max(data))
    return (lo, hi) if hi > lo else (lo, lo + 1)


def _spacing(ds: Dataset) -> tuple[float, float] | None:
    value = ds.get("PixelSpacing") or _functional(ds, 0, "PixelMeasuresSequence", "PixelSpacing")
    value = value or ds.get("ImagerPixelSpacing")
    try:
        row, col = (float(v) for v in value)
        return (row, col) if row > 0 and col > 0 else None
    except (TypeError, ValueError):
        return None


def _positions(sources: list[Source]) -> list[np.ndarray]:
    if len(sources) > 1:
        return [np.asarray(s.dataset.ImagePositionPatient, float) for s in sources if "ImagePositionPatient" in s.dataset]
    ds = sources[0].dataset
    positions = []
    for k in range(sources[0].layout.number_of_frames):
        pos = _functional(ds, k, "PlanePositionSequence", "ImagePositionPatient")
        if pos is None:
            return []
        positions.append(np.asarray(pos, float))
    return positions


def _slice_spacing(sources: list[Source], normal: np.ndarray | None) -> float | None:
    positions = _positions(sources)
    if normal is not None and len(positions) > 1 and len(positions) == sum(s.layout.number_of_frames for s in sources):
        steps = np.abs(np.diff([float(np.dot(normal, p)) for p in positions]))
        step = float(np.median(steps))
        if step > 0:
            return step
    ds = sources[0].dataset
    value = ds.get("SpacingBetweenSlices") or _functional(ds, 0, "PixelMeasuresSequence", "SpacingBetweenSlices")
    try:
        return float(value) if value and float(value) > 0 else None
    except (TypeError, ValueError):
        return None


def _orientation(ds: Dataset):
    iop = ds.get("ImageOrientationPatient") or _functional(ds, 0, "PlaneOrientationSequence", "ImageOrientationPatient")
    if iop is None or len(iop) != 6:
        return None
    return np.asarray(iop[:3], float), np.asarray(iop[3:], float)


def geometry(sources: list[Source]) -> dict:
    """scale and translate in image-aligned millimetres, and the voxel->patient (LPS) affine."""
    ds, n = sources[0].dataset, sum(s.layout.number_of_frames for s in sources)
    spacing = _spacing(ds) or (1.0, 1.0)
    orient = _orientation(ds)
    normal = np.cross(*orient) if orient is not None else slice_normal(ds)
    step = _slice_spacing(sources, normal) if n > 1 else None
    positions = _positions(sources)
    origin = positions[0] if positions else None
    if origin is None and "ImagePositionPatient" in ds:
        origin = np.asarray(ds.ImagePositionPatient, float)
    scale = (step or 1.0, *spacing) if n > 1 else spacing
    out = {"scale": tuple(float(v) for v in scale), "spatial_frames": step is not None}
    if orient is not None and origin is not None:
        row_dir, col_dir = orient
        in_plane = (float(np.dot(col_dir, origin)), float(np.dot(row_dir, origin)))
        out["translate"] = ((float(np.dot(normal, origin)), *in_plane) if n > 1 else in_plane)
        affine = np.eye(4)
        affine[:3, 0] = normal * (step or 1.0)
        affine[:3, 1] = col_dir * spacing[0]
        affine[:3, 2] = row_dir * spacing[1]
        affine[:3, 3] = origin
        out["affine_lps"] = affine.tolist()
    return out


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


def layer_name(sources: list[Source]) -> str:
    ds = sources[0].dataset
    description = str(ds.get("SeriesDescription", "") or "").strip()
    return description or Path(sources[0].path).stem or "DICOM"


def to_layer(result: DecodeResult) -> LayerSpec:
    """Values, display and metadata for one file or series."""
    sources, layout, ds = result.sources, result.layout, result.dataset
    pixels = np.asarray(result.pixels)
    kwargs: dict = {"name": layer_name(sources)}
    pi = layout.photometric_interpretation
    if pi == "PALETTE COLOR":
        data = np.asarray(apply_color_lut(pixels if len(pixels) > 1 else pixels[0], ds))
        data = data if len(pixels) > 1 else data[None]
        rgb = True
    else:
        data = pixels if result.values_applied else modality_values(pixels, sources)
        rgb = layout.samples_per_pixel == 3
    if data.shape[0] == 1:
        data = data[0]
    stored = windows(ds)
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
    geo = geometry(sources)
    kwargs["scale"] = geo["scale"]
    if "translate" in geo:
        kwargs["translate"] = geo["translate"]
    kwargs["metadata"] = {
        "dicom": header_json(ds),
        "decode": result.record.to_dict(),
        "source_paths": [s.path for s in sources],
        "windows": stored,
        "modality": str(ds.get("Modality", "")),
        "photometric_interpretation": pi,
        "spatial_frames": geo["spatial_frames"],
        "affine_lps": geo.get("affine_lps"),
    }
    return LayerSpec(data, kwargs)
