"""The rule engine: items and clock ticks in, rule signals (raise / update / clear) out.

Single-threaded by design: the service feeds it from one thread. Each inventory device has its
rules looked up once; a reading costs one call per rule that watches the device, and most of
those return at once with nothing kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ioc.domain import (
    DeviceEvent,
    Inventory,
    Profile,
    Reading,
    RuleInfo,
    RuleSignal,
    Severity,
    SignalKind,
    StatusChange,
    TelemetryItem,
)
from ioc.rules._absence import Absence
from ioc.rules._compile import absences, build_condition
from ioc.rules._condition import Condition, Json
from ioc.rules._load import LoadedRule


@dataclass(slots=True)
class _Rule:
    info: RuleInfo
    condition: Condition
    devices: tuple[str, ...]
    fingerprint: str
    absences: list[Absence]
    # Devices where the rule holds, with what it last said: the engine's view of open alerts.
    holding: dict[str, tuple[Severity, dict[str, object]]] = field(default_factory=dict)


@dataclass(slots=True)
class EngineStats:
    """Counters for the status line and metrics."""

    items: int = 0
    stale: int = 0  # readings older than, or as old as, the device's last judged one
    replayed: int = 0  # redelivered events judged already (by this leader or an earlier one)
    signals: int = 0
    ticks: int = 0


@dataclass(frozen=True, slots=True)
class HeldState:
    """A condition's saved state for one device (None: drop what was saved)."""

    rule_id: str
    device_id: str
    data: Json


@dataclass(frozen=True, slots=True)
class OpenAlert:
    """What the engine needs of an alert that was open when it stopped."""

    rule_id: str
    device_id: str
    severity: Severity
    facts: Mapping[str, object]
    opened_at_ms: int


