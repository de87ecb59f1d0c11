"""Run fuzz cases through the engine and the reader in a few long-lived, watched worker processes.

Each case runs twice, as two separate runs: ``decode(path, backend="cpu")`` and
``get_reader(path)(path)``; with ``series=True`` a third run opens a folder holding the case and
four intact siblings made from its source (``read_layers(folder)``: the series path, whose header
pass reads only the start of each file and checks the pixel data during the decode), where
the siblings' frames must all arrive. The parent watches every busy worker: past ``timeout`` seconds it is
killed (*hang*); above ``memory_limit`` bytes of resident memory it is killed (*oom*); a worker that
dies on its own (a C library's ``abort()``, a segfault) is a *crash*. A killed or dead worker is
replaced and the next case goes on. Each worker also caps its address space so that no single
allocation can hurt the machine (that surfaces as ``MemoryError``, also *oom*).

Inside a worker, file descriptors 1 and 2 are redirected to a file per run, so whatever C codecs
print ("codec chatter") is captured and counted per run, and a crash leaves its last words there
(faulthandler writes the Python stack of a fatal signal to fd 2).
"""

from __future__ import annotations

import multiprocessing
import os
import re
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

from .mutations import Case, mutate, source_path

GiB = 1024**3
ENTRIES = ("decode", "reader")
SERIES = "series"
ALL_ENTRIES = (*ENTRIES, SERIES)
#: siblings beside the case in a series run, and the header prefix used there (small, so that the
#: test files' headers are read from the start of the file and their pixel data later)
SIBLINGS = 4
SERIES_HEADER_PREFIX = 4096
CLEAN = ("decoded", "clean-error", "declined")
FAILURES = (
    "crash",
    "hang",
    "oom",
    "raw-traceback",
    "error-without-path",
    "frames-lost",
    "invented-frames",
    "slow",
    "memory-growth",
)
OUTCOMES = CLEAN + FAILURES


@dataclass
class Limits:
    timeout: float = 20.0  # hard kill
    slow: float = 5.0  # a run longer than this is a failure ("slow")
    memory_limit: int = 3 * GiB  # resident memory at which the worker is killed
    growth_limit: int = 1 * GiB  # peak resident growth during one run that counts as a failure
    address_space: int = 4 * GiB  # RLIMIT_AS headroom above the worker's size after start-up


@dataclass
class Task:
    """One run: a written case through one entry point."""

    case: Case
    entry: str
    path: str
    description: str
    source: str
    intact_frames: int = 0
    frames_present: int = 0


@dataclass
class Outcome:
    case_index: int
    kind: str
    source: str
    variant: int
    entry: str
    description: str
    path: str
    outcome: str
    error_type: str = ""
    message: str = ""
    location: str = ""
    seconds: float = 0.0
    growth_mb: float = 0.0
    chatter: str = ""
    chatter_lines: int = 0
    details: dict = field(default_factory=dict)

    @property
    def first_line(self) -> str:
        return (self.message.strip().splitlines() or [""])[0][:300]


# ----------------------------------------------------------------------------------------------
# Corpus


def write_corpus(
    cases: list[Case], folder: str | os.PathLike, entries: tuple[str, ...] = ENTRIES
) -> tuple[list[Task], list[str]]:
    """Write every applicable case under ``folder``; return the runs to do and any case that
    could not be generated (a bug of the generator, reported rather than hidden)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tasks, problems = [], []
    for case in cases:
        try:
            mutated = mutate(case)
        except Exception as exc:  # the generator's own bug: report it, never hide it
            problems.append(f"{case.name}: {type(exc).__name__}: {exc}")
            continue
        if mutated is None:
            continue
        path = folder / case.name
        path.write_bytes(mutated.data)
        source = "" if case.kind == "not-dicom" else source_path(case.source)
        for entry in entries:
            tasks.append(
                Task(
                    case,
                    entry,
                    str(path),
                    mutated.description,
                    source,
                    mutated.intact_frames,
                    mutated.frames_present,
                )
            )
    return tasks, problems


# ----------------------------------------------------------------------------------------------
# Worker side


def _rss(pid: int | str = "self", field_name: str = "VmRSS") -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _location(exc: BaseException) -> str:
    """Innermost frame in the project, and the innermost frame overall when that differs."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    ours = [f for f in frames if "napari_dicom_gpu" in f.filename]
    where = []
    if ours:
        f = ours[-1]
        where.append(f"{f.filename.split('src/')[-1]}:{f.lineno} ({f.name})")
    last = frames[-1]
    if not ours or last is not ours[-1]:
        short = re.sub(r".*site-packages/", "", last.filename)
        where.append(f"{short}:{last.lineno} ({last.name})")
    return " <- ".join(reversed(where)) if len(where) > 1 else where[0]


