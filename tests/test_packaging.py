"""The dependency set per platform, resolved from pyproject's markers (no network).

nvImageCodec, nvJPEG and nvJPEG2000 publish wheels for Linux x86-64, Linux aarch64 and Windows
x86-64 only (checked with ``pip download --only-binary=:all: --platform ...`` for nvidia-nvimgcodec-cu12
0.9.0.20, nvidia-nvjpeg-cu12 12.4.0.76, nvidia-nvjpeg2k-cu12 0.11.0.51); pydicom's CPU codecs
(python-gdcm 3.2.6, pylibjpeg-libjpeg 2.5.0, -openjpeg, -rle) also have macOS arm64 wheels.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

#: packaging marker environments of the platforms napari runs on
PLATFORMS = {
    "macOS arm64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64", "os_name": "posix"},
    "macOS x86-64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "x86_64", "os_name": "posix"},
    "Windows x86-64": {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64", "os_name": "nt"},
    "Windows arm64": {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "ARM64", "os_name": "nt"},
    "Linux x86-64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix"},
    "Linux aarch64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64", "os_name": "posix"},
}
#: where each NVIDIA package has wheels
NVIDIA_WHEELS = {"Windows x86-64", "Linux x86-64", "Linux aarch64"}
NVIDIA = {"nvidia-nvimgcodec-cu12"}
CPU_CODECS = {"pydicom", "pylibjpeg", "pylibjpeg-libjpeg", "pylibjpeg-openjpeg", "pylibjpeg-rle", "python-gdcm"}


def resolved(platform: str) -> set[str]:
    """Names of the dependencies pip installs on ``platform`` (Python 3.11)."""
    environment = {"python_version": "3.11", "python_full_version": "3.11.9", "implementation_name": "cpython",
                   "platform_python_implementation": "CPython", **PLATFORMS[platform]}  # fmt: skip
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    out = set()
    for text in dependencies:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            out.add(requirement.name)
    return out


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_gpu_packages_only_where_their_wheels_exist(platform):
    names = resolved(platform)
    assert (names >= NVIDIA) == (platform in NVIDIA_WHEELS), names
    if platform not in NVIDIA_WHEELS:
        assert not any(name.startswith("nvidia-") for name in names)


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_cpu_decoding_installs_everywhere(platform):
    assert CPU_CODECS | {"napari", "numpy"} <= resolved(platform)


def test_gpu_extras_come_with_nvimgcodec():
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (nv,) = [Requirement(t) for t in dependencies if t.startswith("nvidia-nvimgcodec")]
    assert nv.extras == {"nvjpeg", "nvjpeg2k"}


def test_without_nvimgcodec_the_widget_says_why_the_gpu_is_off(monkeypatch):
    pytest.importorskip("qtpy")
    import sys

    from napari_dicom_gpu._qt import backend_panel
    from napari_dicom_gpu.engine.backends.base import Availability

    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(backend_panel, "availability", lambda: {backend_panel.nvimgcodec.GPU: Availability(
        False, "nvImageCodec is not installed (pip install nvidia-nvimgcodec-cu12)")})
    available, text = backend_panel.gpu_text()
    assert not available and "macOS" in text and "CPU" in text
