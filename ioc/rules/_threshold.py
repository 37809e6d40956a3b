"""threshold: a value past a limit, for a while, cleared by its own condition."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ioc.domain import MetricValue, Severity
from ioc.rules._condition import Json, NoEvents, Verdict, rounded


@dataclass(slots=True)
class _ThresholdState:
    active: bool = False
    since: int | None = None  # when the trigger began to hold (pending)
    reports: int = 0
    clear_since: int | None = None
    value: float | bool | str | None = None
    severity: Severity | None = None
    window: deque[tuple[int, float]] | None = None


class Threshold(NoEvents):
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
        return state.severity or self._severity, {"value": rounded(state.value)}

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


def _covers(window: deque[tuple[int, float]], span_ms: int) -> bool:
    """Whether samples cover the span: first to last, plus the average gap between them."""
    count = len(window)
    if count < 2:
        return False
    first, last = window[0][0], window[-1][0]
    return (last - first) * count / (count - 1) >= span_ms
