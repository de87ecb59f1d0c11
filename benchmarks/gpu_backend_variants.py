"""Which nvImageCodec GPU backends decode our JPEG and JPEG 2000 files fastest, exactly?

Runs each variant of NAPARI_DICOM_GPU_NV_BACKENDS in a fresh process (decoders are cached per
process) and prints median decode-to-host times and max difference to the default decoder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

VARIANTS = ["default", "GPU_ONLY", "HYBRID_CPU_GPU", "HW_GPU_ONLY", "GPU_ONLY,HYBRID_CPU_GPU", "HYBRID_CPU_GPU,GPU_ONLY"]
CHILD = r"""
import json, os, sys, numpy as np
sys.path.insert(0, os.path.join(os.getcwd(), "src"))
from napari_dicom_gpu.bench import median_seconds
from napari_dicom_gpu.engine import decode_series
out = {}
for path in sys.argv[1:]:
    try:
        r = decode_series([path], "gpu")
        t = median_seconds(lambda: decode_series([path], "gpu"), 7)
        np.save(f"/tmp/variant_{os.path.basename(path)}.npy", np.asarray(r.pixels))
        out[os.path.basename(path)] = {"ms": t * 1000, "codecs": r.record["codecs"], "fallbacks": len(r.record["fallbacks"])}
    except Exception as exc:
        out[os.path.basename(path)] = {"error": str(exc)[:160]}
print(json.dumps(out))
"""


def main() -> int:
    files = sys.argv[1:]
    rows = {}
    reference = {}
    for variant in VARIANTS:
        env = dict(os.environ, NAPARI_DICOM_GPU_NV_BACKENDS=variant)
        proc = subprocess.run([sys.executable, "-c", CHILD, *files], capture_output=True, text=True, env=env, timeout=300)
        try:
            result = json.loads(proc.stdout.strip().splitlines()[-1])
        except Exception:
            result = {"error": proc.stderr[-300:]}
        import numpy as np

        for name, row in result.items():
            if not isinstance(row, dict) or "ms" not in row:
                continue
            arr = np.load(f"/tmp/variant_{name}.npy")
            reference.setdefault(name, arr)
            row["maxdiff_vs_default"] = float(np.abs(arr.astype(float) - reference[name].astype(float)).max())
        rows[variant] = result
    print(json.dumps(rows, indent=1))
    for variant, result in rows.items():
        cells = [f"{n}: {r.get('ms', float('nan')):.2f}ms fb={r.get('fallbacks')} d={r.get('maxdiff_vs_default')}" if "ms" in r else f"{n}: {r.get('error', '')[:60]}" for n, r in result.items()]
        print(f"{variant:26s} " + " | ".join(cells))
    return 0


if __name__ == "__main__":
    Path("/tmp").exists()
    sys.exit(main())
