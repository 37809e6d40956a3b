"""Meetings of the video-conference network: when, for how long, and which points take part."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Meeting:
    """A planned meeting; its points were fixed when it was planned (an area's, a class's, or
    a list)."""

    id: int
    title: str
    starts_at_ms: int
    ends_at_ms: int
    points: tuple[str, ...]
    scope: str  # how the points were chosen, as the planner said it ("area D1", "class vc")
    created_by: str
    cancelled_at_ms: int | None = None

    def readiness_from_ms(self, lead_ms: int) -> int:
        """When the readiness board opens (`lead_ms` before the start)."""
        return self.starts_at_ms - lead_ms
