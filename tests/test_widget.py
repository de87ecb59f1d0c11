"""The dock widget in a real napari viewer (pytest-qt)."""

from __future__ import annotations

import pytest

pytest.importorskip("qtpy", reason="the widget needs Qt (absent on the GPU machine)")

from napari_dicom_gpu._widget import DicomDecodeWidget  # noqa: E402
from napari_dicom_gpu.engine.backends import nvimgcodec  # noqa: E402
from napari_dicom_gpu.settings import DecodeSettings, get_history, get_settings  # noqa: E402
from tests.dicom_files import data_file  # noqa: E402

GPU = nvimgcodec.availability(nvimgcodec.GPU)


@pytest.fixture
def widget(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    widget = DicomDecodeWidget(viewer)
    viewer.window.add_dock_widget(widget)
    return widget


def test_widget_is_a_manifest_contribution(make_napari_viewer):
    viewer = make_napari_viewer()
    dock, widget = viewer.window.add_plugin_dock_widget("napari-dicom-gpu", "DICOM decode (CPU/GPU)")
    assert isinstance(widget, DicomDecodeWidget)


def test_choosing_cpu_makes_the_next_drag_and_drop_load_use_cpu(widget):
    widget.backend_combo.setCurrentIndex(widget.backend_combo.findData("cpu"))
    assert get_settings().backend == "cpu"
    (layer,) = widget.viewer.open(data_file("examples_ybr_color.dcm"), plugin="napari-dicom-gpu")
    assert layer.metadata["decode"]["backend"] == "cpu"


def test_backend_choice_is_remembered_across_sessions(widget):
    widget.backend_combo.setCurrentIndex(widget.backend_combo.findData("cpu"))
    assert DecodeSettings.load().backend == "cpu"


def test_a_load_adds_a_row_with_timings(widget, qtbot):
    before = widget.table.rowCount()
    widget.viewer.open(data_file("examples_ybr_color.dcm"), plugin="napari-dicom-gpu")
    qtbot.waitUntil(lambda: widget.table.rowCount() == before + 1, timeout=5000)
    cells = [widget.table.item(0, c).text() for c in range(widget.table.columnCount())]
    assert cells[1] == "30" and float(cells[5]) > 0 and float(cells[7]) > 0 and float(cells[8]) > 0
    assert "examples_ybr_color" in widget.history_csv()


@pytest.mark.skipif(bool(GPU), reason="this machine has a GPU")
def test_gpu_unavailable_reason_is_shown_and_gpu_disabled(widget):
    assert widget.gpu_label.text().startswith("GPU unavailable: ")
    assert GPU.reason in widget.gpu_label.text()
    item = widget.backend_combo.model().item(widget.backend_combo.findData("gpu"))
    assert not item.isEnabled()


def test_compare_runs_without_adding_layers(widget, qtbot):
    widget.viewer.open(data_file("examples_ybr_color.dcm"), plugin="napari-dicom-gpu")
    count = len(widget.viewer.layers)
    widget.compare_selected()
    qtbot.waitUntil(lambda: "speedup" in widget.compare_label.text(), timeout=30000)
    text = widget.compare_label.text()
    assert "speedup" in text and "max pixel difference" in text
    if not GPU:
        assert "compared CPU with CPU" in text
    assert len(widget.viewer.layers) == count


def test_window_presets_set_contrast_limits(widget):
    widget.viewer.open(data_file("CT_small.dcm"), plugin="napari-dicom-gpu")
    widget.select_window("Lung")
    widget.apply_window()
    assert tuple(widget.viewer.layers[-1].contrast_limits) == (-1350.0, 150.0)
    widget.select_window("Bone")
    widget.apply_window()
    assert tuple(widget.viewer.layers[-1].contrast_limits) == (-770.0, 1730.0)


def test_header_view_is_searchable(widget):
    widget.viewer.open(data_file("CT_small.dcm"), plugin="napari-dicom-gpu")
    widget.header_view.search.setText("PatientName")
    assert widget.header_view.visible_keywords() == ["PatientName"]
    widget.header_view.search.setText("")
    assert len(widget.header_view.visible_keywords()) > 20


def test_threaded_open_adds_layer_and_can_be_cancelled(widget, qtbot):
    widget.open_paths([data_file("examples_ybr_color.dcm")])
    qtbot.waitUntil(lambda: widget._worker is None, timeout=30000)
    assert widget.viewer.layers[-1].data.shape == (30, 240, 320, 3)
    count = len(widget.viewer.layers)
    widget.open_paths([data_file("color3d_jpeg_baseline.dcm")])
    widget.cancel_load()
    qtbot.waitUntil(lambda: widget._worker is None, timeout=60000)
    assert len(widget.viewer.layers) == count
    assert "cancel" in widget.status_label.text().lower()


def test_history_rows_are_shared_with_the_reader(widget, qtbot):
    rows = len(get_history().rows)
    widget.viewer.open(data_file("MR_small.dcm"), plugin="napari-dicom-gpu")
    assert len(get_history().rows) == rows + 1
