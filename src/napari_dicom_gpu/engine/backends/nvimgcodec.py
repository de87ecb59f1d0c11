"""nvImageCodec backends: one batch per file or series, on the GPU or on the CPU.

``nvidia.nvimgcodec`` is imported lazily: importing this module never needs a GPU, a driver or
even nvImageCodec. Decoders are created once per process and device and shared by every thread
(a load in the dock widget's fresh worker thread costs what a load in the main thread costs); a
lock per decoder serialises its calls. The time the first one takes is the "init" stage.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from functools import cache
from importlib import resources

import numpy as np

from .. import quiet
from .base import Availability, FrameFailure

GPU = "nvimgcodec-gpu"
CPU = "nvimgcodec-cpu"

_decoders: dict[str, object] = {}
_create_lock = threading.Lock()
#: one lock per decoder: nvImageCodec does not promise that one decoder serves two threads at once
decode_locks: dict[str, threading.Lock] = {}


def _module():
    os.environ.setdefault("PYNVIMGCODEC_VERBOSITY", "1")  # keep errors, drop per-frame warnings
    with quiet.captured():  # nvTIFF and other extension load errors are printed at import
        from nvidia import nvimgcodec

    return nvimgcodec


#: GPU backend kinds to ask nvImageCodec for, in order; "default" lets it choose (measured in
#: benchmarks/gpu_backend_variants.py). Override with NAPARI_DICOM_GPU_NV_BACKENDS=A,B.
DEFAULT_GPU_BACKENDS = "default"


def gpu_backend_kinds() -> list[str]:
    value = os.environ.get("NAPARI_DICOM_GPU_NV_BACKENDS", DEFAULT_GPU_BACKENDS)
    return [] if value in ("", "default") else [v.strip() for v in value.split(",") if v.strip()]


def _create_decoder(name: str):
    nv = _module()
    if name == GPU:
        kinds = gpu_backend_kinds()
        if not kinds:
            return nv.Decoder()
        return nv.Decoder(backends=[nv.Backend(getattr(nv.BackendKind, kind)) for kind in kinds])
    return nv.Decoder(device_id=nv.NVIMGCODEC_DEVICE_CPU_ONLY, backends=[nv.Backend(nv.CPU_ONLY)])


def decoder(name: str) -> tuple[object, float]:
    """The process's decoder for ``name`` and the seconds this call spent on its start-up: creating
    it, or waiting while another thread (the dock widget's GPU check) creates it; 0 if ready."""
    found = _decoders.get(name)
    if found is not None:
        return found, 0.0
    start = time.perf_counter()
    with _create_lock:
        if name in _decoders:
            return _decoders[name], time.perf_counter() - start
        with quiet.captured():
            _decoders[name] = _create_decoder(name)
        decode_locks.setdefault(name, threading.Lock())
        return _decoders[name], time.perf_counter() - start


@cache
def availability(name: str) -> Availability:
    """Whether nvImageCodec can decode here on ``name``'s device; the reason if not."""
    try:
        nv = _module()
    except ImportError:
        return Availability(False, "nvImageCodec is not installed (pip install nvidia-nvimgcodec-cu12)")
    except Exception as exc:
        return Availability(False, f"nvImageCodec failed to load ({exc})")
    try:
        decoder(name)
    except Exception as exc:
        text = str(exc)
        if "#35" in text or "driver" in text.lower():
            reason = "no CUDA driver: this machine has no usable NVIDIA GPU"
        elif "#100" in text or "no CUDA-capable device" in text:
            reason = "no CUDA-capable GPU was found"
        else:
            reason = f"nvImageCodec could not start a decoder ({text.strip()[:160]})"
        return Availability(False, reason)
    details = {"nvimgcodec": getattr(nv, "__version__", "?")}
    if name == GPU:
        details.update(gpu_properties())
    return Availability(True, details=details)


@cache
def gpu_properties() -> dict:
    """Name and memory of GPU 0, from CuPy if present, else ``nvidia-smi`` (asked once)."""
    try:
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"]
        return {
            "gpu": name.decode() if isinstance(name, bytes) else str(name),
            "memory_gib": round(props["totalGlobalMem"] / 2**30, 1),
        }
    except Exception:
        pass
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            line = subprocess.run(
                [smi, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                capture_output=True, text=True, timeout=5, check=True,
            ).stdout.splitlines()[0]
            name, mem = (part.strip() for part in line.split(","))
            return {"gpu": name, "memory_gib": round(float(mem) / 1024, 1)}
        except Exception:
            pass
    return {"gpu": "CUDA GPU"}


def _params(colour: str):
    nv = _module()
    return nv.DecodeParams(allow_any_depth=True, color_spec=getattr(nv.ColorSpec, colour))


def code_streams(encoded: list[bytes], shape: tuple[int, int, int] | None = None) -> list:
    """Parsed code streams; ``None`` where nvImageCodec cannot read a frame's header, or where
    the frame is not ``shape`` (rows, columns, samples) as the DICOM header says it must be."""
    nv = _module()
    streams = []
    for frame in encoded:
        try:
            stream = nv.CodeStream(frame)
            _ = stream.dtype  # parses the header: fails here for a damaged frame
            if shape is not None and (stream.height, stream.width, stream.num_channels) != shape:
                stream = None
            streams.append(stream)
        except Exception:
            streams.append(None)
    return streams


class CudaFrame:
    """One frame of a C-contiguous CUDA volume, exposed by pointer.

    nvImageCodec only needs ``__cuda_array_interface__``; building it directly costs a fraction
    of a CuPy slice per frame, which matters for batches of small frames.
    """

    __slots__ = ("__cuda_array_interface__", "_volume", "_index")

    def __init__(self, interface: dict, volume, index: int) -> None:
        self.__cuda_array_interface__ = interface
        self._volume, self._index = volume, index

    @property
    def array(self):
        return self._volume[self._index]


def cuda_frames(volume, indices: list[int]) -> list[CudaFrame]:
    """Frame views of a C-contiguous CUDA ``volume`` (frames first) for ``indices``."""
    base = volume.__cuda_array_interface__
    pointer, step = base["data"][0], volume.strides[0]
    shape, typestr = tuple(base["shape"][1:]), base["typestr"]
    return [
        CudaFrame(
            {"shape": shape, "typestr": typestr, "data": (pointer + i * step, False), "strides": None, "version": 3},
            volume,
            i,
        )
        for i in indices
    ]


def _writable(target):
    return target.array if isinstance(target, CudaFrame) else target


def decode_into(name: str, streams: list, targets: list, colour: str) -> list[FrameFailure]:
    """Decode ``streams`` in one batch straight into ``targets`` (each H x W x C, host or CUDA).

    Returns the frames nvImageCodec could not decode (``None`` results), by batch index.
    """
    nv = _module()
    dec, _ = decoder(name)
    params = _params(colour)
    cuda = hasattr(targets[0], "__cuda_array_interface__")
    targets = list(targets)
    lock = decode_locks[name]
    try:
        with lock:
            results = list(dec.decode(streams, images=[nv.as_image(t) for t in targets], params=params))
    except Exception:
        results = [None] * len(streams)
    missing = [i for i, image in enumerate(results) if image is None]
    if missing:
        # A codec may refuse to write into external buffers: let nvImageCodec allocate, then copy.
        try:
            with lock:
                again = list(dec.decode([streams[i] for i in missing], params=params))
        except Exception:
            again = [None] * len(missing)
        for i, image in zip(missing, again, strict=True):
            if image is None:
                continue
            target = _writable(targets[i])
            try:
                target[...] = _as_array(image, cuda).reshape(target.shape)
                results[i] = image
            except Exception:
                pass  # decoded to another size than the header says: a failed frame
    return [
        FrameFailure(i, f"nvImageCodec ({'GPU' if name == GPU else 'CPU'}) could not decode it")
        for i, image in enumerate(results)
        if image is None
    ]


def _as_array(image, cuda: bool):
    if cuda:
        import cupy

        return cupy.asarray(image.cuda())
    return np.asarray(image.cpu())


def synchronize(out) -> None:
    """Wait for GPU work writing ``out`` (a no-op for host arrays written synchronously)."""
    if hasattr(out, "__cuda_array_interface__"):
        synchronize_device()


def synchronize_device() -> None:
    """Wait for all work on the current CUDA device, through CuPy or PyTorch if present."""
    try:
        import cupy

        cupy.cuda.runtime.deviceSynchronize()
        return
    except ImportError:
        pass
    try:
        import torch

        torch.cuda.synchronize()
    except ImportError:
        pass


@cache
def high_bit_lossless_jpeg_is_safe(name: str) -> bool:
    """Prove, once per process, that 9-15-bit lossless JPEG decodes right on ``name``.

    Older nvJPEG returns silent all-zero images for such data (nvImageCodec issue #50). The probe
    is a 12-bit precision 48x32 lossless JPEG whose exact values are known (written by
    ``scripts/make_lossless_probe.py``).
    """
    try:
        frame = resources.files(__package__.rsplit(".", 1)[0]).joinpath(
            "data/lossless12_probe.jpg"
        ).read_bytes()
        out = np.zeros((1, 32, 48, 1), np.uint16)
        failures = decode_into(name, code_streams([frame]), [out[0]], "UNCHANGED")
        return not failures and np.array_equal(out[0, :, :, 0], probe_expected())
    except Exception:
        return False


def probe_expected() -> np.ndarray:
    y, x = np.mgrid[0:32, 0:48]
    return ((x * 85 + y * 37 + (x * y) % 97) % 4096).astype(np.uint16)
