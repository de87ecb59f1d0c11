"""Where does the time of one series load go? cProfile of ``loading.load`` on a synthetic series.

Writes the series (HTJ2K on a GPU machine, else JPEG 2000 lossless; ``--syntax native`` too),
warms up, times ``--repeat`` loads, then profiles one and prints the functions by own time and by
cumulative time, with the load's stage seconds. Usage::

    python benchmarks/profile_load.py [--files 2000] [--syntax htj2k] [--backend gpu] [--top 35]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_ct import gpu_encoder_reason, phantom, write_series  # noqa: E402

from napari_dicom_gpu import loading  # noqa: E402


def read_ahead(paths: list[str], counts: list[int]) -> None:
    """The header pass (``load_series``) with each number of files opened ahead, against dcmread."""
    import pydicom

    from napari_dicom_gpu.engine import source
    from napari_dicom_gpu.engine.series import load_series

    if not counts:
        return
    start = time.perf_counter()
    for path in paths:
        pydicom.dcmread(path, stop_before_pixels=True)
    dcmread_s = time.perf_counter() - start
    default = source.READ_AHEAD
    for count in counts:
        source.READ_AHEAD = count
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            load_series(paths)
            runs.append(time.perf_counter() - start)
        best = min(runs)
        print(f"header pass, {count} files read ahead: {best:.3f} s ({dcmread_s / best:.2f}x dcmread {dcmread_s:.3f} s)")
    source.READ_AHEAD = default


def profile_file(name: str, backend: str, top: int, loads: int = 200) -> int:
    import os

    from pydicom.data import get_testdata_file

    carried = Path(os.environ.get("DICOM_GPU_DATA", "."), name)
    path = name if Path(name).exists() else str(carried) if carried.exists() else get_testdata_file(name)
    for _ in range(10):
        loading.load([path], backend)
    start = time.perf_counter()
    for _ in range(loads):
        outcome = loading.load([path], backend)
    per_load = (time.perf_counter() - start) / loads
    record = outcome.layers[0].kwargs["metadata"]["decode"]
    print(f"{Path(path).name}, backend {backend}: {per_load * 1e3:.2f} ms per load")
    print("stages (ms):", {k: round(v * 1e3, 3) for k, v in record["seconds"].items()})
    def repeat() -> None:
        for _ in range(loads):  # each result dropped before the next, as in the timing above
            loading.load([path], backend)

    profile = cProfile.Profile()
    profile.runcall(repeat)
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats(order).print_stats(top)
        print(f"\n## by {order}\n" + text.getvalue().split("\n", 6)[-1])
    return 0


def sweep(paths: list[str], backend: str) -> None:
    """Loads (best of 3) with other decode chunk sizes and pixel-reading thread counts; and the
    decode of sources already through the header pass, apart."""
    from napari_dicom_gpu.engine import run, source
    from napari_dicom_gpu.engine.api import decode_series
    from napari_dicom_gpu.engine.series import load_series

    def best_load() -> tuple[float, dict]:
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            outcome = loading.load(paths, backend)
            runs.append(time.perf_counter() - start)
        seconds = outcome.layers[0].kwargs["metadata"]["decode"]["seconds"]
        return min(runs), {k: round(v, 3) for k, v in seconds.items()}

    defaults = run.CHUNK_FRAMES, source.READ_THREADS
    for chunk in (64, 256, 1024, 100_000):
        run.CHUNK_FRAMES = chunk
        took, stages = best_load()
        print(f"chunk {chunk} frames, {source.READ_THREADS} reading threads: {took:.3f} s {stages}")
    run.CHUNK_FRAMES = defaults[0]
    for threads in (1, 2, 8):
        source.READ_THREADS = threads
        took, stages = best_load()
        print(f"chunk {run.CHUNK_FRAMES} frames, {threads} reading threads: {took:.3f} s {stages}")
    source.READ_THREADS = defaults[1]
    runs = []
    for _ in range(3):
        sources = load_series(paths).series[0].sources
        start = time.perf_counter()
        decode_series([], backend, sources=sources, values=True)
        runs.append(time.perf_counter() - start)
    print(f"decode_series after the header pass: {min(runs):.3f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--syntax", choices=("htj2k", "j2k", "native"), default=None)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--file", help="profile 200 loads of this one file instead (a pydicom test file name works)")
    parser.add_argument("--sweep", action="store_true", help="time loads with other chunk sizes and reading threads")
    parser.add_argument("--read-ahead", default="", help="e.g. 1,64: time load_series with each READ_AHEAD")
    args = parser.parse_args(argv)
    if args.file:
        return profile_file(args.file, args.backend, args.top)
    syntax = args.syntax or ("htj2k" if gpu_encoder_reason() is None else "j2k")
    with tempfile.TemporaryDirectory() as folder:
        paths = write_series(phantom(args.files), Path(folder), syntax=syntax)
        loading.load(paths, args.backend)  # warm-up: decoders started, files in the page cache
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            outcome = loading.load(paths, args.backend)
            times.append(time.perf_counter() - start)
        record = outcome.layers[0].kwargs["metadata"]["decode"]
        print(f"{args.files} {syntax} files, backend {args.backend}: median {statistics.median(times):.3f} s "
              f"of {[round(t, 3) for t in times]}")
        print("stages:", {k: round(v, 4) for k, v in record["seconds"].items()}, "codecs:", record["codecs"])
        read_ahead(paths, [int(n) for n in args.read_ahead.split(",") if n])
        if args.sweep:
            sweep(paths, args.backend)
        profile = cProfile.Profile()
        profile.runcall(loading.load, paths, args.backend)
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats(order).print_stats(args.top)
        print(f"\n## by {order}\n" + text.getvalue().split("\n", 6)[-1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
