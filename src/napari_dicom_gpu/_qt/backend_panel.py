"""Decode with Auto/GPU/CPU, open files or folders, the geometry setting and the reader choice."""

from __future__ import annotations

import sys

from qtpy.QtCore import QSignalBlocker, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..engine import availability
from ..engine.backends import nvimgcodec
from ..settings import (
    BACKENDS,
    FOLDER_PATTERN,
    PREFERRED_PATTERNS,
    get_settings,
    is_napari_reader_for_dicom,
    make_napari_reader_for_dicom,
)

BACKEND_LABELS = {"auto": "Auto", "gpu": "GPU", "cpu": "CPU"}


def gpu_text() -> tuple[bool, str]:
    """Whether the GPU decodes here, and what to tell the user (its name, or why it is off)."""
    gpu = availability()[nvimgcodec.GPU]
    if gpu:
        memory = gpu.details.get("memory_gib")
        return True, f"GPU: {gpu.details.get('gpu', 'CUDA GPU')}" + (f" ({memory:g} GiB)" if memory else "")
    if sys.platform == "darwin":
        # pip leaves nvImageCodec out on macOS (no wheels, no CUDA): "install it" would mislead
        return False, "GPU unavailable: macOS has no NVIDIA GPU decoding (nvImageCodec); decoding runs on the CPU."
    return False, f"GPU unavailable: {gpu.reason}; decoding runs on the CPU."


class BackendPanel(QGroupBox):
    """The decode mode and the open buttons.

    The GPU check starts the GPU decoder (about a second of nvJPEG/CUDA start-up the first time)
    on a worker thread as soon as the panel exists: the panel never waits for it, and the first
    load finds the decoder ready (or reports the rest of the wait as its ``init`` stage).
    ``gpu_checked`` says the outcome; ``gpu_known`` is true from then on.
    """

    gpu_checked = Signal(bool, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Decode with", parent)
        self.settings = get_settings()
        self.backend_combo = QComboBox()
        for key in BACKENDS:
            self.backend_combo.addItem(BACKEND_LABELS[key], key)
        self.gpu_available = False
        self.gpu_known = False
        self.gpu_label = QLabel("GPU: starting the GPU decoder in the background…")
        self.gpu_label.setWordWrap(True)
        self.backend_combo.setCurrentIndex(BACKENDS.index(self.settings.backend))
        self.backend_combo.currentIndexChanged.connect(self._on_backend)

        self.world_aligned_box = QCheckBox("World-aligned geometry (oblique series in patient space)")
        self.world_aligned_box.setToolTip(
            "Off: slices are shown image-aligned, rows and columns on the screen axes, with the patient "
            "affine in the layer metadata. On: napari's affine places every series in patient space, "
            "so oblique and non-axial series are drawn where they are in the patient."
        )
        self.world_aligned_box.setChecked(self.settings.world_aligned)
        self.world_aligned_box.toggled.connect(self.settings.set_world_aligned)

        self.reader_button = QPushButton("Always open DICOM files and folders with this plugin")
        self.reader_button.setToolTip(
            "Sets napari's reader preference for " + ", ".join(PREFERRED_PATTERNS) + " and folders ("
            + FOLDER_PATTERN + ") so that dropping such a file or a DICOM folder opens it here without "
            "the 'Choose reader' dialog. Folders that are not DICOM (Zarr, image stacks) still open "
            "with napari's own reader."
        )
        self.reader_button.clicked.connect(self.make_preferred_reader)
        self._show_reader_choice()

        self.open_button = QPushButton("Open files…")
        self.open_folder_button = QPushButton("Open folder…")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        buttons = QHBoxLayout()
        for button in (self.open_button, self.open_folder_button, self.cancel_button):
            buttons.addWidget(button)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        inner = QVBoxLayout(self)
        inner.addWidget(self.backend_combo)
        inner.addWidget(self.gpu_label)
        inner.addWidget(self.world_aligned_box)
        inner.addWidget(self.reader_button)
        inner.addLayout(buttons)
        inner.addWidget(self.status_label)
        self.gpu_worker = self._check_gpu()

    def _check_gpu(self):
        from napari.qt.threading import thread_worker

        worker = thread_worker(gpu_text, start_thread=False, ignore_errors=True)()
        worker.returned.connect(lambda result: self.show_gpu(*result))
        worker.errored.connect(lambda exc: self.show_gpu(False, f"GPU unavailable: {exc}; decoding runs on the CPU."))
        worker.start()
        return worker

    def show_gpu(self, available: bool, text: str) -> None:
        """Show the GPU check's outcome; without a GPU the GPU mode is disabled, with its reason."""
        self.gpu_available, self.gpu_known = available, True
        self.gpu_label.setText(text)
        item = self.backend_combo.model().item(BACKENDS.index("gpu"))
        item.setEnabled(available)
        item.setToolTip("" if available else text)
        if not available and self.backend_combo.currentData() == "gpu":
            # shown as Auto for now; the saved choice stays GPU for a machine that has one
            with QSignalBlocker(self.backend_combo):
                self.backend_combo.setCurrentIndex(BACKENDS.index("auto"))
        self.gpu_checked.emit(available, text)

    def _on_backend(self, index: int) -> None:
        self.settings.set_backend(self.backend_combo.itemData(index))

    def _show_reader_choice(self) -> None:
        chosen = is_napari_reader_for_dicom()
        self.reader_button.setEnabled(not chosen)
        if chosen:
            self.reader_button.setText("DICOM files and folders open with this plugin")

    def make_preferred_reader(self) -> None:
        make_napari_reader_for_dicom()
        self._show_reader_choice()
