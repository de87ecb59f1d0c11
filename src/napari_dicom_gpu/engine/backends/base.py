"""What every decode backend offers (modelled on pydicom's ``pixels.decoders`` plugins)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Availability:
    """Whether a backend can run here, and if not, why, in words a user understands."""

    available: bool
    reason: str = ""
    details: dict = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.available


@dataclass
class FrameFailure:
    """A frame a backend could not decode (or decoded suspiciously), and why."""

    slot: int
    reason: str
