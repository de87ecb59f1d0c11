"""The loads table: one row per opened series, every stage the user waited for, newest first."""

from __future__ import annotations

import csv
import io

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QApplication,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..settings import get_history

#: (column title, tooltip). Times are milliseconds; the stages add up to Total, the wall time.
#: Each load is two table rows: its layer name across the whole width, then these columns; so
#: every number stays readable at napari's default dock width, and so does a long series name.
COLUMNS = [
    ("On", "Backend used (GPU or CPU); the codecs, fallbacks and bad frames are in the tooltip"),
    ("Read", "Reading the files and parsing their headers (ms)"),
    ("Decode", "Codec start-up and decoding (ms)"),
    ("Host", "Copy from the GPU to host memory (ms)"),
    ("Values", "Value conversion: modality LUT, Hounsfield units (ms)"),
    ("Layer", "The rest of the layer preparation: window, geometry, metadata (ms)"),
    ("Total", "Wall time of the open, the sum of the stages (ms)"),
]
TITLES = [title for title, _ in COLUMNS]
CSV_TITLES = ["Name", "Frames", "MB", "Backend", "Codecs", "Read ms", "Decode ms", "Host ms", "Values ms", "Layer ms",
              "Total ms", "Frames/s"]  # fmt: skip


def stage_seconds(row: dict) -> dict[str, float]:
    """Seconds per column; Decode is what the other stages leave of Total, so they add up."""
    seconds = row.get("seconds", {})
    total = seconds.get("total", 0.0)
    shown = {key: seconds.get(key, 0.0) for key in ("read", "to_host", "values", "layer")}
    shown["decode"] = max(0.0, total - sum(shown.values()))
    shown["total"] = total
    return shown


def backend_text(row: dict) -> tuple[str, str]:
    """Short text for the cell and the details for its tooltip."""
    text = str(row.get("backend", "?")).upper()
    notes = []
    if row.get("fallbacks"):
        notes.append(f"{len(row['fallbacks'])} fallback(s)")
    if row.get("errors"):
        notes.append(f"{len(row['errors'])} bad frame(s)")
    if notes:
        text += "*"
    codecs = ", ".join(f"{name} x{count}" for name, count in row.get("codecs", {}).items())
    details = [f"Codecs: {codecs}" if codecs else "", row.get("transfer_syntax", ""), *notes]
    if row.get("gpu"):
        details.append(f"GPU: {row['gpu']}")
    return text, "\n".join(d for d in details if d)


def row_cells(row: dict) -> list[str]:
    """Cells of a load row as the table shows them."""
    seconds = stage_seconds(row)
    ms = lambda key: f"{seconds[key] * 1000:.0f}" if seconds[key] >= 0.0095 else f"{seconds[key] * 1000:.1f}"  # noqa: E731
    return [
        backend_text(row)[0],
        ms("read"),
        ms("decode"),
        ms("to_host"),
        ms("values"),
        ms("layer"),
        ms("total"),
    ]


def csv_cells(row: dict) -> list[str]:
    seconds = stage_seconds(row)
    total = seconds["total"]
    codecs = ", ".join(f"{name} x{count}" for name, count in row.get("codecs", {}).items())
    return [
        str(row.get("name", "")),
        str(row.get("frames", "")),
        f"{row.get('megabytes', 0):.1f}",
        str(row.get("backend", "")),
        codecs,
        *(f"{seconds[key] * 1000:.1f}" for key in ("read", "decode", "to_host", "values", "layer", "total")),
        f"{row.get('frames', 0) / total:.0f}" if total else "0",
    ]


class LoadsPanel(QGroupBox):
    """Loads (newest first), with Copy CSV and Export CSV."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Loads (ms, newest first)", parent)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(TITLES)
        for column, (_, tip) in enumerate(COLUMNS):
            self.table.horizontalHeaderItem(column).setToolTip(tip)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setMinimumSectionSize(24)
        # napari's theme pads header sections generously; 3 px keeps every title whole
        header.setStyleSheet("QHeaderView::section { padding-left: 3px; padding-right: 3px; }")
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.copy_button = QPushButton("Copy CSV")
        self.export_button = QPushButton("Export CSV…")
        self.copy_button.clicked.connect(lambda: QApplication.clipboard().setText(self.history_csv()))
        self.export_button.clicked.connect(self._export_csv)
        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.export_button)
        inner = QVBoxLayout(self)
        inner.addWidget(self.table)
        inner.addLayout(buttons)

    def add_row(self, row: dict) -> None:
        self.table.insertRow(0)
        self.table.insertRow(0)
        _, details = backend_text(row)
        frames = f"{row.get('frames', 0)} frame(s), {row.get('megabytes', 0):.1f} MB"
        name = QTableWidgetItem(f"{row.get('name', '')}  ({frames})")
        name.setToolTip(name.text())
        self.table.setItem(0, 0, name)
        self.table.setSpan(0, 0, 1, len(COLUMNS))
        for column, text in enumerate(row_cells(row)):
            item = QTableWidgetItem(text)
            item.setTextAlignment(int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter))
            item.setToolTip(details if column == 0 else f"{COLUMNS[column][1]}: {text}")
            self.table.setItem(1, column, item)

    def count(self) -> int:
        """How many loads the table shows."""
        return self.table.rowCount() // 2

    def cells(self, load: int = 0) -> dict[str, str]:
        """The texts of a load by column title, and its "Name" line (load 0 is the newest)."""
        cells = {title: self.table.item(2 * load + 1, c).text() for c, title in enumerate(TITLES)}
        cells["Name"] = self.table.item(2 * load, 0).text()
        return cells

    def history_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_TITLES)
        for row in reversed(get_history().rows):
            writer.writerow(csv_cells(row))
        return buffer.getvalue()

    def _export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export load timings", "dicom-loads.csv", "CSV (*.csv)")
        if path:
            with open(path, "w", newline="") as fh:
                fh.write(self.history_csv())
