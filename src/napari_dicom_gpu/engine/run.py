"""Execute the plans of one decode: batches per codec, fallbacks, corrections, values, record.

Knows the codecs only through their plans' chains: a frame that fails goes to the next codec of
its source's chain, and one that no codec decodes is black and listed in the record.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import quiet
from .backends import FrameFailure, native, nvimgcodec, processes, pydicom_cpu
from .backends.routing import is_high_bit_lossless_jpeg
from .conform import conform_in_place
from .errors import DicomDecodeError
from .layout import PixelLayout
from .modes import Mode
from .plan import FRAME_CODECS, plan_sources
from .record import DecodeRecord, FrameEvent
from .result import DecodeCancelled, DecodeResult
from .source import Source
from .values import _xp, apply_rescale

#: threads decoding files with pydicom's codecs on the CPU. One: OpenJPEG and libjpeg hold the
#: GIL (benchmarks/cpu_parallel.py), and 16 threads made a 300-file J2K series 4x slower on an
#: H200 machine (2026-11-28). ``NAPARI_DICOM_GPU_CPU_THREADS`` overrides, for codecs that do not.
CPU_WORKERS = int(os.environ.get("NAPARI_DICOM_GPU_CPU_THREADS", "1") or 1)

HOST_PATHS = ("direct-pinned", "direct-pageable", "staged-pinned", "staged-pageable")


def host_path() -> str:
    """How GPU decodes reach host memory (``NAPARI_DICOM_GPU_HOST_PATH`` overrides).

    ``direct``: nvImageCodec writes each frame straight into the host volume; ``staged``: into one
    CUDA volume, then one copy. ``pinned`` page-locks the host volume (CuPy's pinned pool), which
    makes the transfer several times faster. Without CuPy only ``direct-pageable`` is possible.
    Measured in benchmarks/host_paths.py.
    """
    wanted = os.environ.get("NAPARI_DICOM_GPU_HOST_PATH", DEFAULT_HOST_PATH)
    if wanted not in HOST_PATHS:
        wanted = DEFAULT_HOST_PATH
    try:
        import cupy  # noqa: F401
    except Exception:
        return "direct-pageable"
    return wanted


DEFAULT_HOST_PATH = "staged-pinned"
#: share of the GPU memory free at the start of a decode that one decode may use
#: (``NAPARI_DICOM_GPU_MEMORY_FRACTION`` overrides)
DEFAULT_GPU_MEMORY_FRACTION = 0.5


def gpu_memory_budget() -> int:
    """Bytes of GPU memory one decode may hold at once: a share of what is free now."""
    try:
        fraction = float(os.environ.get("NAPARI_DICOM_GPU_MEMORY_FRACTION", DEFAULT_GPU_MEMORY_FRACTION))
    except ValueError:
        fraction = DEFAULT_GPU_MEMORY_FRACTION
    fraction = min(max(fraction, 0.01), 0.95)
    try:
        import cupy

        free, _total = cupy.cuda.runtime.memGetInfo()
    except Exception:
        return 1 << 30  # without CuPy nothing is staged; batches of about 1 GiB
    return int(free * fraction)


def _host_empty(shape, dtype, pinned: bool) -> np.ndarray:
    if pinned:
        try:
            import cupyx

            return cupyx.empty_pinned(shape, dtype)
        except Exception:
            pass
    return np.empty(shape, dtype)


class Run:
    """One decode: routing, batches per codec, fallbacks, corrections and the record."""

    def __init__(self, sources, mode, device, timer, progress, cancel) -> None:
        self.sources: list[Source] = sources
        self.layout: PixelLayout = sources[0].layout
        self.mode, self.device, self.timer = Mode(mode), device, timer
        self.progress, self.cancel = progress, cancel
        self.bases = np.cumsum([0] + [s.layout.number_of_frames for s in sources]).tolist()
        self.total = self.bases[-1]
        self.slot_owner = [i for i, s in enumerate(sources) for _ in range(s.layout.number_of_frames)]
        self.codec_of_slot: dict[int, str] = {}
        self.fallbacks: list[FrameEvent] = []
        self.errors: list[FrameEvent] = []
        self.routed: list[dict] = []  # files the GPU mode sent to the CPU, and why
        self.host_path: str | None = None  # how GPU output reached the host, when it did
        self.rescale = None  # (slopes, intercepts) to apply, from values.rescale_of
        self.gpu_budget = 1 << 30
        self.values_applied = False
        self.done = 0

    # -- helpers -------------------------------------------------------------------------------
    def _source_index(self, slot: int) -> int:
        return self.slot_owner[slot]

    def _where(self, slot: int) -> tuple[Source, int]:
        index = self._source_index(slot)
        return self.sources[index], slot - self.bases[index]

    def _tick(self, frames: int) -> None:
        self.done += frames
        if self.progress:
            self.progress(self.done, self.total)
        if self.cancel and self.cancel():
            raise DecodeCancelled("decoding was cancelled")

    def _allocate(self, on_gpu: bool, pinned: bool = False):
        shape = (self.total, *self.layout.frame_shape)
        if on_gpu:
            import cupy

            # CuPy has no big-endian arrays; the values are the same in native order.
            return cupy.empty(shape, self.layout.dtype.newbyteorder("="))
        return _host_empty(shape, self.layout.dtype, pinned)

    # -- routing -------------------------------------------------------------------------------
    def _plan(self) -> dict[tuple[str, str], list[int]]:
        """Slots per (primary codec, colour spec), from each source's plan; broken frames go
        straight to the fallback chain."""
        batches: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.pending: list[FrameFailure] = []
        self.plans = plan_sources(self.sources, self.mode)
        for plan in self.plans:
            source, n = plan.source, plan.source.layout.number_of_frames
            self.routed += [{"file": source.name, "reason": why} for why in plan.routed]
            colour = plan.colour if plan.primary in FRAME_CODECS else ""
            for frame in range(n):
                slot = plan.base + frame
                if plan.primary in FRAME_CODECS and frame in source.broken_frames:
                    self.pending.append(FrameFailure(slot, source.broken_frames[frame]))
                    self.codec_of_slot[slot] = "none"
                else:
                    batches[(plan.primary, colour)].append(slot)
        return batches

    # -- codecs --------------------------------------------------------------------------------
    def _decode_nvimgcodec(self, codec: str, colour: str, slots: list[int], out) -> list[FrameFailure]:
        _, init = nvimgcodec.decoder(codec)
        if init:
            self.timer.add("init", init)
        failures: list[FrameFailure] = []
        chunk = len(slots) if self.progress is None else max(16, len(slots) // 10)
        if codec == nvimgcodec.GPU:
            # A batch's decoded frames must fit the GPU memory budget (nvImageCodec holds them).
            chunk = min(chunk, max(1, self.gpu_budget // (2 * self.layout.frame_nbytes)))
        for start in range(0, len(slots), chunk):
            part = slots[start : start + chunk]
            frames = [self._where(s) for s in part]
            shape = (self.layout.rows, self.layout.columns, self.layout.samples_per_pixel)
            parsed = nvimgcodec.code_streams([src.encoded[f] for src, f in frames], shape)
            for slot, stream in zip(part, parsed, strict=True):
                if stream is None:
                    failures.append(FrameFailure(slot, "nvImageCodec cannot read the frame's codestream, or it is not the size the header says"))
                    self.codec_of_slot[slot] = codec
            part = [slot for slot, stream in zip(part, parsed, strict=True) if stream is not None]
            streams = [stream for stream in parsed if stream is not None]
            if not streams:
                self._tick(len(frames))
                continue
            codec_dtype = np.dtype(streams[0].dtype)
            on_gpu = hasattr(out, "__cuda_array_interface__")
            # Write straight into the volume when the codec's sample type has the volume's size
            # and lives on the same device; otherwise decode into scratch and convert.
            same_size = codec_dtype.itemsize == self.layout.dtype.itemsize and (on_gpu == (codec == nvimgcodec.GPU))
            channels = self.layout.samples_per_pixel
            with self.timer.stage("decode"):
                if same_size:
                    view = out.view(codec_dtype).reshape((self.total, self.layout.rows, self.layout.columns, channels))
                    targets = nvimgcodec.cuda_frames(view, part) if on_gpu else [view[s] for s in part]
                else:
                    xp = _xp(out) if codec == nvimgcodec.GPU else np
                    scratch = xp.empty((len(part), self.layout.rows, self.layout.columns, channels), codec_dtype)
                    targets = [scratch[i] for i in range(len(part))]
                bad = nvimgcodec.decode_into(codec, streams, targets, colour)
                nvimgcodec.synchronize(out)
                if not same_size:
                    for i, slot in enumerate(part):
                        frame = scratch[i].reshape(self.layout.frame_shape)
                        out[slot] = _upload(frame) if on_gpu and codec != nvimgcodec.GPU else frame.astype(out.dtype)
            bad_local = {f.slot for f in bad}
            failures += [FrameFailure(part[f.slot], f.reason) for f in bad]
            if codec == nvimgcodec.GPU:
                failures += self._zero_guard(part, bad_local, out)
            for slot in part:
                self.codec_of_slot[slot] = codec
            self._tick(len(frames))
        return failures

    def _zero_guard(self, part, skip, out) -> list[FrameFailure]:
        """Re-decode all-zero frames of 9-15-bit lossless JPEG elsewhere (nvImageCodec #50)."""
        source, _ = self._where(part[0])
        if not is_high_bit_lossless_jpeg(source.layout, source.encoded[0]):
            return []
        return [
            FrameFailure(slot, "all-zero output for 9-15-bit lossless JPEG (nvImageCodec #50 guard)")
            for i, slot in enumerate(part)
            if i not in skip and not bool(out[slot].any())
        ]

    def _decode_pydicom(self, slots: list[int], out) -> list[FrameFailure]:
        """pydicom's decoders, one source per task; several sources decode on threads (the
        codecs release the GIL while they work), results are gathered in order."""
        by_source: dict[int, list[int]] = defaultdict(list)
        for slot in slots:
            by_source[self._source_index(slot)].append(slot)
        on_gpu = hasattr(out, "__cuda_array_interface__")

        def decode_one(item: tuple[int, list[int]]) -> list[FrameFailure]:
            index, group = item
            source, base = self.sources[index], self.bases[index]
            frames = [s - base for s in group]
            if not on_gpu:
                return pydicom_cpu.decode_source(source, out, group, frames)
            host = np.zeros((len(group), *self.layout.frame_shape), self.layout.dtype)
            bad = pydicom_cpu.decode_source(source, host, list(range(len(group))), frames)
            for i, slot in enumerate(group):
                out[slot] = _upload(host[i])
            return [FrameFailure(group[f.slot], f.reason) for f in bad]

        failures: list[FrameFailure] = []
        items = list(by_source.items())
        # hook: worker processes on every core, where the codec holds the GIL (backends/processes.py)
        in_processes = not on_gpu and self.mode != Mode.PYDICOM and processes.worth_it(self.sources, items)
        pool = None
        if not in_processes and len(items) >= 4 and CPU_WORKERS > 1:
            pool = ThreadPoolExecutor(CPU_WORKERS, "dicom-decode")
        done = None
        try:
            with self.timer.stage("decode"):
                if in_processes:
                    done = processes.decode(self.sources, self.bases, items, out, decode_one, self.cancel)
                else:
                    done = zip(items, pool.map(decode_one, items) if pool else map(decode_one, items), strict=True)
                for (_, group), bad in done:  # in the order items complete
                    failures += bad
                    for slot in group:
                        self.codec_of_slot[slot] = pydicom_cpu.NAME
                    self._tick(len(group))
        finally:
            if in_processes and done is not None:
                done.close()  # a cancel mid-way stops the workers' part now, not when collected
            if pool:
                pool.shutdown(wait=True, cancel_futures=True)
        return failures

    def _decode_native(self, slots: list[int], out) -> None:
        by_source: dict[int, list[int]] = defaultdict(list)
        for slot in slots:
            by_source[self._source_index(slot)].append(slot)
        with self.timer.stage("decode"):
            for index, group in by_source.items():
                native.decode_source(self.sources[index], out, group)
                for slot in group:
                    self.codec_of_slot[slot] = native.NAME
        self._tick(len(slots))

    # -- the run -------------------------------------------------------------------------------
    def execute(self) -> DecodeResult:
        with quiet.captured() as messages:
            result = self._execute()
        result.record.messages = messages
        return result

    def _execute(self) -> DecodeResult:
        plan = self._plan()
        if len(self.sources) == 1 and list(plan) == [(pydicom_cpu.NAME, "")] and self.device == "host":
            # One file for pydicom alone: its array is the result, without a copy into a volume.
            with self.timer.stage("decode"):
                whole = pydicom_cpu.decode_whole(self.sources[0])
            if whole is not None:
                self.codec_of_slot = dict.fromkeys(range(self.total), pydicom_cpu.NAME)
                self._tick(self.total)
                return self._finish(self._values(whole))
        uses_gpu = any(codec == nvimgcodec.GPU for codec, _ in plan)
        # Host results of GPU decodes go through one CUDA volume and one copy when CuPy is here
        # and the volume (twice, for the value conversion) fits the GPU memory budget.
        self.gpu_budget = gpu_memory_budget() if uses_gpu else 0
        path = host_path() if self.device == "host" and uses_gpu else "direct-pageable"
        if path.startswith("staged") and 2 * self.total * self.layout.frame_nbytes > self.gpu_budget:
            path = "direct-" + path.split("-")[1]
        staged = path.startswith("staged")
        pinned = path.endswith("pinned")
        out = self._allocate(on_gpu=self.device == "cuda" or staged, pinned=pinned and not staged)
        self.host_path = path if uses_gpu and self.device == "host" else None
        failures: list[tuple[str, FrameFailure]] = [("none", f) for f in self.pending]
        for (codec, colour), slots in plan.items():
            if codec == native.NAME:
                self._decode_native(slots, out)
            elif codec == pydicom_cpu.NAME:
                failures += [(codec, f) for f in self._decode_pydicom(slots, out)]
            else:
                failures += [(codec, f) for f in self._decode_nvimgcodec(codec, colour, slots, out)]
        self._conform(out)
        self._retry(failures, out)
        out = self._values(out)
        if staged:
            with self.timer.stage("to_host"):
                host = _host_empty(out.shape, out.dtype, pinned)
                out.get(out=host)
                wanted = out.dtype if self.values_applied else self.layout.dtype
                out = host.astype(wanted, copy=False)
        return self._finish(out)

    def _values(self, out):
        """The modality rescale, where the engine applies it (on the GPU before the copy)."""
        if self.rescale is None:
            return out
        with self.timer.stage("values"):
            out = apply_rescale(out, *self.rescale)
        self.values_applied = True
        return out

    def _conform(self, out) -> None:
        with self.timer.stage("decode"):
            for plan in self.plans:
                if plan.primary not in FRAME_CODECS:
                    continue  # decoded by pydicom or copied natively: already conformed
                block = out[plan.base : plan.base + plan.source.layout.number_of_frames]
                conform_in_place(block, plan.source.layout, plan.info)

    def _retry(self, failures: list[tuple[str, FrameFailure]], out) -> None:
        while failures:
            codec, failure = failures.pop(0)
            slot = failure.slot
            source, frame = self._where(slot)
            plan = self.plans[self._source_index(slot)]
            nxt = plan.after(codec)
            if codec == "none" or nxt is None:
                self.errors.append(FrameEvent(slot, source.name, failure.reason, codec))
                self.codec_of_slot[slot] = "none"
                out[slot] = 0  # a frame nothing could decode shows black, never stale memory
                continue
            self.fallbacks.append(FrameEvent(slot, source.name, failure.reason, codec, nxt))
            if nxt == pydicom_cpu.NAME:
                failures += [(nxt, f) for f in self._decode_pydicom([slot], out)]
            else:
                again = self._decode_nvimgcodec(nxt, plan.colour, [slot], out)
                if not again:
                    conform_in_place(out[slot : slot + 1], source.layout, plan.info)
                failures += [(nxt, f) for f in again]

    def _finish(self, out) -> DecodeResult:
        if len(self.errors) == self.total:
            first = self.errors[0]
            raise DicomDecodeError(self.sources[0].path, f"no frame could be decoded: {first.reason}")
        seconds = dict(self.timer.seconds)
        for stage in ("read", "init", "decode", "to_host"):
            seconds.setdefault(stage, 0.0)
        seconds["total"] = self.timer.total()
        counts = Counter(self.codec_of_slot.values())
        record = DecodeRecord(
            backend=self.mode.value,
            device=self.device,
            codecs=dict(counts),
            transfer_syntax=self.layout.transfer_syntax.name,
            transfer_syntax_uid=str(self.layout.transfer_syntax),
            photometric_interpretation=self.layout.photometric_interpretation,
            frames=self.total,
            files=len(self.sources),
            megabytes=round(out.nbytes / 1e6, 3),
            fallbacks=self.fallbacks,
            errors=self.errors,
            cpu_routed=self.routed,
            host_path=self.host_path,
            seconds=seconds,
        )
        if nvimgcodec.GPU in counts:
            record.gpu = nvimgcodec.availability(nvimgcodec.GPU).details.get("gpu", "GPU")
        for source in self.sources:
            source.release()  # the encoded bytes are done with; the dataset can be read again
        return DecodeResult(out, record, self.sources, self.values_applied)


def _upload(frame: np.ndarray):
    import cupy

    return cupy.asarray(frame.astype(frame.dtype.newbyteorder("="), copy=False))
