"""Compare: decode the selected layer's files with pydicom, the fast CPU mode and (with one) the GPU."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtWidgets import QGroupBox, QLabel, QPushButton, QVBoxLayout, QWidget

from ..engine import availability, decode_series
from ..engine.backends import nvimgcodec

if TYPE_CHECKING:
    import napari

LABELS = {"pydicom": "pydicom", "cpu": "fast CPU", "gpu": "GPU"}


def compare_modes(paths: list[str]) -> dict:
    """Time each mode on ``paths`` (one warm-up, then one run as a user would see it).

    pydicom is the reference: every other mode's speedup and largest pixel difference are
    relative to it. Without a GPU the comparison is pydicom against the fast CPU mode, and the
    reason the GPU is off is returned.
    """
    gpu = availability()[nvimgcodec.GPU]
    modes = ["pydicom", "cpu", *(["gpu"] if gpu else [])]
    runs = {}
    for mode in modes:
        decode_series(paths, mode)
        runs[mode] = decode_series(paths, mode)
    reference = np.asarray(runs["pydicom"].pixels, np.float64)
    base = runs["pydicom"].record.seconds["total"]
    rows = []
    for mode in modes:
        record = runs[mode].record
        seconds = record.seconds["total"]
        rows.append({
            "mode": mode,
            "codec": record.codec,
            "seconds": seconds,
            "speedup": base / seconds if seconds else float("nan"),
            "max_diff": float(np.abs(np.asarray(runs[mode].pixels, np.float64) - reference).max()),
        })
    return {"frames": runs["pydicom"].record.frames, "rows": rows, "gpu_off": "" if gpu else gpu.reason}


def comparison_text(result: dict) -> str:
    lines = [f"{result['frames']} frame(s):"]
    for row in result["rows"]:
        line = f"{LABELS[row['mode']]} ({row['codec']}): {row['seconds'] * 1000:.1f} ms"
        if row["mode"] != "pydicom":
            line += f", {row['speedup']:.1f}x pydicom, max pixel difference {row['max_diff']:g}"
        lines.append(line)
    if result["gpu_off"]:
        lines.append(f"No GPU run: {result['gpu_off']}")
    return "\n".join(lines)


class ComparePanel(QGroupBox):
    INTRO_GPU = "pydicom, fast CPU and GPU"
    INTRO_CPU = "pydicom and the fast CPU mode (no GPU)"

    def __init__(self, viewer: napari.viewer.Viewer, gpu_available: bool, parent: QWidget | None = None) -> None:
        super().__init__("Compare decoders on the selected layer", parent)
        self.viewer = viewer
        self.button = QPushButton("Compare")
        self.button.clicked.connect(self.compare_selected)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.set_gpu_available(gpu_available)
        inner = QVBoxLayout(self)
        inner.addWidget(self.button)
        inner.addWidget(self.label)

    def set_gpu_available(self, available: bool) -> None:
        """What Compare will run (the GPU check finishes after the panel is shown)."""
        if self.button.isEnabled():  # not while a comparison shows its progress or result
            self.label.setText(self.INTRO_GPU if available else self.INTRO_CPU)

    def compare_selected(self):
        from napari.qt.threading import thread_worker

        layer = self.viewer.layers.selection.active
        paths = getattr(layer, "metadata", {}).get("source_paths") if layer is not None else None
        if not paths:
            self.label.setText("Select a layer opened from DICOM to compare.")
            return None
        self.button.setEnabled(False)
        self.label.setText(f"Comparing on {layer.name}…")
        # ignore_errors: superqt would re-raise in the UI thread; errored shows the sentence instead
        worker = thread_worker(compare_modes, start_thread=False, ignore_errors=True)(paths)
        worker.returned.connect(lambda result: self.label.setText(comparison_text(result)))
        worker.errored.connect(lambda exc: self.label.setText(f"Comparison failed: {exc}"))
        worker.finished.connect(lambda: self.button.setEnabled(True))
        worker.start()
        return worker
