"""The alert book: rule signals become alerts with a lifecycle, a root cause and silences.

One open alert per (rule, device). An alert on a device whose upstream dependency has an open
outage alert is grouped under that root; when the root resolves, children still open are
re-grouped under another open upstream or promoted to roots of their own. Maintenance windows
silence alerts (recorded, not notified). Every change is an audit transition, stored, then
published.
"""

from __future__ import annotations

import dataclasses
import string
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from ioc.domain import (
    Alert,
    AlertState,
    AlertTransition,
    Conflict,
    Inventory,
    IocError,
    MaintenanceWindow,
    RuleSignal,
    SignalKind,
    TransitionKind,
    WindowScope,
    said,
)

RULE_ACTOR = "rules"


class AlertError(IocError):
    """An operator's request cannot be done (no such alert, already resolved...)."""


class AlertNotOpen(AlertError, Conflict):
    """No open alert with that id (resolved, or never raised)."""


class ActionRefused(AlertError, Conflict):
    """Not possible as the alert stands (already acknowledged, a note with no text)."""


class AlertStore(Protocol):
    """Where the book keeps alerts and their history, and reads maintenance windows."""

    def open_alerts(self) -> list[Alert]:
        """Every alert not yet resolved."""
        ...

    def create(self, alert: Alert, transition: TransitionKind, actor: str, note: str) -> Alert:
        """Insert a new alert with its first transition; return it with its id."""
        ...

    def record(self, transitions: Sequence[AlertTransition]) -> None:
        """Save each transition's alert as it now is, and the transition, in one go."""
        ...

    def current_windows(self, now_ms: int) -> list[MaintenanceWindow]:
        """Windows not ended and not yet over."""
        ...


class Publisher(Protocol):
    """Tells other processes about transitions (MQTT in production)."""

    def publish(self, transition: AlertTransition) -> None:
        """Send one transition; must not block for long."""
        ...


class _Fields(dict[str, object]):
    """Template values; a field with nothing to fill shows as '?' instead of failing."""

    def __missing__(self, key: str) -> str:
        return "?"


_FORMATTER = string.Formatter()


