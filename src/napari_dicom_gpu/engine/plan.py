"""A plan per source, made once before decoding: its codec chain, colour handling and facts.

The run (``engine.run``) executes plans and never re-derives a choice: when a frame fails, the
next codec is the next in its source's chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydicom.uid import JPEGTransferSyntaxes

from .backends import nvimgcodec, registry
from .backends.routing import colour_spec
from .codestream import FrameCodestream, inspect_frame, jpeg_precision
from .modes import Mode
from .source import Source

#: codecs that need the frames split out of the file (the others take the whole source)
FRAME_CODECS = (nvimgcodec.GPU, nvimgcodec.CPU)


@dataclass
class SourcePlan:
    """How one source's frames are decoded."""

    source: Source
    base: int  # slot of its first frame in the output volume
    codecs: list[str]  # fallback order, primary first; never empty (pydicom is last)
    info: FrameCodestream | None = None  # what the codestream says (None: pydicom decides)
    colour: str = "UNCHANGED"  # nvImageCodec colour spec reproducing pydicom's output
    #: why the GPU did not get this file, when the mode asked for it
    routed: list[str] = field(default_factory=list)

    @property
    def primary(self) -> str:
        return self.codecs[0]

    def after(self, codec: str) -> str | None:
        """The codec to try when ``codec`` failed on a frame, or ``None`` when none is left."""
        if codec not in self.codecs:
            return None
        index = self.codecs.index(codec)
        return self.codecs[index + 1] if index + 1 < len(self.codecs) else None


def plan_source(source: Source, base: int, mode: Mode, files: int = 1) -> SourcePlan:
    """``files``: how many files the decode holds (a series may route otherwise than one file)."""
    layout = source.layout
    first: bytes | None = None
    info: FrameCodestream | None = None
    if mode != Mode.PYDICOM and source.is_encapsulated:
        first = source.first_frame()
        try:
            info = inspect_frame(first, layout) if first is not None else None
        except Exception:  # an unreadable codestream header: pydicom decides, frame by frame
            first = None
    # The files of a series mostly plan alike: a choice is reused for a source whose every input
    # to it (layout, codestream facts, pixel keyword, files in the decode, frames split) is the same.
    key = (
        mode, layout, info, source.pixel_keyword, _jpeg_precision(first, layout), files,
        _frames_split(source) if first is not None else None,
    )
    known = _PLANS.get(key)
    if known is not None:
        codecs, routed, colour = known
        plan = SourcePlan(source, base, list(codecs), routed=list(routed))
        if plan.primary in FRAME_CODECS:
            plan.info, plan.colour = info, colour
        return plan
    plan = _plan_source(source, base, mode, first, info, files)
    if len(_PLANS) > 256:
        _PLANS.clear()
    _PLANS[key] = (tuple(plan.codecs), tuple(plan.routed), plan.colour)
    return plan


#: plans already made: (mode, layout, codestream facts, ...) -> (codecs, routed, colour)
_PLANS: dict[tuple, tuple] = {}


def _jpeg_precision(first: bytes | None, layout) -> int | None:
    """The one fact of a JPEG frame that routing reads beyond ``inspect_frame``'s."""
    if first is None or layout.transfer_syntax not in JPEGTransferSyntaxes:
        return None
    return jpeg_precision(first)


def _plan_source(
    source: Source, base: int, mode: Mode, first: bytes | None, info: FrameCodestream | None, files: int
) -> SourcePlan:
    layout = source.layout
    entries = [entry for entry in registry.chain(layout.transfer_syntax) if registry.allowed(mode, entry)]
    codecs: list[str] = []
    routed: list[str] = []
    for entry in entries:
        why = entry.refusal(source, first, info, files)
        if why is None:
            codecs.append(entry.name)
        elif entry.on_gpu:
            routed.append(why)
    if mode == Mode.GPU and not any(entry.on_gpu for entry in entries):
        routed.append(
            "native pixel data needs no decoding"
            if not source.is_encapsulated
            else f"{layout.transfer_syntax.name} has no GPU decoder in nvImageCodec"
        )
    if any(name in FRAME_CODECS for name in codecs) and not _frames_split(source):
        codecs = [name for name in codecs if name not in FRAME_CODECS]
        routed.append("frame count differs from Number of Frames")  # pydicom keeps excess frames its way
    plan = SourcePlan(source, base, codecs, routed=routed if mode == Mode.GPU else [])
    if plan.primary in FRAME_CODECS:
        plan.info = info
        plan.colour = colour_spec(layout, info)
    return plan


def _frames_split(source: Source) -> bool:
    """Whether the frames split out, with those missing from the data, are the frames claimed."""
    encoded = source.encoded or []
    missing = sum(1 for index in source.broken_frames if index >= len(encoded))
    return len(encoded) + missing == source.layout.number_of_frames
