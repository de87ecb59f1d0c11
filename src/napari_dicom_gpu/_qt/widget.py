"""Dock widget: choose Auto/GPU/CPU, open off the UI thread, see every load's stages, compare decoders,
window the selected layer and read its header.

Uses napari's public API only; decoding runs in napari's ``thread_worker`` off the UI thread.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from qtpy.QtCore import QObject, Signal
from qtpy.QtWidgets import QFileDialog, QVBoxLayout, QWidget

from .._view import keep_new_layers_in_view
from ..settings import get_history, get_settings
from .backend_panel import BackendPanel
from .compare_panel import ComparePanel
from .layer_panel import LayerPanel
from .loads_table import LoadsPanel

if TYPE_CHECKING:
    import napari


class _Bridge(QObject):
    """Carries events from worker threads to the UI thread (queued connections)."""

    row_added = Signal(dict)
    progress = Signal(int, int)


class DicomDecodeWidget(QWidget):
    """napari-dicom-gpu's dock widget: one panel per job, all in one column."""

    def __init__(self, viewer: napari.viewer.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.settings = get_settings()
        self._bridge = _Bridge()
        self._cancel = threading.Event()
        self._worker = None
        self._progress = None
        self._problems: list = []
        self._opened = 0
        self._failure = ""
        self.status = ""

        self.backend_panel = BackendPanel()
        self.loads_panel = LoadsPanel()
        self.compare_panel = ComparePanel(viewer, self.backend_panel.gpu_available)
        self.backend_panel.gpu_checked.connect(lambda available, _text: self.compare_panel.set_gpu_available(available))
        if self.backend_panel.gpu_known:
            self.compare_panel.set_gpu_available(self.backend_panel.gpu_available)
        self.layer_panel = LayerPanel(viewer)
        layout = QVBoxLayout(self)
        for panel in (self.backend_panel, self.loads_panel, self.compare_panel, self.layer_panel):
            layout.addWidget(panel)
        self.backend_panel.open_button.clicked.connect(self._choose_files)
        self.backend_panel.open_folder_button.clicked.connect(self._choose_folder)
        self.backend_panel.cancel_button.clicked.connect(self.cancel_load)

        self._bridge.row_added.connect(self.loads_panel.add_row)
        self._bridge.progress.connect(self._on_progress)
        for row in get_history().rows:
            self.loads_panel.add_row(row)
        self._history_listener = self._bridge.row_added.emit
        get_history().on_add(self._history_listener)
        self.destroyed.connect(lambda *_: get_history().disconnect(self._history_listener))
        keep_new_layers_in_view(viewer)

    # -- the panels' parts, by the names scripts and tests use ---------------------------------
    backend_combo = property(lambda self: self.backend_panel.backend_combo)
    gpu_label = property(lambda self: self.backend_panel.gpu_label)
    gpu_available = property(lambda self: self.backend_panel.gpu_available)
    status_label = property(lambda self: self.backend_panel.status_label)
    cancel_button = property(lambda self: self.backend_panel.cancel_button)
    world_aligned_box = property(lambda self: self.backend_panel.world_aligned_box)
    reader_button = property(lambda self: self.backend_panel.reader_button)
    table = property(lambda self: self.loads_panel.table)
    history_csv = property(lambda self: self.loads_panel.history_csv)
    compare_label = property(lambda self: self.compare_panel.label)
    compare_selected = property(lambda self: self.compare_panel.compare_selected)
    window_combo = property(lambda self: self.layer_panel.window_combo)
    header_view = property(lambda self: self.layer_panel.header_view)
    apply_window = property(lambda self: self.layer_panel.apply_window)
    select_window = property(lambda self: self.layer_panel.select_window)

    # -- loading off the UI thread -------------------------------------------------------------
    def _choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open DICOM files")
        if paths:
            self.open_paths(paths)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a DICOM folder")
        if folder:
            self.open_paths([folder])

    def open_paths(self, paths: list[str], *, start: bool = True):
        """Open ``paths`` in a worker thread; each series becomes a layer as soon as it is ready.

        Returns the worker (not yet started with ``start=False``, so a caller can connect to it
        first); its ``finished`` signal reaches the caller after the status line is final.
        """
        from napari.qt.threading import thread_worker
        from napari.utils import progress

        from ..loading import iter_load

        self._cancel.clear()
        self._problems, self._opened, self._failure = [], 0, ""
        bridge, cancel = self._bridge, self._cancel
        backend, world_aligned = self.settings.backend, self.settings.world_aligned

        def work():
            # A cancel request makes iter_load return: the worker finishes normally, so nothing
            # is raised (superqt would re-raise a worker's exception as an error with a traceback).
            yield from iter_load(
                paths, backend, progress=bridge.progress.emit, cancel=cancel.is_set, world_aligned=world_aligned
            )

        self._progress = progress(total=0, desc="Opening DICOM")
        worker = thread_worker(work, start_thread=False, ignore_errors=True)()
        worker.yielded.connect(self._on_loaded)
        worker.errored.connect(self._on_error)
        # connected before callers can connect theirs: the status is final when they run
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self.cancel_button.setEnabled(True)
        self.set_status("Opening…")
        if start:
            worker.start()
        return worker

    def cancel_load(self) -> None:
        self._cancel.set()

    def _on_progress(self, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress.total = total
            self._progress.n = done
            self._progress.refresh()

    def _on_loaded(self, item) -> None:
        from ..presentation import LayerSpec

        if isinstance(item, LayerSpec):
            self.viewer.add_image(item.data, **item.kwargs)
            self._opened += 1
        else:
            self._problems.append(item)

    def _on_error(self, exc: Exception) -> None:
        # not a DICOM problem (those are yielded): a bug or a resource error; say it in words
        self._failure = f"Open failed: {exc}"

    def _on_finished(self) -> None:
        from .._reader import notify
        from ..loading import skipped_summary

        if self._progress is not None:
            self._progress.close()
            self._progress = None
        self.cancel_button.setEnabled(False)
        problems, opened = self._problems, self._opened
        if self._failure:
            status = self._failure
            notify(self._failure, error=True)
        elif self._cancel.is_set():
            status = "Cancelled" + (f" after {opened} layer(s)." if opened else ".")
        elif problems and not opened:
            status = "Open failed: " + (str(problems[0]) if len(problems) == 1 else skipped_summary(problems, 0))
            notify(status, error=True)
        elif problems:
            status = skipped_summary(problems, opened)
            notify(status, error=False)
        else:
            status = f"Opened {opened} layer(s)."
        self.set_status(status)
        self._worker = None

    def set_status(self, text: str) -> None:
        """The status line: the first line of ``text``; all of it in the tooltip (and ``status``)."""
        self.status = text
        first, *more = text.splitlines() or [""]
        self.status_label.setText(first + (" (details: hover here)" if more else ""))
        self.status_label.setToolTip(text)
