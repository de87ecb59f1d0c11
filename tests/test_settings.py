"""The plugin's own settings (backend, geometry) and the reader preference it hands to napari."""

from __future__ import annotations

import json

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
        assert chosen["*.png"] == "napari" and all(chosen[p] == "napari-dicom-gpu" for p in PREFERRED_PATTERNS)
    finally:
        settings.plugins.extension2reader = before
