"""What every rule kind implements, and helpers they share.

A condition is told about a device's readings, events and status, and asked for a verdict:
None (does not hold) or a severity with facts for the message. `due` names the devices whose
verdict may change with time alone (a `for` timer running out, a silence window passing).
Time is always the engine's clock (when ioc received the message), never the device's own.
State is kept only where it is needed and can be dumped to JSON and loaded after a restart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from ioc.domain import MetricValue, Severity
from ioc.rules._spec import Comparison

Verdict = tuple[Severity, dict[str, object]] | None
Json = Any


class Condition(Protocol):
    """What every rule kind does; the engine calls these from one thread."""

    live_facts: bool  # its facts change while it holds (a prediction) and are worth an update

    def on_reading(self, device_id: str, metrics: Mapping[str, MetricValue], now: int) -> bool:
        """Take a reading; True if the verdict may have changed."""
        ...

    def on_event(self, device_id: str, event_type: str, now: int) -> bool:
        """Take an event; True if the verdict may have changed."""
        ...

    def on_status(self, device_id: str, online: bool, now: int) -> bool:
        """Take an online/offline status; True if the verdict may have changed."""
        ...

    def verdict(self, device_id: str, now: int) -> Verdict:
        """Whether the condition holds for the device now, and how badly."""
        ...

    def due(self, now: int) -> Iterable[str]:
        """Devices whose verdict may have changed with the passing of time."""
        ...

    def dump(self, device_id: str) -> Json:
        """The device's state as JSON (None: nothing worth keeping)."""
        ...

    def load(self, device_id: str, data: Json) -> None:
        """Restore what `dump` gave."""
        ...

    def assume_active(self, device_id: str, since: int) -> None:
        """An open alert exists but its state was lost: treat the condition as holding."""
        ...


def compile_comparison(spec: Comparison) -> Callable[[MetricValue], bool]:
    """A predicate for above / below / equals; a value of the wrong type never matches."""
    if spec.above is not None:
        above = spec.above
        return lambda value: type(value) is not bool and type(value) is not str and value > above  # type: ignore[operator]
    if spec.below is not None:
        below = spec.below
        return lambda value: type(value) is not bool and type(value) is not str and value < below  # type: ignore[operator]
    target = spec.equals
    if isinstance(target, bool | str):
        return lambda value: type(value) is type(target) and value == target
    return lambda value: type(value) is not bool and type(value) is not str and value == target


class NoEvents:
    """Defaults for conditions that ignore some inputs."""

    live_facts = False

    def on_event(self, device_id: str, event_type: str, now: int) -> bool:
        return False

    def on_status(self, device_id: str, online: bool, now: int) -> bool:
        return False


def rounded(value: object) -> object:
    """A float to 3 decimals for facts; anything else as it is."""
    return round(value, 3) if isinstance(value, float) else value


def duration_text(ms: int) -> str:
    """A human duration for messages: 45 s, 12 min, 3 h 5 min."""
    seconds = max(0, ms // 1000)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
