"""The rules service's timers on a test clock (blind mode, state saving, silence sweeps, operator
requests with their typed outcomes), and state errors by cause: over real SQLite and PostgreSQL.
Time is moved by the test; `sync()` waits for the worker to act on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from ioc.api import ApiContext, create_app
from ioc.app import Catalog, RulesService, Runtime, stage_metrics
from ioc.config import load_settings
from ioc.domain import (
    ActionOutcome,
    Alert,
    AlertAction,
    AlertState,
    DeviceEvent,
    Inventory,
    MaintenanceWindow,
    Meeting,
    Profile,
    Reading,
    Severity,
    StatusChange,
    TransitionKind,
    WindowScope,
)
from ioc.state import (
    AlertRepository,
    MeetingStore,
    StateRefused,
    StateUnavailable,
    TokenStore,
    WatchLog,
    connect_state,
)
from ioc.state._db import run_in
from tests.rules.harness import NORMAL, fast_rules
from tests.support.clock import ManualClock
from tests.support.relay import relayed_database

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
T0 = 1_795_000_000_000
_END_WINDOWS = "UPDATE maintenance_window SET ended_at_ms = 1"
CLASS_OF = {"gw1": "netgw", "gw2": "netgw", "bts1": "bts", "bts2": "bts", "vc1": "vc", "vc2": "vc"}


class World:
    """A started rules service on a manual clock, its repository, and whether it hears."""

    def __init__(
        self, tmp_path: Path, state_url: str, profiles: dict[str, Profile], inventory: Inventory
    ) -> None:
        settings = load_settings(
            data_dir=tmp_path / "data",
            inventory=SMALL_INVENTORY,
            rules_dir=fast_rules(tmp_path / "rules", "3s", "60s"),
            state_url=state_url,
        )
        self.clock = ManualClock(T0)
        self.hears = True
        self.runtime = Runtime(settings, Catalog(profiles, inventory))
        self.rules = RulesService(self.runtime, None, self.clock)
        self.rules.hearing = lambda: self.hears
        engine = connect_state(state_url)
        self.repository, self.tokens = AlertRepository(engine), TokenStore(engine)
        self.watched = WatchLog(engine)
        self.inventory = inventory
        self.rules.start()

    def report(self, *devices: str, token: int | None = None, **metrics: object) -> None:
        """Each device reports its normal values (with `metrics` over them) now, in a message
        acknowledged by `token` when given."""
        for device in devices:
            values = {**NORMAL[CLASS_OF[device]], **metrics}
            self.rules.observe(Reading(CLASS_OF[device], device, self.clock.now, values), token)

    def after(self, ms: int) -> None:
        """Move the clock on and let the worker catch up."""
        self.clock.now += ms
        self.rules.sync()

    def open_alerts(self) -> set[tuple[str, str]]:
        return {(a.rule_id, a.device_id) for a in self.repository.list_alerts() if a.is_open}

    def close(self) -> None:
        self.rules.stop()
        self.repository.close()
        self.runtime.close()


@pytest.fixture
def world(
    tmp_path: Path, state_url: str, profiles: dict[str, Profile], small_inventory: Inventory
) -> Iterator[World]:
    world = World(tmp_path, state_url, profiles, small_inventory)
    yield world
    world.close()


def test_blind_while_it_cannot_hear_then_silence_judged_afresh(world: World) -> None:
    world.report(*CLASS_OF)
    world.after(1_000)
    world.hears = False
    world.after(1_000)
    assert world.rules.stats.blind_spells == 1
    world.after(10_000)  # far past the 3 s silence window: nobody is judged down while blind
    assert world.open_alerts() == set()
    world.hears = True
    world.after(1_000)  # hearing again (at R): every device gets a full window from now
    world.after(1_500)
    world.report(*(d for d in CLASS_OF if d != "vc2"))
    world.after(1_000)  # R + 2.5 s
    assert world.open_alerts() == set()
    world.after(1_000)  # R + 3.5 s: vc2 has been silent a whole window since R
    assert world.open_alerts() == {("device.down", "vc2")}


def test_what_it_watched_is_recorded_for_reports(world: World) -> None:
    """A spell while it hears, extended by each beat, ended when it goes blind and when it
    stops; each device recorded at its first report (a last will is not the device speaking)."""
    world.report("gw1", "bts1")
    world.after(6_000)  # a beat: the spell begun at the start reaches T0 + 6 s
    world.rules.observe(StatusChange("vc", "vc1", world.clock.now, online=False, retained=True))
    world.hears = False
    world.after(2_000)  # blind at T0 + 8 s
    world.after(10_000)
    world.hears = True
    world.after(1_000)  # hearing again at T0 + 19 s: a new spell at once
    world.report("gw2")
    world.after(5_000)  # a beat at T0 + 24 s
    world.after(2_000)
    world.rules.stop()  # at T0 + 26 s
    assert world.watched.spells(T0, T0 + 60_000) == [(T0, T0 + 8_000), (T0 + 19_000, T0 + 26_000)]
    assert world.watched.first_heard() == {"gw1": T0, "bts1": T0, "gw2": T0 + 19_000}


def test_rule_state_is_saved_on_the_service_clock(world: World) -> None:
    world.report("bts1", mains_ok=False)  # the 60 s mains timer starts
    world.after(1_000)
    assert [s[:2] for s in world.repository.rule_states()] == []
    world.after(5_000)
    assert ("bts.mains_failure", "bts1") in {s[:2] for s in world.repository.rule_states()}


def test_windows_from_another_process_silence_at_the_next_sweep(world: World) -> None:
    world.report("bts1", door_open=True)
    world.after(1_000)
    [door] = world.repository.list_alerts()
    assert door.rule_id == "bts.door_open" and not door.silenced
    world.repository.add_window(  # as `ioc maintenance add` does
        MaintenanceWindow(0, WindowScope.DEVICE, "bts1", T0, T0 + 3_600_000, "visit", "lan")
    )
    world.after(5_000)
    assert not world.repository.get(door.id).silenced  # type: ignore[union-attr]
    world.after(5_000)  # the sweep runs every 10 s of the service's clock
    assert world.repository.get(door.id).silenced  # type: ignore[union-attr]


def test_operator_requests_come_back_with_typed_outcomes(world: World) -> None:
    world.report("bts1", door_open=True)
    world.after(1_000)
    [door] = world.repository.list_alerts()

    def carry_out(alert_id: int, action: AlertAction, note: str = "") -> tuple[ActionOutcome, str]:
        request_id = world.repository.request(alert_id, action, "lan", note, world.clock.now)
        assert world.repository.request_result(request_id) is None  # waits for the worker
        world.after(1_000)
        result = world.repository.request_result(request_id)
        assert result is not None
        return result

    assert carry_out(door.id, AlertAction.ACKNOWLEDGE) == (ActionOutcome.DONE, "")
    assert carry_out(door.id, AlertAction.ACKNOWLEDGE) == (
        ActionOutcome.REFUSED,
        f"alert {door.id} is already acknowledged by lan",
    )
    assert carry_out(door.id, AlertAction.NOTE, "  ") == (
        ActionOutcome.REFUSED,
        "a note needs some text",
    )
    assert carry_out(door.id, AlertAction.RESOLVE, "closed") == (ActionOutcome.DONE, "")
    assert carry_out(door.id, AlertAction.NOTE, "late") == (
        ActionOutcome.NOT_OPEN,
        f"no open alert {door.id}",
    )
    assert carry_out(987_654, AlertAction.RESOLVE) == (
        ActionOutcome.UNKNOWN_ALERT,
        "no alert 987654",
    )


def test_an_integrity_error_is_reported_not_retried_and_the_rest_goes_on(world: World) -> None:
    # Another writer holds an open alert the service does not know of: storing the service's
    # own alert for the same rule and device breaks the one-open-alert index.
    assert world.rules.book.open_alerts == []
    intruder = Alert(
        0, "bts.door_open", "bts2", "bts", "C2", Severity.MAJOR, "x", "y", AlertState.FIRING,
        "Cửa mở", "Door open", "m", "m", {}, T0, T0,
    )  # fmt: skip
    world.repository.create(intruder, TransitionKind.FIRED, "someone else", "")
    for second in range(4):  # everyone reports each second; two doors open after the first
        world.report(*CLASS_OF, door_open=second > 0)
        world.after(1_000)
    assert world.rules.stats.refused_by_state == 1  # never tried again
    assert world.rules.stats.last_refusal is not None
    assert "store raise of bts.door_open on bts2" in world.rules.stats.last_refusal
    # The refusal blocked nothing else: the other door's alert is stored as usual.
    assert world.open_alerts() == {("bts.door_open", "bts1"), ("bts.door_open", "bts2")}
    [ours] = [a for a in world.repository.list_alerts() if a.device_id == "bts1"]
    assert ours.opened_at_ms == T0 + 1_000
    assert world.rules.stats.store_retries == 0
    # An operator sees it in /metrics and /readyz, though everything answers.
    context = ApiContext(
        lambda: world.inventory, {}, world.repository, world.tokens, world.clock,
        process_metrics=stage_metrics(None, lambda: world.rules),
        attention={"rules": lambda: world.rules.stats.last_refusal},
    )  # fmt: skip
    with TestClient(create_app(context)) as client:
        ready = client.get("/readyz")
        metrics = client.get("/metrics").text
    assert ready.status_code == 200, ready.text
    assert "store raise of bts.door_open on bts2" in ready.json()["needs_operator"]["rules"]
    assert "ioc_rules_refused_by_state_total 1.0" in metrics


@pytest.mark.parametrize("state_url", ["postgresql"], indirect=True)  # emptied for the test
def test_a_dropped_postgresql_connection_is_retried_until_it_is_back(
    tmp_path: Path,
    postgres_url: str,
    state_url: str,
    profiles: dict[str, Profile],
    small_inventory: Inventory,
) -> None:
    relay, relayed = relayed_database(postgres_url)
    world = World(tmp_path, relayed, profiles, small_inventory)
    try:
        world.report("bts1", door_open=True)
        relay.cut()  # the server goes away between the reading and the write
        world.after(1_000)
        assert world.rules.stats.store_retries >= 1
        assert world.rules.stats.refused_by_state == 0
        relay.restore()
        world.after(1_000)  # the next tick retries what it kept
        stored = AlertRepository(connect_state(postgres_url))
        assert [(a.rule_id, a.device_id) for a in stored.list_alerts()] == [
            ("bts.door_open", "bts1")
        ]
        stored.close()
    finally:
        world.close()
        relay.close()


@pytest.mark.parametrize("state_url", ["postgresql"], indirect=True)
def test_a_message_is_acknowledged_once_judged_and_its_alert_stored(
    tmp_path: Path,
    state_url: str,
    profiles: dict[str, Profile],
    small_inventory: Inventory,
) -> None:
    """A leader dying before its alert is stored leaves the message to the next leader."""
    relay, relayed = relayed_database(state_url)
    world = World(tmp_path, relayed, profiles, small_inventory)
    acknowledged: list[int] = []
    world.rules.acknowledge = acknowledged.extend
    try:
        world.report("bts2", token=1)  # nothing to store: acknowledged at once
        world.after(0)
        assert acknowledged == [1]
        relay.cut()
        world.report("bts1", token=2, door_open=True)  # an alert the database cannot take
        world.report("bts2", token=3)
        world.after(1_000)
        assert world.rules.stats.store_retries >= 1
        assert acknowledged == [1]  # judged, but not acknowledged: its alert is not stored
        relay.restore()
        world.after(1_000)
        assert acknowledged == [1, 2, 3]
        assert world.open_alerts() == {("bts.door_open", "bts1")}
    finally:
        world.close()
        relay.close()


def test_a_new_leader_skips_readings_an_earlier_one_judged(
    tmp_path: Path, state_url: str, profiles: dict[str, Profile], small_inventory: Inventory
) -> None:
    """Their acknowledgements lost with the old leader, the broker delivers them again: the
    door opened and closed once is one alert, not two."""
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
    first = World(tmp_path / "first", state_url, profiles, small_inventory)
    first.rules.acknowledge = lambda _tokens: None  # acknowledged, but lost on the way
    first.report("bts1", token=1, door_open=True)
    first.after(1_000)
    first.report("bts1", token=2)
    first.after(1_000)
    door = [a for a in first.repository.list_alerts() if a.rule_id == "bts.door_open"]
    assert [a.state for a in door] == [AlertState.RESOLVED]
    first.close()
    second = World(tmp_path / "second", state_url, profiles, small_inventory)
    try:
        second.clock.now = first.clock.now + 5_000
        for ts, door_open in ((T0, True), (T0 + 1_000, False)):  # the same two, redelivered
            values = {**NORMAL["bts"], "door_open": door_open}
            second.rules.observe(Reading("bts", "bts1", ts, values), 3)
        second.after(1_000)
        door = [a for a in second.repository.list_alerts() if a.rule_id == "bts.door_open"]
        assert len(door) == 1
    finally:
        second.close()


def test_a_new_leader_skips_events_an_earlier_one_judged_but_not_one_sent_once(
    tmp_path: Path, state_url: str, profiles: dict[str, Profile], small_inventory: Inventory
) -> None:
    """A smoke alarm judged (its alert raised and resolved since) and redelivered to the next
    leader is not a second fire; an alarm the broker sends for the first time is judged, even
    with a time older than the last one judged (a device clock set back)."""
    for name in ("first", "second"):
        (tmp_path / name).mkdir()

    def smoke_alerts(world: World) -> list[AlertState]:
        alerts = world.repository.list_alerts()
        return [a.state for a in alerts if a.rule_id == "bts.smoke"]

    first = World(tmp_path / "first", state_url, profiles, small_inventory)
    first.rules.acknowledge = lambda _tokens: None  # acknowledged, but lost on the way
    first.rules.observe(DeviceEvent("bts", "bts1", T0, "smoke_alarm", "{}"), 1)
    first.after(1_000)
    first.after(10 * 60_000)  # the rule's auto_resolve
    assert smoke_alerts(first) == [AlertState.RESOLVED]
    first.close()
    second = World(tmp_path / "second", state_url, profiles, small_inventory)
    try:
        second.clock.now = first.clock.now + 5_000
        redelivered = DeviceEvent("bts", "bts1", T0, "smoke_alarm", "{}")
        second.rules.observe(redelivered, 2, redelivered=True)
        second.after(1_000)
        assert smoke_alerts(second) == [AlertState.RESOLVED]
        assert second.rules.engine.stats.replayed == 1
        set_back = DeviceEvent("bts", "bts1", T0 - 60_000, "smoke_alarm", "{}")
        second.rules.observe(set_back, 3)
        second.after(1_000)
        assert sorted(smoke_alerts(second)) == [AlertState.FIRING, AlertState.RESOLVED]
    finally:
        second.close()


def test_state_errors_by_cause(state_url: str, tmp_path: Path) -> None:
    repository = AlertRepository(connect_state(state_url))
    alert = Alert(
        0, "bts.door_open", "bts1", "bts", "C1", Severity.MAJOR, "x", "y", AlertState.FIRING,
        "Cửa mở", "Door open", "m", "m", {}, T0, T0,
    )  # fmt: skip
    first = repository.create(alert, TransitionKind.FIRED, "rules", "")
    with pytest.raises(StateRefused, match="cannot store an alert"):
        repository.create(first, TransitionKind.FIRED, "rules", "")
    engine = create_engine(state_url)
    with pytest.raises(StateRefused, match="cannot read"):  # a programming error: no such column
        run_in(engine, "read", lambda c: c.exec_driver_sql("SELECT nope FROM alert").all())
    engine.dispose()
    repository.close()


def test_a_locked_sqlite_database_is_retried_not_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    connect_state(url).dispose()  # migrated
    holder = create_engine(url)
    impatient = create_engine(url, connect_args={"timeout": 0.05})
    with holder.connect() as locking:
        locking.exec_driver_sql("BEGIN EXCLUSIVE")
        with pytest.raises(StateUnavailable, match="database is locked"):
            run_in(impatient, "end windows", lambda c: c.exec_driver_sql(_END_WINDOWS))
        locking.exec_driver_sql("ROLLBACK")
    holder.dispose()
    impatient.dispose()


def test_a_point_not_ready_fifteen_minutes_before_a_meeting_raises_an_alert(
    world: World, state_url: str
) -> None:
    engine = connect_state(state_url)
    starts = T0 + 15 * 60_000 + 5_000  # its readiness alerts may begin 5 s from now
    meeting = MeetingStore(engine).add(
        Meeting(0, "Giao ban", starts, starts + 60 * 60_000, ("vc1", "vc2"), "class vc", "lan")
    )
    engine.dispose()

    def seconds(count: int, vc2_registered: bool) -> None:
        for _ in range(count):  # every device reports each second: nobody is silent
            world.report(*(d for d in CLASS_OF if d != "vc2"))
            world.report("vc2", registered=vc2_registered)
            world.after(1_000)

    seconds(4, vc2_registered=False)
    assert ("vc.not_registered", "vc2") in world.open_alerts()
    assert ("meeting.point_not_ready", "vc2") not in world.open_alerts()  # not yet T-15
    seconds(8, vc2_registered=False)  # the meetings timer runs (every 10 s)
    assert ("meeting.point_not_ready", "vc2") in world.open_alerts()
    assert ("meeting.point_not_ready", "vc1") not in world.open_alerts()  # vc1 is ready
    [alert] = [a for a in world.repository.list_alerts() if a.rule_id == "meeting.point_not_ready"]
    assert alert.facts["meeting_id"] == meeting.id
    assert "Giao ban" in alert.message_vi and "vc.not_registered" in alert.message_en
    seconds(12, vc2_registered=True)  # vc2 registers: ready, its meeting alert clears
    assert ("vc.not_registered", "vc2") not in world.open_alerts()
    assert ("meeting.point_not_ready", "vc2") not in world.open_alerts()
