"""How should GPU decodes reach host memory? Times each NAPARI_DICOM_GPU_HOST_PATH in one run.

Prints, per file, pydicom's time and each path's median time from file name to host NumPy.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_ct import phantom, write_series  # noqa: E402

from napari_dicom_gpu.bench import median_seconds, pydicom_volume  # noqa: E402
from napari_dicom_gpu.engine import decode_series  # noqa: E402
from napari_dicom_gpu.engine.api import HOST_PATHS  # noqa: E402
from napari_dicom_gpu.engine.series import expand_paths  # noqa: E402


def main() -> int:
    inputs = sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "htj2k"
        write_series(phantom(100), folder, ht=True)
        inputs.append(str(folder))
        rows = []
        for item in inputs:
            files = expand_paths([item])
            row = {"input": Path(item).name, "pydicom_ms": median_seconds(lambda f=files: pydicom_volume(f), 5) * 1000}
            for path in HOST_PATHS:
                os.environ["NAPARI_DICOM_GPU_HOST_PATH"] = path
                row[path] = median_seconds(lambda f=files: decode_series(f, "gpu"), 9) * 1000
                row[path + " stages"] = decode_series(files, "gpu").record.seconds
            rows.append(row)
    print(json.dumps(rows, indent=1, default=str))
    print(f"{'input':28s} {'pydicom':>9s} " + " ".join(f"{p:>16s}" for p in HOST_PATHS))
    for row in rows:
        print(f"{row['input']:28s} {row['pydicom_ms']:9.2f} " + " ".join(f"{row[p]:16.2f}" for p in HOST_PATHS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
