"""Take the README screenshots in a real napari window (run under Xvfb on a machine without a display).

    xvfb-run -a -s "-screen 0 1400x900x24" python scripts/screenshots.py [--out docs]

Writes, each from a fresh viewer of 1280x800 with the plugin's dock widget:

- ``docs/dicomdirtests.png``: pydicom's ``dicomdirtests`` study opened as a folder, one layer per
  series, shown in napari's grid so every series is visible;
- ``docs/ct-loads.png``: a CT (``693_J2KR.dcm`` of pydicom-data, else ``CT_small.dcm``) with the
  widget's loads table after opening it;
- ``docs/enhanced-multiframe.png``: an enhanced multi-frame CT (``eCT_Supplemental.dcm``).

Every open goes through the widget's own worker, as a user's click would.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pydicom.data

SIZE = (1280, 800)
FAILED: list[str] = []  # opens that failed: the picture shows the failure, the run exits 1


def data_file(name: str) -> str | None:
    """A pydicom test file or a pydicom-data file, by name."""
    folders = [Path(pydicom.data.__file__).parent / "test_files"]
    try:
        import data_store

        folders.append(Path(data_store.__file__).parent / "data")
    except ImportError:
        pass
    for folder in folders:
        hits = sorted(folder.rglob(name))
        if hits:
            return str(hits[0])
    return None


def new_viewer():
    import napari

    from napari_dicom_gpu.settings import get_history

    get_history().rows.clear()  # each picture shows its own loads only
    viewer = napari.Viewer(show=True)
    viewer.window.resize(*SIZE)
    _, widget = viewer.window.add_plugin_dock_widget("napari-dicom-gpu", "DICOM decode (CPU/GPU)")
    return viewer, widget


def open_and_wait(widget, paths: list[str]) -> None:
    """Open through the widget's worker and run Qt's event loop until it has finished."""
    from qtpy.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    worker = widget.open_paths(paths, start=False)
    worker.finished.connect(loop.quit)
    QTimer.singleShot(120_000, loop.quit)  # never hang a documentation run
    worker.start()
    loop.exec()
    print(f"  {', '.join(Path(p).name for p in paths)}: {widget.status.splitlines()[0]}")
    if widget.status.startswith("Open failed"):
        FAILED.append(widget.status)


def settle(viewer) -> None:
    from qtpy.QtWidgets import QApplication

    for _ in range(10):
        QApplication.processEvents()


def shoot(viewer, path: Path) -> None:
    settle(viewer)
    viewer.screenshot(str(path), canvas_only=False, flash=False)
    print(f"wrote {path}")
    viewer.close()


def dicomdir_study(out: Path) -> None:
    viewer, widget = new_viewer()
    folder = Path(pydicom.data.__file__).parent / "test_files" / "dicomdirtests"
    open_and_wait(widget, [str(folder)])
    # Every series is a layer (the list on the left). The study's images are 16x16 thumbnails
    # spread over patient space, so the canvas shows one series alone, fitted, at its middle slice.
    volumes = [layer for layer in viewer.layers if layer.ndim == 3 and not getattr(layer, "rgb", False)]
    main = next((layer for layer in volumes if "Brain" in layer.name), volumes[-1] if volumes else viewer.layers[-1])
    for layer in viewer.layers:
        layer.visible = layer is main
    viewer.layers.selection.active = main
    main.reset_contrast_limits()
    settle(viewer)
    extent = main.extent.world
    if main.ndim == 3:
        viewer.dims.set_point(viewer.dims.ndim - 3, float(extent[0][0] + extent[1][0]) / 2)
    try:
        viewer.fit_to_view(layers=[main])
    except IndexError:  # napari 0.9 cannot fit one 2D layer while the scene shows 3 dims
        viewer.reset_view()
    shoot(viewer, out / "dicomdirtests.png")


def ct_with_loads(out: Path) -> None:
    viewer, widget = new_viewer()
    open_and_wait(widget, [data_file("693_J2KR.dcm") or data_file("CT_small.dcm")])
    widget.layer_panel.select_window("Soft tissue")
    widget.layer_panel.apply_window()
    shoot(viewer, out / "ct-loads.png")


def enhanced_multiframe(out: Path) -> None:
    viewer, widget = new_viewer()
    open_and_wait(widget, [data_file("eCT_Supplemental.dcm")])
    shoot(viewer, out / "enhanced-multiframe.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for take in (dicomdir_study, ct_with_loads, enhanced_multiframe):
        take(out)
    for failure in FAILED:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
