"""The one vocabulary of decode modes, shared by the engine, the settings, the widget and the CLI."""

from __future__ import annotations

from enum import Enum


class Mode(str, Enum):
    """How to decode: ``auto`` picks ``gpu`` when a GPU decoder works here, else ``cpu``."""

    AUTO = "auto"
    GPU = "gpu"
    CPU = "cpu"
    PYDICOM = "pydicom"  # the reference: pydicom's own decoders (without GDCM), frame by frame

    def __str__(self) -> str:
        return self.value

    @property
    def label(self) -> str:
        return {"auto": "Auto", "gpu": "GPU", "cpu": "CPU", "pydicom": "pydicom"}[self.value]


#: every mode, as strings (the CLI's choices)
MODES = tuple(mode.value for mode in Mode)
#: the modes a user picks in the widget and the settings
USER_MODES = (Mode.AUTO.value, Mode.GPU.value, Mode.CPU.value)
