"""From paths to layer specs: read, group into series, decode each series in one batch.

No napari import: the reader, the widget's worker and the CLI all call this.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .engine.api import decode_series
from .engine.errors import DicomDecodeError
from .engine.series import load_series
from .presentation import LayerSpec, to_layer
from .settings import get_history, get_settings


@dataclass
class LoadOutcome:
    layers: list[LayerSpec] = field(default_factory=list)
    problems: list[DicomDecodeError] = field(default_factory=list)


def iter_load(
    paths: list[str | os.PathLike],
    backend: str | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Iterator[LayerSpec | DicomDecodeError]:
    """Yield one layer per series (or the error that stopped it); unreadable files are errors."""
    backend = backend or get_settings().backend
    report = load_series(list(paths))
    yield from report.skipped
    for group in report.series:
        try:
            result = decode_series([], backend, sources=group.sources, progress=progress, cancel=cancel, values=True)
        except DicomDecodeError as exc:
            yield exc
            continue
        spec = to_layer(result)
        get_history().add(spec.kwargs["name"], result.record.to_dict())
        yield spec


def load(paths: list[str | os.PathLike], backend: str | None = None) -> LoadOutcome:
    outcome = LoadOutcome()
    for item in iter_load(paths, backend):
        if isinstance(item, LayerSpec):
            outcome.layers.append(item)
        else:
            outcome.problems.append(item)
    return outcome
