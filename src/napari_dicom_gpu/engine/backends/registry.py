"""Which codecs may decode which transfer syntax, in fallback order (as pydicom's decoders do).

Each codec is registered for the syntaxes it can decode; the order of registration is the
fallback order. ``refusal`` functions then decline a particular file (bit depth, sign, colour)
with a reason in words. A mode keeps the codecs it allows: ``pydicom`` only the reference,
``cpu`` everything but the GPU, ``gpu`` everything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from ..codestream import FrameCodestream
from ..modes import Mode
from ..source import Source
from . import native, nvimgcodec, pydicom_cpu
from .routing import cpu_refusal, gpu_refusal

#: (source, first encoded frame or None, codestream facts or None, files in the decode)
#: -> why not, or None
Refusal = Callable[[Source, "bytes | None", "FrameCodestream | None", int], "str | None"]


@dataclass(frozen=True)
class CodecEntry:
    name: str
    refusal: Refusal
    on_gpu: bool = False


NATIVE_SYNTAXES = (ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian)
ENCAPSULATED_GPU = (
    JPEGBaseline8Bit, JPEGLossless, JPEGLosslessSV1, JPEG2000Lossless, JPEG2000,
    HTJ2KLossless, HTJ2KLosslessRPCL, HTJ2K,
)
PYDICOM_ONLY = (JPEGExtended12Bit, JPEGLSLossless, JPEGLSNearLossless, RLELossless)

_REGISTRY: dict[UID, list[CodecEntry]] = {}


def register(syntaxes, entry: CodecEntry) -> None:
    """Add ``entry`` to the end of each syntax's chain (later = later fallback)."""
    for syntax in syntaxes:
        _REGISTRY.setdefault(UID(syntax), []).append(entry)


def _native_refusal(source, _first, _info, _files):
    return native.refusal(source)


def _gpu(source, first, _info, _files):
    return gpu_refusal(source.layout, first) if first is not None else "unreadable first frame"


def _cpu(source, first, info, files):
    return cpu_refusal(source.layout, info, first, files) if first is not None else "unreadable first frame"


def _always(_source, _first, _info, _files):
    return None


register(NATIVE_SYNTAXES, CodecEntry(native.NAME, _native_refusal))
register(ENCAPSULATED_GPU, CodecEntry(nvimgcodec.GPU, _gpu, on_gpu=True))
register(ENCAPSULATED_GPU, CodecEntry(nvimgcodec.CPU, _cpu))
register((*NATIVE_SYNTAXES, *ENCAPSULATED_GPU, *PYDICOM_ONLY), CodecEntry(pydicom_cpu.NAME, _always))


def allowed(mode: Mode, entry: CodecEntry) -> bool:
    if mode == Mode.PYDICOM:
        return entry.name == pydicom_cpu.NAME
    return mode == Mode.GPU or not entry.on_gpu


def chain(syntax: UID) -> list[CodecEntry]:
    """Every codec registered for ``syntax``, in fallback order (pydicom last for all)."""
    return list(_REGISTRY.get(UID(syntax), [CodecEntry(pydicom_cpu.NAME, _always)]))
