"""What every benchmark here shares: the machine's name, timing rules and where results go."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
#: A measurement whose first run takes longer than this is reported from that one run.
LONG_S = 2.0
PACKAGES = (
    "napari-dicom-gpu",
    "numpy",
    "pydicom",
    "pylibjpeg",
    "pylibjpeg-openjpeg",
    "pylibjpeg-libjpeg",
    "pylibjpeg-rle",
    "python-gdcm",
    "nvidia-nvimgcodec-cu12",
    "nvidia-nvimgcodec-cu13",
    "nvidia-nvjpeg2k-cu12",
    "cupy-cuda12x",
    "cupy-cuda13x",
)


def gpu_name() -> str | None:
    """The card's name as ``nvidia-smi`` gives it, or None without one."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    names = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    return names[0] if out.returncode == 0 and names else None


def gpu_decode_reason() -> str | None:
    """None when nvImageCodec decodes on a GPU here, else why not (in words)."""
    if gpu_name() is None:
        return "no GPU (nvidia-smi found none)"
    try:
        from nvidia import nvimgcodec as nv

        nv.Decoder()
    except Exception as exc:
        return f"nvImageCodec has no GPU decoder here ({type(exc).__name__}: {str(exc)[:100]})"
    return None


def card_label() -> str:
    """Used in result file names: the GPU's name, or ``no-GPU-<cores>-core``."""
    name = gpu_name()
    raw = name if name else f"no-GPU-{os.cpu_count()}-core"
    return re.sub(r"[^A-Za-z0-9]+", "-", raw).strip("-")


def machine() -> dict:
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    now = dt.datetime.now(dt.timezone.utc)
    return {
        "gpu": gpu_name(),
        "card": card_label(),
        "cpu_count": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "date": now.date().isoformat(),
        "time_utc": now.strftime("%H:%M"),
        "versions": versions,
    }


def measure(fn: Callable[[], object], repeat: int = 3, long_s: float = LONG_S) -> dict:
    """Median of ``repeat`` runs after one warm-up run; a first run over ``long_s`` is the result.

    Returns ``{"s": median, "runs": n, "first_s": warm-up time, "all_s": [...]}``.
    """
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    if first > long_s or repeat < 1:
        return {"s": first, "runs": 1, "first_s": first, "all_s": [first]}
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"s": statistics.median(times), "runs": repeat, "first_s": first, "all_s": times}


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    tmp.replace(path)


def markdown_table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [[("-" if c is None else str(c)) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells
    ]
    return "\n".join(lines)


def ms(seconds: float | None, digits: int = 1) -> str | None:
    return None if seconds is None else f"{seconds * 1000:.{digits}f}"


def ratio(a: float | None, b: float | None) -> str | None:
    """``a / b`` as ``12.3x``."""
    if a is None or b is None or b == 0:
        return None
    return f"{a / b:.2f}x" if a / b < 10 else f"{a / b:.1f}x"


def targets_table(rows: list[dict], first: str = "metric") -> str:
    """The issue-9 summary: one row per target with ours, the baseline, the ratio and whether met."""
    return markdown_table(
        [first, "ours", "baseline", "ratio", "target", "met"],
        [
            [r["metric"], r["ours"], r["baseline"], r["ratio"], r["target"],
             {True: "yes", False: "**no**", None: ""}[r["met"]]]
            for r in rows
        ],
    )
