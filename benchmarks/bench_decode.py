"""Decode benchmark: pydicom vs our CPU and GPU paths, medians after warm-up, same run, same card.

Writes ``benchmarks/results/<date>-<card>.json`` and ``.md`` (or under ``--out``) and prints the
table last. Inputs: the seed's ultrasound cine, color3d_jpeg_baseline.dcm (pydicom-data), and a
synthetic 300 x 512 x 512 CT series encoded as HTJ2K and as JPEG 2000 lossless on the GPU.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_ct import phantom, write_series  # noqa: E402

from napari_dicom_gpu.bench import bench_paths, format_table, machine_summary  # noqa: E402


def testdata(name: str) -> str | None:
    folder = os.environ.get("DICOM_GPU_DATA")
    if folder and (Path(folder) / name).exists():
        return str(Path(folder) / name)
    from pydicom.data import get_testdata_file

    return get_testdata_file(name)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--only-synthetic", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()

    machine = machine_summary()
    machine.update({"python": platform.python_version(), "date": dt.date.today().isoformat()})
    card = re.sub(r"[^A-Za-z0-9]+", "-", machine["gpu"] or "cpu-only").strip("-")
    stem = f"{machine['date']}-{card}" + ("-synthetic" if args.only_synthetic else "")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    header = f"Card: {machine['gpu'] or 'none'}; CPU cores: {machine['cpu_count']}; date: {machine['date']}"
    rows: list[dict] = []

    def save() -> None:  # after every row, so a time limit never loses what was measured
        (out / f"{stem}.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=2, default=str))
        (out / f"{stem}.md").write_text(f"{header}\n\n{format_table(rows)}\n")

    if not args.only_synthetic:
        seed = testdata("examples_ybr_color.dcm")
        rows.append(bench_paths([seed], args.repeat, seed=True))
        save()
        color3d = testdata("color3d_jpeg_baseline.dcm")
        if color3d:
            rows.append(bench_paths([color3d], args.repeat, seed=True))
            save()
        for name in ("RG3_J2KR.dcm", "MR2_J2KR.dcm", "JPEG-LL.dcm", "bad_sequence.dcm"):
            path = testdata(name)
            if path:
                rows.append(bench_paths([path], args.repeat))
                save()
    if not args.skip_synthetic and machine["gpu"]:
        volume = phantom(args.slices)
        with tempfile.TemporaryDirectory() as tmp:
            for ht, label in ((True, "synthetic CT HTJ2K"), (False, "synthetic CT J2K lossless")):
                folder = Path(tmp) / label.replace(" ", "_")
                write_series(volume, folder, ht)
                row = bench_paths([str(folder)], max(3, args.repeat // 2), baseline_repeat=2)
                row["input"] = f"{label} ({args.slices} files)"
                rows.append(row)
                save()
    save()
    print(header)
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
