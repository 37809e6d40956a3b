"""Rule kinds at run time: each keeps per-device state and judges whether its condition holds.

A condition is told about a device's readings, events and status, and asked for a verdict:
None (does not hold) or a severity with facts for the message. `due` names the devices whose
verdict may change with time alone (a `for` timer running out, a silence window passing).
Time is always the engine's clock (when ioc received the message), never the device's own.
State is kept only where it is needed and can be dumped to JSON and loaded after a restart.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

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

    def tracked(self) -> int:
        """Devices with state held (for memory figures)."""
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


class _NoEvents:
    """Defaults for conditions that ignore some inputs."""

    live_facts = False

    def on_event(self, device_id: str, event_type: str, now: int) -> bool:
        return False

    def on_status(self, device_id: str, online: bool, now: int) -> bool:
        return False


# -- threshold --------------------------------------------------------------------------------


@dataclass(slots=True)
class _ThresholdState:
    active: bool = False
    since: int | None = None  # when the trigger began to hold (pending)
    reports: int = 0
    clear_since: int | None = None
    value: float | bool | str | None = None
    severity: Severity | None = None
    window: deque[tuple[int, float]] | None = None


class Threshold(_NoEvents):
    """A value past a limit for `for` (and `for_reports`), cleared by its own condition."""

    def __init__(
        self,
        metric: str,
        trigger: Callable[[MetricValue], bool],
        clear: Callable[[MetricValue], bool] | None,
        severity: Severity,
        for_ms: int = 0,
        for_reports: int = 1,
        clear_for_ms: int = 0,
        over_ms: int | None = None,
        levels: Iterable[tuple[Callable[[MetricValue], bool], Severity]] = (),
        gate: tuple[str, Callable[[MetricValue], bool]] | None = None,
    ) -> None:
        self.metric = metric
        self._trigger = trigger
        self._clear = clear
        self._severity = severity
        self._for_ms = for_ms
        self._for_reports = for_reports
        self._clear_for_ms = clear_for_ms
        self._over_ms = over_ms
        self._levels = sorted(levels, key=lambda level: -level[1].rank)
        self._gate = gate
        self._gate_values: dict[str, MetricValue] = {}
        self._states: dict[str, _ThresholdState] = {}
        self._timed: set[str] = set()

    def on_reading(self, device_id: str, metrics: Mapping[str, MetricValue], now: int) -> bool:
        value = metrics.get(self.metric)
        if self._gate is not None and not self._gate_open(device_id, metrics):
            return self._states.pop(device_id, None) is not None
        if value is None:
            return False
        state = self._states.get(device_id)
        if self._over_ms is not None:
            if type(value) is bool or type(value) is str:
                return False
            if state is None:
                state = self._states[device_id] = _ThresholdState(window=deque())
            window = state.window
            assert window is not None
            window.append((now, float(value)))
            while window and window[0][0] <= now - self._over_ms:
                window.popleft()
            if not _covers(window, self._over_ms):
                return False  # a mean "over 5 min" needs 5 minutes of data
            value = sum(v for _, v in window) / len(window)
        triggered = self._trigger(value)
        if state is None:
            if not triggered:
                return False  # the common case: nothing wrong, nothing kept
            state = self._states[device_id] = _ThresholdState()
        state.value = value
        if state.active:
            clearing = self._clear(value) if self._clear is not None else not triggered
            if not clearing:
                state.clear_since = None
                state.severity = self._level(value)
            elif state.clear_since is None:
                state.clear_since = now
                self._timed.add(device_id)
        elif triggered:
            if state.since is None:
                state.since = now
            state.reports += 1
            state.severity = self._level(value)
            self._timed.add(device_id)
        else:
            state.since, state.reports = None, 0
            self._timed.discard(device_id)
            if state.window is None:
                del self._states[device_id]
        return True

    def _gate_open(self, device_id: str, metrics: Mapping[str, MetricValue]) -> bool:
        assert self._gate is not None
        gate_metric, gate_holds = self._gate
        gate_value = metrics.get(gate_metric)
        if gate_value is None:
            gate_value = self._gate_values.get(device_id)
        elif gate_holds(gate_value):
            self._gate_values[device_id] = gate_value
        else:
            self._gate_values.pop(device_id, None)
        return gate_value is not None and gate_holds(gate_value)

    def _level(self, value: MetricValue) -> Severity:
        for holds, severity in self._levels:
            if holds(value):
                return severity
        return self._severity

    def verdict(self, device_id: str, now: int) -> Verdict:
        state = self._states.get(device_id)
        if state is None:
            return None
        if not state.active and state.since is not None:
            if state.reports >= self._for_reports and now - state.since >= self._for_ms:
                state.active, state.since, state.reports = True, None, 0
                self._timed.discard(device_id)
        elif (
            state.active
            and state.clear_since is not None
            and now - state.clear_since >= self._clear_for_ms
        ):
            self._timed.discard(device_id)
            if state.window is None:
                del self._states[device_id]
            else:
                state.active, state.clear_since = False, None
            return None
        if not state.active:
            return None
        return state.severity or self._severity, {"value": _rounded(state.value)}

    def due(self, now: int) -> Iterable[str]:
        due = []
        for device_id in self._timed:
            state = self._states.get(device_id)
            if state is None:
                continue
            if (state.since is not None and now - state.since >= self._for_ms) or (
                state.clear_since is not None and now - state.clear_since >= self._clear_for_ms
            ):
                due.append(device_id)
        return due

    def dump(self, device_id: str) -> Json:
        state = self._states.get(device_id)
        if state is None:
            return None
        return {
            "active": state.active,
            "since": state.since,
            "reports": state.reports,
            "clear_since": state.clear_since,
            "value": state.value,
            "severity": state.severity,
            "window": list(state.window) if state.window is not None else None,
            "gate": self._gate_values.get(device_id),
        }

    def load(self, device_id: str, data: Json) -> None:
        window = data.get("window")
        state = _ThresholdState(
            active=data["active"],
            since=data["since"],
            reports=data["reports"],
            clear_since=data["clear_since"],
            value=data["value"],
            severity=Severity(data["severity"]) if data.get("severity") else None,
            window=deque((int(t), float(v)) for t, v in window) if window is not None else None,
        )
        self._states[device_id] = state
        if data.get("gate") is not None:
            self._gate_values[device_id] = data["gate"]
        if state.since is not None or state.clear_since is not None:
            self._timed.add(device_id)

    def assume_active(self, device_id: str, since: int) -> None:
        state = self._states.setdefault(
            device_id, _ThresholdState(window=deque() if self._over_ms is not None else None)
        )
        state.active, state.since = True, None

    def tracked(self) -> int:
        return len(self._states)


def _covers(window: deque[tuple[int, float]], span_ms: int) -> bool:
    """Whether samples cover the span: first to last, plus the average gap between them."""
    count = len(window)
    if count < 2:
        return False
    first, last = window[0][0], window[-1][0]
    return (last - first) * count / (count - 1) >= span_ms


def _rounded(value: object) -> object:
    return round(value, 3) if isinstance(value, float) else value


# -- absence ----------------------------------------------------------------------------------


class Absence:
    """Silent for longer than the window, or offline by its retained status or last will.

    Silence is judged from when ioc could last hear (start-up or the end of a blind spell), so
    neither a restart nor a broker outage makes every device look down.
    """

    live_facts = False

    def __init__(self, windows_ms: Mapping[str, int], offline_status: bool, started: int) -> None:
        self._windows = dict(windows_ms)
        self._offline_status = offline_status
        self._heard: dict[str, int] = {}
        self._offline: set[str] = set()
        self._silent: set[str] = set()
        self._listening_since = started
        self._paused = False
        self._next_check = started

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
        return Severity.CRITICAL, {"reason": reason, "silent_for": _duration(now - since)}

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
        heard = self._heard.get(device_id)
        if heard is None and device_id not in self._offline:
            return None
        return {"heard": heard, "offline": device_id in self._offline}

    def load(self, device_id: str, data: Json) -> None:
        if data.get("heard") is not None:
            self._heard[device_id] = int(data["heard"])
        if data.get("offline"):
            self._offline.add(device_id)

    def assume_active(self, device_id: str, since: int) -> None:
        if device_id not in self._offline:
            self._silent.add(device_id)

    def tracked(self) -> int:
        return len(self._heard)


def _duration(ms: int) -> str:
    seconds = max(0, ms // 1000)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


# -- discrete happenings: events and value changes ---------------------------------------------


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

    def tracked(self) -> int:
        return len(self._active)


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

    def tracked(self) -> int:
        return len(self._last)


# -- flapping ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _FlapState:
    changes: deque[int]
    last: MetricValue | None = None
    active: bool = False


class Flapping(_NoEvents):
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

    def tracked(self) -> int:
        return len(self._states)


# -- trend: rate of change and linear prediction ------------------------------------------------

_HOUR_MS = 3_600_000


@dataclass(slots=True)
class _Series:
    times: deque[int]
    values: deque[float]
    active: bool = False
    facts: dict[str, object] | None = None
    severity: Severity | None = None


class Trend(_NoEvents):
    """A least-squares line over the recent window: time to a limit, or the rate itself."""

    live_facts = True

    def __init__(
        self,
        metric: str,
        window_ms: int,
        min_points: int,
        max_points: int,
        severity: Severity,
        limit: float | None = None,
        levels: Iterable[tuple[int, Severity]] = (),
        rate_above: float | None = None,
        rate_below: float | None = None,
        gate: tuple[str, Callable[[MetricValue], bool]] | None = None,
    ) -> None:
        self.metric = metric
        self._window = window_ms
        self._min_points = min_points
        self._max_points = max_points
        self._severity = severity
        self._limit = limit
        # Closest first: the tightest level that the estimate is inside wins.
        self._levels = sorted(levels)
        self._rate_above = rate_above
        self._rate_below = rate_below
        self._gate = gate
        self._gate_values: dict[str, MetricValue] = {}
        self._series: dict[str, _Series] = {}

    def on_reading(self, device_id: str, metrics: Mapping[str, MetricValue], now: int) -> bool:
        if self._gate is not None:
            gate_metric, gate_holds = self._gate
            gate_value = metrics.get(gate_metric, self._gate_values.get(device_id))
            if gate_value is None or not gate_holds(gate_value):
                self._gate_values.pop(device_id, None)
                return self._series.pop(device_id, None) is not None
            self._gate_values[device_id] = gate_value
        value = metrics.get(self.metric)
        if value is None or type(value) is bool or type(value) is str:
            return False
        series = self._series.get(device_id)
        if series is None:
            series = self._series[device_id] = _Series(
                deque(maxlen=self._max_points), deque(maxlen=self._max_points)
            )
        series.times.append(now)
        series.values.append(float(value))
        while series.times[0] <= now - self._window:
            series.times.popleft()
            series.values.popleft()
        self._judge(series)
        return True

    def _judge(self, series: _Series) -> None:
        if len(series.times) < self._min_points:
            return  # too little to judge: keep the last judgement
        times = np.fromiter(series.times, dtype=np.float64, count=len(series.times))
        values = np.fromiter(series.values, dtype=np.float64, count=len(series.values))
        times -= times[-1]
        if times[0] == 0.0:
            return
        slope_per_ms, intercept = np.polyfit(times, values, 1)
        rate = float(slope_per_ms) * _HOUR_MS
        facts: dict[str, object] = {"rate": f"{rate:+.2f}/h", "value": round(float(values[-1]), 3)}
        severity: Severity | None = None
        if self._limit is not None:
            eta_ms = _time_to(float(intercept), float(slope_per_ms), self._limit)
            if eta_ms is not None:
                for within, level_severity in self._levels:
                    if eta_ms <= within:
                        severity = level_severity
                        break
                facts["eta"] = _duration(int(eta_ms // 60_000) * 60_000)
        elif (self._rate_above is not None and rate > self._rate_above) or (
            self._rate_below is not None and rate < self._rate_below
        ):
            severity = self._severity
        series.active = severity is not None
        series.severity = severity
        series.facts = facts

    def verdict(self, device_id: str, now: int) -> Verdict:
        series = self._series.get(device_id)
        if series is None or not series.active or series.severity is None:
            return None
        return series.severity, dict(series.facts or {})

    def due(self, now: int) -> Iterable[str]:
        return ()

    def dump(self, device_id: str) -> Json:
        series = self._series.get(device_id)
        if series is None:
            return None
        return {
            "times": list(series.times),
            "values": list(series.values),
            "active": series.active,
            "severity": series.severity,
            "facts": series.facts,
            "gate": self._gate_values.get(device_id),
        }

    def load(self, device_id: str, data: Json) -> None:
        series = _Series(
            deque((int(t) for t in data["times"]), maxlen=self._max_points),
            deque((float(v) for v in data["values"]), maxlen=self._max_points),
            active=data["active"],
            facts=data["facts"],
            severity=Severity(data["severity"]) if data.get("severity") else None,
        )
        self._series[device_id] = series
        if data.get("gate") is not None:
            self._gate_values[device_id] = data["gate"]

    def assume_active(self, device_id: str, since: int) -> None:
        series = self._series.setdefault(
            device_id, _Series(deque(maxlen=self._max_points), deque(maxlen=self._max_points))
        )
        series.active = True
        series.severity = series.severity or (
            self._levels[-1][1] if self._levels else self._severity
        )

    def tracked(self) -> int:
        return len(self._series)


def _time_to(value_now: float, slope_per_ms: float, limit: float) -> float | None:
    """Milliseconds until the fitted line reaches the limit, or None if it moves away."""
    if value_now == limit:
        return 0.0
    if slope_per_ms == 0 or (limit - value_now) / slope_per_ms < 0:
        return None
    return (limit - value_now) / slope_per_ms


# -- anomaly against the metric's own baseline -------------------------------------------------


@dataclass(slots=True)
class _Baseline:
    mean: float = 0.0
    variance: float = 0.0
    count: int = 0
    streak: int = 0
    active: bool = False
    z: float = 0.0
    recent: deque[float] | None = None


# A spread this small relative to the level is noise-free data: don't call every wiggle an anomaly.
_MIN_RELATIVE_SPREAD = 0.01


class Anomaly(_NoEvents):
    """|z| past a limit for a few samples, against an EWMA or a rolling median/MAD baseline."""

    def __init__(
        self,
        metric: str,
        method: str,
        alpha: float,
        window: int,
        z: float,
        clear_z: float,
        min_samples: int,
        for_samples: int,
        severity: Severity,
    ) -> None:
        self.metric = metric
        self._method = method
        self._alpha = alpha
        self._window = window
        self._z = z
        self._clear_z = clear_z
        self._min_samples = min_samples
        self._for_samples = for_samples
        self._severity = severity
        self._baselines: dict[str, _Baseline] = {}

    def on_reading(self, device_id: str, metrics: Mapping[str, MetricValue], now: int) -> bool:
        value = metrics.get(self.metric)
        if value is None or type(value) is bool or type(value) is str:
            return False
        value = float(value)
        baseline = self._baselines.get(device_id)
        if baseline is None:
            baseline = self._baselines[device_id] = _Baseline(
                recent=deque(maxlen=self._window) if self._method == "mad" else None
            )
        was_active = baseline.active
        if baseline.count >= self._min_samples:
            z = self._score(baseline, value)
            baseline.z = z
            if baseline.active:
                if abs(z) < self._clear_z:
                    baseline.active, baseline.streak = False, 0
            else:
                baseline.streak = baseline.streak + 1 if abs(z) >= self._z else 0
                if baseline.streak >= self._for_samples:
                    baseline.active = True
        # An outlier teaches the baseline only a tenth as fast: a spike must not hide the next
        # one, yet a lasting new level is learnt in the end.
        outlier = baseline.count >= self._min_samples and abs(baseline.z) >= self._z
        self._learn(baseline, value, self._alpha / 10 if outlier else self._alpha)
        return baseline.active != was_active

    def _score(self, baseline: _Baseline, value: float) -> float:
        if baseline.recent is not None:
            recent = np.fromiter(baseline.recent, dtype=np.float64, count=len(baseline.recent))
            centre = float(np.median(recent))
            spread = 1.4826 * float(np.median(np.abs(recent - centre)))
        else:
            centre, spread = baseline.mean, math.sqrt(baseline.variance)
        spread = max(spread, _MIN_RELATIVE_SPREAD * abs(centre), 1e-9)
        return (value - centre) / spread

    def _learn(self, baseline: _Baseline, value: float, alpha: float) -> None:
        baseline.count += 1
        if baseline.recent is not None:
            baseline.recent.append(value)
            return
        if baseline.count == 1:
            baseline.mean = value
            return
        delta = value - baseline.mean
        baseline.mean += alpha * delta
        baseline.variance = (1 - alpha) * (baseline.variance + alpha * delta * delta)

    def verdict(self, device_id: str, now: int) -> Verdict:
        baseline = self._baselines.get(device_id)
        if baseline is None or not baseline.active:
            return None
        return self._severity, {"z": round(baseline.z, 1)}

    def due(self, now: int) -> Iterable[str]:
        return ()

    def dump(self, device_id: str) -> Json:
        baseline = self._baselines.get(device_id)
        if baseline is None:
            return None
        return {
            "mean": baseline.mean,
            "variance": baseline.variance,
            "count": baseline.count,
            "streak": baseline.streak,
            "active": baseline.active,
            "z": baseline.z,
            "recent": list(baseline.recent) if baseline.recent is not None else None,
        }

    def load(self, device_id: str, data: Json) -> None:
        recent = data.get("recent")
        self._baselines[device_id] = _Baseline(
            mean=data["mean"],
            variance=data["variance"],
            count=data["count"],
            streak=data["streak"],
            active=data["active"],
            z=data["z"],
            recent=deque(recent, maxlen=self._window) if recent is not None else None,
        )

    def assume_active(self, device_id: str, since: int) -> None:
        baseline = self._baselines.setdefault(
            device_id,
            _Baseline(recent=deque(maxlen=self._window) if self._method == "mad" else None),
        )
        baseline.active = True

    def tracked(self) -> int:
        return len(self._baselines)


# -- composite --------------------------------------------------------------------------------


class Composite:
    """All, or any, of other conditions; the worst severity among those that hold."""

    def __init__(self, parts: list[Condition], require_all: bool) -> None:
        self.parts = parts
        self._all = require_all
        self.live_facts = any(part.live_facts for part in parts)

    def on_reading(self, device_id: str, metrics: Mapping[str, MetricValue], now: int) -> bool:
        changed = False
        for part in self.parts:
            changed |= part.on_reading(device_id, metrics, now)
        return changed

    def on_event(self, device_id: str, event_type: str, now: int) -> bool:
        changed = False
        for part in self.parts:
            changed |= part.on_event(device_id, event_type, now)
        return changed

    def on_status(self, device_id: str, online: bool, now: int) -> bool:
        changed = False
        for part in self.parts:
            changed |= part.on_status(device_id, online, now)
        return changed

    def verdict(self, device_id: str, now: int) -> Verdict:
        verdicts = [part.verdict(device_id, now) for part in self.parts]
        holding = [verdict for verdict in verdicts if verdict is not None]
        if not holding or (self._all and len(holding) < len(verdicts)):
            return None
        worst = max(holding, key=lambda verdict: verdict[0].rank)
        facts: dict[str, object] = {}
        for _, part_facts in holding:
            facts.update(part_facts)
        return worst[0], facts

    def due(self, now: int) -> Iterable[str]:
        devices: set[str] = set()
        for part in self.parts:
            devices.update(part.due(now))
        return devices

    def dump(self, device_id: str) -> Json:
        dumps = [part.dump(device_id) for part in self.parts]
        return None if all(data is None for data in dumps) else dumps

    def load(self, device_id: str, data: Json) -> None:
        for part, part_data in zip(self.parts, data, strict=True):
            if part_data is not None:
                part.load(device_id, part_data)

    def assume_active(self, device_id: str, since: int) -> None:
        for part in self.parts:
            part.assume_active(device_id, since)

    def tracked(self) -> int:
        return max((part.tracked() for part in self.parts), default=0)
