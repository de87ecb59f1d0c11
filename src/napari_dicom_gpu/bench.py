"""Measure decode paths on a user's own files, against pydicom, in the same run.

No napari import: the CLI (``napari-dicom-gpu bench``) and ``benchmarks/`` use this.
"""

from __future__ import annotations

import os
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from pydicom.encaps import generate_frames

from .engine import availability, decode_series
from .engine.backends import nvimgcodec
from .engine.series import load_series


def median_seconds(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def pydicom_volume(paths: list[str]) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arrays = [pydicom.dcmread(p).pixel_array for p in paths]
    if len(arrays) == 1:
        return arrays[0]
    return np.stack(arrays)


def _max_diff(ours: np.ndarray, ref: np.ndarray) -> float | None:
    ours = ours.reshape(ref.shape) if ours.size == ref.size else ours
    if ours.shape != ref.shape:
        return None
    return float(np.abs(ours.astype(np.float64) - ref.astype(np.float64)).max())


def _gpu_decode_only(paths: list[str]) -> Callable[[], object]:
    """Our GPU path to a CUDA volume (no host copy), synchronized."""

    def run():
        result = decode_series(paths, "gpu", device="cuda")
        nvimgcodec.synchronize(result.pixels)
        return result

    return run


def seed_methods(path: str, repeat: int) -> dict[str, float]:
    """The seed's three ways to decode one file: pydicom, pydicom + nvImageCodec's plugin
    (frame by frame), and a direct nvImageCodec batch with per-frame host copies."""
    out: dict[str, float] = {}
    if not nvimgcodec.availability(nvimgcodec.GPU):
        return out
    nv = nvimgcodec._module()
    try:
        from nvidia.nvimgcodec.tools.dicom import pydicom_plugin

        pydicom_plugin.register()
        label = pydicom_plugin.NVIMGCODEC_PLUGIN_LABEL

        def plugin_run():
            ds = pydicom.dcmread(path)
            ds.pixel_array_options(decoding_plugin=label)
            return ds.pixel_array

        out["seed_pydicom_nvimgcodec_plugin_s"] = median_seconds(plugin_run, repeat)
        pydicom_plugin.unregister()
    except Exception as exc:
        out["seed_pydicom_nvimgcodec_plugin_error"] = str(exc)[:120]
    decoder = nv.Decoder()
    params = nv.DecodeParams(allow_any_depth=True, color_spec=nv.ColorSpec.UNCHANGED)

    def direct():
        ds = pydicom.dcmread(path)
        frames = list(generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames", 1) or 1)))
        images = decoder.decode(frames, params=params)
        return np.stack([np.asarray(img.cpu()) for img in images])

    def direct_decode_only():
        images = decoder.decode(frames_cache, params=params)
        nvimgcodec.synchronize_device()
        return images

    ds = pydicom.dcmread(path)
    frames_cache = list(generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames", 1) or 1)))
    out["seed_direct_batch_to_host_s"] = median_seconds(direct, repeat)
    out["seed_direct_batch_decode_only_s"] = median_seconds(direct_decode_only, repeat)
    return out


def bench_paths(paths: list[str], repeat: int = 5, seed: bool = False, baseline_repeat: int | None = None) -> dict:
    """One row: sizes, timings of each path (median after warm-up) and max difference to pydicom.

    The CPU baselines (pydicom, ours on the CPU) are warmed up by the reference decode itself and
    timed ``baseline_repeat`` times (default ``repeat``): on large series each run takes seconds.
    """
    baseline_repeat = baseline_repeat or repeat
    report = load_series(paths)
    group = report.series[0].sources
    files = [s.path for s in group]
    ref = pydicom_volume(files)
    row: dict = {
        "input": Path(paths[0]).name if len(paths) == 1 else f"{len(files)} files",
        "files": len(files),
        "frames": sum(s.layout.number_of_frames for s in group),
        "transfer_syntax": group[0].layout.transfer_syntax.name,
        "megabytes": round(ref.nbytes / 1e6, 2),
    }
    row["pydicom_s"] = median_seconds(lambda: pydicom_volume(files), baseline_repeat, warmup=0)
    cpu = decode_series(files, "cpu")
    row["cpu_s"] = median_seconds(lambda: decode_series(files, "cpu"), baseline_repeat, warmup=0)
    row["cpu_codec"] = cpu.record.codec
    row["cpu_max_diff"] = _max_diff(np.asarray(cpu.pixels), ref)
    row["cpu_speedup"] = row["pydicom_s"] / row["cpu_s"]
    if nvimgcodec.availability(nvimgcodec.GPU):
        gpu = decode_series(files, "gpu")
        row["gpu_codec"] = gpu.record.codec
        row["gpu_fallbacks"] = len(gpu.record.fallbacks)
        row["gpu_max_diff"] = _max_diff(np.asarray(gpu.pixels), ref)
        row["gpu_to_host_s"] = median_seconds(lambda: decode_series(files, "gpu"), repeat)
        row["gpu_speedup"] = row["pydicom_s"] / row["gpu_to_host_s"]
        try:
            row["gpu_decode_only_s"] = median_seconds(_gpu_decode_only(files), repeat)
        except Exception as exc:  # CuPy missing: decode-only needs a CUDA array to write into
            row["gpu_decode_only_error"] = str(exc)[:120]
        if seed and len(files) == 1:
            row.update(seed_methods(files[0], repeat))
    return row


def bench_inputs(inputs: list[str], repeat: int = 5, seed: bool = False) -> list[dict]:
    """A row per input: a file, or a folder taken as one series."""
    return [bench_paths([item], repeat, seed=seed) for item in inputs]


COLUMNS = [
    ("input", "input", "{}"),
    ("frames", "frames", "{}"),
    ("megabytes", "MB", "{:.1f}"),
    ("pydicom_s", "pydicom ms", "{:.1f}"),
    ("cpu_s", "ours CPU ms", "{:.1f}"),
    ("cpu_speedup", "CPU x", "{:.1f}"),
    ("gpu_decode_only_s", "GPU decode ms", "{:.2f}"),
    ("gpu_to_host_s", "GPU to host ms", "{:.2f}"),
    ("gpu_speedup", "GPU x", "{:.1f}"),
    ("cpu_max_diff", "CPU maxdiff", "{:g}"),
    ("gpu_max_diff", "GPU maxdiff", "{:g}"),
]


def format_table(rows: list[dict]) -> str:
    header = [title for _, title, _ in COLUMNS]
    body = []
    for row in rows:
        cells = []
        for key, _, fmt in COLUMNS:
            value = row.get(key)
            if value is None:
                cells.append("-")
            elif key.endswith("_s"):
                cells.append(fmt.format(value * 1000))
            else:
                cells.append(fmt.format(value))
        body.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in body]
    return "\n".join(lines)


def machine_summary() -> dict:
    gpu = availability()[nvimgcodec.GPU]
    return {
        "gpu": gpu.details.get("gpu") if gpu else None,
        "gpu_reason": gpu.reason or None,
        "cpu_count": os.cpu_count(),
    }


def compare_cpu_gpu(paths: list[str]) -> dict:
    """Decode ``paths`` (one series) with the CPU and, when it can run, the GPU backend.

    Without a GPU it compares CPU with CPU and says why; timings are single cold-cache-free runs
    after one warm-up, as a user would see them.
    """
    gpu = availability()[nvimgcodec.GPU]
    second = "gpu" if gpu else "cpu"
    decode_series(paths, "cpu")
    cpu_run = decode_series(paths, "cpu")
    if second == "gpu":
        decode_series(paths, "gpu")
    other_run = decode_series(paths, second)
    cpu_s = cpu_run.record.seconds["total"]
    other_s = other_run.record.seconds["total"]
    diff = np.abs(np.asarray(cpu_run.pixels, np.float64) - np.asarray(other_run.pixels, np.float64)).max()
    return {
        "frames": cpu_run.record.frames,
        "cpu_s": cpu_s,
        "cpu_codec": cpu_run.record.codec,
        "other": second,
        "other_s": other_s,
        "other_codec": other_run.record.codec,
        "speedup": cpu_s / other_s if other_s else float("nan"),
        "max_diff": float(diff),
        "reason": "" if gpu else f"no GPU comparison: {gpu.reason}; compared CPU with CPU",
    }
