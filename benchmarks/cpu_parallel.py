"""Which CPU codecs release the GIL, and do threads or processes speed them up? Are nvImageCodec's
CPU results exact?

For each codec (through pydicom with one decoding plugin, as the CPU mode would call it, and
nvImageCodec's CPU backend with a batch), N single-frame 512x512 CT files held in memory are
decoded: serially, in a ThreadPoolExecutor(workers) and in a ProcessPoolExecutor(workers)
(spawned and warmed before the clock starts; results come back pickled, as they would).
``gil_free`` is measured apart from the speedups, so that a busy machine does not hide it: the
rate of a pure-Python counter in the main thread while another thread decodes, over its rate
alone (about 1 when the codec releases the GIL, about 0 when it holds it).

Exactness: nvImageCodec's CPU backend against pydicom (and the original array) for JPEG 2000
lossless and HTJ2K (HTJ2K needs nvImageCodec's GPU encoder to make the frames), unsigned and
signed 16-bit, 8-bit and colour.

Writes ``<out>/<date>-<card>-cpu-parallel.json`` and ``.md`` and prints the table.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pydicom  # noqa: E402
from harness import RESULTS, machine, markdown_table, write_json  # noqa: E402
from synthetic_ct import _dataset, encode_frames, gpu_encoder_reason, phantom  # noqa: E402

NV_CPU = "nvImageCodec CPU"
#: A GIL-free fraction from here up routes to threads. Measured on a loaded 2-core machine:
#: OpenJPEG and libjpeg through pydicom 0.07-0.20, nvImageCodec's CPU batch 0.42-0.61.
GIL_FREE = 0.4


# -- test files ----------------------------------------------------------------------------------
def native_file(slice_: np.ndarray, k: int) -> bytes:
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = _dataset(ExplicitVRLittleEndian, "1.2.3", "1.2.3.4", k, slice_.shape)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.PixelData = np.ascontiguousarray(slice_).tobytes()
    ds["PixelData"].VR = "OW"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def gdcm_transcode(data: bytes, syntax: str) -> bytes:
    """Re-encode a native DICOM file with GDCM (JPEG-LS, lossless JPEG, RLE)."""
    import gdcm

    syntaxes = {
        "jpeg-ls": gdcm.TransferSyntax.JPEGLSLossless,
        "jpeg-lossless": gdcm.TransferSyntax.JPEGLosslessProcess14_1,
        "rle": gdcm.TransferSyntax.RLELossless,
    }
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.dcm", Path(tmp) / "out.dcm"
        src.write_bytes(data)
        reader = gdcm.ImageReader()
        reader.SetFileName(str(src))
        if not reader.Read():
            raise RuntimeError("GDCM cannot read the native file")
        change = gdcm.ImageChangeTransferSyntax()
        change.SetTransferSyntax(gdcm.TransferSyntax(syntaxes[syntax]))
        change.SetInput(reader.GetImage())
        if not change.Change():
            raise RuntimeError(f"GDCM cannot encode {syntax}")
        writer = gdcm.ImageWriter()
        writer.SetFileName(str(dst))
        writer.SetFile(reader.GetFile())
        writer.SetImage(change.GetOutput())
        if not writer.Write():
            raise RuntimeError("GDCM cannot write")
        return dst.read_bytes()


def encapsulated_file(native: bytes, frame: bytes, syntax) -> bytes:
    from pydicom.encaps import encapsulate

    ds = pydicom.dcmread(io.BytesIO(native))
    ds.file_meta.TransferSyntaxUID = syntax
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def make_inputs(count: int) -> tuple[dict[str, list[bytes]], dict[str, str]]:
    """DICOM files (bytes) per syntax, and why a syntax could not be made."""
    from pydicom.uid import HTJ2KLossless, JPEG2000Lossless

    volume = phantom(count)
    natives = [native_file(volume[k], k) for k in range(count)]
    files: dict[str, list[bytes]] = {}
    missing: dict[str, str] = {}
    files["j2k"] = [
        encapsulated_file(n, f, JPEG2000Lossless)
        for n, f in zip(natives, encode_frames(volume, False), strict=True)
    ]
    reason = gpu_encoder_reason()
    if reason is None:
        frames = encode_frames(volume, True)
        files["htj2k"] = [
            encapsulated_file(n, f, HTJ2KLossless) for n, f in zip(natives, frames, strict=True)
        ]
    else:
        missing["htj2k"] = f"HTJ2K frames need nvImageCodec's GPU encoder: {reason}"
    for syntax in ("jpeg-ls", "jpeg-lossless", "rle"):
        try:
            files[syntax] = [gdcm_transcode(n, syntax) for n in natives]
        except Exception as exc:
            missing[syntax] = f"{type(exc).__name__}: {exc}"
    return files, missing


# -- decoders (module level: process pools pickle them by name) ----------------------------------
def pydicom_decode(plugin: str, data: bytes) -> np.ndarray:
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.pixel_array_options(decoding_plugin=plugin)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ds.pixel_array


_NV_DECODERS: dict[int, object] = {}


def nv_cpu_decoder(threads: int):
    """One nvImageCodec CPU decoder per thread count per process (``threads`` 0 = all cores)."""
    key = (threading.get_ident(), threads)
    if key not in _NV_DECODERS:
        from nvidia import nvimgcodec as nv

        _NV_DECODERS[key] = nv.Decoder(
            device_id=nv.NVIMGCODEC_DEVICE_CPU_ONLY,
            max_num_cpu_threads=threads,
            backends=[nv.Backend(nv.CPU_ONLY)],
        )
    return _NV_DECODERS[key]


def split_frame(data: bytes) -> bytes:
    from pydicom.encaps import generate_frames

    ds = pydicom.dcmread(io.BytesIO(data))
    return next(generate_frames(ds.PixelData, number_of_frames=1))


def nv_cpu_decode_batch(frames: list[bytes], threads: int = 1) -> list[np.ndarray | None]:
    from nvidia import nvimgcodec as nv

    params = nv.DecodeParams(allow_any_depth=True, color_spec=nv.ColorSpec.UNCHANGED)
    images = nv_cpu_decoder(threads).decode(frames, params=params)
    return [
        None if img is None else np.asarray(img.cpu() if hasattr(img, "cpu") else img)
        for img in images
    ]


def _warm(_: int) -> int:
    import pydicom.pixels  # noqa: F401

    return os.getpid()


# -- measurements --------------------------------------------------------------------------------
def gil_free(task, items: list, seconds: float = 0.6) -> float:
    """Counter rate in this thread while another thread runs ``task`` over ``items`` / rate alone."""

    def count(stop: threading.Event) -> tuple[int, float]:
        n, start = 0, time.perf_counter()
        while not stop.is_set():
            n += 1
        return n, time.perf_counter() - start

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)  # so that only C code holding the GIL can starve the counter
    try:
        return _gil_free(task, items, seconds, count)
    finally:
        sys.setswitchinterval(interval)


def _gil_free(task, items, seconds, count) -> float:
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    alone, t_alone = count(stop)
    stop = threading.Event()

    def work():
        for item in items:
            task(item)
        stop.set()

    worker = threading.Thread(target=work)
    worker.start()
    busy, t_busy = count(stop)
    worker.join()
    return (busy / t_busy) / (alone / t_alone)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cores_used(fn) -> float:
    """This process's CPU time over wall time while ``fn`` runs: about 1 or less when threads
    take turns on the GIL, up to the worker count when the codec releases it."""
    import resource

    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    fn()
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    return (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / wall


def bench_pydicom(plugin: str, files: list[bytes], workers: int, pool: ProcessPoolExecutor) -> dict:
    from functools import partial

    task = partial(pydicom_decode, plugin)
    task(files[0])  # warm: the plugin's import
    serial = min(timed(lambda: [task(f) for f in files]) for _ in range(3))
    with ThreadPoolExecutor(workers) as threads:
        list(threads.map(task, files[:workers]))
        thread = min(timed(lambda: list(threads.map(task, files))) for _ in range(3))
        thread_cores = cores_used(lambda: list(threads.map(task, files)))
    list(pool.map(task, files[: workers * 2]))
    process = min(
        timed(lambda: list(pool.map(task, files, chunksize=max(1, len(files) // (workers * 4)))))
        for _ in range(2)
    )
    return {
        "serial_s": serial,
        "threads_s": thread,
        "processes_s": process,
        "threads_cores_used": thread_cores,
        "gil_free": gil_free(task, files[: max(4, len(files) // 3)]),
    }


def bench_nv_cpu(files: list[bytes], workers: int, pool: ProcessPoolExecutor) -> dict:
    from functools import partial

    frames = [split_frame(f) for f in files]
    probe = nv_cpu_decode_batch(frames[:1], 1)
    if probe[0] is None:
        return {"error": "nvImageCodec's CPU backend cannot decode these frames"}
    chunks = [frames[i::workers] for i in range(workers)]
    one = partial(nv_cpu_decode_batch, threads=1)
    serial = min(timed(lambda: one(frames)) for _ in range(3))
    nv_cpu_decode_batch(frames[:2], 0)
    own_pool = min(timed(lambda: nv_cpu_decode_batch(frames, 0)) for _ in range(3))
    with ThreadPoolExecutor(workers) as threads:
        list(threads.map(one, [c[:1] for c in chunks]))
        thread = min(timed(lambda: list(threads.map(one, chunks))) for _ in range(3))
        thread_cores = cores_used(lambda: list(threads.map(one, chunks)))
    list(pool.map(one, [c[:1] for c in chunks]))
    process = min(timed(lambda: list(pool.map(one, chunks))) for _ in range(3))
    return {
        "serial_s": serial,
        "threads_s": thread,
        "processes_s": process,
        "own_pool_s": own_pool,
        "threads_cores_used": thread_cores,
        # one batch call, as the CPU mode makes it: per-frame calls would measure Python's share
        "gil_free": gil_free(one, [frames[: max(4, len(frames) // 3)]]),
    }


CODECS = [  # (syntax, label, pydicom plugin or NV_CPU)
    ("j2k", "pydicom + pylibjpeg-openjpeg", "pylibjpeg"),
    ("j2k", "pydicom + python-gdcm", "gdcm"),
    ("j2k", NV_CPU, NV_CPU),
    ("htj2k", "pydicom + pylibjpeg-openjpeg", "pylibjpeg"),
    ("htj2k", NV_CPU, NV_CPU),
    ("jpeg-ls", "pydicom + pylibjpeg-libjpeg", "pylibjpeg"),
    ("jpeg-ls", "pydicom + python-gdcm", "gdcm"),
    ("jpeg-lossless", "pydicom + pylibjpeg-libjpeg", "pylibjpeg"),
    ("jpeg-lossless", "pydicom + python-gdcm", "gdcm"),
    ("jpeg-lossless", NV_CPU, NV_CPU),
    ("rle", "pydicom + pylibjpeg-rle", "pylibjpeg"),
    ("rle", "pydicom (NumPy RLE)", "pydicom"),
]


def route(row: dict) -> str:
    """Threads where the codec lets go of the GIL, processes where it holds it: decided by the GIL
    probe, not by the speedups, which a shared machine with few cores makes noisy."""
    return "threads" if row["gil_free"] >= GIL_FREE else "processes"


# -- exactness -----------------------------------------------------------------------------------
def exactness_cases() -> list[tuple[str, np.ndarray, dict]]:
    rng = np.random.default_rng(1)
    ct = phantom(1)[0]
    rgb = np.stack(
        [ct[::2, ::2] >> 4, (ct[::2, ::2] >> 3) & 255, rng.integers(0, 256, (256, 256))], -1
    ).astype(np.uint8)
    return [
        ("unsigned 16-bit (12 stored)", ct, {"bits_stored": 12}),
        (
            "unsigned 16-bit (16 stored)",
            (ct.astype(np.uint32) * 13 % 65536).astype(np.uint16),
            {"bits_stored": 16},
        ),
        ("signed 16-bit", (ct.astype(np.int32) - 1024).astype(np.int16), {"bits_stored": 16}),
        ("8-bit", (ct >> 4).astype(np.uint8), {"bits_stored": 8}),
        ("colour RGB 8-bit (RCT)", rgb, {"bits_stored": 8, "photometric_interpretation": 1}),
    ]


def encode_case(array: np.ndarray, options: dict, ht: bool) -> bytes:
    if not ht:
        import openjpeg

        return bytes(openjpeg.encode(array, **options))
    from nvidia import nvimgcodec as nv

    params = nv.EncodeParams(
        quality_type=nv.QualityType.LOSSLESS,
        jpeg2k_encode_params=nv.Jpeg2kEncodeParams(
            bitstream_type=nv.Jpeg2kBitstreamType.J2K, ht=True
        ),
    )
    image = array if array.ndim == 3 else array[..., None]
    stream = nv.Encoder().encode([np.ascontiguousarray(image)], "jpeg2k", params=params)[0]
    if stream is None:
        raise RuntimeError("nvImageCodec cannot encode this array as HTJ2K")
    return bytes(memoryview(stream)[: stream.size])


def pydicom_reference(frame: bytes, array: np.ndarray, ht: bool) -> np.ndarray:
    """What pydicom gives for the frame, wrapped in a minimal dataset."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import HTJ2KLossless, JPEG2000Lossless

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = HTJ2KLossless if ht else JPEG2000Lossless
    ds.Rows, ds.Columns = array.shape[:2]
    ds.SamplesPerPixel = 3 if array.ndim == 3 else 1
    ds.PhotometricInterpretation = "YBR_RCT" if array.ndim == 3 else "MONOCHROME2"
    if array.ndim == 3:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = array.dtype.itemsize * 8
    ds.BitsStored = ds.BitsAllocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = int(array.dtype.kind == "i")
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ds.pixel_array


