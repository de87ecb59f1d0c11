"""Kept for imports from earlier versions: the widget lives in ``napari_dicom_gpu._qt``."""

from ._qt import DicomDecodeWidget
from ._qt.layer_panel import CT_PRESETS
from ._qt.loads_table import COLUMNS, row_cells

__all__ = ["COLUMNS", "CT_PRESETS", "DicomDecodeWidget", "row_cells"]
