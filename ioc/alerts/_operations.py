"""What operators do with alerts, below both faces: the CLI and the API call these functions.

Acting on an alert is a request that the rules process (which owns the open alerts) carries
out; the outcome comes back typed, and each face maps it (the CLI to an exit code, the API to
an HTTP status). Windows are checked once, here, whoever plans them. Listing takes one filter.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ioc.alerts._book import AlertError, check_window
from ioc.domain import (
    ActionOutcome,
    Alert,
    AlertAction,
    AlertState,
    AlertTransition,
    AuditTrail,
    BadInput,
    Caller,
    Inventory,
    MaintenanceWindow,
    NotFound,
    Severity,
    WindowScope,
    audited,
    iso_utc,
    said,
)


@dataclass(frozen=True, slots=True)
class ActionResult:
    """An action's outcome, the request that carried it, and what the rules process said."""

    outcome: ActionOutcome
    request_id: int
    detail: str = ""


class ActionQueue(Protocol):
    """Requests to the running rules process (the state database's AlertRepository)."""

    def request(
        self, alert_id: int, action: AlertAction, actor: str, note: str, now_ms: int
    ) -> int:
        """Queue an action; its request id."""
        ...

    def wait_for_result(
        self, request_id: int, timeout_s: float
    ) -> tuple[ActionOutcome, str] | None:
        """The outcome and its detail once carried out; None if not within `timeout_s`."""
        ...

    def get(self, alert_id: int) -> Alert | None:
        """The alert as it stands (None if there is none)."""
        ...


# How the audit trail names an operator's action on an alert.
_AUDITED = {
    AlertAction.ACKNOWLEDGE: "alert.acknowledge",
    AlertAction.NOTE: "alert.note",
    AlertAction.RESOLVE: "alert.resolve",
}


def act_on_alert(
    queue: ActionQueue,
    action: AlertAction,
    alert_id: int,
    caller: Caller,
    note: str,
    now_ms: int,
    wait_s: float,
    trail: AuditTrail,
) -> ActionResult:
    """Have the rules process do `action`, waiting up to `wait_s` for what came of it; the
    request and its outcome go to the audit trail with the alert's state before."""
    before = queue.get(alert_id)
    request_id = queue.request(alert_id, action, caller.name, note, now_ms)
    answer = queue.wait_for_result(request_id, wait_s)
    result = (
        ActionResult(ActionOutcome.QUEUED, request_id)
        if answer is None
        else ActionResult(answer[0], request_id, answer[1])
    )
    after: dict[str, object] = {"outcome": result.outcome.value}
    if note:
        after["note"] = note
    if result.detail:
        after["detail"] = result.detail
    was = None if before is None else {"state": before.state.value}
    trail.record(audited(caller, now_ms, _AUDITED[action], f"alert #{alert_id}", was, after))
    return result


# -- maintenance windows -------------------------------------------------------------------


class UnknownWindow(AlertError, NotFound):
    """No open maintenance window with that id."""


class WindowRefused(AlertError, BadInput):
    """A window that cannot be planned: backwards, over already, or naming nothing known."""


class WindowStore(Protocol):
    """Where windows are kept (the state database's AlertRepository)."""

    def add_window(self, window: MaintenanceWindow) -> MaintenanceWindow:
        """Insert a window; return it with its id."""
        ...

    def end_window(self, window_id: int, now_ms: int) -> MaintenanceWindow | None:
        """End a window now; None if there is no such open window."""
        ...


def plan_window(
    store: WindowStore,
    inventory: Inventory,
    rule_ids: frozenset[str] | None,
    window: MaintenanceWindow,
    now_ms: int,
    caller: Caller,
    trail: AuditTrail,
) -> MaintenanceWindow:
    """Check a window (raise WindowRefused with why) and keep it, in the audit trail too; the
    rules apply it."""
    if window.ends_at_ms <= now_ms:
        raise WindowRefused(
            said("that window ended already ({end})", end=iso_utc(window.ends_at_ms))
        )
    try:
        check_window(window, inventory)
    except AlertError as exc:
        raise WindowRefused(*exc.args) from exc  # its message as said, to be told again
    if window.scope is WindowScope.RULE and rule_ids is not None and window.target not in rule_ids:
        raise WindowRefused(said("no rule {rule!r} in force", rule=window.target))
    planned = store.add_window(window)
    trail.record(
        audited(caller, now_ms, "window.plan", f"window #{planned.id}", None, _window_json(planned))
    )
    return planned