class RuleEngine:
    """Evaluates rules on each item and on clock ticks; remembers where each rule holds."""

    def __init__(
        self,
        rules: Iterable[LoadedRule],
        inventory: Inventory,
        profiles: Mapping[str, Profile],
        started_ms: int,
    ) -> None:
        self._inventory = inventory
        self._profiles = profiles
        self._started = started_ms
        self.stats = EngineStats()
        self._rules: dict[str, _Rule] = {}
        self._by_device: dict[str, tuple[_Rule, ...]] = {}
        self._last_ts: dict[str, int] = {}
        self._last_event_ts: dict[str, int] = {}
        self._dirty: dict[str, set[str]] = {}
        self._paused = False
        self._install([self._build(rule) for rule in rules])

    def _build(self, rule: LoadedRule, started_ms: int | None = None) -> _Rule:
        condition = build_condition(
            rule.spec.condition,
            rule.spec.severity,
            rule.devices,
            self._inventory,
            self._profiles,
            self._started if started_ms is None else started_ms,
        )
        return _Rule(rule.info, condition, rule.devices, _fingerprint(rule), absences(condition))

    def _install(self, rules: list[_Rule]) -> None:
        self._rules = {rule.info.id: rule for rule in rules}
        per_device: dict[str, list[_Rule]] = {}
        for rule in rules:
            for device_id in rule.devices:
                per_device.setdefault(device_id, []).append(rule)
        # Devices of one class usually share one list of rules: keep one tuple for them all.
        shared: dict[tuple[str, ...], tuple[_Rule, ...]] = {}
        self._by_device = {}
        for device_id, device_rules in per_device.items():
            key = tuple(rule.info.id for rule in device_rules)
            self._by_device[device_id] = shared.setdefault(key, tuple(device_rules))
        if self._paused:
            self.pause_absence()

    @property
    def rules(self) -> list[RuleInfo]:
        """The rules in force."""
        return [rule.info for rule in self._rules.values()]

    # -- evaluation ------------------------------------------------------------------------

    def judged_through(self, readings: Mapping[str, int], events: Mapping[str, int]) -> None:
        """Readings and events up to these times were judged already (by an earlier leader):
        a reading delivered again moves no state, nor does a redelivered event."""
        for judged, through in ((self._last_ts, readings), (self._last_event_ts, events)):
            for device_id, ts_ms in through.items():
                if ts_ms > judged.get(device_id, ts_ms - 1):
                    judged[device_id] = ts_ms

    def apply(self, item: TelemetryItem, now: int, redelivered: bool = False) -> list[RuleSignal]:
        """Evaluate the rules of the item's device; return what changed. A `redelivered`
        message (the broker sent it before) may have been judged already: an event in it no
        newer than the device's last judged event is not judged again. An event sent once is
        always judged, however old its time (a device clock set back must not hide one)."""
        device_id = item.device_id
        rules = self._by_device.get(device_id)
        if rules is None:
            return []
        self.stats.items += 1
        changed: list[_Rule] = []
        kind = type(item)
        if kind is Reading:
            assert isinstance(item, Reading)
            last = self._last_ts.get(device_id)
            if last is not None and item.ts_ms <= last:
                # Not newer than what was judged already (late, a redelivered duplicate, or a
                # device clock set back): it moves no state and is not another report; but if
                # it is recent it proves the device alive.
                self.stats.stale += 1
                for rule in rules:
                    if any(a.on_late(device_id, now) for a in rule.absences):
                        changed.append(rule)
            else:
                self._last_ts[device_id] = item.ts_ms
                metrics = item.metrics
                for rule in rules:
                    if rule.condition.on_reading(device_id, metrics, now):
                        changed.append(rule)
        elif kind is DeviceEvent:
            assert isinstance(item, DeviceEvent)
            last = self._last_event_ts.get(device_id)
            if redelivered and last is not None and item.ts_ms <= last:
                self.stats.replayed += 1
                return []
            if last is None or item.ts_ms > last:
                self._last_event_ts[device_id] = item.ts_ms
            for rule in rules:
                if rule.condition.on_event(device_id, item.type, now):
                    changed.append(rule)
        else:
            assert isinstance(item, StatusChange)
            for rule in rules:
                if rule.condition.on_status(device_id, item.online, now):
                    changed.append(rule)
        signals: list[RuleSignal] = []
        for rule in changed:
            self._dirty.setdefault(rule.info.id, set()).add(device_id)
            signal = self._judge(rule, device_id, now)
            if signal is not None:
                signals.append(signal)
        return signals

    def tick(self, now: int) -> list[RuleSignal]:
        """Judge what time alone changes: `for` timers, silence windows, auto-resolve."""
        self.stats.ticks += 1
        signals: list[RuleSignal] = []
        for rule in self._rules.values():
            for device_id in list(rule.condition.due(now)):
                self._dirty.setdefault(rule.info.id, set()).add(device_id)
                signal = self._judge(rule, device_id, now)
                if signal is not None:
                    signals.append(signal)
        return signals

    def _judge(self, rule: _Rule, device_id: str, now: int) -> RuleSignal | None:
        verdict = rule.condition.verdict(device_id, now)
        before = rule.holding.get(device_id)
        if verdict is None:
            if before is None:
                return None
            del rule.holding[device_id]
            return self._signal(SignalKind.CLEAR, rule, device_id, now, before[0], before[1])
        severity, facts = verdict
        if before is None:
            rule.holding[device_id] = verdict
            return self._signal(SignalKind.RAISE, rule, device_id, now, severity, facts)
        if before[0] != severity or (rule.condition.live_facts and before[1] != facts):
            rule.holding[device_id] = verdict
            return self._signal(SignalKind.UPDATE, rule, device_id, now, severity, facts)
        return None

    def _signal(
        self,
        kind: SignalKind,
        rule: _Rule,
        device_id: str,
        now: int,
        severity: Severity,
        facts: Mapping[str, object],
    ) -> RuleSignal:
        self.stats.signals += 1
        return RuleSignal(kind, rule.info, device_id, now, severity, dict(facts))

    # -- blindness -------------------------------------------------------------------------

    def pause_absence(self) -> None:
        """ioc cannot hear devices: judge nobody silent until `resume_absence`."""
        self._paused = True
        for rule in self._rules.values():
            for absence in rule.absences:
                absence.pause()

    def resume_absence(self, now: int) -> None:
        """ioc hears again: every device gets a full silence window from now."""
        self._paused = False
        for rule in self._rules.values():
            for absence in rule.absences:
                absence.resume(now)

    # -- persistence -----------------------------------------------------------------------

    def take_dirty(self) -> list[HeldState]:
        """States changed since the last call, to be saved."""
        dirty, self._dirty = self._dirty, {}
        held: list[HeldState] = []
        for rule_id, devices in dirty.items():
            rule = self._rules.get(rule_id)
            if rule is None:
                continue
            held += [
                HeldState(rule_id, device_id, rule.condition.dump(device_id))
                for device_id in devices
            ]
        return held

    def mark_dirty(self, held: Iterable[HeldState]) -> None:
        """States that could not be saved: offer them again at the next `take_dirty`."""
        for state in held:
            self._dirty.setdefault(state.rule_id, set()).add(state.device_id)

    def take_all(self) -> list[HeldState]:
        """Every state worth keeping (at shutdown)."""
        self._dirty = {}
        held: list[HeldState] = []
        for rule in self._rules.values():
            for device_id in rule.devices:
                data = rule.condition.dump(device_id)
                if data is not None:
                    held.append(HeldState(rule.info.id, device_id, data))
        return held

    def restore(self, states: Iterable[HeldState], open_alerts: Iterable[OpenAlert]) -> None:
        """Load saved states and the alerts that were open; lost states follow their alerts."""
        for state in states:
            rule = self._rules.get(state.rule_id)
            if rule is not None and state.data is not None and state.device_id in rule.devices:
                rule.condition.load(state.device_id, state.data)
        for alert in open_alerts:
            rule = self._rules.get(alert.rule_id)
            if rule is None:
                continue
            rule.holding[alert.device_id] = (alert.severity, dict(alert.facts))
            if rule.condition.verdict(alert.device_id, alert.opened_at_ms) is None:
                rule.condition.assume_active(alert.device_id, alert.opened_at_ms)

    def forget(self, rule_id: str, device_id: str) -> None:
        """An alert was resolved by hand: judge the device afresh on its next message."""
        rule = self._rules.get(rule_id)
        if rule is not None:
            rule.holding.pop(device_id, None)

    def replace_rules(
        self, rules: Iterable[LoadedRule], now: int, inventory: Inventory | None = None
    ) -> list[RuleSignal]:
        """Reload, or a changed `inventory`. A rule unchanged keeps its state, and when it
        selects other devices now, watches the new ones from `now` (silence judged from when
        they were added); a changed rule starts afresh, what it held carried over. What a
        removed rule held, and what any rule held for a device it no longer selects, is
        cleared."""
        if inventory is not None:
            self._inventory = inventory
        old = self._rules
        fresh: list[_Rule] = []
        signals: list[RuleSignal] = []
        for loaded in rules:
            previous = old.get(loaded.info.id)
            if previous is not None and previous.fingerprint == _fingerprint(loaded):
                if previous.devices != loaded.devices:
                    signals += self._reselect(previous, loaded, now)
                fresh.append(previous)
                continue
            rule = self._build(loaded)
            if previous is not None:
                for device_id, verdict in previous.holding.items():
                    if device_id in rule.devices:
                        rule.holding[device_id] = verdict
                        rule.condition.assume_active(device_id, now)
            fresh.append(rule)
        kept = {rule.info.id: rule for rule in fresh}
        for rule_id, previous in old.items():
            current = kept.get(rule_id)
            if current is previous:
                continue
            for device_id, (severity, facts) in previous.holding.items():
                if current is None or device_id not in current.holding:
                    signals.append(
                        self._signal(SignalKind.CLEAR, previous, device_id, now, severity, facts)
                    )
        self._install(fresh)
        return signals

    def _reselect(self, rule: _Rule, loaded: LoadedRule, now: int) -> list[RuleSignal]:
        """`rule` watching `loaded.devices` from now on; the clears of the devices it drops."""
        watched = set(loaded.devices)
        fresh = self._build(loaded)  # for the windows of the devices it now selects
        for absence, renewed in zip(rule.absences, fresh.absences, strict=True):
            absence.watch(renewed.windows, now)
        rule.devices = loaded.devices
        dropped = [d for d in rule.holding if d not in watched]
        return [self._signal(SignalKind.CLEAR, rule, d, now, *rule.holding.pop(d)) for d in dropped]


def _fingerprint(rule: LoadedRule) -> str:
    return json.dumps(rule.spec.model_dump(mode="json"), sort_keys=True)
