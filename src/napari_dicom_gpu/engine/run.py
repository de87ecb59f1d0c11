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
from . import source as source_module
from .backends import FrameFailure, native, nvimgcodec, processes, pydicom_cpu
from .backends.routing import is_high_bit_lossless_jpeg
from .conform import conform_in_place
from .errors import DicomDecodeError
from .layout import PixelLayout
from .modes import Mode
from .plan import FRAME_CODECS, SourcePlan, plan_source
from .record import DecodeRecord, FrameEvent
from .result import DecodeCancelled, DecodeResult
from .source import Source
from .values import _xp, apply_rescale

#: threads decoding files with pydicom's codecs on the CPU. One: OpenJPEG and libjpeg hold the
#: GIL (benchmarks/cpu_parallel.py), and 16 threads made a 300-file J2K series 4x slower on an
#: H200 machine (2026-11-28). ``NAPARI_DICOM_GPU_CPU_THREADS`` overrides, for codecs that do not.
CPU_WORKERS = int(os.environ.get("NAPARI_DICOM_GPU_CPU_THREADS", "1") or 1)

#: frames decoded per step of a series: the next step's files are read while this one decodes,
#: and the files' bytes are held for two steps at most
CHUNK_FRAMES = 256

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

    def _by_source(self, slots: list[int]) -> list[tuple[int, list[int]]]:
        """``slots`` grouped per source: (source index, its slots), in first-seen order."""
        groups: dict[int, list[int]] = defaultdict(list)
        for slot in slots:
            groups[self._source_index(slot)].append(slot)
        return list(groups.items())

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
    def _chunks(self) -> list[list[int]]:
        """Source indices in steps of about ``CHUNK_FRAMES`` frames (a file is never split)."""
        chunks: list[list[int]] = [[]]
        frames = 0
        for index, source in enumerate(self.sources):
            if frames >= CHUNK_FRAMES:
                chunks.append([])
                frames = 0
            chunks[-1].append(index)
            frames += source.layout.number_of_frames
        return chunks

    def _plan(self, chunk: list[int], unreadable: dict[int, str]) -> dict[tuple[str, str], list[int]]:
        """Plan the chunk's sources; slots per (primary codec, colour spec). Frames that cannot be
        decoded (an unreadable file, a frame not split out of it) go to ``self.pending``."""
        batches: dict[tuple[str, str], list[int]] = defaultdict(list)
        for index in chunk:
            source, base = self.sources[index], self.bases[index]
            n = source.layout.number_of_frames
            if index in unreadable:
                self.pending += [FrameFailure(base + f, unreadable[index]) for f in range(n)]
                self.codec_of_slot.update(dict.fromkeys(range(base, base + n), "none"))
                continue
            plan = self.plans[index] = plan_source(source, base, self.mode, len(self.sources))
            self.routed += [{"file": source.name, "reason": why} for why in plan.routed]
            colour = plan.colour if plan.primary in FRAME_CODECS else ""
            for frame in range(n):
                slot = base + frame
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
        # A long file reports progress (and can be cancelled) in about ten steps.
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
        items = self._by_source(slots)
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

    def _decode_native(self, slots: list[int], out) -> list[FrameFailure]:
        """Native pixels: files whose start alone was read go straight from disk into a host
        volume, on the reader's threads; the others are copied out of their bytes."""
        direct = self.reader.pool is not None and isinstance(out, np.ndarray)

        def copy_one(item: tuple[int, list[int]]) -> list[FrameFailure]:
            index, group = item
            source = self.sources[index]
            try:
                if direct and source.raw_is_prefix:
                    native.read_source(source, out, group)
                else:
                    native.decode_source(source, out, group)
            except DicomDecodeError as exc:
                return [FrameFailure(slot, exc.problem) for slot in group]
            except Exception as exc:  # one file's surprise costs its own frames only
                return [FrameFailure(slot, f"{type(exc).__name__}: {exc}") for slot in group]
            return []

        failures: list[FrameFailure] = []
        with self.timer.stage("decode"):
            items = self._by_source(slots)
            for bad in (self.reader.pool.map(copy_one, items) if direct else map(copy_one, items)):
                failures += bad
            for slot in slots:
                self.codec_of_slot[slot] = native.NAME
        self._tick(len(slots))
        return failures

    # -- the run -------------------------------------------------------------------------------
    def execute(self) -> DecodeResult:
        with quiet.captured() as messages:
            result = self._execute()
        result.record.messages = messages
        return result

    def _execute(self) -> DecodeResult:
        chunks = self._chunks()
        self.reader = reader = PixelReader(self.sources, chunks, decoding=self.mode != Mode.PYDICOM)
        try:
            return self._decode_chunks(chunks, reader)
        finally:
            reader.close()

    def _decode_chunks(self, chunks: list[list[int]], reader: PixelReader) -> DecodeResult:
        """Decode chunk by chunk while the next chunk's files are read; then fallbacks, values."""
        self.plans: list[SourcePlan | None] = [None] * len(self.sources)
        self.pending: list[FrameFailure] = []
        reader.start(0)
        with self.timer.stage("read"):
            unreadable = reader.wait(0)
        if len(chunks) == 1 and len(unreadable) == len(self.sources):
            # nothing to decode: say so before allocating a volume for what the headers claim
            index = min(unreadable)
            raise DicomDecodeError(self.sources[index].path, unreadable[index])
        batches = self._plan(chunks[0], unreadable)
        if (
            len(self.sources) == 1
            and list(batches) == [(pydicom_cpu.NAME, "")]
            and self.device == "host"
            and not self.sources[0].broken_frames  # else frame by frame, never decoding those
        ):
            # One file for pydicom alone: its array is the result, without a copy into a volume.
            with self.timer.stage("decode"):
                whole = pydicom_cpu.decode_whole(self.sources[0])
            if whole is not None:
                self.codec_of_slot = dict.fromkeys(range(self.total), pydicom_cpu.NAME)
                self._tick(self.total)
                return self._finish(self._values(whole))
        out, staged, pinned = self._output(uses_gpu=any(codec == nvimgcodec.GPU for codec, _ in batches))
        failures: list[tuple[str, FrameFailure]] = []
        for k, chunk in enumerate(chunks):
            if k + 1 < len(chunks):
                reader.start(k + 1)  # read the next files while this chunk decodes
            if k:
                with self.timer.stage("read"):
                    unreadable = reader.wait(k)
                batches = self._plan(chunk, unreadable)
            failures += [("none", f) for f in self.pending]
            self.pending = []
            for (codec, colour), slots in batches.items():
                if codec == native.NAME:
                    failures += [(codec, f) for f in self._decode_native(slots, out)]
                elif codec == pydicom_cpu.NAME:
                    failures += [(codec, f) for f in self._decode_pydicom(slots, out)]
                else:
                    failures += [(codec, f) for f in self._decode_nvimgcodec(codec, colour, slots, out)]
            self._conform(out, chunk)
            if len(chunks) > 1:
                for index in chunk:
                    self.sources[index].release()  # bounded memory: a file is read again if retried
        self._retry(failures, out)
        out = self._values(out)
        if staged:
            with self.timer.stage("to_host"):
                host = _host_empty(out.shape, out.dtype, pinned)
                out.get(out=host)
                wanted = out.dtype if self.values_applied else self.layout.dtype
                out = host.astype(wanted, copy=False)
        return self._finish(out)

    def _output(self, uses_gpu: bool):
        """The volume frames are decoded into, and whether it is staged on the GPU and pinned.

        Host results of GPU decodes go through one CUDA volume and one copy when CuPy is here
        and the volume (twice, for the value conversion) fits the GPU memory budget.
        """
        self.gpu_budget = gpu_memory_budget() if uses_gpu else 0
        path = host_path() if self.device == "host" and uses_gpu else "direct-pageable"
        if path.startswith("staged") and 2 * self.total * self.layout.frame_nbytes > self.gpu_budget:
            path = "direct-" + path.split("-")[1]
        staged = path.startswith("staged")
        pinned = path.endswith("pinned")
        out = self._allocate(on_gpu=self.device == "cuda" or staged, pinned=pinned and not staged)
        self.host_path = path if uses_gpu and self.device == "host" else None
        return out, staged, pinned

    def _values(self, out):
        """The modality rescale, where the engine applies it (on the GPU before the copy)."""
        if self.rescale is None:
            return out
        with self.timer.stage("values"):
            out = apply_rescale(out, *self.rescale, in_place=True)
        self.values_applied = True
        return out

    def _conform(self, out, chunk: list[int]) -> None:
        with self.timer.stage("decode"):
            for plan in (self.plans[index] for index in chunk):
                if plan is None or plan.primary not in FRAME_CODECS:
                    continue  # decoded by pydicom or copied natively: already conformed
                block = out[plan.base : plan.base + plan.source.layout.number_of_frames]
                conform_in_place(block, plan.source.layout, plan.info)

    def _retry(self, failures: list[tuple[str, FrameFailure]], out) -> None:
        while failures:
            codec, failure = failures.pop(0)
            slot = failure.slot
            source, frame = self._where(slot)
            plan = self.plans[self._source_index(slot)]
            nxt = plan.after(codec) if plan is not None else None
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


