"""The record of one decode: what ran, what fell back, what failed, and how long each stage took."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

#: Stages in the order a user waits for them. ``read`` is file reading and header parsing,
#: ``init`` the one-time codec start-up, ``to_host`` the copy from the GPU, ``values`` the
#: modality LUT (HU) and ``layer`` the rest of the layer preparation.
STAGES = ("read", "init", "decode", "to_host", "values", "layer")


@dataclass
class FrameEvent:
    """A frame that fell back to another codec (``to`` set) or that nothing could decode."""

    frame: int
    file: str
    reason: str
    source: str = ""  # the codec that failed ("none" when the frame could not even be split out)
    to: str | None = None

    def to_dict(self) -> dict:
        return {"frame": self.frame, "file": self.file, "reason": self.reason, "from": self.source, "to": self.to}


@dataclass
class DecodeRecord:
    """What one decode did; ``to_dict()`` is what ``layer.metadata["decode"]`` holds."""

    backend: str
    device: str = "host"
    codecs: dict[str, int] = field(default_factory=dict)
    transfer_syntax: str = ""
    transfer_syntax_uid: str = ""
    photometric_interpretation: str = ""
    frames: int = 0
    files: int = 0
    megabytes: float = 0.0
    fallbacks: list[FrameEvent] = field(default_factory=list)
    errors: list[FrameEvent] = field(default_factory=list)
    cpu_routed: list[dict] = field(default_factory=list)  # files the GPU mode sent to the CPU, and why
    host_path: str | None = None
    gpu: str | None = None
    messages: list[str] = field(default_factory=list)  # codec diagnostics worth showing
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def codec(self) -> str:
        """The codec that decoded most frames."""
        if not self.codecs:
            return "none"
        return max(self.codecs.items(), key=lambda item: item[1])[0]

    def add_seconds(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def to_dict(self) -> dict:
        # By hand, not dataclasses.asdict: its deep copy cost more than decoding a small file.
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out.update(
            codecs=dict(self.codecs),
            fallbacks=[event.to_dict() for event in self.fallbacks],
            errors=[event.to_dict() for event in self.errors],
            cpu_routed=[dict(item) for item in self.cpu_routed],
            messages=list(self.messages),
            seconds=dict(self.seconds),
            codec=self.codec,
        )
        return out
