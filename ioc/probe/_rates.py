"""Counters into rates, in one place: a wrap is a wrap, an agent restart is no rate at all, and
a 64-bit counter going backwards far from its top is a reset (no rate), not a wrap."""

from __future__ import annotations

from dataclasses import dataclass

COUNTER32, COUNTER64 = 2**32, 2**64
# A 64-bit octet counter takes centuries to wrap at 10 Gbit/s: a drop from below this is a reset.
_NEAR_TOP_64 = COUNTER64 - 2**60


@dataclass(slots=True)
class _Last:
    value: int
    at_s: float


class CounterRates:
    """Per-second rates of monotonic counters, keyed by whatever names a counter."""

    def __init__(self) -> None:
        self._last: dict[object, _Last] = {}
        self.wraps = 0
        self.backwards = 0

    def rate(
        self, key: object, value: int, at_s: float, restarted: bool, width: int = COUNTER64
    ) -> float | None:
        """The rate since the last value of this counter; None on the first value, after an
        agent restart (its counters started again from zero), after a 64-bit counter went
        back without one (counted in `backwards`), or with no time between."""
        last, self._last[key] = self._last.get(key), _Last(value, at_s)
        if last is None or at_s <= last.at_s or restarted:
            return None
        delta = value - last.value
        if delta < 0:
            if width == COUNTER64 and last.value < _NEAR_TOP_64:
                self.backwards += 1
                return None
            self.wraps += 1  # once: it cannot wrap twice between polls
            delta += width
        return delta / (at_s - last.at_s)

    def forget(self, key: object) -> None:
        """Drop a counter's history (its interface changed, say)."""
        self._last.pop(key, None)