def _chain(exc: BaseException) -> list[BaseException]:
    seen, todo = [], [exc]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [current.__cause__, current.__context__]
    return seen


def _reference(source: str, cache: dict):
    if source not in cache:
        from napari_dicom_gpu.engine import decode

        try:
            cache[source] = decode(source, backend="cpu").pixels
        except Exception:
            cache[source] = None
    return cache[source]


def _run_one(task: Task, references: dict) -> dict:
    """Run one task in this worker; return the fields of its Outcome."""
    import numpy as np

    from napari_dicom_gpu._reader import get_reader
    from napari_dicom_gpu.engine import DicomDecodeError, decode

    result: dict = {}
    started = time.perf_counter()
    try:
        if task.entry == "decode":
            pixels = decode(task.path, backend="cpu").pixels
            shape = list(np.shape(pixels))
            result = {"outcome": "decoded", "message": f"decoded {shape}", "details": {}}
            if task.frames_present and shape and shape[0] > task.frames_present:
                result["outcome"] = "invented-frames"
                result["message"] = (
                    f"decoded {shape[0]} frames from pixel data that holds {task.frames_present}"
                )
            if task.intact_frames:
                reference = _reference(task.source, references)
                if reference is not None:
                    keep = task.intact_frames
                    same = np.shape(pixels)[1:] == reference.shape[1:] and np.array_equal(
                        np.asarray(pixels)[:keep], reference[:keep]
                    )
                    if not same:
                        result = {
                            "outcome": "frames-lost",
                            "message": f"the {keep} undamaged frames differ from the source's",
                        }
        elif task.entry == SERIES:
            layers, siblings = _series_run(task)
            shapes = [list(np.shape(layer[0])) for layer in layers]
            frames = sum(_layer_frames(s) for s in shapes)
            result = {"outcome": "decoded", "message": f"layers {shapes}", "details": {}}
            if frames < siblings:
                result = {
                    "outcome": "frames-lost",
                    "message": f"{frames} frames in the layers, {siblings} in the intact siblings alone",
                }
        else:
            reader = get_reader(task.path)
            if reader is None:
                result = {"outcome": "declined"}
            else:
                layers = reader(task.path)
                shapes = [list(np.shape(layer[0])) for layer in layers]
                result = {"outcome": "decoded", "message": f"layers {shapes}", "details": {}}
                frames = max((_layer_frames(s) for s in shapes), default=0)
                if task.frames_present and frames > task.frames_present:
                    result["outcome"] = "invented-frames"
                    result["message"] = (
                        f"a layer of {frames} frames from pixel data that holds "
                        f"{task.frames_present}"
                    )
    except BaseException as exc:  # noqa: BLE001 - classifying every escape is the point
        seconds = time.perf_counter() - started
        chain = _chain(exc)
        if isinstance(exc, DicomDecodeError):
            if any(isinstance(e, MemoryError) for e in chain) or "MemoryError" in str(exc):
                outcome = "oom"
            elif Path(task.path).name not in str(exc):
                outcome = "error-without-path"
            elif task.intact_frames and task.entry == "decode":
                outcome = "frames-lost"
            elif task.entry == SERIES and task.source:
                outcome = "frames-lost"  # the intact siblings did not open
            else:
                outcome = "clean-error"
        elif isinstance(exc, MemoryError):
            outcome = "oom"
        else:
            outcome = "raw-traceback"
        result = {
            "outcome": outcome,
            "error_type": f"{type(exc).__module__}.{type(exc).__qualname__}".replace(
                "builtins.", ""
            ),
            "message": str(exc) or repr(exc),
            "location": _location(exc),
            "seconds": seconds,
        }
        if outcome == "clean-error":
            causes = [e for e in chain if e is not exc]
            if causes:
                result["details"] = {"cause": f"{type(causes[0]).__name__}: {causes[0]}"[:300]}
    result.setdefault("seconds", time.perf_counter() - started)
    return result


