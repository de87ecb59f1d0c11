"""Where does a single-file GPU load go, against the floor? Each stage timed alone, in one process.

For the seed and color3d: the load and the decode as the engine runs them, then each piece of
the path by itself (file read, header, frame split, code streams, the batch decode into a CUDA
volume or into pinned host memory, the copy to host, the colour conform, the layer), and the
floor as ``bench_load`` measures it. Medians of ``--repeat`` runs after warm-ups. Usage::

    python benchmarks/single_file.py [--repeat 50] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_load import COLOR3D, SEED, floor, testdata  # noqa: E402

from napari_dicom_gpu import loading  # noqa: E402
from napari_dicom_gpu.bench import median_seconds  # noqa: E402
from napari_dicom_gpu.engine import decode  # noqa: E402
from napari_dicom_gpu.engine.backends import nvimgcodec  # noqa: E402
from napari_dicom_gpu.engine.conform import conform_in_place  # noqa: E402
from napari_dicom_gpu.engine.plan import plan_source  # noqa: E402
from napari_dicom_gpu.engine.source import load_sources  # noqa: E402


def median_ms(fn, repeat: int) -> float:
    return median_seconds(fn, repeat, warmup=3) * 1000


def pieces(path: str, repeat: int) -> dict:
    import cupy
    import cupyx
    from nvidia import nvimgcodec as nv

    row: dict = {"input": Path(path).name}
    row["load"] = median_ms(lambda: loading.load([path], "gpu"), repeat)
    row["decode"] = median_ms(lambda: decode(path, "gpu"), repeat)
    row["decode stages"] = {k: round(v * 1000, 3) for k, v in decode(path, "gpu").record.seconds.items()}
    row["read file"] = median_ms(lambda: Path(path).read_bytes(), repeat)
    row["header (load_sources)"] = median_ms(lambda: load_sources([path]), repeat)
    source = load_sources([path])[0]
    row["split frames"] = median_ms(lambda: load_sources([path])[0].encoded, repeat) - row["header (load_sources)"]
    frames = source.encoded
    layout = source.layout
    plan = plan_source(source, 0, "gpu")
    row["plan"] = plan.primary
    shape = (layout.rows, layout.columns, layout.samples_per_pixel)
    n = layout.number_of_frames
    row["code streams (ours)"] = median_ms(lambda: nvimgcodec.code_streams(frames, shape), repeat)
    row["code streams (CodeStream only)"] = median_ms(lambda: [nv.CodeStream(f) for f in frames], repeat)
    streams = nvimgcodec.code_streams(frames, shape)
    colour = plan.colour
    volume = cupy.empty((n, *shape), layout.dtype)
    targets = nvimgcodec.cuda_frames(volume, list(range(n)))

    def into_cuda():
        nvimgcodec.decode_into(nvimgcodec.GPU, streams, targets, colour)
        nvimgcodec.synchronize_device()

    row["decode into CUDA volume"] = median_ms(into_cuda, repeat)

    def into_fresh_cuda():
        fresh = cupy.empty((n, *shape), layout.dtype)
        nvimgcodec.decode_into(nvimgcodec.GPU, streams, nvimgcodec.cuda_frames(fresh, list(range(n))), colour)
        nvimgcodec.synchronize_device()

    row["decode into fresh CUDA volume"] = median_ms(into_fresh_cuda, repeat)
    staging = cupyx.empty_pinned((n, *shape), layout.dtype)
    images = [nv.as_image(staging[i]) for i in range(n)]
    dec, _ = nvimgcodec.decoder(nvimgcodec.GPU)
    params = nvimgcodec._params(colour)

    def into_pinned():
        dec.decode(streams, images=images, params=params)
        nvimgcodec.synchronize_device()

    row["decode into reused pinned (images made once)"] = median_ms(into_pinned, repeat)

    def into_pinned_wrapping():
        dec.decode(streams, images=[nv.as_image(staging[i]) for i in range(n)], params=params)
        nvimgcodec.synchronize_device()

    row["decode into reused pinned (images made per load)"] = median_ms(into_pinned_wrapping, repeat)
    row["copy reused pinned -> fresh numpy"] = median_ms(lambda: staging.copy(), repeat)
    row["D2H into pooled pinned"] = median_ms(
        lambda: volume.get(out=cupyx.empty_pinned(volume.shape, volume.dtype)), repeat
    )
    row["D2H into fresh pageable"] = median_ms(lambda: volume.get(), repeat)
    host = volume.get()
    row["conform"] = median_ms(lambda: conform_in_place(host, layout, plan.info), repeat)
    for kind in ("GPU_ONLY", "HYBRID_CPU_GPU"):
        other = nv.Decoder(backends=[nv.Backend(getattr(nv.BackendKind, kind))])

        def into_cuda_other(d=other):
            d.decode(streams, images=[nv.as_image(t) for t in targets], params=params)
            nvimgcodec.synchronize_device()

        row[f"decode into CUDA volume, {kind} decoder"] = median_ms(into_cuda_other, repeat)
    cpu_decoder = nv.Decoder(device_id=nv.NVIMGCODEC_DEVICE_CPU_ONLY, backends=[nv.Backend(nv.CPU_ONLY)])
    reference = staging.copy()

    def cpu_into_pinned():
        pinned = cupyx.empty_pinned((n, *shape), layout.dtype)
        cpu_decoder.decode(streams, images=[nv.as_image(pinned[i]) for i in range(n)], params=params)
        return pinned

    row["CPU_ONLY decoder into pooled pinned"] = median_ms(cpu_into_pinned, repeat)
    row["CPU_ONLY max diff to default"] = int(abs(cpu_into_pinned().astype(int) - reference.astype(int)).max())

    def default_into_pooled_pinned():
        pinned = cupyx.empty_pinned((n, *shape), layout.dtype)
        dec.decode(streams, images=[nv.as_image(pinned[i]) for i in range(n)], params=params)
        nvimgcodec.synchronize_device()
        return pinned

    row["default decoder into pooled pinned"] = median_ms(default_into_pooled_pinned, repeat)
    row["default decoder from bytes into CUDA volume"] = median_ms(
        lambda: (dec.decode(list(frames), images=[nv.as_image(t) for t in targets], params=params),
                 nvimgcodec.synchronize_device()),
        repeat,
    )
    row["as_image per load (CUDA targets)"] = median_ms(lambda: [nv.as_image(t) for t in targets], repeat)
    import os

    for path_kind in ("staged-pinned", "direct-pinned"):
        os.environ["NAPARI_DICOM_GPU_HOST_PATH"] = path_kind
        row[f"decode(), {path_kind}"] = median_ms(lambda: decode(path, "gpu"), repeat)
        row[f"decode(), {path_kind} stages"] = {
            k: round(v * 1000, 3) for k, v in decode(path, "gpu").record.seconds.items()
        }
    os.environ.pop("NAPARI_DICOM_GPU_HOST_PATH")
    row["decode(), cpu mode"] = median_ms(lambda: decode(path, "cpu"), repeat)
    outcome = loading.load([path], "gpu")
    row["layer stages"] = outcome.layers[0].kwargs["metadata"]["decode"]["seconds"]
    fl = floor(path, True)
    row["floor"] = (fl.get("floor_s") or 0) * 1000
    row["floor by backend"] = {k: (v or 0) * 1000 for k, v in fl.get("floor_by_backend_s", {}).items()}
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    rows = []
    for name in (SEED, COLOR3D):
        path = testdata(name)
        if path is None:
            print(f"{name}: not found")
            continue
        rows.append(pieces(path, args.repeat if name == SEED else max(5, args.repeat // 5)))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=str))
    for row in rows:
        print(f"\n## {row['input']}")
        for key, value in row.items():
            if isinstance(value, float):
                print(f"{key:55s} {value:9.3f} ms")
            elif key != "input":
                print(f"{key:55s} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
