"""What reading the header of one file costs: pydicom against the fast parser.

Writes N separate files (copies of ``CT_small.dcm`` and of ``JPEG2000.dcm`` with their own
positions, instance numbers and UIDs) into a temporary folder, then times, per file:

- ``read``: the file's bytes alone (the floor for any parser that reads whole files);
- ``dcmread_stop``: ``pydicom.dcmread(p, stop_before_pixels=True)``;
- ``dcmread_specific``: ``pydicom.dcmread(p, specific_tags=HEADER_KEYWORDS)``;
- ``dcmread_stop+get``: the first plus reading every ``HEADER_KEYWORDS`` value (``ds.get``);
- ``parse``: ``parse_header`` on bytes already in memory (the parser's own cost);
- ``read+parse``: read then ``parse_header``;
- ``read+parse+get``: the same plus reading every value (``header.get``);
- ``read 64K+parse``: read only the first 64 KiB and parse with ``file_size`` (the whole file
  when the header is longer), what a header pass that reads pixels later needs;
- ``read+parse threads``: read+parse on a pool of ``--threads`` threads (the GIL is released
  during the read only).

Files are in the page cache (just written). The methods take turns in each pass. Usage::

    python benchmarks/bench_header.py [--n 1000] [--repeat 5] [--threads 4] [--large 0] [--out results.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from napari_dicom_gpu.engine.header import HEADER_KEYWORDS, parse_header

SOURCES = {"CT_small (native)": "CT_small.dcm", "JPEG2000 (encapsulated)": "JPEG2000.dcm"}


def write_copies(name: str, folder: Path, count: int, size: int | None = None) -> list[str]:
    """``count`` copies of a test file, each its own instance at its own position.

    ``size``: make the (native) image ``size`` x ``size`` pixels, as a real CT slice is.
    """
    ds = pydicom.dcmread(get_testdata_file(name))
    if size:
        ds.Rows = ds.Columns = size
        ds.PixelData = bytes(size * size * ds.BitsAllocated // 8)
    series = generate_uid()
    folder.mkdir(parents=True)
    paths = []
    for index in range(count):
        ds.SOPInstanceUID = generate_uid()
        ds.SeriesInstanceUID = series
        ds.InstanceNumber = index + 1
        ds.ImagePositionPatient = [-150.0, -170.0, round(-75.0 + 1.25 * index, 4)]
        path = folder / f"{index:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(str(path))
    return paths


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def read_and_parse(path: str):
    return parse_header(read_bytes(path), path)


def read_start_and_parse(path: str, start: int = 65536):
    """Read only the first ``start`` bytes; the whole file when the header is longer."""
    with open(path, "rb") as fh:
        head = fh.read(start)
        size = os.fstat(fh.fileno()).st_size
    header = parse_header(head, path, file_size=size)
    if header is None and size > len(head):
        header = read_and_parse(path)
    return header


def all_values(header) -> list:
    return [header.get(keyword) for keyword in HEADER_KEYWORDS]


def per_file_us(works: dict, paths: list[str], repeat: int) -> dict[str, dict[str, float]]:
    """Median and best time per file over ``repeat`` passes over all files, in microseconds.

    The methods take turns within each pass, so a busy machine slows them alike.
    """
    times: dict[str, list[float]] = {method: [] for method in works}
    for _ in range(repeat):
        for method, work in works.items():
            start = time.perf_counter()
            work(paths)
            times[method].append((time.perf_counter() - start) / len(paths) * 1e6)
    return {method: {"median_us": statistics.median(t), "best_us": min(t)} for method, t in times.items()}


def methods(threads: int) -> dict:
    def each(function):
        return lambda paths: [function(p) for p in paths]

    raws: dict[str, bytes] = {}

    def parse_only(paths):
        # Bytes read once, outside the timed passes.
        for path in paths:
            if path not in raws:
                raws[path] = read_bytes(path)
        for path in paths:
            parse_header(raws[path])

    def threaded(paths):
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(read_and_parse, paths, chunksize=16))

    return {
        "read": each(read_bytes),
        "dcmread_stop": each(lambda p: pydicom.dcmread(p, stop_before_pixels=True)),
        "dcmread_specific": each(lambda p: pydicom.dcmread(p, specific_tags=list(HEADER_KEYWORDS))),
        "dcmread_stop+get": each(lambda p: all_values(pydicom.dcmread(p, stop_before_pixels=True))),
        "parse": parse_only,
        "read+parse": each(read_and_parse),
        "read+parse+get": each(lambda p: all_values(read_and_parse(p))),
        "read 64K+parse": each(read_start_and_parse),
        f"read+parse {threads} threads": threaded,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="files per source (default 1000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes per method (default 5)")
    parser.add_argument("--threads", type=int, default=4, help="threads for the pooled read+parse")
    parser.add_argument("--large", type=int, default=0,
                        help="also this many 512x512 CT files (0.5 MB each; default 0)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sources = [(label, name, args.n, None) for label, name in SOURCES.items()]
        if args.large:
            sources.append(("CT 512x512 (native)", "CT_small.dcm", args.large, 512))
        for label, name, count, size in sources:
            paths = write_copies(name, Path(tmp) / f"{size}-{name}", count, size)
            assert all(read_and_parse(p) is not None for p in paths[:10]), f"{name} declined by parse_header"
            works = methods(args.threads)
            for work in works.values():
                work(paths[: min(50, len(paths))])  # warm up imports and caches
            rows = per_file_us(works, paths, args.repeat)
            base = rows["dcmread_stop"]["median_us"]
            for row in rows.values():
                row["speedup_vs_dcmread_stop"] = base / row["median_us"]
            results[label] = {"file": name, "files": count, "bytes": os.path.getsize(paths[0]), "methods": rows}
    width = max(len(m) for m in next(iter(results.values()))["methods"])
    for label, result in results.items():
        print(f"\n{label}: {result['files']} files of {result['bytes']} bytes, per file")
        print(f"  {'method':{width}s} {'median us':>10s} {'best us':>9s} {'vs dcmread_stop':>16s}")
        for method, row in result["methods"].items():
            print(f"  {method:{width}s} {row['median_us']:10.1f} {row['best_us']:9.1f} "
                  f"{row['speedup_vs_dcmread_stop']:15.2f}x")
    if args.out:
        report = {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version(), "pydicom": pydicom.__version__},
            "files_per_source": args.n, "repeat": args.repeat, "threads": args.threads,
            "results": results,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1))
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
