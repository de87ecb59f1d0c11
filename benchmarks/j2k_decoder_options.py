"""Which nvImageCodec GPU decoder settings decode a JPEG 2000 series fastest, exactly?

Writes a 300-file JPEG 2000 lossless series and times one batch decode into a CUDA volume with
each decoder setting (worker threads, CUDA streams), against the default decoder's output.
Usage::

    python benchmarks/j2k_decoder_options.py [--files 300] [--syntax j2k]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_ct import phantom, write_series  # noqa: E402

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


def main(argv: list[str] | None = None) -> int:
    import cupy
    import numpy as np
    from nvidia import nvimgcodec as nv

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--syntax", default="j2k")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        sources = load_sources(write_series(phantom(args.files), Path(folder), syntax=args.syntax))
        layout = sources[0].layout
        shape = (layout.rows, layout.columns, 1)
        streams = nvimgcodec.code_streams([s.encoded[0] for s in sources], shape)
        volume = cupy.empty((len(streams), *shape), np.uint16)
        params = nv.DecodeParams(allow_any_depth=True, color_spec=nv.ColorSpec.UNCHANGED)
        reference = None
        print(f"{args.files} {args.syntax} files")
        for kwargs, options in SETTINGS:
            decoder = nv.Decoder(options=options, **kwargs)
            images = [nv.as_image(f) for f in nvimgcodec.cuda_frames(volume, list(range(len(streams))))]

            def run(d=decoder, i=images):
                d.decode(streams, images=i, params=params)
                cupy.cuda.runtime.deviceSynchronize()

            run()
            if reference is None:
                reference = volume.get()
            same = bool(np.array_equal(volume.get(), reference))
            times = []
            for _ in range(5):
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
            print(f"{str(kwargs):28s} {options:24s} {statistics.median(times) * 1000:8.1f} ms  same={same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