class AlertBook:
    """Alert lifecycle, topology and silences over an AlertStore; one thread at a time."""

    def __init__(
        self,
        store: AlertStore,
        inventory: Inventory,
        publisher: Publisher | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self._store = store
        self._inventory = inventory
        self._publisher = publisher
        self._clock = clock
        self._open: dict[int, Alert] = {}
        self._by_key: dict[tuple[str, str], int] = {}
        self._outages: dict[str, set[int]] = {}  # device -> its open outage alerts
        self._dependants = _dependants(inventory)
        self._windows: list[MaintenanceWindow] = []
        self._outage_rules: set[str] = set()

    def use_inventory(self, inventory: Inventory) -> None:
        """Place and group the alerts opened from now on by a changed inventory (open ones
        keep the area they were opened in)."""
        self._inventory = inventory
        self._dependants = _dependants(inventory)

    def load(self, now_ms: int) -> list[Alert]:
        """Read the open alerts and windows back (at start); return the open alerts."""
        alerts = self._store.open_alerts()
        for alert in alerts:
            self._index(alert)
        self._windows = self._store.current_windows(now_ms)
        return alerts

    def declare_outage_rules(self, rule_ids: Iterable[str]) -> None:
        """Rules whose alerts mean the device is unreachable (loaded alerts lack the flag)."""
        self._outage_rules = set(rule_ids)
        self._outages = {}
        for alert in self._open.values():
            if alert.rule_id in self._outage_rules:
                self._outages.setdefault(alert.device_id, set()).add(alert.id)

    @property
    def open_alerts(self) -> list[Alert]:
        """Alerts not yet resolved, oldest first."""
        return sorted(self._open.values(), key=lambda alert: alert.id)

    def get(self, alert_id: int) -> Alert | None:
        """One open alert."""
        return self._open.get(alert_id)

    # -- from the rules --------------------------------------------------------------------

    def apply(self, signals: Iterable[RuleSignal]) -> list[AlertTransition]:
        """Act on rule signals; return the transitions made (stored and published)."""
        transitions: list[AlertTransition] = []
        for signal in signals:
            if signal.kind is SignalKind.RAISE:
                transitions += self._fire(signal)
            elif signal.kind is SignalKind.UPDATE:
                transitions += self._update(signal)
            else:
                transitions += self._clear(signal)
        return transitions

    def _fire(self, signal: RuleSignal) -> list[AlertTransition]:
        rule = signal.rule
        key = (rule.id, signal.device_id)
        if key in self._by_key:  # the rule says it again: an update, never a second alert
            return self._update(signal)
        device = self._inventory.devices.get(signal.device_id)
        if device is None:
            return []
        if rule.outage:
            self._outage_rules.add(rule.id)
        now = signal.at_ms
        message_vi, message_en = self._render(signal)
        draft = Alert(
            id=0,
            rule_id=rule.id,
            device_id=device.id,
            device_class=device.device_class,
            area_id=device.area_id,
            severity=signal.severity,
            probable_cause=rule.probable_cause,
            event_type=rule.event_type,
            state=AlertState.FIRING,
            title_vi=rule.title_vi,
            title_en=rule.title_en,
            message_vi=message_vi,
            message_en=message_en,
            facts=dict(signal.facts),
            opened_at_ms=now,
            updated_at_ms=now,
            root_id=self._root_for(device.id),
            silenced=self._silenced(device.id, rule.id, now),
        )
        alert = self._store.create(draft, TransitionKind.FIRED, RULE_ACTOR, "")
        self._index(alert)
        fired = AlertTransition(TransitionKind.FIRED, alert, now, RULE_ACTOR)
        self._publish([fired])
        grouped = self._group_dependants(alert, now) if rule.outage else []
        return [fired, *(self._commit(grouped) if grouped else [])]

    def _update(self, signal: RuleSignal) -> list[AlertTransition]:
        alert_id = self._by_key.get((signal.rule.id, signal.device_id))
        if alert_id is None:
            return self._fire(signal)
        alert = self._open[alert_id]
        message_vi, message_en = self._render(signal)
        updated = dataclasses.replace(
            alert,
            severity=signal.severity,
            facts=dict(signal.facts),
            message_vi=message_vi,
            message_en=message_en,
            updated_at_ms=signal.at_ms,
        )
        note = (
            "" if updated.severity == alert.severity else f"{alert.severity} -> {updated.severity}"
        )
        transitions = [self._transition(TransitionKind.UPDATED, updated, signal.at_ms, note)]
        if signal.rule.outage:
            # Normally none: a retry after a failed write finishes the grouping it missed.
            transitions += self._group_dependants(updated, signal.at_ms)
        return self._commit(transitions)

    def _clear(self, signal: RuleSignal) -> list[AlertTransition]:
        alert_id = self._by_key.get((signal.rule.id, signal.device_id))
        if alert_id is None:
            return []
        return self._resolve(self._open[alert_id], signal.at_ms, RULE_ACTOR, "condition cleared")

    # -- from operators --------------------------------------------------------------------

    def acknowledge(self, alert_id: int, actor: str, note: str = "") -> AlertTransition:
        """Someone has taken the alert on."""
        alert = self._require_open(alert_id)
        if alert.state is AlertState.ACKNOWLEDGED:
            raise ActionRefused(
                f"alert {alert_id} is already acknowledged by {alert.acknowledged_by}"
            )
        now = self._now()
        acked = dataclasses.replace(
            alert, state=AlertState.ACKNOWLEDGED, acknowledged_by=actor, updated_at_ms=now
        )
        return self._commit(
            [self._transition(TransitionKind.ACKNOWLEDGED, acked, now, note, actor)]
        )[0]

    def add_note(self, alert_id: int, actor: str, note: str) -> AlertTransition:
        """A remark in the alert's history."""
        alert = self._require_open(alert_id)
        if not note.strip():
            raise ActionRefused(said("a note needs some text"))
        now = self._now()
        noted = dataclasses.replace(alert, updated_at_ms=now)
        return self._commit([self._transition(TransitionKind.NOTE, noted, now, note, actor)])[0]

    def resolve(self, alert_id: int, actor: str, note: str = "") -> list[AlertTransition]:
        """Resolve by hand (the rule raises a new alert if its condition still holds)."""
        return self._resolve(self._require_open(alert_id), self._now(), actor, note)

    def _require_open(self, alert_id: int) -> Alert:
        alert = self._open.get(alert_id)
        if alert is None:
            raise AlertNotOpen(said("no open alert {id}", id=alert_id))
        return alert

    def _now(self) -> int:
        if self._clock is None:
            raise AlertError("this alert book has no clock for operator actions")
        return self._clock()

    # -- the lifecycle's shared steps ------------------------------------------------------

    def _resolve(self, alert: Alert, now: int, actor: str, note: str) -> list[AlertTransition]:
        resolved = dataclasses.replace(
            alert, state=AlertState.RESOLVED, resolved_at_ms=now, updated_at_ms=now
        )
        # Judge the children as if the alert were gone; put it back if the store fails, so
        # that the next try finds it again.
        self._unindex(alert)
        transitions = [self._transition(TransitionKind.RESOLVED, resolved, now, note, actor)]
        try:
            transitions += self._regroup_children(alert.id, now)
            return self._commit(transitions)
        except BaseException:
            self._index(alert)
            raise

    def _commit(self, transitions: list[AlertTransition]) -> list[AlertTransition]:
        self._store.record(transitions)
        for transition in transitions:
            if transition.alert.is_open:
                self._open[transition.alert.id] = transition.alert
        self._publish(transitions)
        return transitions

    def _transition(
        self,
        kind: TransitionKind,
        alert: Alert,
        now: int,
        note: str = "",
        actor: str = RULE_ACTOR,
    ) -> AlertTransition:
        return AlertTransition(kind, alert, now, actor, note)

    def _publish(self, transitions: Iterable[AlertTransition]) -> None:
        if self._publisher is not None:
            for transition in transitions:
                self._publisher.publish(transition)

    def _index(self, alert: Alert) -> None:
        self._open[alert.id] = alert
        self._by_key[(alert.rule_id, alert.device_id)] = alert.id
        if alert.rule_id in self._outage_rules:
            self._outages.setdefault(alert.device_id, set()).add(alert.id)

    def _unindex(self, alert: Alert) -> None:
        self._open.pop(alert.id, None)
        self._by_key.pop((alert.rule_id, alert.device_id), None)
        outages = self._outages.get(alert.device_id)
        if outages is not None:
            outages.discard(alert.id)
            if not outages:
                del self._outages[alert.device_id]

    def _render(self, signal: RuleSignal) -> tuple[str, str]:
        device = self._inventory.devices.get(signal.device_id)
        fields = _Fields(signal.facts)
        fields["device_id"] = signal.device_id
        if device is not None:
            fields["device_name"] = device.name
            fields["area_name"] = self._inventory.areas[device.area_id].name
        return (
            _FORMATTER.vformat(signal.rule.message_vi, (), fields),
            _FORMATTER.vformat(signal.rule.message_en, (), fields),
        )

    # -- topology --------------------------------------------------------------------------

    def _root_for(self, device_id: str) -> int | None:
        """The root alert of the nearest upstream device that is itself out, if any."""
        for upstream in _walk(device_id, lambda d: self._inventory.devices[d].depends_on):
            outage_ids = self._outages.get(upstream)
            if outage_ids:
                return self._root_for(upstream) or min(outage_ids)
        return None

    def _group_dependants(self, outage: Alert, now: int) -> list[AlertTransition]:
        """Transitions (not yet committed) that put the dependants' roots under this outage."""
        root = outage.root_id or outage.id
        dependants = set(_walk(outage.device_id, lambda d: self._dependants.get(d, ())))
        return [
            self._transition(
                TransitionKind.GROUPED,
                dataclasses.replace(alert, root_id=root, updated_at_ms=now),
                now,
                f"caused by #{root}",
            )
            for alert in self._open.values()
            if alert.device_id in dependants and alert.root_id is None
        ]

    def _regroup_children(self, resolved_id: int, now: int) -> list[AlertTransition]:
        """Transitions (not yet committed) for the children of a root that is going away."""
        children = [alert for alert in self._open.values() if alert.root_id == resolved_id]
        transitions = []
        for child in children:
            root = self._root_for(child.device_id)
            moved = dataclasses.replace(child, root_id=root, updated_at_ms=now)
            if root is None:
                transitions.append(
                    self._transition(TransitionKind.PROMOTED, moved, now, f"#{resolved_id} cleared")
                )
            else:
                transitions.append(
                    self._transition(TransitionKind.GROUPED, moved, now, f"caused by #{root}")
                )
        return transitions

    # -- maintenance windows ---------------------------------------------------------------

    def refresh_silences(self, now: int) -> list[AlertTransition]:
        """Windows start and end with time, and other processes (`ioc maintenance`) add and end
        them: read them again, mark what they cover, unmark what they no longer do."""
        self._windows = self._store.current_windows(now)
        transitions = []
        for alert in list(self._open.values()):
            silenced = self._silenced(alert.device_id, alert.rule_id, now)
            if silenced != alert.silenced:
                changed = dataclasses.replace(alert, silenced=silenced, updated_at_ms=now)
                kind = TransitionKind.SILENCED if silenced else TransitionKind.UNSILENCED
                transitions.append(self._transition(kind, changed, now))
        return self._commit(transitions) if transitions else []

    def _silenced(self, device_id: str, rule_id: str, now: int) -> bool:
        active = [window for window in self._windows if window.active(now)]
        return bool(active) and bool(covering(active, device_id, rule_id, self._inventory))


def covering(
    windows: Iterable[MaintenanceWindow], device_id: str, rule_id: str, inventory: Inventory
) -> list[MaintenanceWindow]:
    """The windows (whenever they are) that cover an alert of `rule_id` on `device_id`: one for
    the rule, for an area the device is in, for the device, or for a device it depends on."""
    device = inventory.devices.get(device_id)
    areas = {area.id for area in inventory.area_path(device.area_id)} if device else set()
    upstream: set[str] | None = None
    found = []
    for window in windows:
        if window.scope is WindowScope.RULE:
            hit = window.target == rule_id
        elif window.scope is WindowScope.AREA:
            hit = window.target in areas
        elif window.target == device_id:
            hit = True
        else:
            if upstream is None:
                depends = (lambda d: inventory.devices[d].depends_on) if device else (lambda _: ())
                upstream = set(_walk(device_id, depends))
            hit = window.target in upstream
        if hit:
            found.append(window)
    return found


def check_window(window: MaintenanceWindow, inventory: Inventory) -> None:
    """Raise AlertError if a window is backwards or names what does not exist."""
    if window.ends_at_ms <= window.starts_at_ms:
        raise AlertError(said("a maintenance window must end after it starts"))
    if window.scope is WindowScope.DEVICE and window.target not in inventory.devices:
        raise AlertError(said("no device {device!r} in the inventory", device=window.target))
    if window.scope is WindowScope.AREA and window.target not in inventory.areas:
        raise AlertError(said("no area {area!r} in the inventory", area=window.target))
    if not window.reason.strip():
        raise AlertError(said("a maintenance window needs a reason"))


def _dependants(inventory: Inventory) -> dict[str, list[str]]:
    dependants: dict[str, list[str]] = {}
    for device in inventory.devices.values():
        for upstream in device.depends_on:
            dependants.setdefault(upstream, []).append(device.id)
    return dependants


def _walk(start: str, neighbours: Callable[[str], Iterable[str]]) -> list[str]:
    """Breadth-first: the nearest first, each device once, `start` excluded."""
    seen = {start}
    order: list[str] = []
    queue = deque(neighbours(start))
    while queue:
        device_id = queue.popleft()
        if device_id in seen:
            continue
        seen.add(device_id)
        order.append(device_id)
        queue.extend(neighbours(device_id))
    return order
