"""napari reader contribution: DICOM files, DICOMDIR and DICOM folders.

napari shows any exception from a reader as an error with a traceback, or as its "Choose reader"
dialog when another reader claims the name (napari 0.9: ``ViewerModel._open_or_raise_error``
wraps it in ``ReaderPluginError`` and ``QtViewer._qt_open`` hands that to
``handle_gui_reading``). A damaged file must cost one sentence, so ``read_dicom`` never raises
for a file it claimed: it shows the sentence as one napari notification and returns napari's
"nothing to add" value ``[(None,)]``. ``read_layers`` is the same read for scripts: it raises.

Folders: the manifest claims every folder (npe2 cannot match folders by content), and
``get_reader`` takes one only when a bounded look finds DICOM in it (``engine.sniff``). Once the
user made this plugin napari's reader for folders (``settings.FOLDER_PATTERN``), napari sends every
folder here and nowhere else; a folder that is not DICOM then goes on to napari's own reader
(``read_with_napari``), so Zarr stores and image-stack folders open as they did before the choice.
"""

from __future__ import annotations

import os

from .engine.errors import DicomDecodeError
from .engine.sniff import claims

#: what a napari reader returns when it read the path and there is nothing to add
NOTHING_TO_ADD = [(None,)]


#: napari's own reader plugin (napari_builtins), which reads Zarr stores and image-stack folders
NAPARI_BUILTINS = "napari"


def get_reader(path: str | list[str]):
    """The reader for ``path``, or None. Never raises; reads at most 132 bytes of a few files.

    ``read_dicom`` for DICOM files and folders that can be DICOM; ``read_with_napari`` for any
    other folder that napari's preferences sent here (napari would try no other reader).
    """
    try:
        paths = _as_paths(path)
        if paths and all(claims(p) for p in paths):
            return read_dicom
        if len(paths) == 1 and os.path.isdir(paths[0]):
            from .settings import napari_prefers_this_plugin_for

            if napari_prefers_this_plugin_for(paths[0]):
                return read_with_napari
    except Exception:
        pass
    return None


def read_with_napari(path: str | list[str]) -> list[tuple]:
    """A folder that the bounded look found no DICOM in: napari's own reader, as without us.

    Read through npe2's public ``read``, so Zarr stores and image-stack folders give the layers
    they gave before the folder preference. When napari's reader cannot open it either, a DICOM
    tree deeper than the look (no DICOMDIR) is read in full; anything else is one notification,
    as for a bad DICOM file, rather than napari's "Choose reader" dialog offering that same reader.
    """
    import npe2

    paths = _as_paths(path)
    try:
        return npe2.read(paths, stack=False, plugin_name=NAPARI_BUILTINS)
    except Exception as napari_error:
        from .engine.series import expand_paths

        if expand_paths(paths):
            return read_dicom(path)
        why = f"{type(napari_error).__name__}: {napari_error}"
        problem = f"it is not a DICOM folder, and napari's own reader cannot open it ({why})"
        notify(str(DicomDecodeError(paths[0], problem)), error=True)
        return NOTHING_TO_ADD


def _as_paths(path) -> list[str]:
    return [os.fspath(p) for p in (path if isinstance(path, list | tuple) else [path])]


def _failure(paths: list[str], problems: list[DicomDecodeError]) -> DicomDecodeError:
    """The one error that says why nothing at ``paths`` opened."""
    from .loading import skipped_summary

    if len(problems) == 1:
        return problems[0]
    if not problems:
        return DicomDecodeError(paths[0], "no DICOM image was found there")
    return DicomDecodeError(paths[0], "no file could be opened.\n" + skipped_summary(problems, 0))


def read_layers(path: str | list[str]) -> list[tuple]:
    """Layer data of every series at ``path``; raises ``DicomDecodeError`` when none opens.

    Files that cannot be opened next to ones that can are skipped with one warning.
    """
    from .loading import load, skipped_summary

    paths = _as_paths(path)
    outcome = load(paths)
    if not outcome.layers:
        raise _failure(paths, outcome.problems)
    if outcome.problems:
        notify(skipped_summary(outcome.problems, len(outcome.layers)), error=False)
    return [layer.as_layer_data() for layer in outcome.layers]


def read_dicom(path: str | list[str]) -> list[tuple]:
    """napari's reader: the layers of ``path``, or one notification that says why there are none."""
    from ._view import keep_current_viewer_in_view

    keep_current_viewer_in_view()
    try:
        return read_layers(path)
    except DicomDecodeError as exc:
        notify(str(exc), error=True)
    except Exception as exc:  # not a known DICOM problem: still one sentence, never a traceback dialog
        notify(str(DicomDecodeError(_as_paths(path)[0], f"{type(exc).__name__}: {exc}")), error=True)
    return NOTHING_TO_ADD


def notify(message: str, *, error: bool) -> None:
    """One napari notification (a toast, no traceback); a Python warning outside napari."""
    try:
        from napari.utils.notifications import show_error, show_warning
    except ImportError:
        import warnings

        warnings.warn(message, stacklevel=3)
        return
    (show_error if error else show_warning)(message)