def _series_run(task: Task) -> tuple[list, int]:
    """``read_layers`` on a folder of the case and ``SIBLINGS`` intact copies of its source (new
    UIDs, 1 m away along z); returns the layers and the siblings' frame count."""
    import shutil

    import pydicom
    from pydicom.uid import generate_uid

    from napari_dicom_gpu._reader import read_layers
    from napari_dicom_gpu.engine import source as source_module

    folder = Path(task.path + ".series")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    shutil.copy(task.path, folder / Path(task.path).name)
    frames = 0
    if task.source:
        for k in range(SIBLINGS):
            ds = pydicom.dcmread(task.source)
            ds.SOPInstanceUID = generate_uid()
            if getattr(ds, "file_meta", None) is not None:
                ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            if "ImagePositionPatient" in ds:
                x, y, z = (float(v) for v in ds.ImagePositionPatient)
                ds.ImagePositionPatient = [x, y, z + 1000.0 + k]
            ds.InstanceNumber = 1000 + k
            ds.save_as(folder / f"sibling_{k}.dcm")
            frames += int(ds.get("NumberOfFrames", 1) or 1)
    default = source_module.HEADER_PREFIX
    source_module.HEADER_PREFIX = SERIES_HEADER_PREFIX
    try:
        return read_layers(str(folder)), frames
    finally:
        source_module.HEADER_PREFIX = default
        shutil.rmtree(folder, ignore_errors=True)


def _layer_frames(shape: list[int]) -> int:
    """Frames in a layer: a single frame is 2-D (or 2-D with a trailing RGB(A) axis)."""
    if len(shape) <= 2 or (len(shape) == 3 and shape[-1] in (3, 4)):
        return 1
    return shape[0]


def _warm_up(references: dict) -> None:
    """Import everything and decode a good file once, so no run pays the start-up costs."""
    from napari_dicom_gpu._reader import get_reader
    from napari_dicom_gpu.engine import decode

    for name in ("CT_small.dcm", "examples_ybr_color.dcm", "SC_rgb_rle_2frame.dcm"):
        path = source_path(name)
        try:
            decode(path, backend="cpu")
            get_reader(path)(path)
        except Exception:
            pass
    try:
        import napari.utils.notifications  # noqa: F401 - the reader warns through it
    except Exception:
        pass


def worker_main(connection, capture_path: str, address_space: int) -> None:
    """Long-lived worker: receive tasks, run each with fd 1 and 2 captured, send results back."""
    import faulthandler
    import resource
    import signal
    import sys
    import warnings

    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    os.environ["PYNVIMGCODEC_VERBOSITY"] = os.environ.get("PYNVIMGCODEC_VERBOSITY", "1")
    config = tempfile.mkdtemp(prefix="fuzz-config-")
    os.environ["NAPARI_DICOM_GPU_CONFIG_DIR"] = config  # never touch the user's settings
    warnings.simplefilter("default")
    references: dict = {}
    saved = (os.dup(1), os.dup(2))
    capture = os.open(capture_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(capture, 1)
    os.dup2(capture, 2)
    _warm_up(references)
    os.dup2(saved[0], 1)
    os.dup2(saved[1], 2)
    faulthandler.enable(file=sys.stderr, all_threads=True)
    # The parent sends SIGUSR1 before it kills a hung or oversized worker: the Python stack of
    # that moment lands in the capture file and says where the run was stuck.
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=False)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _rss("self", "VmSize") + address_space
    if hard == resource.RLIM_INFINITY or limit < hard:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    connection.send(("ready", os.getpid()))
    while True:
        try:
            task = connection.recv()
        except EOFError:
            return
        if task is None:
            return
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")  # reset the peak-RSS counter (VmHWM) for this run
        except OSError:
            pass
        before = _rss()
        sys.stdout.flush()
        sys.stderr.flush()
        os.ftruncate(capture, 0)
        os.lseek(capture, 0, os.SEEK_SET)
        os.dup2(capture, 1)
        os.dup2(capture, 2)
        try:
            # Python warnings are recorded apart, so the captured fds hold only what C code and
            # print() wrote: the codec chatter a user's terminal would show.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = _run_one(task, references)
            if caught:
                result.setdefault("details", {})["warnings"] = [
                    f"{w.category.__name__}: {w.message}"[:200] for w in caught[:5]
                ]
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
        result["growth_mb"] = max(0, _rss("self", "VmHWM") - before) / 2**20
        os.lseek(capture, 0, os.SEEK_SET)
        result["chatter"] = os.read(capture, 4096).decode("utf-8", "replace")
        connection.send(("done", result))


