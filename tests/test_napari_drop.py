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

from napari.utils.notifications import (  # noqa: E402
    Notification,
    NotificationSeverity,
    notification_manager,
)
from npe2 import PluginManager  # noqa: E402

from tests.dicom_files import data_file  # noqa: E402
from tests.engine.test_sniff import write_ct_series  # noqa: E402

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
    plugins = PluginManager.instance()
    plugins.discover()  # without a viewer made first, no plugin is known and every answer is empty
    return {reader.plugin_name for reader in plugins.iter_compatible_readers([str(path)])}


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


@pytest.mark.parametrize("kind", ["png", "tif", "nii", "jpg"])
def test_other_file_formats_never_offer_this_reader(other_formats, kind):
    assert PLUGIN not in offered_readers(other_formats[kind])


@pytest.mark.parametrize("kind", ["png", "tif"])
def test_dropping_an_image_opens_it_without_a_dialog(viewer, dialogs, other_formats, kind):
    drop(viewer, other_formats[kind])
    assert dialogs == []
    assert len(viewer.layers) == 1 and viewer.layers[0].data.shape == (8, 8)


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


def dicom_study_folders(root: Path) -> dict[str, Path]:
    """A CT series beside an MR file, and pydicom's DICOMDIR study (a CD's layout), as copies."""
    series = write_ct_series(root / "ct_and_mr", extension="")
    shutil.copy(data_file("MR_small.dcm"), series / "mr")
    cd = root / "cd"
    cd.mkdir()
    source = Path(data_file("DICOMDIR")).parent
    shutil.copy(source / "DICOMDIR", cd / "DICOMDIR")
    for patient in ("77654033", "98892001", "98892003"):
        shutil.copytree(source / patient, cd / patient)
    return {"series": series, "cd": cd}


def write_png_stack(folder: Path, count: int = 3) -> Path:
    from skimage.io import imsave

    folder.mkdir()
    for k in range(count):
        imsave(folder / f"frame{k}.png", np.full((8, 8), 40 * k, dtype=np.uint8), check_contrast=False)
    return folder


def errors_in(notes: list[Notification]) -> list[str]:
    return [note.message for note in notes if note.severity >= NotificationSeverity.WARNING]


def make_this_plugin_the_reader(viewer) -> None:
    """The user's one-time choice, clicked in the dock widget."""
    from napari_dicom_gpu._qt import DicomDecodeWidget

    widget = DicomDecodeWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.reader_button.click()
    assert not widget.reader_button.isEnabled()


def test_every_folder_offers_this_reader_and_napari_builtin(tmp_path, other_formats):
    # npe2 matches no pattern for folders: a Zarr store is offered this reader too, which takes
    # only folders that can be DICOM (tests/test_reader.py) and hands the rest to napari's own
    folders = dicom_study_folders(tmp_path)
    for folder in (folders["series"], write_png_stack(tmp_path / "pngs"), other_formats["zarr"]):
        assert offered_readers(folder) == {"napari", PLUGIN}, folder.name


def test_before_the_choice_a_dicom_folder_drop_asks_which_reader_and_crashes_nothing(viewer, dialogs, tmp_path):
    from napari.errors import MultipleReaderError

    folder = dicom_study_folders(tmp_path)["series"]
    with pytest.raises(MultipleReaderError):
        viewer.open(folder, plugin=None)  # what napari's drop path catches to show its "Choose reader" dialog
    drop(viewer, folder)
    assert dialogs == [([str(folder)], None, None)] and len(viewer.layers) == 0


def test_before_the_choice_other_folders_ask_too(viewer, dialogs, tmp_path):
    # the trade-off of claiming folders: npe2 offers every folder reader for every folder
    drop(viewer, write_png_stack(tmp_path / "pngs"))
    assert len(dialogs) == 1 and len(viewer.layers) == 0


def test_after_the_choice_dicom_folders_open_on_drop_without_a_dialog(viewer, dialogs, tmp_path):
    folders = dicom_study_folders(tmp_path)
    make_this_plugin_the_reader(viewer)
    start = len(notification_manager.records)
    drop(viewer, folders["series"])
    assert sorted(layer.data.shape for layer in viewer.layers) == [(3, 128, 128), (64, 64)]
    drop(viewer, folders["cd"])
    assert len(viewer.layers) == 2 + 19  # every series the DICOMDIR study holds
    assert dialogs == [] and errors_in(new_notes(start)) == []
    assert all(layer.metadata["decode"]["files"] >= 1 for layer in viewer.layers)


def same_layers_as_napari_builtin_reader(make_napari_viewer, folder: Path, dropped) -> None:
    alone = make_napari_viewer()
    expected = alone.open(folder, plugin="napari")
    assert len(dropped.layers) == len(expected) >= 1
    for got, want in zip(dropped.layers, expected, strict=True):
        assert got.name == want.name and type(got) is type(want)
        np.testing.assert_array_equal(np.asarray(got.data), np.asarray(want.data))


def test_after_the_choice_a_folder_of_pngs_still_opens_with_napari_builtin_reader(
    viewer, dialogs, make_napari_viewer, tmp_path
):
    folder = write_png_stack(tmp_path / "pngs")
    make_this_plugin_the_reader(viewer)
    start = len(notification_manager.records)
    drop(viewer, folder)
    assert dialogs == [] and errors_in(new_notes(start)) == []
    assert viewer.layers[0].data.shape == (3, 8, 8)
    same_layers_as_napari_builtin_reader(make_napari_viewer, folder, viewer)


def test_after_the_choice_a_zarr_folder_still_opens_with_napari_builtin_reader(
    viewer, dialogs, make_napari_viewer, tmp_path
):
    zarr = pytest.importorskip("zarr", reason="napari's own reader needs zarr for Zarr folders")
    folder = tmp_path / "image.zarr"
    array = zarr.open_array(str(folder), mode="w", shape=(4, 8, 8), chunks=(1, 8, 8), dtype="uint16")
    array[:] = np.arange(256, dtype=np.uint16).reshape(4, 8, 8)
    make_this_plugin_the_reader(viewer)
    start = len(notification_manager.records)
    drop(viewer, folder)
    assert dialogs == [] and errors_in(new_notes(start)) == []
    assert viewer.layers[0].data.shape == (4, 8, 8)
    same_layers_as_napari_builtin_reader(make_napari_viewer, folder, viewer)


def test_after_the_choice_a_dicom_tree_deeper_than_the_look_still_opens_on_drop(viewer, dialogs, tmp_path):
    write_ct_series(tmp_path / "export" / "patient" / "study" / "series")  # no DICOMDIR
    make_this_plugin_the_reader(viewer)
    drop(viewer, tmp_path / "export")  # napari's reader finds no files; the full DICOM read does
    assert dialogs == [] and [layer.data.shape for layer in viewer.layers] == [(3, 128, 128)]


@pytest.mark.parametrize("content", ["empty", "text"])
def test_after_the_choice_a_folder_no_reader_opens_is_one_notification(viewer, dialogs, tmp_path, content):
    folder = tmp_path / content
    folder.mkdir()
    if content == "text":
        (folder / "notes.txt").write_text("not an image")
    make_this_plugin_the_reader(viewer)
    start = len(notification_manager.records)
    drop(viewer, folder)
    (note,) = new_notes(start)
    assert type(note) is Notification and note.message.startswith(f"Cannot open '{folder}': it is not a DICOM folder")
    assert "napari's own reader cannot open it" in note.message
    assert dialogs == [] and len(viewer.layers) == 0


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