def exactness() -> list[dict]:
    rows = []
    can_ht = gpu_encoder_reason() is None
    for syntax, ht in (("j2k", False), ("htj2k", True)):
        for label, array, options in exactness_cases():
            row: dict = {"syntax": syntax, "case": label, "dtype": str(array.dtype)}
            if ht and not can_ht:
                row["skipped"] = "no HTJ2K encoder without a GPU"
                rows.append(row)
                continue
            try:
                frame = encode_case(array, options, ht)
                ref = pydicom_reference(frame, array, ht)
                got = nv_cpu_decode_batch([frame], 1)[0]
            except Exception as exc:
                row["error"] = f"{type(exc).__name__}: {str(exc)[:120]}"
                rows.append(row)
                continue
            row["pydicom_equals_original"] = bool(np.array_equal(ref, array))
            if got is None:
                row["nv_cpu"] = "cannot decode"
            else:
                got = got.reshape(array.shape)
                row["nv_cpu_dtype"] = str(got.dtype)
                row["nv_cpu_equals_pydicom"] = (
                    bool(np.array_equal(got, ref)) and got.dtype == ref.dtype
                )
                same_bits = got.view(ref.dtype) if got.dtype.itemsize == ref.dtype.itemsize else got
                row["nv_cpu_equals_pydicom_reinterpreted"] = bool(np.array_equal(same_bits, ref))
                row["nv_cpu_max_abs_diff"] = float(
                    np.abs(got.astype(np.int64) - ref.astype(np.int64)).max()
                )
            rows.append(row)
    return rows


