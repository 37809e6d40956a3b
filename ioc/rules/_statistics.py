"""trend and anomaly: conditions fitted to a metric's recent values (numpy)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ioc.domain import MetricValue, Severity
from ioc.rules._condition import Json, NoEvents, Verdict, duration_text

_HOUR_MS = 3_600_000


@dataclass(slots=True)
class _Series:
    times: deque[int]
    values: deque[float]
    active: bool = False
    facts: dict[str, object] | None = None
    severity: Severity | None = None


class Trend(NoEvents):
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
                facts["eta"] = duration_text(int(eta_ms // 60_000) * 60_000)
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


def _time_to(value_now: float, slope_per_ms: float, limit: float) -> float | None:
    """Milliseconds until the fitted line reaches the limit, or None if it moves away."""
    if value_now == limit:
        return 0.0
    if slope_per_ms == 0 or (limit - value_now) / slope_per_ms < 0:
        return None
    return (limit - value_now) / slope_per_ms


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


class Anomaly(NoEvents):
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
