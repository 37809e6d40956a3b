"""absence: a device silent past its window, or offline by its status."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ioc.domain import MetricValue, Severity
from ioc.rules._condition import Json, Verdict, duration_text


class Absence:
    """Silent for longer than the window, or offline by its retained status or last will.

    Silence is judged from when ioc could last hear (start-up or the end of a blind spell), so
    neither a restart nor a broker outage makes every device look down.
    """

    live_facts = False

    def __init__(
        self,
        windows_ms: Mapping[str, int],
        offline_status: bool,
        started: int,
        severity: Severity = Severity.CRITICAL,
    ) -> None:
        self._severity = severity
        self._windows = dict(windows_ms)
        self._offline_status = offline_status
        self._heard: dict[str, int] = {}
        self._offline: set[str] = set()
        self._silent: set[str] = set()
        self._listening_since = started
        self._paused = False
        self._next_check = started

    @property
    def windows(self) -> Mapping[str, int]:
        """The devices watched, each with its window."""
        return self._windows

    def watch(self, windows_ms: Mapping[str, int], now: int) -> None:
        """Watch these devices from now on: one new to it is judged silent a window after
        `now` (not after start), one no longer listed is forgotten."""
        for device_id in windows_ms.keys() - self._windows.keys():
            self._heard[device_id] = max(self._heard.get(device_id, 0), now)
        for device_id in self._windows.keys() - windows_ms.keys():
            self._heard.pop(device_id, None)
            self._silent.discard(device_id)
            self._offline.discard(device_id)
        self._windows = dict(windows_ms)

    def pause(self) -> None:
        """ioc is blind: judge no silence until `resume`."""
        self._paused = True

    def resume(self, now: int) -> None:
        """ioc hears again: every device gets a fresh window from now."""
        self._paused = False
        self._listening_since = max(self._listening_since, now)
        self._next_check = now

    def _heard_now(self, device_id: str, now: int) -> bool:
        self._heard[device_id] = now
        changed = device_id in self._silent or device_id in self._offline
        self._silent.discard(device_id)
        self._offline.discard(device_id)
        return changed

    def on_reading(self, device_id: str, metrics: Mapping[str, MetricValue], now: int) -> bool:
        return self._heard_now(device_id, now)

    def on_event(self, device_id: str, event_type: str, now: int) -> bool:
        return self._heard_now(device_id, now)

    def on_late(self, device_id: str, now: int) -> bool:
        """A reading older than one already judged (a device clock set back): it still came
        from the device just now. (Redeliveries of old messages are removed by ingest's
        duplicate detection before rules see them.)"""
        if device_id not in self._windows:
            return False
        return self._heard_now(device_id, now)

    def on_status(self, device_id: str, online: bool, now: int) -> bool:
        if online:
            return self._heard_now(device_id, now)
        if not self._offline_status or device_id in self._offline:
            return False
        self._offline.add(device_id)
        return True

    def verdict(self, device_id: str, now: int) -> Verdict:
        offline = device_id in self._offline
        if not offline and device_id not in self._silent:
            return None
        since = max(self._heard.get(device_id, 0), self._listening_since)
        reason = "offline" if offline else "silent"
        return self._severity, {"reason": reason, "silent_for": duration_text(now - since)}

    def due(self, now: int) -> Iterable[str]:
        if self._paused or now < self._next_check:
            return ()
        due = []
        next_check = now + 60_000
        listening = self._listening_since
        heard = self._heard
        for device_id, window in self._windows.items():
            if device_id in self._silent:
                continue
            deadline = max(heard.get(device_id, listening), listening) + window
            if now >= deadline:
                self._silent.add(device_id)
                due.append(device_id)
            elif deadline < next_check:
                next_check = deadline
        self._next_check = next_check
        return due

    def dump(self, device_id: str) -> Json:
        # Only an offline status is worth keeping: after a restart silence is measured from
        # the restart anyway, so when each device was last heard does not matter.
        return {"offline": True} if device_id in self._offline else None

    def load(self, device_id: str, data: Json) -> None:
        if data.get("offline"):
            self._offline.add(device_id)

    def assume_active(self, device_id: str, since: int) -> None:
        if device_id not in self._offline:
            self._silent.add(device_id)