# -- run -----------------------------------------------------------------------------------------
def render(results: dict) -> str:
    m = results["machine"]
    w = results["workers"]
    lines = [
        f"# CPU codecs: GIL, threads, processes ({m['gpu'] or 'no GPU'}, {m['cpu_count']} cores, {m['date']})",
        "",
        (
            f"{results['frames']} single-frame 512x512 CT files (16-bit, 12 stored), in memory; speedups over the "
            f"serial loop with {w} workers (best of 3); releases GIL: a Python counter's rate while another "
            "thread decodes, over its rate alone (switch interval 0.1 ms), yes from 0.4; cores: "
            "CPU time / wall time of the threaded run."
        ),
        "",
    ]
    body = []
    exact = {}
    for e in results["exactness"]:
        if "nv_cpu_equals_pydicom" in e:
            exact.setdefault(e["syntax"], []).append(e["nv_cpu_equals_pydicom"])
    for r in results["codecs"]:
        if "serial_s" not in r:
            body.append(
                [
                    r["syntax"],
                    r["codec"],
                    None,
                    None,
                    None,
                    None,
                    None,
                    r.get("error") or r.get("skipped"),
                ]
            )
            continue
        n = results["frames"]
        free = "yes" if r["gil_free"] >= GIL_FREE else "no"
        note = ""
        if r["codec"] == NV_CPU:
            note = f"own pool (all cores): {r['serial_s'] / r['own_pool_s']:.2f}x"
            if r["syntax"] in exact:
                note += "; exact vs pydicom: " + (
                    "yes" if all(exact[r["syntax"]]) else "NO (see exactness)"
                )
        body.append(
            [
                r["syntax"],
                r["codec"],
                f"{r['serial_s'] / n * 1000:.1f}",
                f"{free} ({r['gil_free']:.2f}; threads used {r.get('threads_cores_used', 0):.1f} cores)",
                f"{r['serial_s'] / r['threads_s']:.2f}x",
                f"{r['serial_s'] / r['processes_s']:.2f}x",
                route(r),
                note,
            ]
        )
    lines.append(
        markdown_table(
            [
                "syntax",
                "codec",
                "serial ms/frame",
                "releases GIL",
                "threads",
                "processes",
                "route",
                "notes",
            ],
            body,
        )
    )
    lines += ["", "## Exactness of nvImageCodec's CPU backend against pydicom", ""]
    lines.append(
        markdown_table(
            [
                "syntax",
                "case",
                "pydicom == original",
                "nv dtype",
                "nv == pydicom",
                "same bits",
                "max diff",
                "note",
            ],
            [
                [
                    e["syntax"],
                    e["case"],
                    e.get("pydicom_equals_original"),
                    e.get("nv_cpu_dtype"),
                    e.get("nv_cpu_equals_pydicom"),
                    e.get("nv_cpu_equals_pydicom_reinterpreted"),
                    e.get("nv_cpu_max_abs_diff"),
                    e.get("skipped") or e.get("error") or e.get("nv_cpu"),
                ]
                for e in results["exactness"]
            ],
        )
    )
    for syntax, reason in results["missing"].items():
        lines.append(f"- no {syntax} inputs: {reason}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument(
        "--workers", type=int, default=None, help="default: 2, or the cores when fewer"
    )
    parser.add_argument(
        "--codecs", default="", help="only syntaxes containing these words (comma-separated)"
    )
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    os.environ.setdefault("PYNVIMGCODEC_VERBOSITY", "1")
    workers = args.workers or min(2, os.cpu_count() or 1)
    files, missing = make_inputs(args.frames)
    m = machine()
    results: dict = {
        "benchmark": "cpu_parallel",
        "machine": m,
        "frames": args.frames,
        "workers": workers,
        "missing": missing,
        "codecs": [],
        "exactness": [],
    }
    out = Path(args.out)
    stem = f"{m['date']}-{m['card']}-cpu-parallel"
    wanted = [w for w in args.codecs.split(",") if w]
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        list(pool.map(_warm, range(workers)))
        for syntax, label, plugin in CODECS:
            if wanted and not any(w in f"{syntax} {label}" for w in wanted):
                continue
            row: dict = {"syntax": syntax, "codec": label}
            if syntax not in files:
                row["skipped"] = missing.get(syntax, "no inputs")
            else:
                try:
                    row.update(
                        bench_nv_cpu(files[syntax], workers, pool)
                        if plugin == NV_CPU
                        else bench_pydicom(plugin, files[syntax], workers, pool)
                    )
                except Exception as exc:
                    row["error"] = f"{type(exc).__name__}: {str(exc)[:150]}"
            if "serial_s" in row:
                row["best"] = route(row)
            results["codecs"].append(row)
            print(
                f"{syntax:14s} {label:30s} "
                + " ".join(f"{k}={v:.3f}" for k, v in row.items() if isinstance(v, float))
                + (f" {row.get('error', '')}"),
                flush=True,
            )
            write_json(out / f"{stem}.json", results)
    results["exactness"] = exactness()
    write_json(out / f"{stem}.json", results)
    text = render(results)
    (out / f"{stem}.md").write_text(text)
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
