"""Command line: ``napari-dicom-gpu view|decode|bench|info``."""

from __future__ import annotations

import argparse
import json
import sys


def _view(args: argparse.Namespace) -> int:
    import napari

    from ._sample_data import sample_path

    viewer = napari.Viewer(title="napari-dicom-gpu")
    viewer.window.add_plugin_dock_widget("napari-dicom-gpu", "DICOM decode (CPU/GPU)")
    paths = args.paths or [sample_path("ultrasound")]
    from ._reader import read_layers

    for path in paths:  # folders and any file name, not only the names the npe2 reader claims
        for data, kwargs, _kind in read_layers(path):
            viewer.add_image(data, **kwargs)
    if args.screenshot:
        from qtpy.QtWidgets import QApplication

        viewer.window.resize(1500, 900)
        for _ in range(20):
            QApplication.processEvents()
        viewer.screenshot(args.screenshot, canvas_only=False)
        viewer.close()
        return 0
    napari.run()
    return 0


def _decode(args: argparse.Namespace) -> int:
    import numpy as np

    from .engine import decode_series
    from .engine.series import load_series

    report = load_series(args.paths)
    for problem in report.skipped:
        print(problem, file=sys.stderr)
    for group in report.series:
        result = decode_series([], args.backend, sources=group.sources)
        record = result.record.to_dict()
        print(json.dumps({"input": group.sources[0].path, "shape": list(result.pixels.shape), **record}, default=str))
        if args.save:
            np.save(args.save, np.asarray(result.pixels))
    return 0 if report.series else 1


def _bench(args: argparse.Namespace) -> int:
    from .bench import bench_inputs, format_table, machine_summary

    rows = bench_inputs(args.paths, repeat=args.repeat, seed=args.seed)
    if args.json:
        print(json.dumps({"machine": machine_summary(), "rows": rows}, indent=2, default=str))
    else:
        machine = machine_summary()
        print(f"GPU: {machine['gpu'] or 'none (' + str(machine['gpu_reason']) + ')'}; CPU cores: {machine['cpu_count']}")
        print(format_table(rows))
    return 0


def _info(_args: argparse.Namespace) -> int:
    from .engine import availability

    for name, state in availability().items():
        text = "available" if state else f"unavailable: {state.reason}"
        details = f" {state.details}" if state.details else ""
        print(f"{name:16s} {text}{details}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="napari-dicom-gpu", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    view = sub.add_parser("view", help="open napari on DICOM paths (default: the ultrasound sample)")
    view.add_argument("paths", nargs="*")
    view.add_argument("--screenshot", help="save a screenshot of the window to this file and exit")
    view.set_defaults(func=_view)
    dec = sub.add_parser("decode", help="decode files or folders headless and print the decode record")
    dec.add_argument("paths", nargs="+")
    dec.add_argument("--backend", default="auto", choices=["auto", "gpu", "cpu", "pydicom"])
    dec.add_argument("--save", help="save the decoded volume as .npy")
    dec.set_defaults(func=_decode)
    bench = sub.add_parser("bench", help="time pydicom against our CPU and GPU paths")
    bench.add_argument("paths", nargs="+", help="files, or folders (each taken as one series)")
    bench.add_argument("--repeat", type=int, default=5)
    bench.add_argument("--json", action="store_true", help="print JSON instead of a table")
    bench.add_argument("--seed", action="store_true", help="also time the seed's three methods")
    bench.set_defaults(func=_bench)
    info = sub.add_parser("info", help="which decode backends work here, and why not")
    info.set_defaults(func=_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as exc:
        from .engine.errors import BackendUnavailableError, DicomDecodeError

        if isinstance(exc, DicomDecodeError | BackendUnavailableError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
