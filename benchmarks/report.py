"""Regenerate the README benchmark table from the newest ``bench_load`` results JSON.

    python benchmarks/report.py                     # print the table (markdown)
    python benchmarks/report.py --write             # and replace it in benchmarks/README.md (and in
                                                    # README.md when that file has the markers)
    python benchmarks/report.py --results DIR       # newest *-load.json under DIR

The table sits between ``<!-- bench-table:start -->`` and ``<!-- bench-table:end -->``. The newest
is by the date and time inside the JSON; ``--prefer-gpu`` (default) picks the newest GPU run when
there is one, since the README's numbers are the GPU machine's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import RESULTS, markdown_table, ms, ratio, targets_table  # noqa: E402

START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"
ROOT = Path(__file__).resolve().parent.parent


def newest(folder: Path, pattern: str, prefer_gpu: bool = True) -> Path | None:
    found = []
    for path in folder.glob(pattern):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        m = data.get("machine", {})
        found.append(
            (
                (bool(m.get("gpu")) if prefer_gpu else True),
                m.get("date", ""),
                m.get("time_utc", ""),
                path,
            )
        )
    return max(found)[-1] if found else None


def _part(results: dict, name: str, key: str = "rows"):
    return results.get("parts", {}).get(name, {}).get(key)


def table(results: dict, cpu_parallel: dict | None = None) -> str:
    m = results["machine"]
    lines = [
        (
            f"Measured on **{m['gpu'] or 'no GPU'}** ({m['cpu_count']} CPU cores), {m['date']} {m.get('time_utc', '')} UTC, "
            f"loads with the `{results['backend']}` backend, by `scripts/bench.sh` "
            f"(`benchmarks/bench_load.py`, {results.get('elapsed_s', '?')} s). "
            "Medians of 3 after a warm-up unless one run took over 2 s; baselines in the same run."
        ),
        "",
    ]
    summary = results.get("summary") or []
    if summary:
        lines += [
            targets_table(summary, "what"),
            "",
        ]
    scaling = {r["files"]: r for r in _part(results, "scaling") or []}
    header = {r["files"]: r for r in _part(results, "header") or []}
    memory: dict[int, dict[str, float]] = {}
    for r in _part(results, "memory") or []:
        if "peak_over_volume" in r:
            memory.setdefault(r["files"], {})[r["backend"]] = r["peak_over_volume"]
    if scaling or header:
        body = []
        for n in sorted(set(scaling) | set(header)):
            s, h, mem = scaling.get(n, {}), header.get(n, {}), memory.get(n, {})
            body.append(
                [
                    n,
                    ms(s.get("load_s"), 0),
                    f"{s['load_per_file_ms']:.2f}" if "load_per_file_ms" in s else None,
                    ratio(s.get("pydicom_s"), s.get("load_s")),
                    ratio(s.get("plugin_s"), s.get("load_s")),
                    ms(h.get("load_series_s"), 0),
                    ratio(h.get("dcmread_s"), h.get("load_series_s")),
                    " / ".join(f"{b} {v:.2f}x" for b, v in sorted(mem.items())) or None,
                ]
            )
        syntax = next(iter(scaling.values()), {}).get("syntax", "").upper()
        lines += [
            (
                f"Scaling: folders of single-frame 512x512 {syntax} CT files, `loading.load` warm "
                "(x pydicom: its `dcmread(p).pixel_array` loop; x plugin: pydicom with nvImageCodec's pydicom "
                "plugin; header: `load_series` vs `dcmread(stop_before_pixels=True)`; memory: peak host memory in "
                "a fresh process over the volume's bytes)."
            ),
            "",
            markdown_table(
                [
                    "files",
                    "load ms",
                    "ms/file",
                    "x pydicom",
                    "x plugin",
                    "header ms",
                    "x dcmread",
                    "peak memory",
                ],
                body,
            ),
            "",
        ]
    single = _part(results, "single") or []
    j2k = _part(results, "j2k", "row")
    if single or j2k:
        body = []
        for s in single:
            body.append(
                [
                    s["input"],
                    ms(s["load_s"], 2),
                    ms(s["pydicom_s"], 1),
                    ratio(s["pydicom_s"], s["load_s"]),
                    ratio(s.get("plugin_s"), s["load_s"]),
                    ms(s.get("floor_s"), 2),
                    ratio(s["load_s"], s.get("floor_s")),
                ]
            )
        if j2k:
            body.append(
                [
                    f"{j2k['files']}-file J2K lossless series",
                    ms(j2k["load_s"], 0),
                    ms(j2k["pydicom_s"], 0),
                    ratio(j2k["pydicom_s"], j2k["load_s"]),
                    ratio(j2k.get("plugin_s"), j2k["load_s"]),
                    f"{ms(j2k['gpu_decode_to_host_s'], 0)} (GPU decode)",
                    ratio(j2k["load_s"], j2k["gpu_decode_to_host_s"]),
                ]
            )
        lines += [
            (
                "Single files and the J2K series (floor: nvImageCodec alone decoding the pre-split frames into a "
                "preallocated pinned host buffer; for the series, our own GPU decode of pre-read files):"
            ),
            "",
            markdown_table(
                [
                    "input",
                    "load ms",
                    "pydicom ms",
                    "x pydicom",
                    "x plugin",
                    "floor ms",
                    "load / floor",
                ],
                body,
            ),
            "",
        ]
    cpu = _part(results, "cpu") or []
    if cpu:
        lines += [
            f"CPU mode (`decode_series(files, 'cpu')`) vs pydicom, {m['cpu_count']} cores:",
            "",
            markdown_table(
                ["input", "files", "CPU mode ms", "pydicom ms", "x pydicom", "codec", "max diff"],
                [
                    [
                        c["input"],
                        c["files"],
                        ms(c["cpu_decode_s"], 0),
                        ms(c["pydicom_s"], 0),
                        ratio(c["pydicom_s"], c["cpu_decode_s"]),
                        c.get("cpu_codec"),
                        c.get("max_abs_diff"),
                    ]
                    for c in cpu
                ],
            ),
            "",
        ]
    if cpu_parallel:
        cp = cpu_parallel
        body = []
        for r in cp.get("codecs", []):
            if "serial_s" in r:
                body.append(
                    [
                        r["syntax"],
                        r["codec"],
                        f"{r['gil_free']:.2f}",
                        ratio(r["serial_s"], r["threads_s"]),
                        ratio(r["serial_s"], r["processes_s"]),
                        "threads" if r["gil_free"] >= 0.4 else "processes",
                    ]
                )
        if body:
            lines += [
                (
                    f"CPU codecs on {cp['machine']['cpu_count']} cores ({cp['workers']} workers, `benchmarks/cpu_parallel.py`, "
                    f"{cp['machine']['date']}): GIL-free fraction, thread and process speedups over a serial loop."
                ),
                "",
                markdown_table(
                    ["syntax", "codec", "GIL-free", "threads", "processes", "route"], body
                ),
                "",
            ]
    for part, reason in results.get("skipped", {}).items():
        lines.append(f"- not measured ({part}): {reason}")
    return "\n".join(lines).rstrip() + "\n"


def replace_between_markers(path: Path, text: str) -> bool:
    content = path.read_text()
    if START not in content or END not in content:
        return False
    head, rest = content.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{text}{END}{tail}")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", default=str(RESULTS), help="folder holding *-load.json")
    parser.add_argument("--json", default=None, help="this results file instead of the newest")
    parser.add_argument(
        "--any-card", action="store_true", help="newest run even when a GPU run exists"
    )
    parser.add_argument(
        "--write", action="store_true", help="update the tables between the markers"
    )
    parser.add_argument(
        "--readme",
        action="append",
        default=None,
        help="file(s) to update (default benchmarks/README.md and README.md, where marked)",
    )
    parser.add_argument("--output", default=None, help="also write the table to this file")
    args = parser.parse_args(argv)
    folder = Path(args.results)
    path = Path(args.json) if args.json else newest(folder, "*-load.json", not args.any_card)
    if path is None:
        print(f"no *-load.json under {folder}", file=sys.stderr)
        return 1
    results = json.loads(path.read_text())
    cp_path = newest(folder, "*-cpu-parallel.json", not args.any_card)
    cpu_parallel = json.loads(cp_path.read_text()) if cp_path else None
    text = table(results, cpu_parallel)
    text += (
        f"\n<sub>from `{path.name}`" + (f" and `{cp_path.name}`" if cp_path else "") + "</sub>\n"
    )
    print(text)
    if args.output:
        Path(args.output).write_text(text)
    if args.write:
        targets = (
            [Path(p) for p in args.readme]
            if args.readme
            else [ROOT / "benchmarks" / "README.md", ROOT / "README.md"]
        )
        for target in targets:
            if target.exists() and replace_between_markers(target, text):
                print(f"updated {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
