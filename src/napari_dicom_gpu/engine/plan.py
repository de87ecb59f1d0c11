"""A plan per source, made once before decoding: its codec chain, colour handling and facts.

The run (``engine.run``) executes plans and never re-derives a choice: when a frame fails, the
next codec is the next in its source's chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .backends import nvimgcodec, registry
from .backends.routing import colour_spec
from .codestream import FrameCodestream, inspect_frame
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
    encoded = source.encoded or []
    return len(encoded) + len(source.broken_frames) == source.layout.number_of_frames


def plan_sources(sources: list[Source], mode: Mode) -> list[SourcePlan]:
    plans, base = [], 0
    for source in sources:
        plans.append(plan_source(source, base, mode, len(sources)))
        base += source.layout.number_of_frames
    return plans
