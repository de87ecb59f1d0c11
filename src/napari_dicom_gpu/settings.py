"""State shared by the reader and the dock widget: plain Python, persisted as JSON.

The reader (drag-and-drop, File > Open) reads the backend from here; the widget writes it. Each
load adds a row to the session's history, which the widget shows.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BACKENDS = ("auto", "gpu", "cpu")


def config_dir() -> Path:
    override = os.environ.get("NAPARI_DICOM_GPU_CONFIG_DIR")
    if override:
        return Path(override)
    return _default_config_dir()


@functools.cache
def _default_config_dir() -> Path:
    # Asked on every load (the settings follow the environment): a failed import is not cached
    # by Python, so the answer is.
    try:
        from platformdirs import user_config_dir
    except ImportError:  # headless engine use without napari's dependencies
        return Path.home() / ".config" / "napari-dicom-gpu"
    return Path(user_config_dir("napari-dicom-gpu", appauthor=False))


@dataclass
class DecodeSettings:
    """The user's choices (backend, geometry), remembered across napari sessions."""

    backend: str = "auto"
    #: show oblique and non-axial series in patient space through napari's ``affine`` instead of
    #: image-aligned (rows and columns on the screen axes, the affine in ``metadata``)
    world_aligned: bool = False
    directory: Path = field(default_factory=config_dir)
    _listeners: list[Callable[[str], None]] = field(default_factory=list, repr=False)

    @property
    def path(self) -> Path:
        return self.directory / "settings.json"

    @classmethod
    def load(cls) -> DecodeSettings:
        settings = cls()
        try:
            stored = json.loads(settings.path.read_text())
            if stored.get("backend") in BACKENDS:
                settings.backend = stored["backend"]
            if isinstance(stored.get("world_aligned"), bool):
                settings.world_aligned = stored["world_aligned"]
        except (OSError, ValueError, AttributeError):
            pass
        return settings

    def _save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps({"backend": self.backend, "world_aligned": self.world_aligned}))
        except OSError:
            pass  # a read-only home must not break decoding; the choice lasts this session

    def set_backend(self, backend: str) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        self.backend = backend
        self._save()
        for listener in list(self._listeners):
            listener(backend)

    def set_world_aligned(self, world_aligned: bool) -> None:
        self.world_aligned = bool(world_aligned)
        self._save()

    def on_change(self, callback: Callable[[str], None]) -> None:
        self._listeners.append(callback)


class LoadHistory:
    """Every load of this session (newest last), with listeners for new rows."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self._listeners: list[Callable[[dict], None]] = []
        self._lock = threading.Lock()

    def add(self, name: str, record: dict) -> dict:
        row = {"name": name, **record}
        with self._lock:
            self.rows.append(row)
        for listener in list(self._listeners):
            listener(row)
        return row

    def on_add(self, callback: Callable[[dict], None]) -> None:
        self._listeners.append(callback)

    def disconnect(self, callback) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)


#: the filename patterns that the one-time choice "use this plugin for DICOM" hands to napari
PREFERRED_PATTERNS = ("*.dcm", "*.dicom", "*.dic", "*.ima")
#: the folder pattern it hands to napari too: napari matches preferences against a folder's real
#: path followed by ``os.sep`` (``napari.plugins.utils._get_preferred_readers``), so ``*/`` is
#: every folder and no file. Folders that are not DICOM go on to napari's own reader.
FOLDER_PATTERN = "*/"
PLUGIN_NAME = "napari-dicom-gpu"


def is_napari_reader_for_dicom() -> bool:
    """Whether napari's reader preferences send DICOM file names and folders to this plugin."""
    from napari.settings import get_settings as napari_settings

    chosen = napari_settings().plugins.extension2reader
    return all(chosen.get(pattern) == PLUGIN_NAME for pattern in (*PREFERRED_PATTERNS, FOLDER_PATTERN))


def make_napari_reader_for_dicom() -> None:
    """Make this plugin napari's reader for DICOM file names and folders, through napari's settings.

    napari's own reader also claims ``*.dcm``, ``*.dicom`` and every folder; without a preference
    every drop of such a file or folder asks which reader to use. napari saves its settings itself,
    so this lasts.
    """
    from napari.settings import get_settings as napari_settings

    plugins = napari_settings().plugins
    plugins.extension2reader = {
        **plugins.extension2reader,
        **dict.fromkeys((*PREFERRED_PATTERNS, FOLDER_PATTERN), PLUGIN_NAME),
    }


def napari_prefers_this_plugin_for(path: str | os.PathLike) -> bool:
    """Whether napari's reader preferences (the folder one, or any other) send ``path`` here.

    Never raises: without napari, or with a napari that moved this helper, the answer is no.
    """
    try:
        from napari.plugins.utils import get_preferred_reader

        return get_preferred_reader(path) == PLUGIN_NAME
    except Exception:
        return False


_settings: DecodeSettings | None = None
_history = LoadHistory()


def get_settings() -> DecodeSettings:
    global _settings
    if _settings is None or _settings.directory != config_dir():
        _settings = DecodeSettings.load()
    return _settings


def get_history() -> LoadHistory:
    return _history
