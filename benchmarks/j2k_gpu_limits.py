"""What bounds the GPU decode of a JPEG 2000 series? Decoder settings, and the CPU helping at once.

Writes a series (300 JPEG 2000 lossless files by default) and, in one run:

1. times one batch decode into a CUDA volume with each nvImageCodec decoder setting (worker
   threads, CUDA streams), against the default decoder's output;
2. splits the frames between the GPU decoder (first share) and nvImageCodec's CPU decoder (the
   rest, on a second thread, into host memory, then uploaded) decoding at the same time, and times
   each split against the GPU alone and the CPU alone.

Usage::

    python benchmarks/j2k_gpu_limits.py [--files 300] [--syntax j2k]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_ct import phantom, write_series  # noqa: E402

from napari_dicom_gpu.bench import median_seconds  # noqa: E402
from napari_dicom_gpu.engine.backends import nvimgcodec  # noqa: E402
from napari_dicom_gpu.engine.source import load_sources  # noqa: E402

SETTINGS = [
    ({}, ""),
    ({"max_num_cpu_threads": 4}, ""),
    ({"max_num_cpu_threads": 32}, ""),
    ({}, ":num_cuda_streams=1"),
    ({}, ":num_cuda_streams=4"),
    ({}, ":num_cuda_streams=16"),
    ({"max_num_cpu_threads": 32}, ":num_cuda_streams=32"),
]


def decoder_settings(streams, volume) -> None:
    import cupy
    import numpy as np
    from nvidia import nvimgcodec as nv

    params = nv.DecodeParams(allow_any_depth=True, color_spec=nv.ColorSpec.UNCHANGED)
    images = [nv.as_image(f) for f in nvimgcodec.cuda_frames(volume, list(range(len(streams))))]
    reference = None
    for kwargs, options in SETTINGS:
        decoder = nv.Decoder(options=options, **kwargs)

        def run(d=decoder):
            d.decode(streams, images=images, params=params)
            cupy.cuda.runtime.deviceSynchronize()

        run()
        if reference is None:
            reference = volume.get()
        same = bool(np.array_equal(volume.get(), reference))
        print(f"{str(kwargs):28s} {options:24s} {median_seconds(run, 5) * 1000:8.1f} ms  same={same}")


def co_decode(streams, volume) -> None:
    import cupy
    import numpy as np

    n = len(streams)
    host = np.empty(volume.shape, np.uint16)

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

    def split(share_gpu: float) -> None:
        k = int(round(n * share_gpu))
        helper = threading.Thread(target=cpu, args=(range(k, n),))
        helper.start()
        gpu(range(k))
        helper.join()
        cupy.cuda.runtime.deviceSynchronize()

    gpu(range(n))
    reference = volume.get()
    cpu(range(n))
    assert np.array_equal(volume.get(), reference), "CPU and GPU decodes differ"
    for share in (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.0):
        print(f"GPU share {share:.1f}: {median_seconds(lambda s=share: split(s), 3) * 1000:8.1f} ms")


def main(argv: list[str] | None = None) -> int:
    import cupy
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--syntax", default="j2k")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        sources = load_sources(write_series(phantom(args.files), Path(folder), syntax=args.syntax))
        layout = sources[0].layout
        shape = (layout.rows, layout.columns, 1)
        streams = nvimgcodec.code_streams([s.encoded[0] for s in sources], shape)
        volume = cupy.empty((len(streams), *shape), np.uint16)
        print(f"{args.files} {args.syntax} files\n## decoder settings: one batch into a CUDA volume, median of 5")
        decoder_settings(streams, volume)
        print("## GPU and CPU decoders at once, median of 3")
        co_decode(streams, volume)
    return 0


if __name__ == "__main__":
    sys.exit(main())
