"""The plugin's own settings (backend, geometry) and the reader preference it hands to napari."""

from __future__ import annotations

import json
import os

import pytest

from napari_dicom_gpu.settings import DecodeSettings, get_settings


def test_defaults_are_auto_and_image_aligned():
    settings = DecodeSettings.load()
    assert settings.backend == "auto" and settings.world_aligned is False


def test_world_aligned_is_remembered_with_the_backend():
    get_settings().set_backend("cpu")
    get_settings().set_world_aligned(True)
    again = DecodeSettings.load()
    assert again.backend == "cpu" and again.world_aligned is True


def test_a_damaged_settings_file_gives_the_defaults():
    settings = get_settings()
    settings.path.parent.mkdir(parents=True, exist_ok=True)
    settings.path.write_text("{not json")
    assert DecodeSettings.load().backend == "auto"
    settings.path.write_text(json.dumps({"backend": "quantum", "world_aligned": "yes"}))
    loaded = DecodeSettings.load()
    assert loaded.backend == "auto" and loaded.world_aligned is False


def test_an_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend must be one of"):
        get_settings().set_backend("quantum")


def test_making_this_plugin_napari_reader_for_dicom_sets_napari_preferences(monkeypatch):
    pytest.importorskip("napari")
    from napari.settings import get_settings as napari_settings

    from napari_dicom_gpu.settings import (
        FOLDER_PATTERN,
        PREFERRED_PATTERNS,
        is_napari_reader_for_dicom,
        make_napari_reader_for_dicom,
    )

    settings = napari_settings()
    monkeypatch.setattr(type(settings), "_maybe_save", lambda self: None)  # never the user's file
    before = dict(settings.plugins.extension2reader)
    try:
        settings.plugins.extension2reader = {"*.png": "napari"}
        assert not is_napari_reader_for_dicom()
        make_napari_reader_for_dicom()
        assert is_napari_reader_for_dicom()
        chosen = settings.plugins.extension2reader
        assert chosen["*.png"] == "napari"
        assert all(chosen[p] == "napari-dicom-gpu" for p in (*PREFERRED_PATTERNS, FOLDER_PATTERN))
    finally:
        settings.plugins.extension2reader = before


def test_a_choice_made_before_folders_counted_is_offered_again(monkeypatch):
    pytest.importorskip("napari")
    from napari.settings import get_settings as napari_settings

    from napari_dicom_gpu.settings import PREFERRED_PATTERNS, is_napari_reader_for_dicom

    settings = napari_settings()
    monkeypatch.setattr(type(settings), "_maybe_save", lambda self: None)
    before = dict(settings.plugins.extension2reader)
    try:
        settings.plugins.extension2reader = dict.fromkeys(PREFERRED_PATTERNS, "napari-dicom-gpu")
        assert not is_napari_reader_for_dicom()  # files only: the widget offers the choice again
    finally:
        settings.plugins.extension2reader = before


def test_the_folder_preference_matches_every_folder_and_no_file_in_napari_preference_matcher(tmp_path, monkeypatch):
    pytest.importorskip("napari")
    from napari.plugins.utils import get_preferred_reader
    from napari.settings import get_settings as napari_settings

    from napari_dicom_gpu.settings import (
        make_napari_reader_for_dicom,
        napari_prefers_this_plugin_for,
    )

    settings = napari_settings()
    monkeypatch.setattr(type(settings), "_maybe_save", lambda self: None)
    before = dict(settings.plugins.extension2reader)
    folder, zarr_store, png = tmp_path / "series", tmp_path / "image.zarr", tmp_path / "a.png"
    folder.mkdir()
    zarr_store.mkdir()
    png.write_bytes(b"")
    try:
        settings.plugins.extension2reader = {}
        assert not napari_prefers_this_plugin_for(folder)
        make_napari_reader_for_dicom()
        assert get_preferred_reader(folder) == get_preferred_reader(zarr_store) == "napari-dicom-gpu"
        assert napari_prefers_this_plugin_for(folder) and napari_prefers_this_plugin_for(zarr_store)
        assert get_preferred_reader(png) is None and not napari_prefers_this_plugin_for(png)
        # a folder the user sent elsewhere in napari's dialog ("remember" ticked) stays there
        settings.plugins.extension2reader = {
            **settings.plugins.extension2reader,
            f"{zarr_store.resolve()}{os.sep}": "napari",
        }
        assert not napari_prefers_this_plugin_for(zarr_store) and napari_prefers_this_plugin_for(folder)
    finally:
        settings.plugins.extension2reader = before
