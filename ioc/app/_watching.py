"""What the rules service watched, written down for reports (`ioc.state.WatchLog`): a spell
while it judges devices and hears the broker, and each device's first hearing. Kept by the
rules worker alone (one thread), written on its heartbeat; a write the database cannot take
now is tried again at the next beat, so nothing heard is lost to a short outage."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ioc.state import StateError, WatchLog

log = logging.getLogger("ioc.rules")

# A heartbeat later than this (on the monotonic clock) means the process was stopped or frozen
# meanwhile: the time between is not watched, so the spell ends at its last beat.
MAX_BEAT_GAP_S = 60.0


class Watching:
    """The current spell and the devices heard since the last beat."""

    def __init__(self, log_: WatchLog, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._log = log_
        self._monotonic = monotonic
        self._spell: int | None = None
        self._last_beat = 0.0
        self._known: set[str] = set()
        self._new: dict[str, int] = {}
        self._failing = False

    def start(self) -> None:
        """Read which devices were heard before (StateError if the database cannot say)."""
        self._known = set(self._log.first_heard())

    def heard(self, device_id: str, at_ms: int) -> None:
        """A device was heard (from the rules worker, for every item)."""
        if device_id not in self._known:
            self._known.add(device_id)
            self._new[device_id] = at_ms

    def beat(self, now_ms: int, hearing: bool) -> None:
        """While hearing, the spell lasts until now: extended, or begun (after a stop, a blind
        spell, or a beat so late that the process must have been stopped meanwhile)."""
        if not hearing:
            self.end(now_ms)
            return
        late = self._late()
        self._last_beat = self._monotonic()
        spell = None if late else self._spell
        if spell is None:
            self._record(lambda: self._begin(now_ms))
        else:
            self._record(lambda: self._log.extend(spell, now_ms))

    def end(self, now_ms: int) -> None:
        """The spell ends now: ioc goes blind, or stops."""
        spell, self._spell = self._spell, None
        if spell is not None and not self._late():
            self._record(lambda: self._log.extend(spell, now_ms))

    def _late(self) -> bool:
        return self._monotonic() - self._last_beat > MAX_BEAT_GAP_S

    def _begin(self, now_ms: int) -> None:
        self._spell = self._log.begin(now_ms)

    def _record(self, work: Callable[[], None]) -> None:
        try:
            work()
            if self._new:
                self._log.heard(self._new)
                self._new = {}
        except StateError as exc:
            if not self._failing:
                self._failing = True
                log.warning("could not record what was watched (kept, tried again): %s", exc)
            return
        if self._failing:
            self._failing = False
            log.info("recording what was watched again")
