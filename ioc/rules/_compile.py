"""Turning a checked rule spec into its run-time condition."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ioc.domain import Inventory, MetricValue, Profile, Severity
from ioc.rules._absence import Absence
from ioc.rules._composite import Composite
from ioc.rules._condition import Condition, compile_comparison
from ioc.rules._happenings import Change, Event, Flapping
from ioc.rules._spec import (
    AbsenceSpec,
    AnomalySpec,
    ChangeSpec,
    ConditionSpec,
    EventSpec,
    FlappingSpec,
    Gate,
    ThresholdSpec,
    TrendSpec,
)
from ioc.rules._statistics import Anomaly, Trend
from ioc.rules._threshold import Threshold


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _gate(gate: Gate | None) -> tuple[str, Callable[[MetricValue], bool]] | None:
    return None if gate is None else (gate.metric, compile_comparison(gate))


def build_condition(
    spec: ConditionSpec,
    severity: Severity,
    devices: Sequence[str],
    inventory: Inventory,
    profiles: Mapping[str, Profile],
    started_ms: int,
) -> Condition:
    """The run-time condition for a spec; `devices` are the ones the rule watches.

    Long on purpose: one branch per condition kind, each a single constructor call, so every
    kind's mapping from file to engine is read in one place.
    """
    if isinstance(spec, ThresholdSpec):
        return Threshold(
            spec.metric,
            compile_comparison(spec),
            compile_comparison(spec.clear) if spec.clear is not None else None,
            severity,
            for_ms=_ms(spec.for_),
            for_reports=spec.for_reports,
            clear_for_ms=_ms(spec.clear.for_) if spec.clear is not None else 0,
            over_ms=_ms(spec.over) if spec.over is not None else None,
            levels=[(compile_comparison(level), level.severity) for level in spec.levels],
            gate=_gate(spec.while_),
        )
    if isinstance(spec, AbsenceSpec):
        windows = {
            device_id: _ms(
                spec.after
                if spec.after is not None
                else profiles[inventory.devices[device_id].device_class].down_after_s
            )
            for device_id in devices
        }
        return Absence(windows, spec.offline_status, started_ms, severity)
    if isinstance(spec, EventSpec):
        return Event(
            spec.event,
            spec.clear_event,
            severity,
            _ms(spec.auto_resolve) if spec.auto_resolve is not None else None,
        )
    if isinstance(spec, ChangeSpec):
        return Change(
            spec.metric,
            _change_trigger(spec),
            _equals(spec.clear_to) if spec.clear_to is not None else None,
            severity,
            _ms(spec.auto_resolve) if spec.auto_resolve is not None else None,
        )
    if isinstance(spec, FlappingSpec):
        return Flapping(
            spec.metric,
            frozenset(spec.events or ()),
            spec.transitions,
            _ms(spec.within),
            _ms(spec.quiet),
            severity,
        )
    if isinstance(spec, TrendSpec):
        return Trend(
            spec.metric,
            _ms(spec.window),
            spec.min_points,
            spec.max_points,
            severity,
            limit=spec.limit,
            levels=[(_ms(level.within), level.severity) for level in spec.levels],
            rate_above=spec.rate_above,
            rate_below=spec.rate_below,
            gate=_gate(spec.while_),
        )
    if isinstance(spec, AnomalySpec):
        return Anomaly(
            spec.metric,
            spec.method,
            spec.alpha,
            spec.window,
            spec.z,
            spec.clear_z,
            spec.min_samples,
            spec.for_samples,
            severity,
        )
    parts = [
        build_condition(part, severity, devices, inventory, profiles, started_ms)
        for part in spec.of
    ]
    return Composite(parts, require_all=spec.kind == "all")


def _change_trigger(spec: ChangeSpec) -> Callable[[MetricValue, MetricValue], bool]:
    if spec.decreases:
        return lambda before, after: _number(before) and _number(after) and after < before  # type: ignore[operator]
    if spec.increases:
        return lambda before, after: _number(before) and _number(after) and after > before  # type: ignore[operator]
    to = spec.to
    return lambda before, after: before != after and after == to and type(after) is type(to)


def _equals(target: MetricValue) -> Callable[[MetricValue], bool]:
    return lambda value: type(value) is type(target) and value == target


def _number(value: MetricValue) -> bool:
    return type(value) is int or type(value) is float


def absences(condition: Condition) -> list[Absence]:
    """The absence conditions inside a condition (for pausing while ioc is blind)."""
    if isinstance(condition, Absence):
        return [condition]
    if isinstance(condition, Composite):
        return [found for part in condition.parts for found in absences(part)]
    return []
