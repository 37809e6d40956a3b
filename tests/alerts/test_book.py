"""The alert book over the real SQL store (SQLite and PostgreSQL): lifecycle, topology, silences."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.exc import IntegrityError

from ioc.alerts import (
    AlertBook,
    AlertError,
    UnknownWindow,
    WindowRefused,
    end_window,
    plan_window,
    transition_json,
)
from ioc.domain import (
    AlertState,
    AlertTransition,
    Caller,
    Inventory,
    MaintenanceWindow,
    RuleInfo,
    RuleSignal,
    Severity,
    SignalKind,
    WindowScope,
    iso_utc,
)
from ioc.state import (
    AlertRepository,
    AuditLog,
    StateError,
    StateRefused,
    StateUnavailable,
    connect_state,
)

T0 = 1_790_000_000_000
LAN = Caller("lan", "cli ioc-1")

DOWN = RuleInfo(
    "device.down",
    "Thiết bị mất kết nối",
    "Device down",
    "{device_name} mất kết nối ({silent_for})",
    "{device_name} is down ({silent_for})",
    Severity.CRITICAL,
    "lossOfSignal",
    "communicationsAlarm",
    outage=True,
)
HOT = RuleInfo(
    "bts.high_temperature",
    "Nóng",
    "Hot",
    "{device_name} {value} °C",
    "{device_name} at {value} °C {missing}",
    Severity.MAJOR,
    "highTemperature",
    "environmentalAlarm",
)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


class Published:
    def __init__(self) -> None:
        self.items: list[AlertTransition] = []

    def publish(self, transition: AlertTransition) -> None:
        self.items.append(transition)


@pytest.fixture
def repository(state_url: str) -> Iterator[AlertRepository]:
    repository = AlertRepository(connect_state(state_url))
    yield repository
    repository.close()


@pytest.fixture
def trail(state_url: str) -> Iterator[AuditLog]:
    engine = connect_state(state_url)
    yield AuditLog(engine)
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def published() -> Published:
    return Published()


@pytest.fixture
def book(
    repository: AlertRepository, small_inventory: Inventory, clock: Clock, published: Published
) -> AlertBook:
    book = AlertBook(repository, small_inventory, published, clock)
    book.load(clock.now)
    return book


def _signal(
    kind: SignalKind, rule: RuleInfo, device: str, at_s: float, **facts: object
) -> RuleSignal:
    return RuleSignal(kind, rule, device, T0 + round(at_s * 1000), rule.severity, facts)


def _raise(rule: RuleInfo, device: str, at_s: float = 0, **facts: object) -> RuleSignal:
    return _signal(SignalKind.RAISE, rule, device, at_s, **facts)


def _clear(rule: RuleInfo, device: str, at_s: float = 0) -> RuleSignal:
    return _signal(SignalKind.CLEAR, rule, device, at_s)


def test_lifecycle_with_audit_trail(
    book: AlertBook, repository: AlertRepository, clock: Clock, published: Published
) -> None:
    [fired] = book.apply([_raise(HOT, "bts1", value=41.5)])
    alert = fired.alert
    assert alert.state is AlertState.FIRING and alert.root_id is None
    assert alert.message_en == "BTS Một at 41.5 °C ?"  # an unknown template field shows as ?
    assert alert.message_vi == "BTS Một 41.5 °C"
    clock.now = T0 + 5000
    book.acknowledge(alert.id, "lan@ioc", "on my way")
    with pytest.raises(AlertError, match="already acknowledged by lan@ioc"):
        book.acknowledge(alert.id, "minh@ioc")
    book.apply([_raise(HOT, "bts1", 10, value=42.0)])  # said again: no second alert
    book.apply([_clear(HOT, "bts1", 20)])
    history = repository.history(alert.id)
    assert [(t.kind.value, t.actor, t.note) for t in history] == [
        ("fired", "rules", ""),
        ("acknowledged", "lan@ioc", "on my way"),
        ("updated", "rules", ""),
        ("resolved", "rules", "condition cleared"),
    ]
    assert history[0].alert.state is AlertState.RESOLVED
    assert history[0].alert.acknowledged_by == "lan@ioc"
    [again] = book.apply([_raise(HOT, "bts1", 30, value=43.0)])
    assert again.alert.id != alert.id  # a new occurrence after resolution
    assert [t.kind.value for t in published.items] == [
        "fired",
        "acknowledged",
        "updated",
        "resolved",
        "fired",
    ]
    payload = transition_json(published.items[1])
    assert payload["event"] == "acknowledged" and payload["actor"] == "lan@ioc"
    alert_payload = payload["alert"]
    assert isinstance(alert_payload, dict)
    assert alert_payload["state"] == "acknowledged" and alert_payload["opened_at"].endswith("Z")


def test_resolve_by_hand_and_notes(book: AlertBook, repository: AlertRepository) -> None:
    [fired] = book.apply([_raise(HOT, "bts1", value=41.0)])
    book.add_note(fired.alert.id, "lan@ioc", "aircon tech called")
    with pytest.raises(AlertError, match="needs some text"):
        book.add_note(fired.alert.id, "lan@ioc", "  ")
    book.resolve(fired.alert.id, "lan@ioc", "fixed the aircon")
    with pytest.raises(AlertError, match=f"no open alert {fired.alert.id}"):
        book.resolve(fired.alert.id, "lan@ioc")
    assert [t.kind.value for t in repository.history(fired.alert.id)] == [
        "fired",
        "note",
        "resolved",
    ]
    assert book.open_alerts == []


def test_the_database_refuses_a_second_open_alert_for_one_rule_and_device(
    book: AlertBook, repository: AlertRepository
) -> None:
    [fired] = book.apply([_raise(HOT, "bts1", value=41.0)])
    with pytest.raises(StateRefused) as caught:  # needs an operator: never retried
        repository.create(fired.alert, fired.kind, "rules", "")
    assert isinstance(caught.value.__cause__, IntegrityError)


def test_a_commune_outage_is_one_root_with_its_devices_under_it(
    book: AlertBook, published: Published, repository: AlertRepository
) -> None:
    book.apply([_raise(HOT, "bts1", 0, value=41.0)])  # before the outage: a root of its own
    [gateway, grouped] = book.apply([_raise(DOWN, "gw1", 10)])
    root = gateway.alert.id
    assert gateway.alert.root_id is None
    assert grouped.kind.value == "grouped" and grouped.alert.root_id == root
    later = book.apply(
        [_raise(DOWN, "bts1", 20), _raise(DOWN, "vc1", 20), _raise(DOWN, "bts2", 20)]
    )
    assert {t.alert.device_id: t.alert.root_id for t in later} == {
        "bts1": root,
        "vc1": root,
        "bts2": root,  # behind gw2, which is behind gw1: the topmost outage is the root
    }
    assert {alert.device_id for alert in repository.children(root)} == {"bts1", "vc1", "bts2"}
    payloads = [transition_json(t) for t in published.items]
    assert [p["notify"] for p in payloads] == [True, True, False, False, False, False]


def test_when_the_root_clears_children_still_down_become_roots_or_move_up(
    book: AlertBook,
) -> None:
    book.apply([_raise(DOWN, "gw1", 0)])
    book.apply([_raise(DOWN, "gw2", 1), _raise(DOWN, "bts2", 2), _raise(DOWN, "vc1", 2)])
    transitions = book.apply([_clear(DOWN, "gw1", 30)])
    outcome = {t.alert.device_id: (t.kind.value, t.alert.root_id) for t in transitions}
    gw2 = next(a for a in book.open_alerts if a.device_id == "gw2")
    assert outcome == {
        "gw1": ("resolved", None),
        "gw2": ("promoted", None),
        "bts2": ("grouped", gw2.id),  # still behind gw2, which is still down
        "vc1": ("promoted", None),
    }


def test_open_alerts_and_roots_survive_a_restart(
    book: AlertBook, repository: AlertRepository, small_inventory: Inventory, clock: Clock
) -> None:
    book.apply([_raise(DOWN, "gw1", 0)])
    book.apply([_raise(DOWN, "bts1", 5)])
    again = AlertBook(repository, small_inventory, None, clock)
    assert [(a.device_id, a.root_id is None) for a in again.load(clock.now)] == [
        ("gw1", True),
        ("bts1", False),
    ]
    again.declare_outage_rules(["device.down"])
    assert again.apply([_raise(DOWN, "gw1", 60)])[0].kind.value == "updated"  # not a duplicate
    [child] = again.apply([_raise(DOWN, "vc1", 61)])
    assert child.alert.root_id == again.open_alerts[0].id


def test_a_window_on_a_gateway_silences_its_dependants_until_it_ends(
    book: AlertBook,
    clock: Clock,
    published: Published,
    repository: AlertRepository,
    small_inventory: Inventory,
    trail: AuditLog,
) -> None:
    window = plan_window(
        repository,
        small_inventory,
        None,
        MaintenanceWindow(0, WindowScope.DEVICE, "gw1", T0, T0 + 3_600_000, "fibre work", "lan"),
        clock.now,
        LAN,
        trail,
    )
    book.refresh_silences(clock.now)
    fired = book.apply([_raise(HOT, "bts2", 10, value=41.0), _raise(HOT, "bts1", 10)])
    assert all(t.alert.silenced for t in fired)  # bts2 is behind gw2, which is behind gw1
    assert not any(transition_json(t)["notify"] for t in fired)
    clock.now = T0 + 600_000
    end_window(repository, window.id, clock.now, LAN, trail)
    ended = book.refresh_silences(clock.now)
    assert [(t.kind.value, t.alert.silenced) for t in ended] == [
        ("unsilenced", False),
        ("unsilenced", False),
    ]
    assert all(transition_json(t)["notify"] for t in ended)
    with pytest.raises(UnknownWindow, match="no open maintenance window"):
        end_window(repository, window.id, clock.now, LAN, trail)
    # Who planned it and who ended it, from where, in the audit trail (the refusal is not).
    kept = [(e.actor, e.origin, e.action, e.target) for e in trail.find()]
    target = f"window #{window.id}"
    assert kept == [
        ("lan", "cli ioc-1", "window.end", target),
        ("lan", "cli ioc-1", "window.plan", target),
    ]
    [ended] = trail.find(action="window.end")
    assert ended.before == {
        "scope": "device", "target": "gw1", "reason": "fibre work",
        "starts_at": iso_utc(T0), "ends_at": iso_utc(T0 + 3_600_000),
    }  # fmt: skip
    assert ended.after == {"ended_at": iso_utc(T0 + 600_000)}  # ten minutes in, early


def test_area_and_rule_windows_and_expiry_with_time(
    book: AlertBook,
    clock: Clock,
    repository: AlertRepository,
    small_inventory: Inventory,
    trail: AuditLog,
) -> None:

    def plan(window: MaintenanceWindow) -> None:
        plan_window(repository, small_inventory, frozenset({HOT.id}), window, clock.now, LAN, trail)

    plan(MaintenanceWindow(0, WindowScope.AREA, "C2", T0 + 60_000, T0 + 120_000, "visit", "lan"))
    plan(MaintenanceWindow(0, WindowScope.RULE, HOT.id, T0, T0 + 30_000, "sensor swap", "lan"))
    book.refresh_silences(clock.now)
    [hot] = book.apply([_raise(HOT, "bts1", 1)])
    [down] = book.apply([_raise(DOWN, "vc2", 1)])
    assert hot.alert.silenced and not down.alert.silenced  # the area window has not begun
    changes = book.refresh_silences(T0 + 60_000)
    assert {(t.alert.device_id, t.kind.value) for t in changes} == {
        ("bts1", "unsilenced"),
        ("vc2", "silenced"),
    }
    changes = book.refresh_silences(T0 + 120_000)
    assert [(t.alert.device_id, t.kind.value) for t in changes] == [("vc2", "unsilenced")]
    with pytest.raises(WindowRefused, match="must end after it starts"):
        plan(MaintenanceWindow(0, WindowScope.AREA, "C2", T0 + 20, T0 + 10, "x", "lan"))
    with pytest.raises(WindowRefused, match="no area 'C9'"):
        plan(MaintenanceWindow(0, WindowScope.AREA, "C9", T0, T0 + 1, "x", "lan"))
    with pytest.raises(WindowRefused, match=r"no rule 'bts\.smoke' in force"):
        plan(MaintenanceWindow(0, WindowScope.RULE, "bts.smoke", T0, T0 + 1, "x", "lan"))
    with pytest.raises(WindowRefused, match="ended already"):
        plan(MaintenanceWindow(0, WindowScope.AREA, "C2", T0 - 10, T0, "x", "lan"))
    assert clock.now == T0


def test_filters_for_people(book: AlertBook, repository: AlertRepository) -> None:
    book.apply([_raise(HOT, "bts1", 0), _raise(DOWN, "vc2", 0), _raise(DOWN, "gw1", 0)])
    book.apply([_clear(DOWN, "gw1", 5)])
    assert [a.device_id for a in repository.list_alerts(states=[AlertState.FIRING])] == [
        "vc2",
        "bts1",
    ]
    assert [a.device_id for a in repository.list_alerts(severities=[Severity.CRITICAL])] == [
        "gw1",
        "vc2",
    ]
    assert [a.device_id for a in repository.list_alerts(area_ids=["C2"])] == ["vc2"]


def test_windows_planned_by_another_process_apply_at_the_next_refresh(
    book: AlertBook, repository: AlertRepository
) -> None:
    [hot] = book.apply([_raise(HOT, "bts1", 1)])
    assert not hot.alert.silenced
    repository.add_window(  # as `ioc maintenance add` does, beside the running book
        MaintenanceWindow(0, WindowScope.AREA, "P", T0, T0 + 60_000, "province drill", "lan")
    )
    [silenced] = book.refresh_silences(T0 + 2000)
    assert silenced.kind.value == "silenced" and silenced.alert.silenced


class _FailingOnce:
    """The real repository, whose next `record` fails as a database going away would."""

    def __init__(self, repository: AlertRepository) -> None:
        self._repository = repository
        self.fail_next = False

    def __getattr__(self, name: str) -> object:
        return getattr(self._repository, name)

    def record(self, transitions: list[AlertTransition]) -> None:
        if self.fail_next:
            self.fail_next = False
            raise StateUnavailable("cannot record alert transitions: connection lost")
        self._repository.record(transitions)


def test_a_failed_write_leaves_the_book_as_it_was_so_a_retry_completes(
    repository: AlertRepository, small_inventory: Inventory, clock: Clock
) -> None:
    store = _FailingOnce(repository)
    book = AlertBook(store, small_inventory, None, clock)  # type: ignore[arg-type]
    book.load(clock.now)
    book.apply([_raise(DOWN, "gw1", 0), _raise(DOWN, "vc1", 1)])
    store.fail_next = True
    with pytest.raises(StateError):
        book.apply([_clear(DOWN, "gw1", 5)])
    assert {a.device_id for a in book.open_alerts} == {"gw1", "vc1"}
    transitions = book.apply([_clear(DOWN, "gw1", 6)])  # the service retries the signal
    assert [(t.kind.value, t.alert.device_id) for t in transitions] == [
        ("resolved", "gw1"),
        ("promoted", "vc1"),
    ]
    assert [a.state for a in repository.list_alerts()] == [AlertState.FIRING, AlertState.RESOLVED]
