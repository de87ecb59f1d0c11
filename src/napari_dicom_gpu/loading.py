"""From paths to layer specs: read, group into series, decode each series in one batch.

No napari import: the reader, the widget's worker and the CLI all call this.

Every second of an open is charged to one of the rows it produces, so the rows' ``total`` add up
to the wall time of the open: reading and grouping the headers (``load_series``) is shared among
the series by their number of files and shown as ``read``; the layer preparation
(``presentation.to_layer``) is ``values`` (filled by ``to_layer``) plus ``layer`` (the rest of it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .engine.api import DecodeCancelled, decode_series
from .engine.errors import DicomDecodeError
from .engine.series import Series, load_series
from .presentation import LayerSpec, to_layer
from .settings import get_history, get_settings


@dataclass
class LoadOutcome:
    layers: list[LayerSpec] = field(default_factory=list)
    problems: list[DicomDecodeError] = field(default_factory=list)
    cancelled: bool = False


def _charge(seconds: dict[str, float], header_share: float, layer_seconds: float, decode_wall: float) -> None:
    """Put the time spent outside the engine into a record's stages; ``total`` is the wall time."""
    seconds["read"] = seconds.get("read", 0.0) + header_share
    seconds["layer"] = max(0.0, layer_seconds - seconds.get("values", 0.0))
    seconds.setdefault("values", 0.0)
    seconds["total"] = header_share + decode_wall + layer_seconds


def iter_load(
    paths: list[str | os.PathLike],
    backend: str | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    world_aligned: bool | None = None,
) -> Iterator[LayerSpec | DicomDecodeError]:
    """Yield one layer per series, or the error that stopped it; unreadable files are errors.

    A cancel request ends the iteration quietly (no exception): the caller sees fewer layers.
    """
    started = time.perf_counter()  # first: reading the settings file is part of the open too
    settings = get_settings()
    backend = backend or settings.backend
    world_aligned = settings.world_aligned if world_aligned is None else world_aligned
    report = load_series(list(paths))
    header_seconds = time.perf_counter() - started
    yield from report.skipped
    files = sum(len(group.sources) for group in report.series) or 1
    for group in report.series:
        if cancel is not None and cancel():
            return
        header_share = header_seconds * len(group.sources) / files
        try:
            spec = _load_one(group, backend, header_share, progress, cancel, world_aligned)
        except DecodeCancelled:
            return
        except DicomDecodeError as exc:
            yield exc
            continue
        except Exception as exc:  # a bug here must cost this series only, and say so in words
            yield DicomDecodeError(group.sources[0].path, f"could not be shown ({type(exc).__name__}: {exc})")
            continue
        yield spec


def _load_one(
    group: Series,
    backend: str,
    header_share: float,
    progress: Callable[[int, int], None] | None,
    cancel: Callable[[], bool] | None,
    world_aligned: bool,
) -> LayerSpec:
    decode_start = time.perf_counter()
    result = decode_series([], backend, sources=group.sources, progress=progress, cancel=cancel, values=True)
    layer_start = time.perf_counter()
    spec = to_layer(result, group, world_aligned=world_aligned)
    record = result.record.to_dict()
    spec.kwargs.setdefault("metadata", {})["decode"] = record
    done = time.perf_counter()
    _charge(record["seconds"], header_share, done - layer_start, layer_start - decode_start)
    result.record.seconds.update(record["seconds"])
    get_history().add(spec.kwargs["name"], record)
    return spec


def load(
    paths: list[str | os.PathLike],
    backend: str | None = None,
    *,
    cancel: Callable[[], bool] | None = None,
) -> LoadOutcome:
    """Every layer of ``paths`` and every problem met on the way (nothing is raised)."""
    outcome = LoadOutcome()
    for item in iter_load(paths, backend, cancel=cancel):
        if isinstance(item, LayerSpec):
            outcome.layers.append(item)
        else:
            outcome.problems.append(item)
    outcome.cancelled = bool(cancel and cancel())
    return outcome


def skipped_summary(problems: list[DicomDecodeError], opened: int, examples: int = 3, kinds: int = 5) -> str:
    """One message for every file or series that could not be opened, grouped by problem.

    A study folder often holds dozens of files with one problem (no pixel data, say): each problem
    is one line with its count and the first few file names.
    """
    from collections import defaultdict
    from pathlib import Path

    what = "file or series" if len(problems) == 1 else "files or series"
    head = f"Skipped {len(problems)} {what} that could not be opened"
    head += f"; {opened} layer(s) opened." if opened else "."
    by_problem: dict[str, list[str]] = defaultdict(list)
    for problem in problems:
        by_problem[getattr(problem, "problem", str(problem))].append(Path(getattr(problem, "path", "")).name)
    lines = [head]
    for text, names in list(by_problem.items())[:kinds]:
        shown = ", ".join(names[:examples]) + (f" and {len(names) - examples} more" if len(names) > examples else "")
        lines.append(f"- {shown}: {text}")
    if len(by_problem) > kinds:
        lines.append(f"- ... and {len(by_problem) - kinds} other problems")
    return "\n".join(lines)
