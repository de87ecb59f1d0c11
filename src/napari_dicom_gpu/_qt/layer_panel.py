"""The selected layer: its windows (from the file, then presets for its modality) and its header."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtpy.QtWidgets import QComboBox, QGroupBox, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from .header_tree import HeaderView

if TYPE_CHECKING:
    import napari

#: CT windows as OHIF offers them: (name, width, center), in Hounsfield units
CT_PRESETS = [
    ("Soft tissue", 400, 40),
    ("Lung", 1500, -600),
    ("Liver", 150, 90),
    ("Bone", 2500, 480),
    ("Brain", 80, 40),
]
#: presets per Modality; other modalities (MR, US, XA, ...) have no standard window in physical
#: units, so only the file's own windows and the data range are offered
PRESETS = {"CT": CT_PRESETS}


def window_choices(metadata: dict, data_range: tuple[float, float] | None) -> list[tuple[str, float, float]]:
    """(label, width, center) for a layer: the file's windows, the modality's presets, the full range."""
    choices = [
        (f"{w['name']} ({w['width']:g}/{w['center']:g})", float(w["width"]), float(w["center"]))
        for w in metadata.get("windows", [])
    ]
    modality = str(metadata.get("modality", "")).upper()
    for name, width, center in PRESETS.get(modality, []):
        choices.append((f"{modality} {name} ({width}/{center})", float(width), float(center)))
    if data_range is not None and data_range[1] > data_range[0]:
        lo, hi = data_range
        choices.append((f"Full range ({lo:g} to {hi:g})", hi - lo, (hi + lo) / 2))
    return choices


class LayerPanel(QGroupBox):
    def __init__(self, viewer: napari.viewer.Viewer, parent: QWidget | None = None) -> None:
        super().__init__("Selected layer", parent)
        self.viewer = viewer
        self.window_combo = QComboBox()
        self.window_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.window_combo.setMinimumContentsLength(12)
        self.apply_window_button = QPushButton("Apply window")
        self.apply_window_button.clicked.connect(self.apply_window)
        row = QHBoxLayout()
        row.addWidget(self.window_combo, 1)
        row.addWidget(self.apply_window_button)
        self.header_view = HeaderView()
        inner = QVBoxLayout(self)
        inner.addLayout(row)
        inner.addWidget(self.header_view)
        viewer.layers.selection.events.active.connect(self.on_active_layer)
        self.on_active_layer()

    def on_active_layer(self, *_args) -> None:
        layer = self.viewer.layers.selection.active
        metadata = getattr(layer, "metadata", {}) if layer is not None else {}
        is_rgb = bool(getattr(layer, "rgb", False))
        self.window_combo.clear()
        if layer is not None and not is_rgb and hasattr(layer, "contrast_limits_range"):
            for label, width, center in window_choices(metadata, tuple(layer.contrast_limits_range)):
                self.window_combo.addItem(label, (width, center))
        usable = self.window_combo.count() > 0
        self.window_combo.setEnabled(usable)
        self.apply_window_button.setEnabled(usable)
        self.header_view.set_header(metadata.get("dicom"))

    def window_names(self) -> list[str]:
        return [self.window_combo.itemText(i) for i in range(self.window_combo.count())]

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
