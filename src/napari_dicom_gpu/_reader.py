"""napari reader contribution: DICOM files, folders (one layer per series) and DICOMDIR."""

from __future__ import annotations

import os

from .engine.errors import DicomDecodeError
from .engine.sniff import claims


def get_reader(path: str | list[str]):
    """Return ``read_dicom`` if ``path`` is DICOM; never raises, reads at most 132 bytes a file."""
    try:
        paths = path if isinstance(path, list | tuple) else [path]
        if paths and all(claims(p) for p in paths):
            return read_dicom
    except Exception:
        pass
    return None


def read_dicom(path: str | list[str]) -> list[tuple]:
    """Decode with the backend chosen in the widget (or Auto) and return one layer per series."""
    from .loading import load

    paths = [os.fspath(p) for p in (path if isinstance(path, list | tuple) else [path])]
    outcome = load(paths)
    if not outcome.layers:
        if len(outcome.problems) == 1:
            raise outcome.problems[0]
        if not outcome.problems:
            raise DicomDecodeError(paths[0], "no DICOM image was found there")
        raise DicomDecodeError(paths[0], "no file could be opened:\n" + _summary(outcome.problems))
    if outcome.problems:
        _warn(outcome.problems)
    return [layer.as_layer_data() for layer in outcome.layers]


def _summary(problems: list[DicomDecodeError]) -> str:
    lines = [str(p) for p in problems[:5]]
    if len(problems) > 5:
        lines.append(f"... and {len(problems) - 5} more")
    return "\n".join(lines)


def _warn(problems: list[DicomDecodeError]) -> None:
    shown = _summary(problems)
    try:
        from napari.utils.notifications import show_warning

        show_warning(f"Some DICOM files were skipped:\n{shown}")
    except Exception:
        import warnings

        warnings.warn(f"Some DICOM files were skipped:\n{shown}", stacklevel=2)
