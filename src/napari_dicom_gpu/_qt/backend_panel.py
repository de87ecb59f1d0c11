"""Decode with Auto/GPU/CPU, open files or folders, the geometry setting and the reader choice."""

from __future__ import annotations

import sys

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
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Decode with", parent)
        self.settings = get_settings()
        self.backend_combo = QComboBox()
        for key in BACKENDS:
            self.backend_combo.addItem(BACKEND_LABELS[key], key)
        self.gpu_available, text = gpu_text()
        if not self.gpu_available:
            item = self.backend_combo.model().item(BACKENDS.index("gpu"))
            item.setEnabled(False)
            item.setToolTip(text)
        self.gpu_label = QLabel(text)
        self.gpu_label.setWordWrap(True)
        backend = self.settings.backend
        current = backend if (backend != "gpu" or self.gpu_available) else "auto"
        self.backend_combo.setCurrentIndex(BACKENDS.index(current))
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