class PixelReader:
    """Reads the pixel data of a chunk's files on threads (file reads release the GIL).

    A file whose start alone was read for its header is read whole, its frames split out and its
    claims checked; ``wait(k)`` says which files of chunk ``k`` could not be, and why.
    """

    def __init__(self, sources: list[Source], chunks: list[list[int]], decoding: bool) -> None:
        # ``decoding``: the engine's codecs run (not pydicom alone): frames are split out here,
        # and native pixels are left on disk for ``native.read_source``
        self.sources, self.chunks, self.decoding = sources, chunks, decoding
        self.futures: dict[int, list] = {}
        needs_reads = len(chunks) > 1 or any(source.raw_is_prefix for source in sources)
        self.pool = ThreadPoolExecutor(source_module.READ_THREADS, "dicom-pixels") if needs_reads else None

    def _load(self, index: int) -> str | None:
        source = self.sources[index]
        if self.decoding and source.raw_is_prefix and not source.is_encapsulated and native.refusal(source) is None:
            return None
        try:
            source.load_pixels()
            if self.decoding and source.is_encapsulated:
                source.encoded  # noqa: B018  split here, off the decoding thread's path
        except DicomDecodeError as exc:
            return exc.problem
        except Exception as exc:  # never lose the other files to one file's surprise
            return f"the file could not be read ({type(exc).__name__}: {exc})"
        return None

    def start(self, k: int) -> None:
        if k in self.futures or k >= len(self.chunks):
            return
        if self.pool is None:
            self.futures[k] = [self._load(index) for index in self.chunks[k]]
        else:
            self.futures[k] = [self.pool.submit(self._load, index) for index in self.chunks[k]]

    def wait(self, k: int) -> dict[int, str]:
        self.start(k)
        results = [f.result() if self.pool is not None else f for f in self.futures.pop(k)]
        return {index: why for index, why in zip(self.chunks[k], results, strict=True) if why is not None}

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
