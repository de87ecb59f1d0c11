"""Can the CPU help the GPU on a JPEG 2000 series? GPU and CPU decoders at once, in one run.

Writes a 300-file JPEG 2000 lossless (or HTJ2K) series, splits its frames between nvImageCodec's
GPU decoder (first share, into a CUDA volume) and its CPU decoder (the rest, on its own thread
pool, into host memory) decoding at the same time on two threads, and prints the wall time of
each split against the GPU alone and the CPU alone. Usage::

    python benchmarks/co_decode.py [--files 300] [--syntax j2k]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_ct import phantom, write_series  # noqa: E402

from napari_dicom_gpu.engine.backends import nvimgcodec  # noqa: E402
from napari_dicom_gpu.engine.source import load_sources  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    import cupy
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--syntax", default="j2k")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        paths = write_series(phantom(args.files), Path(folder), syntax=args.syntax)
        sources = load_sources(paths)
        frames = [s.encoded[0] for s in sources]
        layout = sources[0].layout
        shape = (layout.rows, layout.columns, 1)
        streams = nvimgcodec.code_streams(frames, shape)
        n = len(streams)
        volume = cupy.empty((n, *shape), np.uint16)
        host = np.empty((n, *shape), np.uint16)

        def gpu(part: range) -> None:
            if len(part):
                nvimgcodec.decode_into(nvimgcodec.GPU, [streams[i] for i in part],
                                       nvimgcodec.cuda_frames(volume, list(part)), "UNCHANGED")
                nvimgcodec.synchronize_device()

        def cpu(part: range, batch: int = 32) -> None:
            for start in range(part.start, part.stop, batch):
                stop = min(start + batch, part.stop)
                nvimgcodec.decode_into(nvimgcodec.CPU, streams[start:stop], [host[i] for i in range(start, stop)],
                                       "UNCHANGED")
                volume[start:stop] = cupy.asarray(host[start:stop])

        def timed(share_gpu: float) -> float:
            k = int(round(n * share_gpu))
            runs = []
            for _ in range(3):
                start = time.perf_counter()
                helper = threading.Thread(target=cpu, args=(range(k, n),))
                helper.start()
                gpu(range(k))
                helper.join()
                cupy.cuda.runtime.deviceSynchronize()
                runs.append(time.perf_counter() - start)
            return statistics.median(runs)

        gpu(range(n))
        reference = volume.get()
        cpu(range(n))
        assert np.array_equal(volume.get(), reference), "CPU and GPU decodes differ"
        print(f"{args.files} {args.syntax} files, {n} frames")
        for share in (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.0):
            print(f"GPU share {share:.1f}: {timed(share) * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
