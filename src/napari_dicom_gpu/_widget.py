"""Dock widget: choose Auto/GPU/CPU, see every load's timings, compare CPU and GPU, read the image.

Uses napari's public API only; decoding runs in napari's ``thread_worker`` off the UI thread.
"""

from __future__ import annotations

import csv
import io
import threading
from typing import TYPE_CHECKING

from qtpy.QtCore import QObject, Qt, Signal
from qtpy.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ._qt_header import HeaderView
from .engine import availability
from .engine.backends import nvimgcodec
from .settings import BACKENDS, get_history, get_settings

if TYPE_CHECKING:
    import napari

BACKEND_LABELS = {"auto": "Auto", "gpu": "GPU", "cpu": "CPU"}
#: CT windows as OHIF offers them: (name, width, center)
CT_PRESETS = [
    ("Soft tissue", 400, 40),
    ("Lung", 1500, -600),
    ("Liver", 150, 90),
    ("Bone", 2500, 480),
    ("Brain", 80, 40),
]
COLUMNS = ["Name", "Frames", "MB", "Backend", "Read ms", "Decode ms", "Host ms", "Total ms", "Frames/s"]


def row_cells(row: dict) -> list[str]:
    """Table cells of a load record."""
    seconds = row.get("seconds", {})
    total = seconds.get("total", 0.0)
    codecs = ", ".join(f"{name} x{count}" for name, count in row.get("codecs", {}).items())
    backend = f"{row.get('backend', '?')} ({codecs})"
    if row.get("fallbacks"):
        backend += f", {len(row['fallbacks'])} fallback(s)"
    if row.get("errors"):
        backend += f", {len(row['errors'])} bad frame(s)"
    fps = row.get("frames", 0) / total if total else 0.0
    ms = lambda key: f"{seconds.get(key, 0.0) * 1000:.1f}"  # noqa: E731
    return [
        str(row.get("name", "")),
        str(row.get("frames", "")),
        f"{row.get('megabytes', 0):.1f}",
        backend,
        ms("read"),
        f"{(seconds.get('decode', 0.0) + seconds.get('init', 0.0)) * 1000:.1f}",
        ms("to_host"),
        ms("total"),
        f"{fps:.0f}",
    ]


class _Bridge(QObject):
    """Carries events from worker threads to the UI thread (queued connections)."""

    row_added = Signal(dict)
    progress = Signal(int, int)


