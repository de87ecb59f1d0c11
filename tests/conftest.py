import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("PYNVIMGCODEC_VERBOSITY", "1")
# napari reads its settings file (reader preferences included) at first use: point it at a file of
# this test session, before anything imports napari.settings, so the user's is never read or written.
os.environ["NAPARI_CONFIG"] = str(Path(tempfile.mkdtemp(prefix="napari-dicom-gpu-tests-")) / "settings.yaml")


def _gpu_reason() -> str | None:
    try:
        from napari_dicom_gpu.engine.backends import nvimgcodec
    except Exception as exc:  # pragma: no cover
        return f"engine import failed: {exc}"
    availability = nvimgcodec.availability(nvimgcodec.GPU)
    return None if availability else availability.reason


def pytest_collection_modifyitems(config, items):
    if not any("gpu" in item.keywords for item in items):
        return
    reason = _gpu_reason()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=f"no GPU decoding here: {reason}")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    """Each test gets its own settings file, never the user's."""
    monkeypatch.setenv("NAPARI_DICOM_GPU_CONFIG_DIR", str(tmp_path / "config"))
    yield
