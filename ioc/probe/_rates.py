"""Counters into rates, in one place: a wrap is a wrap, an agent restart is no rate at all."""

from __future__ import annotations

from dataclasses import dataclass

COUNTER64 = 2**64


@dataclass(slots=True)
class _Last:
    value: int
    at_s: float


class CounterRates:
    """Per-second rates of monotonic counters, keyed by whatever names a counter."""

    def __init__(self) -> None:
        self._last: dict[object, _Last] = {}
        self.wraps = 0

    def rate(self, key: object, value: int, at_s: float, restarted: bool) -> float | None:
        """The rate since the last value of this counter; None on the first value, after an
        agent restart (its counters started again from zero), or with no time between."""
        last, self._last[key] = self._last.get(key), _Last(value, at_s)
        if last is None or at_s <= last.at_s:
            return None
        if restarted:
            return None
        delta = value - last.value
        if delta < 0:  # a 64-bit counter wrapped (once: it cannot wrap twice between polls)
            self.wraps += 1
            delta += COUNTER64
        return delta / (at_s - last.at_s)

    def forget(self, key: object) -> None:
        """Drop a counter's history (its interface changed, say)."""
        self._last.pop(key, None)
