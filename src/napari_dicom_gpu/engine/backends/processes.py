"""pydicom's CPU codecs on every core: a persistent pool of worker processes for file series.

OpenJPEG, libjpeg and CharLS hold the GIL while they decode (``benchmarks/cpu_parallel.py``), so
threads give nothing; processes do. Each worker is a fresh interpreter (never a fork: napari runs
Qt and CUDA threads) started with ``python -c`` on its own pipes, so a user's script is never
imported again in it, as ``multiprocessing``'s spawn and forkserver would do. A worker reads and
decodes a file itself with the engine's own ``source.load_source`` and ``pydicom_cpu`` path (the
values are pydicom's, bit for bit) and writes the frames into its slab: anonymous shared memory
(``memfd``, or an unlinked temporary file) that this process copies into the output volume, so
no array is pickled. The calling process decodes files too, from the far end of the queue, and
hands work only to workers that are up: a cold pool never makes a decode slower than decoding
here alone.

A file a worker cannot decode comes back as reasons; a worker that dies costs nothing but time:
its files are decoded in this process and the reason goes to the decode record's messages.
``NAPARI_DICOM_GPU_CPU_PROCESSES`` sets how many processes decode (this one included; 0 or 1:
none besides this one). Test hook: a worker exits at once on a file whose path contains
``NAPARI_DICOM_GPU_TEST_WORKER_EXIT`` (tests/engine/test_processes.py), as a crashing codec would.
"""

from __future__ import annotations

import atexit
import mmap
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import wait

import numpy as np
from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from .base import FrameFailure

ENV = "NAPARI_DICOM_GPU_CPU_PROCESSES"
CRASH_ENV = "NAPARI_DICOM_GPU_TEST_WORKER_EXIT"

#: single-core decode cost per decoded sample (ns), pydicom's plugins without GDCM, measured on
#: 512x512 16-bit CT (2-core CI machine, benchmarks/cpu_parallel.py; HTJ2K from the 16-core
#: H100 run). Only used to tell whether a series is worth the pool, so rounded down.
NS_PER_SAMPLE = {
    JPEG2000Lossless: 150, JPEG2000: 100,
    HTJ2KLossless: 20, HTJ2KLosslessRPCL: 20, HTJ2K: 20,
    JPEGLSLossless: 40, JPEGLSNearLossless: 40,
    JPEGLossless: 25, JPEGLosslessSV1: 25,
    JPEGBaseline8Bit: 10, JPEGExtended12Bit: 10,
    RLELossless: 8,
}
#: what pydicom costs per file besides the codec (full dcmread, decoder set-up), seconds
FILE_OVERHEAD_S = 0.001
#: estimated single-core decode time from which the pool is worth it. A warm pool costs well
#: under 1 ms per task to feed, and this process decodes too, so a warm pool pays from a few
#: files on. A worker takes 0.7 s to come up (interpreter, NumPy, pydicom; 2-core machine,
#: 2026-11-28) and holds ~80 MB for the rest of the session, so the pool is only started for a
#: series that takes a second or more on one core (it still never waits for it: see above).
WARM_SECONDS = 0.08
COLD_SECONDS = 1.0
MIN_FILES = 4
#: fewest usable cores for the pool: on 2 cores it measured 0.84-0.95x (benchmarks/results)
MIN_CORES = 3
#: each worker holds ~80 MB (an interpreter with NumPy and pydicom): a cap for very large machines
MAX_PROCESSES = 32
MAX_FILES_PER_TASK = 8
#: a worker's slab holds two tasks (one decoding, one queued); a task is at most this many bytes
TASK_BYTES = 8 << 20
#: workers that die before the pool is given up for this session
MAX_DEATHS = 3

_HEADER = struct.Struct("<Q")


# -- the worker's side -----------------------------------------------------------------------
def _send(stream, message) -> None:
    data = memoryview(bytearray(_HEADER.pack(0) + pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)))
    _HEADER.pack_into(data, 0, len(data) - _HEADER.size)
    while data:  # an unbuffered pipe may take part of it
        data = data[stream.write(data) :]
    stream.flush()


