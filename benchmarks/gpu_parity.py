"""Parity summary: every decodable test file through one backend, against pydicom, in one run.

Writes ``benchmarks/results/parity-<backend>-<date>-<card>.md`` (or under ``--out``): files n/n,
exact and lossy counts, the worst lossy PSNR, and any file that failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.dicom_files import decodable_files, is_lossy, psnr, reference  # noqa: E402

from napari_dicom_gpu import decode  # noqa: E402
from napari_dicom_gpu.bench import machine_summary  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="gpu")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    machine = machine_summary()
    files = decodable_files()
    lines, exact, lossy_ok, failed, worst = [], 0, 0, [], float("inf")
    fallbacks = 0
    for path in files:
        ref = reference(path)
        try:
            result = decode(path, args.backend)
        except Exception as exc:
            failed.append(f"{path.name}: {exc}")
            continue
        ours = result.pixels[0] if result.layout.number_of_frames == 1 else result.pixels
        fallbacks += len(result.record["fallbacks"])
        codec = ",".join(result.record["codecs"])
        same = ours.shape == ref.shape and ours.dtype == ref.dtype and np.array_equal(ours, ref)
        if same:
            exact += 1
            lines.append(f"| {path.name} | {codec} | exact |")
        elif is_lossy(path) and ours.shape == ref.shape and ours.dtype == ref.dtype and psnr(ours, ref) >= 40:
            lossy_ok += 1
            value = psnr(ours, ref)
            worst = min(worst, value)
            lines.append(f"| {path.name} | {codec} | lossy, PSNR {value:.1f} dB |")
        else:
            failed.append(f"{path.name}: differs ({codec})")
            lines.append(f"| {path.name} | {codec} | **differs** |")
    card = machine["gpu"] or "no GPU"
    date = dt.date.today().isoformat()
    ok = exact + lossy_ok
    summary = (
        f"# Parity with pydicom, backend={args.backend}\n\n"
        f"Card: {card}; date: {date}; files: {ok}/{len(files)} match "
        f"({exact} bit-identical, {lossy_ok} lossy within PSNR >= 40 dB"
        + (f", worst {worst:.1f} dB" if lossy_ok else "")
        + f"); {len(failed)} failed; {fallbacks} frame fallbacks.\n\n"
        "| file | codec | result |\n|---|---|---|\n" + "\n".join(lines) + "\n"
    )
    if failed:
        summary += "\nFailed:\n" + "\n".join(f"- {f}" for f in failed) + "\n"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", card).strip("-")
    (out / f"parity-{args.backend}-{date}-{slug}.md").write_text(summary)
    print(summary.split("\n\n")[1])
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
