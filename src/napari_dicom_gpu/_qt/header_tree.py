"""A searchable tree of a DICOM header held as DICOM JSON (``layer.metadata["dicom"]``)."""

from __future__ import annotations

from pydicom.datadict import keyword_for_tag
from qtpy.QtWidgets import (
    QHeaderView,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

MAX_VALUE_CHARS = 200


def _value_text(element: dict) -> str:
    if "Value" in element:
        values = element["Value"]
        if element.get("vr") == "PN":
            values = [v.get("Alphabetic", "") if isinstance(v, dict) else v for v in values]
        if element.get("vr") == "SQ":
            return f"{len(values)} item(s)"
        text = "\\".join(str(v) for v in values)
    elif "InlineBinary" in element:
        text = "<binary>"
    elif "BulkDataURI" in element:
        text = "<bulk data>"
    else:
        text = ""
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "..."


def _keyword(tag: str) -> str:
    if tag.endswith("0000"):
        return "GroupLength"
    try:
        return keyword_for_tag(int(tag, 16)) or "(private)"
    except ValueError:
        return ""


class HeaderView(QWidget):
    """Tag, keyword, VR and value of each element; the search box filters rows (and sequences)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit(placeholderText="Search the header (tag, keyword or value)")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Tag", "Keyword", "VR", "Value"])
        # Tag and VR are narrow and fixed; Keyword fits its text; Value takes what is left, so it
        # stays visible at napari's default dock width (long values are elided, full in tooltips).
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setColumnWidth(1, 140)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self.search.textChanged.connect(self.apply_filter)

    def set_header(self, header: dict | None) -> None:
        self.tree.clear()
        self._add(self.tree.invisibleRootItem(), header or {})
        self.apply_filter(self.search.text())

    def _add(self, parent: QTreeWidgetItem, header: dict) -> None:
        for tag, element in header.items():
            tag_text = f"({tag[:4]},{tag[4:]})"
            value = _value_text(element)
            item = QTreeWidgetItem([tag_text, _keyword(tag), element.get("vr", ""), value])
            item.setToolTip(3, value)
            parent.addChild(item)
            if element.get("vr") == "SQ":
                for index, dataset in enumerate(element.get("Value", [])):
                    child = QTreeWidgetItem([f"Item {index + 1}", "", "", ""])
                    item.addChild(child)
                    self._add(child, dataset)

    def apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        root = self.tree.invisibleRootItem()
        for i in range(root.childCount()):
            self._filter(root.child(i), needle)

    def _filter(self, item: QTreeWidgetItem, needle: str) -> bool:
        own = not needle or any(needle in item.text(c).lower() for c in range(4))
        child_match = False
        for i in range(item.childCount()):
            child_match |= self._filter(item.child(i), needle)
        visible = own or child_match
        item.setHidden(not visible)
        if needle and child_match:
            item.setExpanded(True)
        return visible

    def visible_keywords(self) -> list[str]:
        out = []
        root = self.tree.invisibleRootItem()
        for i in range(root.childCount()):
            if not root.child(i).isHidden():
                out.append(root.child(i).text(1))
        return out
