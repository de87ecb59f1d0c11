"""Files dropped on a real napari window, through napari's own drop path (``plugin=None``).

napari 0.9's drop handler (``QtViewer.dropEvent``) calls ``_qt_open``, which opens the "Choose
reader" dialog (``handle_gui_reading``) when several readers claim a name and none is preferred,
or when the reader used raised. The dialog is replaced here by a recorder, so a test sees every
time napari would have shown it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

pytest.importorskip("qtpy", reason="needs Qt")

from napari.utils.notifications import Notification, notification_manager  # noqa: E402
from npe2 import PluginManager  # noqa: E402

from tests.dicom_files import data_file  # noqa: E402

PLUGIN = "napari-dicom-gpu"


@pytest.fixture
def napari_settings(monkeypatch):
    """napari's settings, never saved to the user's file; our reader preference undone after."""
    from napari.settings import get_settings

    settings = get_settings()
    monkeypatch.setattr(type(settings), "_maybe_save", lambda self: None)
    before = dict(settings.plugins.extension2reader)
    yield settings
    settings.plugins.extension2reader = before


@pytest.fixture
def dialogs(monkeypatch):
    """Each time napari would show its "Choose reader" dialog: (paths, plugin tried, error)."""
    from napari._qt import qt_viewer

    shown = []
    monkeypatch.setattr(
        qt_viewer,
        "handle_gui_reading",
        lambda paths, _viewer, _stack, plugin_name=None, error=None, **_: shown.append((paths, plugin_name, error)),
    )
    return shown


@pytest.fixture
def viewer(make_napari_viewer, napari_settings):
    return make_napari_viewer()


def drop(viewer, path) -> None:
    """What a drag-and-drop of ``path`` onto the canvas does."""
    from qtpy.QtCore import QMimeData, QPointF, Qt, QUrl
    from qtpy.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    )
    viewer.window._qt_viewer.dropEvent(event)


def offered_readers(path) -> set[str]:
    """The plugins napari would offer for ``path`` (its dialog lists exactly these)."""
    return {reader.plugin_name for reader in PluginManager.instance().iter_compatible_readers([str(path)])}


def new_notes(start: int) -> list[Notification]:
    return notification_manager.records[start:]


@pytest.fixture
def other_formats(tmp_path) -> dict[str, Path]:
    from skimage.io import imsave

    image = (np.arange(64, dtype=np.uint8).reshape(8, 8) * 3).astype(np.uint8)
    png, tif = tmp_path / "plain.png", tmp_path / "plain.tif"
    imsave(png, image, check_contrast=False)
    imsave(tif, image, check_contrast=False)
    nii = tmp_path / "brain.nii.gz"
    nii.write_bytes(b"\x1f\x8b" + bytes(100))
    zarr = tmp_path / "image.zarr"
    zarr.mkdir()
    (zarr / ".zarray").write_text("{}")
    jpg = tmp_path / "photo.jpg"
    imsave(jpg, image, check_contrast=False)
    return {"png": png, "tif": tif, "nii": nii, "zarr": zarr, "jpg": jpg}


@pytest.mark.parametrize("kind", ["png", "tif", "nii", "zarr", "jpg"])
def test_other_formats_never_offer_this_reader(other_formats, kind):
    assert PLUGIN not in offered_readers(other_formats[kind])


@pytest.mark.parametrize("kind", ["png", "tif"])
def test_dropping_an_image_opens_it_without_a_dialog(viewer, dialogs, other_formats, kind):
    drop(viewer, other_formats[kind])
    assert dialogs == []
    assert len(viewer.layers) == 1 and viewer.layers[0].data.shape == (8, 8)


def test_folders_are_not_claimed_so_a_zarr_folder_asks_nothing_of_this_plugin(tmp_path):
    folder = tmp_path / "series"
    folder.mkdir()
    shutil.copy(data_file("CT_small.dcm"), folder / "ct.dcm")
    assert PLUGIN not in offered_readers(folder)


def test_dicom_names_are_claimed(tmp_path):
    for name in ("a.dcm", "A.DCM", "x.dicom", "x.dic", "scan.IMA", "IM000001", "DICOMDIR", "6154",
                 "1.2.840.113619.2.55.3.604688119"):  # fmt: skip
        assert PLUGIN in offered_readers(tmp_path / name), name


def test_dropping_a_dcm_file_asks_until_this_plugin_is_made_the_reader_then_never(viewer, dialogs, qtbot):
    from napari_dicom_gpu._qt import DicomDecodeWidget

    path = data_file("CT_small.dcm")
    assert offered_readers(path) >= {"napari", PLUGIN}
    drop(viewer, path)
    assert len(dialogs) == 1 and len(viewer.layers) == 0  # napari asks: two readers claim .dcm

    widget = DicomDecodeWidget(viewer)
    viewer.window.add_dock_widget(widget)
    assert widget.reader_button.isEnabled()
    widget.reader_button.click()
    assert not widget.reader_button.isEnabled()

    drop(viewer, path)
    drop(viewer, data_file("MR_small.dcm"))
    assert len(dialogs) == 1
    assert [layer.metadata["decode"]["files"] for layer in viewer.layers] == [1, 1]


def test_an_extensionless_dicom_file_opens_on_drop(viewer, dialogs, tmp_path):
    path = tmp_path / "IM000001"
    shutil.copy(data_file("CT_small.dcm"), path)
    drop(viewer, path)
    assert dialogs == [] and viewer.layers[0].data.shape == (128, 128)


def broken_files(folder: Path) -> dict[str, Path]:
    folder.mkdir(exist_ok=True)
    files = {}
    files["truncated"] = folder / "truncated.dcm"
    files["truncated"].write_bytes(Path(data_file("CT_small.dcm")).read_bytes()[:2000])
    files["text"] = folder / "notes.dcm"
    files["text"].write_text("This is a text file, not an image.\n" * 20)
    files["no pixel data"] = folder / "rtstruct.dcm"
    shutil.copy(data_file("rtstruct.dcm"), files["no pixel data"])
    ds = pydicom.dcmread(data_file("CT_small.dcm"))
    ds.file_meta.TransferSyntaxUID = "1.2.3.4.5.6"
    files["bad transfer syntax"] = folder / "bad_syntax.dcm"
    ds.save_as(files["bad transfer syntax"], enforce_file_format=True)
    files["empty"] = folder / "empty.dcm"
    files["empty"].write_bytes(b"")
    return files


def test_dropping_broken_files_gives_one_sentence_each_and_the_viewer_stays_usable(
    viewer, dialogs, napari_settings, tmp_path
):
    from napari_dicom_gpu.settings import make_napari_reader_for_dicom

    make_napari_reader_for_dicom()
    for kind, path in broken_files(tmp_path / "bad").items():
        start = len(notification_manager.records)
        drop(viewer, path)  # an exception here would be napari's traceback dialog
        notes = new_notes(start)
        assert len(notes) == 1, (kind, [n.message for n in notes])
        (note,) = notes
        assert type(note) is Notification, kind  # ErrorNotification is the one with a traceback
        assert note.message.startswith(f"Cannot open '{path}'"), (kind, note.message)
        assert "Traceback" not in note.message
    assert dialogs == [] and len(viewer.layers) == 0
    drop(viewer, data_file("CT_small.dcm"))
    assert len(viewer.layers) == 1


def test_a_new_layer_outside_the_view_is_brought_into_view(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "ultrasound")
    centre_on_ultrasound = np.asarray(viewer.camera.center)[-2:]
    (ct,) = viewer.open_sample(PLUGIN, "ct")  # placed in patient millimetres, away from the cine
    scene = np.asarray(viewer.layers.extent.world)[:, -2:]
    # the view was fitted to the scene (napari's reset_view), which holds the CT
    assert np.asarray(viewer.camera.center)[-2:] == pytest.approx(scene.mean(axis=0), abs=1)
    assert not np.allclose(centre_on_ultrasound, scene.mean(axis=0))
