"""The live view following a real alert log (SQLite and PostgreSQL): what it derives, in which
order, how clients resume, and when it calls its data stale."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import orjson
import pytest

from ioc.api import LiveView, RuleRoles, StreamEvent
from ioc.domain import (
    Alert,
    AlertState,
    AlertTransition,
    Inventory,
    Severity,
    StageBeat,
    TransitionKind,
)
from ioc.state import AlertRepository, connect_state

ROLES = RuleRoles(
    down=frozenset({"device.down"}),
    power=frozenset({"bts.mains_failure"}),
    link=frozenset({"netgw.wan_down"}),
)
NOW = 1_800_000_000_000


@pytest.fixture
def log(state_url: str) -> Iterator[AlertRepository]:
    repository = AlertRepository(connect_state(state_url))
    yield repository
    repository.close()


def _fire(log: AlertRepository, inventory: Inventory, rule: str, device: str) -> Alert:
    d = inventory.devices[device]
    alert = Alert(
        0, rule, device, d.device_class, d.area_id, Severity.MAJOR, "x", "y", AlertState.FIRING,
        "t", "t", "m", "m", {}, NOW, NOW,
    )  # fmt: skip
    return log.create(alert, TransitionKind.FIRED, "rules", "")


def _resolve(log: AlertRepository, alert: Alert) -> None:
    resolved = dataclasses.replace(alert, state=AlertState.RESOLVED, resolved_at_ms=NOW + 1)
    log.record([AlertTransition(TransitionKind.RESOLVED, resolved, NOW + 1, "rules")])


def _kinds(events: list[StreamEvent]) -> list[tuple[str, dict[str, object]]]:
    return [(e.kind, orjson.loads(e.data)) for e in events]


def test_a_batch_yields_device_and_figure_events_before_its_transitions(
    log: AlertRepository, small_inventory: Inventory
) -> None:
    live = LiveView(lambda: small_inventory, lambda: ROLES, log, lambda: NOW)
    live.poll()
    start = live.last_event_id
    assert live.since(start) == []
    _fire(log, small_inventory, "device.down", "vc1")
    _fire(log, small_inventory, "bts.door_open", "bts2")
    assert live.poll() is True
    events = live.since(start)
    assert events is not None
    kinds = _kinds(events)
    assert [k for k, _ in kinds] == ["device", "device", "figures", "transition", "transition"]
    assert kinds[0][1] == {"id": "vc1", "class": "vc", "state": "down", "worst_severity": "major"}
    assert kinds[1][1]["state"] == "up" and kinds[1][1]["worst_severity"] == "major"
    figures = kinds[2][1]["figures"]
    assert figures["vc_online_by_area_kind"] == {"commune": {"online": 1, "total": 2}}  # type: ignore[index]
    first, second = (e.event_id for e in events[3:])
    assert first is not None and second == first + 1 and live.last_event_id == second
    assert kinds[3][1]["event"] == "fired" and kinds[3][1]["event_id"] == first
    # A client that saw the first transition gets only the second; one that saw all, nothing.
    assert [e.event_id for e in live.since(first) or []] == [second]
    assert live.since(second) == []
    assert live.poll() is False  # nothing new
    _fire(log, small_inventory, "bts.battery_low", "bts2")  # bts2 stays major
    live.poll()
    assert [e.kind for e in live.since(second) or []] == ["transition"]  # no figures again


def test_snapshots_carry_the_standing_and_the_event_id(
    log: AlertRepository, small_inventory: Inventory
) -> None:
    alert = _fire(log, small_inventory, "netgw.wan_down", "gw2")
    live = LiveView(lambda: small_inventory, lambda: ROLES, log, lambda: NOW)
    live.poll()  # loads what is open already
    overview = orjson.loads(live.overview_json(None).body)
    assert overview["event_id"] == live.last_event_id > 0
    assert overview["figures"]["commune_links"] == {"total": 2, "up": 1}
    assert {a["id"] for a in orjson.loads(live.overview_json(2).body)["areas"]} == {"P", "D1"}
    geo = orjson.loads(live.geojson().body)
    assert geo["event_id"] == live.last_event_id
    gw2 = next(f for f in geo["features"] if f["id"] == "gw2")
    assert gw2["properties"] == {
        "name": "Cổng xã Hai", "class": "netgw", "area_id": "C2", "state": "up",
        "worst_severity": "major",
    }  # fmt: skip
    _resolve(log, alert)
    live.poll()
    geo = orjson.loads(live.geojson().body)
    gw2 = next(f for f in geo["features"] if f["id"] == "gw2")
    assert gw2["properties"]["worst_severity"] is None
    assert orjson.loads(live.overview_json(None).body)["figures"]["commune_links"]["up"] == 2


def test_resuming_from_too_old_or_unknown_ids_asks_for_a_reset(
    log: AlertRepository, small_inventory: Inventory
) -> None:
    live = LiveView(lambda: small_inventory, lambda: ROLES, log, lambda: NOW, backlog=4)
    live.poll()
    start = live.last_event_id
    for device in ("bts1", "bts2", "vc1", "vc2", "gw1", "gw2"):
        _fire(log, small_inventory, "bts.door_open" if device.startswith("bts") else "x", device)
        live.poll()
    assert live.since(start) is None  # trimmed away: the client must reload
    assert live.since(live.last_event_id + 5) is None  # from a log this view never saw
    assert live.since(live.last_event_id) == []


def test_health_says_why_the_data_is_stale(
    log: AlertRepository, small_inventory: Inventory
) -> None:
    beats: dict[str, StageBeat] = {}
    live = LiveView(lambda: small_inventory, lambda: ROLES, log, lambda: NOW, lambda: dict(beats))
    live.poll()
    assert live.health()["reasons"] == ["rules_silent"]
    beats["rules"] = StageBeat("rules", NOW - 1000, NOW - 500, True)
    live.poll()
    assert live.health()["stale"] is False
    beats["rules"] = StageBeat("rules", NOW - 1000, NOW - 500, False)
    live.poll()
    assert live.health()["reasons"] == ["not_hearing"]
    beats["rules"] = StageBeat("rules", NOW - 1000, NOW - 120_000, True)
    live.poll()
    assert live.health()["reasons"] == ["no_data"]
    beats["rules"] = StageBeat("rules", NOW - 60_000, NOW - 500, True)
    live.poll()
    assert live.health()["reasons"] == ["rules_silent"]


def test_a_snapshot_always_names_an_id_a_client_can_resume_from(
    log: AlertRepository, small_inventory: Inventory
) -> None:
    live = LiveView(lambda: small_inventory, lambda: ROLES, log, lambda: NOW, backlog=4)
    alert = _fire(log, small_inventory, "bts.door_open", "bts1")
    live.poll()
    # Notes change no standing, so snapshots stay; until the backlog moves past their id.
    for _ in range(8):
        note = AlertTransition(TransitionKind.NOTE, alert, NOW, "operator", "on it")
        log.record([note])
        live.poll()
        snapshot_id = orjson.loads(live.overview_json(2).body)["event_id"]
        assert live.since(snapshot_id) is not None, snapshot_id


def test_the_picture_waits_for_the_open_alerts(
    log: AlertRepository, small_inventory: Inventory
) -> None:
    _fire(log, small_inventory, "device.down", "vc1")
    live = LiveView(lambda: small_inventory, lambda: ROLES, log, lambda: NOW)
    assert live.loaded is False  # the API answers 503 until then, not an all-green lie
    early = orjson.loads(live.overview_json(1).body)
    assert early["areas"][0]["down"] == 0
    live.poll()
    assert live.loaded is True
    assert orjson.loads(live.overview_json(1).body)["areas"][0]["down"] == 1


def test_losing_a_batch_s_device_events_means_a_reset_from_before_it(
    log: AlertRepository, small_inventory: Inventory
) -> None:
    live = LiveView(lambda: small_inventory, lambda: ROLES, log, lambda: NOW, backlog=4)
    live.poll()
    start = live.last_event_id
    _fire(log, small_inventory, "device.down", "vc1")  # device, figures, transition
    live.poll()
    first = live.last_event_id
    _fire(log, small_inventory, "bts.door_open", "bts1")  # 3 more: the first two are dropped
    live.poll()
    assert [e.event_id for e in live.since(first) or []] == [None, None, live.last_event_id]
    assert live.since(start) is None  # its device event is gone: reload, don't skip it


def test_a_device_without_a_known_position_is_on_the_map_list_but_nowhere(
    log: AlertRepository, small_inventory: Inventory
) -> None:
    """The demo's probe sits in the operations centre's rack: GeoJSON's null geometry, which
    the wall lists and counts but never draws (it used to sit at 0, 0 and squash the map)."""
    from ioc.app._demo_probe import DEMO_PROBE_ID, with_probe_device

    inventory = with_probe_device(small_inventory, "D1")
    live = LiveView(lambda: inventory, lambda: ROLES, log, lambda: NOW)
    features = {f["id"]: f for f in orjson.loads(live.geojson().body)["features"]}
    assert features[DEMO_PROBE_ID]["geometry"] is None
    assert features["bts1"]["geometry"] == {"type": "Point", "coordinates": [107.1, 16.8]}
