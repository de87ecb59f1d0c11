"""Decode backends. Each reports ``availability()`` with a human reason when it cannot run."""

from . import nvimgcodec, pydicom_cpu
from .base import Availability, FrameFailure

__all__ = ["Availability", "FrameFailure", "nvimgcodec", "pydicom_cpu", "availability"]


def availability() -> dict[str, Availability]:
    """Every backend's availability on this machine, by name."""
    return {
        nvimgcodec.GPU: nvimgcodec.availability(nvimgcodec.GPU),
        nvimgcodec.CPU: nvimgcodec.availability(nvimgcodec.CPU),
        pydicom_cpu.NAME: pydicom_cpu.availability(),
    }