class DicomDecodeWidget(QWidget):
    """napari-dicom-gpu's dock widget."""

    def __init__(self, viewer: napari.viewer.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.settings = get_settings()
        self._bridge = _Bridge()
        self._cancel = threading.Event()
        self._worker = None
        self._progress = None
        layout = QVBoxLayout(self)
        layout.addWidget(self._backend_box())
        layout.addWidget(self._timings_box())
        layout.addWidget(self._compare_box())
        layout.addWidget(self._reading_box())

        self._bridge.row_added.connect(self._add_row)
        self._bridge.progress.connect(self._on_progress)
        for row in get_history().rows:
            self._add_row(row)
        self._history_listener = self._bridge.row_added.emit
        get_history().on_add(self._history_listener)
        self.destroyed.connect(lambda *_: get_history().disconnect(self._history_listener))
        viewer.layers.selection.events.active.connect(self._on_active_layer)
        self._on_active_layer()

    # -- backend --------------------------------------------------------------------------------
    def _backend_box(self) -> QGroupBox:
        box = QGroupBox("Decode with")
        self.backend_combo = QComboBox()
        for key in BACKENDS:
            self.backend_combo.addItem(BACKEND_LABELS[key], key)
        gpu = availability()[nvimgcodec.GPU]
        self.gpu_available = bool(gpu)
        if gpu:
            memory = gpu.details.get("memory_gib")
            text = f"GPU: {gpu.details.get('gpu', 'CUDA GPU')}" + (f" ({memory:g} GiB)" if memory else "")
        else:
            text = f"GPU unavailable: {gpu.reason}"
            item = self.backend_combo.model().item(BACKENDS.index("gpu"))
            item.setEnabled(False)
            item.setToolTip(gpu.reason)
        self.gpu_label = QLabel(text)
        self.gpu_label.setWordWrap(True)
        current = self.settings.backend if (self.settings.backend != "gpu" or self.gpu_available) else "auto"
        self.backend_combo.setCurrentIndex(BACKENDS.index(current))
        self.backend_combo.currentIndexChanged.connect(self._on_backend)
        self.open_button = QPushButton("Open DICOM file…")
        self.open_folder_button = QPushButton("Open folder…")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.open_button.clicked.connect(self._choose_files)
        self.open_folder_button.clicked.connect(self._choose_folder)
        self.cancel_button.clicked.connect(self.cancel_load)
        buttons = QHBoxLayout()
        for button in (self.open_button, self.open_folder_button, self.cancel_button):
            buttons.addWidget(button)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        inner = QVBoxLayout(box)
        inner.addWidget(self.backend_combo)
        inner.addWidget(self.gpu_label)
        inner.addLayout(buttons)
        inner.addWidget(self.status_label)
        return box

    def _on_backend(self, index: int) -> None:
        self.settings.set_backend(self.backend_combo.itemData(index))

    # -- loading off the UI thread ---------------------------------------------------------------
    def _choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open DICOM files")
        if paths:
            self.open_paths(paths)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a DICOM folder")
        if folder:
            self.open_paths([folder])

    def open_paths(self, paths: list[str]):
        """Decode ``paths`` in a worker thread; each series becomes a layer as soon as it is ready."""
        from napari.qt.threading import thread_worker
        from napari.utils import progress

        from .loading import iter_load

        self._cancel.clear()
        bridge, cancel, backend = self._bridge, self._cancel, self.settings.backend

        @thread_worker
        def work():
            yield from iter_load(paths, backend, progress=bridge.progress.emit, cancel=cancel.is_set)

        self._progress = progress(total=0, desc="Decoding DICOM")
        worker = work()
        worker.yielded.connect(self._on_loaded)
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self.cancel_button.setEnabled(True)
        self.status_label.setText("Decoding…")
        worker.start()
        return worker

    def cancel_load(self) -> None:
        self._cancel.set()
        if self._worker is not None:
            self._worker.quit()

    def _on_progress(self, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress.total = total
            self._progress.n = done
            self._progress.refresh()

    def _on_loaded(self, item) -> None:
        from .presentation import LayerSpec

        if isinstance(item, LayerSpec):
            self.viewer.add_image(item.data, **item.kwargs)
        else:
            from napari.utils.notifications import show_warning

            show_warning(str(item))

    def _on_error(self, exc: Exception) -> None:
        from .engine.api import DecodeCancelled

        text = "Load cancelled." if isinstance(exc, DecodeCancelled) else f"Load failed: {exc}"
        self.status_label.setText(text)

    def _on_finished(self) -> None:
        if self._progress is not None:
            self._progress.close()
            self._progress = None
        self.cancel_button.setEnabled(False)
        if self._cancel.is_set():
            self.status_label.setText("Load cancelled.")
        elif self.status_label.text() == "Decoding…":
            self.status_label.setText("Done.")
        self._worker = None

    # -- timings ---------------------------------------------------------------------------------
    def _timings_box(self) -> QGroupBox:
        box = QGroupBox("Loads (newest first)")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.copy_button = QPushButton("Copy CSV")
        self.export_button = QPushButton("Export CSV…")
        self.copy_button.clicked.connect(lambda: QApplication.clipboard().setText(self.history_csv()))
        self.export_button.clicked.connect(self._export_csv)
        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.export_button)
        inner = QVBoxLayout(box)
        inner.addWidget(self.table)
        inner.addLayout(buttons)
        return box

    def _add_row(self, row: dict) -> None:
        self.table.insertRow(0)
        for column, text in enumerate(row_cells(row)):
            item = QTableWidgetItem(text)
            if column:
                item.setTextAlignment(int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter))
            self.table.setItem(0, column, item)
        self.table.resizeColumnsToContents()

    def history_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        for row in reversed(get_history().rows):
            writer.writerow(row_cells(row))
        return buffer.getvalue()

    def _export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export load timings", "dicom-loads.csv", "CSV (*.csv)")
        if path:
            with open(path, "w", newline="") as fh:
                fh.write(self.history_csv())

    # -- compare ---------------------------------------------------------------------------------
    def _compare_box(self) -> QGroupBox:
        box = QGroupBox("Compare CPU and GPU on the selected layer")
        self.compare_button = QPushButton("Compare")
        self.compare_button.clicked.connect(self.compare_selected)
        self.compare_label = QLabel("" if self.gpu_available else "Without a GPU this compares CPU with CPU.")
        self.compare_label.setWordWrap(True)
        inner = QVBoxLayout(box)
        inner.addWidget(self.compare_button)
        inner.addWidget(self.compare_label)
        return box

    def compare_selected(self):
        from napari.qt.threading import thread_worker

        from .bench import compare_cpu_gpu

        layer = self.viewer.layers.selection.active
        paths = getattr(layer, "metadata", {}).get("source_paths") if layer is not None else None
        if not paths:
            self.compare_label.setText("Select a layer opened from DICOM to compare.")
            return None
        self.compare_button.setEnabled(False)
        self.compare_label.setText(f"Comparing on {layer.name}…")
        worker = thread_worker(compare_cpu_gpu)(paths)
        worker.returned.connect(self._show_comparison)
        worker.errored.connect(lambda exc: self.compare_label.setText(f"Comparison failed: {exc}"))
        worker.finished.connect(lambda: self.compare_button.setEnabled(True))
        worker.start()
        return worker

    def _show_comparison(self, result: dict) -> None:
        other = result["other"].upper()
        text = (
            f"{result['frames']} frames - CPU ({result['cpu_codec']}): {result['cpu_s'] * 1000:.1f} ms; "
            f"{other} ({result['other_codec']}): {result['other_s'] * 1000:.1f} ms; "
            f"speedup {result['speedup']:.1f}x; max pixel difference {result['max_diff']:g}"
        )
        if result["reason"]:
            text += f"\n{result['reason']}"
        self.compare_label.setText(text)

    # -- reading aids ----------------------------------------------------------------------------
    def _reading_box(self) -> QGroupBox:
        box = QGroupBox("Selected layer")
        self.window_combo = QComboBox()
        self.apply_window_button = QPushButton("Apply window")
        self.apply_window_button.clicked.connect(self.apply_window)
        row = QHBoxLayout()
        row.addWidget(self.window_combo, 1)
        row.addWidget(self.apply_window_button)
        self.header_view = HeaderView()
        inner = QVBoxLayout(box)
        inner.addLayout(row)
        inner.addWidget(self.header_view)
        return box

    def _on_active_layer(self, *_args) -> None:
        layer = self.viewer.layers.selection.active
        metadata = getattr(layer, "metadata", {}) if layer is not None else {}
        self.window_combo.clear()
        for window in metadata.get("windows", []):
            self.window_combo.addItem(f"{window['name']} ({window['width']:g}/{window['center']:g})", (window["width"], window["center"]))
        if metadata.get("modality") == "CT" or not metadata.get("windows"):
            for name, width, center in CT_PRESETS:
                self.window_combo.addItem(f"CT {name} ({width}/{center})", (width, center))
        is_rgb = bool(getattr(layer, "rgb", False))
        self.window_combo.setEnabled(layer is not None and not is_rgb)
        self.apply_window_button.setEnabled(layer is not None and not is_rgb)
        self.header_view.set_header(metadata.get("dicom"))

    def apply_window(self) -> None:
        layer = self.viewer.layers.selection.active
        data = self.window_combo.currentData()
        if layer is None or data is None:
            return
        width, center = data
        layer.contrast_limits = (center - width / 2, center + width / 2)

    def select_window(self, name: str) -> None:
        for i in range(self.window_combo.count()):
            if name.lower() in self.window_combo.itemText(i).lower():
                self.window_combo.setCurrentIndex(i)
                return
        raise KeyError(name)