def _read_exactly(stream, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _receive(stream):
    """The next message, or ``None`` at the end of the stream (the other side is gone).

    This process reads its workers' pipes unbuffered: a buffered reader could swallow the next
    message too, and ``wait`` (select on the descriptor) would then never see it.
    """
    head = _read_exactly(stream, _HEADER.size)
    if head is None:
        return None
    data = _read_exactly(stream, _HEADER.unpack(head)[0])
    return None if data is None else pickle.loads(data)


def worker_main(slab_fd: int) -> None:
    """A worker's loop: decode the files of each task into the slab until stdin closes."""
    reply = os.fdopen(os.dup(1), "wb")  # results; fd 1 now goes where stderr goes, so that
    os.dup2(2, 1)  # a codec printing to stdout cannot corrupt them
    from .. import quiet, source  # noqa: F401 - imported before "ready": a ready worker decodes at once
    from . import pydicom_cpu  # noqa: F401

    requests, mapping, size = sys.stdin.buffer, None, 0
    _send(reply, ("ready", os.getpid()))
    while True:
        task = _receive(requests)
        if task is None:
            return
        task_id, slab_size, jobs = task
        if slab_size != size:
            mapping, size = mmap.mmap(slab_fd, slab_size), slab_size
        with quiet.captured() as lines:
            results = [_decode_job(job, mapping) for job in jobs]
        _send(reply, (task_id, results, lines))


def _decode_job(job, mapping) -> list[tuple[int, str]]:
    """Decode one file's frames into the slab; (frame position, reason) for each that failed."""
    path, offset, frames, broken, shape, dtype = job
    crash = os.environ.get(CRASH_ENV)
    if crash and crash in path:
        os._exit(70)
    try:
        from ..source import load_source
        from . import pydicom_cpu

        view = np.ndarray((len(frames), *shape), np.dtype(dtype), buffer=mapping, offset=offset)
        source = load_source(path)
        if source.layout.frame_shape != tuple(shape) or source.layout.dtype != np.dtype(dtype):
            why = "the file changed on disk since it was read"
            return [(i, why) for i in range(len(frames))]
        source.broken_frames.update(broken)
        bad = pydicom_cpu.decode_source(source, view, list(range(len(frames))), list(frames))
        return [(f.slot, f.reason) for f in bad]
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: B036 - a file's failure, never the worker's end
        why = f"pydicom could not decode it in a worker process ({type(exc).__name__}: {exc})"[:240]
        return [(i, why) for i in range(len(frames))]


# -- this process's side ---------------------------------------------------------------------
def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def process_count() -> int:
    """Processes that decode, this one included (1: no pool)."""
    value = os.environ.get(ENV, "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            pass
    cores = _usable_cores()
    return min(cores, MAX_PROCESSES) if cores >= MIN_CORES else 1


def _slab_file() -> int:
    """A file descriptor of anonymous shared memory (memfd, else an unlinked temporary file)."""
    if hasattr(os, "memfd_create"):
        return os.memfd_create("napari-dicom-gpu-slab", os.MFD_CLOEXEC)
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - only its descriptor is kept
    fd = os.dup(handle.fileno())
    handle.close()
    return fd


@dataclass
class _Task:
    id: int
    base: int  # where its half of the slab begins
    items: list = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    jobs: list = field(default_factory=list)
    stale: bool = False  # of a decode that ended early: its results are dropped on arrival


class _Worker:
    def __init__(self) -> None:
        import napari_dicom_gpu

        self.slab_fd = _slab_file()
        root = os.path.dirname(os.path.dirname(os.path.abspath(napari_dicom_gpu.__file__)))
        env = dict(os.environ, PYNVIMGCODEC_VERBOSITY=os.environ.get("PYNVIMGCODEC_VERBOSITY", "1"))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        boot = "import sys; from napari_dicom_gpu.engine.backends.processes import worker_main; worker_main(int(sys.argv[1]))"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", boot, str(self.slab_fd)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0,
            pass_fds=(self.slab_fd,), env=env, start_new_session=True,  # no terminal Ctrl-C
        )
        self.ready = False
        self.tasks: deque[_Task] = deque()  # oldest first
        self.mapping: mmap.mmap | None = None
        self.size = 0
        self.region = 0

    def fileno(self) -> int:
        return self.proc.stdout.fileno()

    def prepare(self, size: int) -> None:
        if size != self.size or self.mapping is None:
            if self.mapping is not None:
                self.mapping.close()
            os.ftruncate(self.slab_fd, size)
            self.mapping, self.size, self.region = mmap.mmap(self.slab_fd, size), size, size // 2

    def release_memory(self) -> None:
        """Give the slab's pages back; the next decode grows it again."""
        if self.mapping is not None:
            self.mapping.close()
            self.mapping = None
        os.ftruncate(self.slab_fd, 0)

    def stop(self, kill: bool = False) -> None:
        try:
            if kill:
                self.proc.kill()
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(0.5 if not kill else 2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        if self.mapping is not None:
            self.mapping.close()
        os.close(self.slab_fd)


class Pool:
    """The workers of this session; one decode uses them at a time."""

    def __init__(self, workers: int) -> None:
        self.wanted = workers
        self.pid = os.getpid()  # a forked child must not use (or stop) its parent's workers
        self.workers: list[_Worker] = []
        self.deaths = 0
        self.busy = threading.Lock()
        self._task_ids = 0
        self.replenish()

    @property
    def warm(self) -> bool:
        return any(w.ready for w in self.workers)

    def replenish(self) -> None:
        while len(self.workers) < self.wanted:
            self.workers.append(_Worker())

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers = []

    # -- one decode --------------------------------------------------------------------------
    def run(self, jobs: list, frame_shape, dtype, decode_here, cancel) -> Iterator:
        """Yield ``(item, result)`` for every job ``(item, path, frames, broken frames)`` as it
        completes: ``decode_here(item)``'s failures, or a worker's ``(frames in the slab,
        [(frame position, reason)])``."""
        self.frame_shape, self.dtype = tuple(frame_shape), np.dtype(dtype)
        frame_bytes = int(np.prod(frame_shape)) * self.dtype.itemsize
        largest = max(len(frames) for _, _, frames, _ in jobs) * frame_bytes
        region = -(-max(largest, min(TASK_BYTES, MAX_FILES_PER_TASK * largest)) // mmap.PAGESIZE) * mmap.PAGESIZE
        queue = deque(jobs)
        clean = False
        try:
            while any(w.tasks for w in self.workers):  # a cancelled decode's last tasks
                for _ in self._collect(0.1, decode_here):
                    pass
            for worker in self.workers:
                worker.prepare(2 * region)
            while queue or any(w.tasks for w in self.workers):
                yield from self._collect(0, decode_here)
                self._dispatch(queue, frame_bytes)
                if queue:  # this process decodes too, from the far end of the queue
                    item = queue.pop()[0]
                    yield item, decode_here(item)
                elif any(w.tasks for w in self.workers):
                    yield from self._collect(0.1, decode_here)
                    if cancel and cancel():
                        return  # the caller's progress call raises DecodeCancelled
            clean = True
        finally:
            for worker in self.workers:
                if worker.tasks and not clean:  # cancelled or failed mid-way: dropped on arrival
                    for task in worker.tasks:  # (the worker may still write into its slab)
                        task.stale = True
                else:
                    worker.release_memory()

    def _dispatch(self, queue: deque, frame_bytes: int) -> None:
        """Hand the front of the queue to workers that are up, two tasks each at most (one
        decoding, one waiting in its pipe), each task in its own half of the worker's slab."""
        ready = [w for w in self.workers if w.ready]
        for worker in ready:
            while queue and len(worker.tasks) < 2:
                # shrinking shares towards the end keep every process busy until the last file
                share = max(1, min(MAX_FILES_PER_TASK, len(queue) // (2 * (len(ready) + 1))))
                base = worker.region if worker.tasks and worker.tasks[-1].base == 0 else 0
                task = _Task(self._next_id(), base)
                used = 0
                while queue and len(task.items) < share:
                    item, path, frames, broken = queue[0]
                    need = len(frames) * frame_bytes
                    if task.items and used + need > worker.region:
                        break
                    queue.popleft()
                    task.jobs.append((path, base + used, frames, broken, self.frame_shape, self.dtype.str))
                    task.items.append(item)
                    task.offsets.append(base + used)
                    used += need
                try:
                    _send(worker.proc.stdin, (task.id, worker.size, task.jobs))
                except OSError:  # a dead worker: its end of the pipe says so at the next collect
                    queue.extendleft(
                        reversed([(item, j[0], j[2], j[3]) for item, j in zip(task.items, task.jobs, strict=True)])
                    )
                    break
                worker.tasks.append(task)

    def _next_id(self) -> int:
        self._task_ids += 1
        return self._task_ids

    def _collect(self, timeout: float, decode_here) -> Iterator:
        """Results of workers that answered within ``timeout``; dead workers' work done here."""
        watched = [w for w in self.workers if w.tasks or not w.ready]
        if not watched:
            return
        for worker in wait(watched, timeout):
            message = _receive(worker.proc.stdout)
            if message is None:
                yield from self._died(worker, decode_here)
                continue
            if message[0] == "ready":
                worker.ready = True
                continue
            _task_id, results, lines = message
            task = worker.tasks.popleft()
            if task.stale:
                continue
            for line in lines:
                _note(line)
            for item, offset, bad in zip(task.items, task.offsets, results, strict=True):
                shape = (len(item[1]), *self.frame_shape)
                yield item, (np.ndarray(shape, self.dtype, buffer=worker.mapping, offset=offset), bad)

    def _died(self, worker: _Worker, decode_here) -> Iterator:
        code = worker.proc.poll()
        items = [item for task in worker.tasks if not task.stale for item in task.items]
        _note(
            f"a decode process ended (exit code {code}) while decoding {len(items)} file(s): "
            "decoded in this process instead"
        )
        self._drop(worker, kill=True)
        self.deaths += 1
        for item in items:
            yield item, decode_here(item)

    def _drop(self, worker: _Worker, kill: bool) -> None:
        worker.tasks.clear()
        worker.stop(kill=kill)
        self.workers.remove(worker)


def _note(line: str) -> None:
    """A line for the decode record: the run captures this process's stderr into its messages."""
    try:
        os.write(2, (line.rstrip() + "\n").encode("utf-8", "replace"))
    except OSError:
        pass


_pool: Pool | None = None
_pool_lock = threading.Lock()
_disabled_reason: str | None = None


def _shutdown() -> None:
    global _pool
    if _pool is not None and _pool.pid == os.getpid():
        _pool.close()
    _pool = None


atexit.register(_shutdown)


def unavailable_reason() -> str | None:
    """Why no pool can be used here, or ``None``."""
    if _disabled_reason:
        return _disabled_reason
    if process_count() < 2:
        return f"one process decodes ({ENV} or fewer than {MIN_CORES} usable cores)"
    if os.name != "posix":
        return "worker processes need POSIX file descriptor passing"
    return None


def is_warm() -> bool:
    return _pool is not None and _pool.warm


def estimated_seconds(sources, items) -> float | None:
    """Single-core decode time of ``items`` (``(source index, slots)``), or ``None`` when the
    syntax is not one whose codec holds the GIL (native data, or one not measured)."""
    syntax = sources[items[0][0]].layout.transfer_syntax
    per_sample = NS_PER_SAMPLE.get(syntax)
    if per_sample is None:
        return None
    layout = sources[items[0][0]].layout
    samples = sum(len(slots) for _, slots in items) * int(np.prod(layout.frame_shape))
    return samples * per_sample * 1e-9 + len(items) * FILE_OVERHEAD_S


def pays_off(layout, files: int) -> bool:
    """Whether a series of ``files`` files of ``layout`` would go to the pool (for routing)."""
    per_sample = NS_PER_SAMPLE.get(layout.transfer_syntax)
    if per_sample is None or files < MIN_FILES or unavailable_reason():
        return False
    samples = files * layout.number_of_frames * int(np.prod(layout.frame_shape))
    estimate = samples * per_sample * 1e-9 + files * FILE_OVERHEAD_S
    return estimate >= (WARM_SECONDS if is_warm() else COLD_SECONDS)


def worth_it(sources, items) -> bool:
    """Whether decoding ``items`` in the pool should beat decoding them here: a codec that holds
    the GIL, files on disk, enough files, and enough work for a warm (or a cold) pool."""
    if len(items) < MIN_FILES or unavailable_reason():
        return False
    if any(not sources[index].path or not os.path.isfile(sources[index].path) for index, _ in items):
        return False
    estimate = estimated_seconds(sources, items)
    if estimate is None:
        return False
    return estimate >= (WARM_SECONDS if is_warm() else COLD_SECONDS)


def prestart() -> bool:
    """Start the pool now, in the background (workers come up while the caller reads files)."""
    global _pool
    if unavailable_reason():
        return False
    with _pool_lock:
        if _pool is None or _pool.pid != os.getpid():
            _pool = Pool(process_count() - 1)
        return True


def wait_ready(timeout: float = 30.0) -> int:
    """Start the pool and wait until its workers are up (benchmarks and tests); how many are."""
    if not prestart():
        return 0
    pool, end = _pool, time.perf_counter() + timeout
    with pool.busy:
        while not all(w.ready for w in pool.workers) and time.perf_counter() < end:
            list(pool._collect(0.05, None))
        return sum(w.ready for w in pool.workers)


#: what the last pooled decode did: files decoded by workers and here, workers that died
last_run: dict[str, int] = {}


def decode(
    sources,
    bases: list[int],
    items: list[tuple[int, list[int]]],
    out: np.ndarray,
    decode_here: Callable[[tuple[int, list[int]]], list[FrameFailure]],
    cancel: Callable[[], bool] | None = None,
) -> Iterator[tuple[tuple[int, list[int]], list[FrameFailure]]]:
    """Decode ``items`` (``(source index, output slots)``) into ``out``, in the pool and here.

    Yields ``(item, failures)`` as items complete, in no particular order. ``decode_here(item)``
    decodes an item in this process (as the caller would without the pool). When the pool is
    busy with another decode, or cannot start, everything is decoded here.
    """
    global _pool, _disabled_reason
    if not prestart():
        for item in items:
            yield item, decode_here(item)
        return
    pool = _pool
    if not pool.busy.acquire(blocking=False):
        for item in items:
            yield item, decode_here(item)
        return
    try:
        pool.replenish()
        layout = sources[items[0][0]].layout
        jobs = []
        for item in items:
            index, slots = item
            source = sources[index]
            frames = [slot - bases[index] for slot in slots]
            jobs.append((item, source.path, frames, dict(source.broken_frames)))
        deaths = pool.deaths
        last_run.clear()
        last_run.update(processes=len(pool.workers) + 1, in_workers=0, here=0, deaths=0)
        for item, result in pool.run(jobs, layout.frame_shape, layout.dtype, decode_here, cancel):
            if isinstance(result, tuple):  # from a worker: its frames in the slab, its failures
                view, bad = result
                out[item[1]] = view
                result = [FrameFailure(item[1][i], why) for i, why in bad]
                last_run["in_workers"] += 1
            else:
                last_run["here"] += 1
            last_run["deaths"] = pool.deaths - deaths
            yield item, result
        if pool.deaths >= MAX_DEATHS:
            _disabled_reason = f"{pool.deaths} decode processes died: decoding in this process only"
            pool.close()
            _pool = None
    finally:
        pool.busy.release()
