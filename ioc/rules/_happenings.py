"""event, change and flapping: conditions about discrete happenings."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ioc.domain import MetricValue, Severity
from ioc.rules._condition import Json, NoEvents, Verdict


class _Momentary:
    """Shared by events and changes: active from a trigger until a clear or auto-resolve."""

    live_facts = False

    def __init__(self, severity: Severity, auto_resolve_ms: int | None) -> None:
        self._severity = severity
        self._auto_ms = auto_resolve_ms
        self._active: dict[str, int] = {}

    def _raise(self, device_id: str, now: int) -> bool:
        self._active[device_id] = now
        return True

    def _end(self, device_id: str) -> bool:
        return self._active.pop(device_id, None) is not None

    def verdict(self, device_id: str, now: int) -> Verdict:
        since = self._active.get(device_id)
        if since is None:
            return None
        if self._auto_ms is not None and now - since >= self._auto_ms:
            del self._active[device_id]
            return None
        return self._severity, {}

    def due(self, now: int) -> Iterable[str]:
        if self._auto_ms is None:
            return ()
        auto = self._auto_ms
        return [device for device, since in self._active.items() if now - since >= auto]

    def dump(self, device_id: str) -> Json:
        since = self._active.get(device_id)
        return None if since is None else {"since": since}

    def load(self, device_id: str, data: Json) -> None:
        if data.get("since") is not None:
            self._active[device_id] = int(data["since"])

    def assume_active(self, device_id: str, since: int) -> None:
        self._active.setdefault(device_id, since)


class Event(_Momentary):
    """Raised by one event type; cleared by another, or after a quiet while."""

    def __init__(
        self,
        event: str,
        clear_event: str | None,
        severity: Severity,
        auto_resolve_ms: int | None,
    ) -> None:
        super().__init__(severity, auto_resolve_ms)
        self._event = event
        self._clear_event = clear_event

    def on_reading(self, device_id: str, metrics: Mapping[str, MetricValue], now: int) -> bool:
        return False

    def on_event(self, device_id: str, event_type: str, now: int) -> bool:
        if event_type == self._event:
            return self._raise(device_id, now)
        if event_type == self._clear_event:
            return self._end(device_id)
        return False

    def on_status(self, device_id: str, online: bool, now: int) -> bool:
        return False


class Change(_Momentary):
    """A metric moving to a value, or up, or down between two readings."""

    def __init__(
        self,
        metric: str,
        triggered: Callable[[MetricValue, MetricValue], bool],
        clears: Callable[[MetricValue], bool] | None,
        severity: Severity,
        auto_resolve_ms: int | None,
    ) -> None:
        super().__init__(severity, auto_resolve_ms)
        self.metric = metric
        self._triggered = triggered
        self._clears = clears
        self._last: dict[str, MetricValue] = {}

    def on_reading(self, device_id: str, metrics: Mapping[str, MetricValue], now: int) -> bool:
        value = metrics.get(self.metric)
        if value is None:
            return False
        previous = self._last.get(device_id)
        self._last[device_id] = value
        if previous is not None and self._triggered(previous, value):
            return self._raise(device_id, now)
        if self._clears is not None and self._clears(value) and device_id in self._active:
            return self._end(device_id)
        return False

    def on_event(self, device_id: str, event_type: str, now: int) -> bool:
        return False

    def on_status(self, device_id: str, online: bool, now: int) -> bool:
        return False

    def dump(self, device_id: str) -> Json:
        since = self._active.get(device_id)
        last = self._last.get(device_id)
        if since is None and last is None:
            return None
        return {"since": since, "last": last}

    def load(self, device_id: str, data: Json) -> None:
        super().load(device_id, data)
        if data.get("last") is not None:
            self._last[device_id] = data["last"]


@dataclass(slots=True)
class _FlapState:
    changes: deque[int]
    last: MetricValue | None = None
    active: bool = False


class Flapping(NoEvents):
    """At least N transitions within a window; stays flagged until quiet for a while."""

    def __init__(
        self,
        metric: str | None,
        events: frozenset[str],
        transitions: int,
        within_ms: int,
        quiet_ms: int,
        severity: Severity,
    ) -> None:
        self.metric = metric
        self._events = events
        self._transitions = transitions
        self._within = within_ms
        self._quiet = quiet_ms
        self._severity = severity
        self._states: dict[str, _FlapState] = {}

    def _state(self, device_id: str) -> _FlapState:
        state = self._states.get(device_id)
        if state is None:
            state = self._states[device_id] = _FlapState(deque(maxlen=self._transitions))
        return state

    def on_reading(self, device_id: str, metrics: Mapping[str, MetricValue], now: int) -> bool:
        if self.metric is None:
            return False
        value = metrics.get(self.metric)
        if value is None:
            return False
        state = self._state(device_id)
        previous, state.last = state.last, value
        if previous is None or previous == value:
            return state.active
        state.changes.append(now)
        return True

    def on_event(self, device_id: str, event_type: str, now: int) -> bool:
        if event_type not in self._events:
            return False
        self._state(device_id).changes.append(now)
        return True

    def verdict(self, device_id: str, now: int) -> Verdict:
        state = self._states.get(device_id)
        if state is None or not state.changes:
            return None
        changes = state.changes
        if state.active:
            if now - changes[-1] >= self._quiet:
                state.active = False
                return None
        elif len(changes) >= self._transitions and changes[-1] - changes[0] <= self._within:
            state.active = True
        if not state.active:
            return None
        recent = sum(1 for at in changes if now - at <= self._within)
        return self._severity, {"transitions": recent}

    def due(self, now: int) -> Iterable[str]:
        quiet = self._quiet
        return [
            device
            for device, state in self._states.items()
            if state.active and now - state.changes[-1] >= quiet
        ]

    def dump(self, device_id: str) -> Json:
        state = self._states.get(device_id)
        if state is None:
            return None
        return {"changes": list(state.changes), "last": state.last, "active": state.active}

    def load(self, device_id: str, data: Json) -> None:
        state = self._state(device_id)
        state.changes.extend(int(at) for at in data["changes"])
        state.last, state.active = data["last"], data["active"]

    def assume_active(self, device_id: str, since: int) -> None:
        state = self._state(device_id)
        state.active = True
        if not state.changes:
            state.changes.append(since)