# ----------------------------------------------------------------------------------------------
# Parent side


@dataclass
class _Worker:
    process: multiprocessing.Process
    connection: object
    capture: str
    task: Task | None = None
    started: float = 0.0
    peak_rss: int = 0
    baseline_rss: int = 0
    born: float = 0.0
    ready: bool = False


class Pool:
    """A few watched worker processes; a worker that dies or is killed is replaced."""

    def __init__(self, workers: int, limits: Limits, scratch: str) -> None:
        self.limits = limits
        self.scratch = scratch
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[_Worker] = []
        self.replaced = 0
        self._serial = 0
        for _ in range(workers):
            self.workers.append(self._start())

    def _start(self) -> _Worker:
        """Start a worker; it becomes usable once it says it is ready (see ``_poll_ready``)."""
        self._serial += 1
        capture = os.path.join(self.scratch, f"worker-{self._serial}.out")
        parent, child = self.context.Pipe()
        process = self.context.Process(
            target=worker_main, args=(child, capture, self.limits.address_space), daemon=True
        )
        process.start()
        child.close()
        return _Worker(process, parent, capture, born=time.perf_counter())

    def _poll_ready(self) -> None:
        for worker in self.workers:
            if worker.ready:
                continue
            if worker.connection.poll():
                worker.connection.recv()
                worker.ready = True
            elif time.perf_counter() - worker.born > 300 or not worker.process.is_alive():
                raise RuntimeError(
                    "a fuzz worker did not start (it needs 'import napari_dicom_gpu')"
                )

    def close(self) -> None:
        for worker in self.workers:
            try:
                worker.connection.send(None)
            except (OSError, BrokenPipeError):
                pass
        for worker in self.workers:
            worker.process.join(5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()

    def _replace(self, worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join()
        worker.connection.close()
        self.workers[self.workers.index(worker)] = self._start()
        self.replaced += 1

    @staticmethod
    def _dump_stack(worker: _Worker) -> None:
        import signal

        try:
            os.kill(worker.process.pid, signal.SIGUSR1)
            time.sleep(0.3)
        except OSError:
            pass

    def _dead_outcome(self, worker: _Worker, outcome: str, message: str) -> dict:
        try:
            words = Path(worker.capture).read_text(errors="replace")
        except OSError:
            words = ""
        last_words = [
            line.strip()
            for line in re.split(r"Fatal Python error|Stack \(most recent|Current thread", words)[
                0
            ].splitlines()
            if line.strip() and not line.lstrip().startswith(("File ", "Current thread"))
        ]
        if last_words:
            message += ": " + " | ".join(last_words[-3:])[:400]
        return {
            "outcome": outcome,
            "error_type": "process",
            "message": message,
            "location": _crash_location(words),
            "seconds": time.perf_counter() - worker.started,
            "growth_mb": max(0, worker.peak_rss - worker.baseline_rss) / 2**20,
            "chatter": words[:4096],
        }

    def run(self, tasks: list[Task], progress=None) -> list[Outcome]:
        pending = list(reversed(tasks))
        outcomes: list[Outcome] = []
        while pending or any(w.task for w in self.workers):
            self._poll_ready()
            for worker in self.workers:
                if worker.ready and worker.task is None and pending:
                    worker.task = pending.pop()
                    worker.baseline_rss = _rss(worker.process.pid)
                    worker.peak_rss = worker.baseline_rss
                    worker.started = time.perf_counter()
                    worker.connection.send(worker.task)
            busy = [w.connection for w in self.workers if w.task]
            ready = wait(busy, timeout=0.05) if busy else (time.sleep(0.05) or [])
            for worker in list(self.workers):
                if worker.task is None:
                    continue
                result = None
                if worker.connection in ready:
                    try:
                        _, result = worker.connection.recv()
                    except (EOFError, OSError):
                        worker.process.join(2)
                        code = worker.process.exitcode
                        result = self._dead_outcome(worker, "crash", _exit_words(code))
                if result is None:
                    rss = _rss(worker.process.pid)
                    worker.peak_rss = max(worker.peak_rss, rss)
                    elapsed = time.perf_counter() - worker.started
                    if rss > self.limits.memory_limit:
                        self._dump_stack(worker)
                        result = self._dead_outcome(
                            worker, "oom", f"killed at {rss / GiB:.1f} GiB resident"
                        )
                    elif elapsed > self.limits.timeout:
                        self._dump_stack(worker)
                        result = self._dead_outcome(worker, "hang", f"killed after {elapsed:.0f} s")
                    elif not worker.process.is_alive():
                        code = worker.process.exitcode
                        result = self._dead_outcome(worker, "crash", _exit_words(code))
                if result is None:
                    continue
                task = worker.task
                if result.get("error_type") == "process":
                    self._replace(worker)
                else:
                    worker.task = None
                outcomes.append(self._finish(task, result))
                if progress:
                    progress(len(outcomes), len(tasks))
        return outcomes

    def _finish(self, task: Task, result: dict) -> Outcome:
        outcome = result["outcome"]
        if outcome in CLEAN:
            if result.get("growth_mb", 0) * 2**20 > self.limits.growth_limit:
                outcome = "memory-growth"
            elif result.get("seconds", 0) > self.limits.slow:
                outcome = "slow"
        chatter = result.get("chatter", "")
        return Outcome(
            case_index=task.case.index,
            kind=task.case.kind,
            source=task.case.source,
            variant=task.case.variant,
            entry=task.entry,
            description=task.description,
            path=task.path,
            outcome=outcome,
            error_type=result.get("error_type", ""),
            message=result.get("message", ""),
            location=result.get("location", ""),
            seconds=round(result.get("seconds", 0.0), 3),
            growth_mb=round(result.get("growth_mb", 0.0), 1),
            chatter=chatter if outcome in FAILURES else chatter[:300],
            chatter_lines=len([line for line in chatter.splitlines() if line.strip()]),
            details=result.get("details", {}),
        )


def _exit_words(code: int | None) -> str:
    import signal

    if code is None:
        return "the worker died"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"the worker exited with status {code}"


def _crash_location(words: str) -> str:
    """The innermost project frame (else the innermost frame) of a faulthandler dump."""
    frames = re.findall(r'File "([^"]+)", line (\d+) in (\S+)', words)
    if not frames:
        return ""
    ours = [f for f in frames if "napari_dicom_gpu" in f[0]]
    # faulthandler lists the innermost frame first.
    f = ours[0] if ours else frames[0]
    innermost = frames[0]
    where = f"{f[0].split('src/')[-1]}:{f[1]} ({f[2]})"
    if innermost is not f:
        short = re.sub(r".*site-packages/", "", innermost[0])
        where = f"{short}:{innermost[1]} ({innermost[2]}) <- {where}"
    return where


def default_workers(limits: Limits) -> int:
    """One worker per core, but never more than the available memory allows at the limit."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
    except OSError:
        available = 8 * GiB
    by_memory = max(1, int(available // (limits.memory_limit + GiB)))
    return max(1, min(cores or 1, by_memory, 8))


def run_cases(
    cases: list[Case],
    *,
    workers: int | None = None,
    limits: Limits | None = None,
    folder: str | None = None,
    progress=None,
    series: bool = False,
) -> tuple[list[Outcome], list[str], float]:
    """Write ``cases`` to a temporary folder, run them all; return outcomes, generator problems
    and the wall time in seconds."""
    limits = limits or Limits()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dicom-fuzz-") as scratch:
        target = folder or os.path.join(scratch, "corpus")
        tasks, problems = write_corpus(cases, target, ALL_ENTRIES if series else ENTRIES)
        pool = Pool(workers or default_workers(limits), limits, scratch)
        try:
            outcomes = pool.run(tasks, progress)
        finally:
            pool.close()
    outcomes.sort(key=lambda o: (o.case_index, ALL_ENTRIES.index(o.entry)))
    return outcomes, problems, time.perf_counter() - started


# ----------------------------------------------------------------------------------------------
# Report


def counts(outcomes: list[Outcome]) -> Counter:
    return Counter(o.outcome for o in outcomes)


def failures(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if o.outcome in FAILURES]


def _normalise(text: str) -> str:
    text = re.sub(r"'[^']*\.dcm'", "'FILE'", text)
    return re.sub(r"\d+", "N", text)[:160]


def causes(outcomes: list[Outcome]) -> list[tuple[tuple[str, str, str, str], list[Outcome]]]:
    """Failures grouped by (class, error type, location, normalised first line), largest first."""
    groups: dict[tuple[str, str, str, str], list[Outcome]] = {}
    for o in failures(outcomes):
        key = (o.outcome, o.error_type, o.location, _normalise(o.first_line))
        groups.setdefault(key, []).append(o)
    return sorted(groups.items(), key=lambda item: -len(item[1]))


def table(outcomes: list[Outcome], problems: list[str] = (), seconds: float = 0.0) -> str:
    kinds = list(dict.fromkeys(o.kind for o in outcomes))
    columns = list(OUTCOMES)
    width = max([len(k) for k in kinds] + [10])
    short = {c: c[:12] for c in columns}
    lines = [
        f"{'kind':<{width}} " + " ".join(f"{short[c]:>12}" for c in columns) + f" {'chatter':>8}"
    ]
    grid: dict[str, Counter] = {k: Counter() for k in kinds}
    chatter: Counter = Counter()
    for o in outcomes:
        grid[o.kind][o.outcome] += 1
        chatter[o.kind] += o.chatter_lines > 0
    for kind in kinds:
        cells = " ".join(f"{grid[kind][c] or '.':>12}" for c in columns)
        lines.append(f"{kind:<{width}} {cells} {chatter[kind] or '.':>8}")
    total = counts(outcomes)
    cells = " ".join(f"{total[c]:>12}" for c in columns)
    lines.append(f"{'TOTAL':<{width}} {cells} {sum(chatter.values()):>8}")
    cases = len({o.case_index for o in outcomes})
    failed = sum(total[c] for c in FAILURES)
    lines.append("")
    lines.append(
        f"{cases} files, {len(outcomes)} runs ({' + '.join(e for e in ALL_ENTRIES if any(o.entry == e for o in outcomes))}) in {seconds:.0f} s; "
        f"{failed} failed runs: "
        + ", ".join(f"{c} {total[c]}" for c in FAILURES)
        + f"; runs with codec chatter: {sum(chatter.values())}"
    )
    if problems:
        lines.append(f"generator problems ({len(problems)}):")
        lines += [f"  {p}" for p in problems]
    grouped = causes(outcomes)
    if grouped:
        lines += ["", f"Distinct failure causes ({len(grouped)}), largest first:"]
        for (outcome, error_type, location, _), members in grouped:
            first = members[0]
            lines.append(
                f"- [{outcome}] x{len(members)} {error_type}: {first.first_line}"
                f"\n    at {location or '?'}"
                f"\n    e.g. {first.kind} / {first.source} / {first.entry}: {first.description}"
            )
        lines += ["", "Every failed run:"]
        for o in failures(outcomes):
            lines.append(
                f"{o.case_index:5d} {o.kind:<20} {o.source:<32} {o.entry:<6} {o.outcome:<18} "
                f"{o.seconds:6.1f}s {o.growth_mb:7.0f}MB  {o.description}  | "
                f"{o.error_type}: {o.first_line}"
            )
    noisy = Counter(
        line.strip()[:100] for o in outcomes for line in o.chatter.splitlines()[:1] if line.strip()
    )
    if noisy:
        lines += ["", "Most common first lines of codec chatter (fd 1/2):"]
        lines += [f"  {n:5d}  {line}" for line, n in noisy.most_common(12)]
    return "\n".join(lines)


def to_json(outcomes: list[Outcome], problems: list[str], seconds: float) -> dict:
    return {
        "seconds": seconds,
        "counts": dict(counts(outcomes)),
        "failure_classes": list(FAILURES),
        "generator_problems": list(problems),
        "runs": [asdict(o) for o in outcomes],
    }