def end_window(
    store: WindowStore, window_id: int, now_ms: int, caller: Caller, trail: AuditTrail
) -> MaintenanceWindow:
    """End a window now, in the audit trail too; UnknownWindow if there is no such open
    window."""
    ended = store.end_window(window_id, now_ms)
    if ended is None:
        raise UnknownWindow(said("no open maintenance window {id}", id=window_id))
    was, now = _window_json(ended), {"ended_at": iso_utc(now_ms)}
    trail.record(audited(caller, now_ms, "window.end", f"window #{window_id}", was, now))
    return ended


def _window_json(window: MaintenanceWindow) -> dict[str, object]:
    return {
        "scope": window.scope.value, "target": window.target, "reason": window.reason,
        "starts_at": iso_utc(window.starts_at_ms), "ends_at": iso_utc(window.ends_at_ms),
    }  # fmt: skip


# -- finding alerts --------------------------------------------------------------------------


class UnknownArea(AlertError, BadInput, NotFound):
    """The filter names an area the inventory does not have."""


OPEN_STATES = frozenset({AlertState.FIRING, AlertState.ACKNOWLEDGED})


def states_named(names: Iterable[str]) -> frozenset[AlertState]:
    """The states a filter names: each by its value, and `open` for firing or acknowledged
    (ValueError for another name)."""
    wanted: set[AlertState] = set()
    for name in names:
        wanted |= OPEN_STATES if name == "open" else {AlertState(name)}
    return frozenset(wanted)


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts to list: by state, severity, area subtree and device; newest first, a
    page."""

    states: frozenset[AlertState] = frozenset()
    severities: frozenset[Severity] = frozenset()
    area: str | None = None
    limit: int = 100
    offset: int = 0
    device: str | None = None


class AlertReader(Protocol):
    """Alert queries (the state database's AlertRepository)."""

    def list_alerts(
        self,
        states: Iterable[AlertState] = (),
        severities: Iterable[Severity] = (),
        area_ids: Iterable[str] | None = None,
        limit: int = 500,
        device_ids: Iterable[str] | None = None,
    ) -> list[Alert]:
        """Alerts newest first, filtered."""
        ...

    def history(self, alert_id: int) -> list[AlertTransition]:
        """An alert's audit trail, oldest first; empty if there is no such alert."""
        ...

    def children(self, alert_id: int) -> list[Alert]:
        """Open alerts grouped under a root."""
        ...


def find_alerts(
    reader: AlertReader, inventory: Inventory | None, query: AlertFilter
) -> list[Alert]:
    """The alerts the filter asks for (in an area and the areas under it; in an area the map
    no longer has, since a reform: the alerts that happened in it). UnknownArea for an area no
    alert happened in and the inventory lacks (a caller may leave the inventory out when the
    filter names no area)."""
    area_ids, past = None, False
    if query.area is not None:
        if inventory is not None and query.area in inventory.areas:
            area_ids = list(inventory.subtree(query.area))
        else:
            area_ids, past = [query.area], True
    devices = [query.device] if query.device is not None else None
    found = reader.list_alerts(
        sorted(query.states), sorted(query.severities), area_ids, query.limit + query.offset,
        devices,
    )  # fmt: skip
    if past and not found:
        raise UnknownArea(
            said("no area {area!r} in the inventory, nor any alert in it", area=query.area)
        )
    return found[query.offset :]


@dataclass(frozen=True, slots=True)
class AlertDetail:
    """One alert as it is now, its history, and the open alerts grouped under it."""

    alert: Alert
    history: Sequence[AlertTransition]
    children: Sequence[Alert]


def alert_detail(reader: AlertReader, alert_id: int) -> AlertDetail | None:
    """An alert with its history and children; None if there is no such alert."""
    history = reader.history(alert_id)
    if not history:
        return None
    return AlertDetail(history[0].alert, history, reader.children(alert_id))
