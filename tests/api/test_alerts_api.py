"""The API over the real state database (SQLite and PostgreSQL) with a real rules worker:
tokens and roles on every endpoint, alerts listed and detailed, operator actions carried out."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from ioc.api import ApiContext, create_app
from ioc.app import Catalog, RulesService, Runtime, stage_metrics
from ioc.config import load_settings
from ioc.domain import (
    Inventory,
    NotificationKind,
    PlannedNotification,
    Profile,
    Reading,
    Role,
    now_ms,
)
from ioc.state import AlertRepository, Outbox, TokenStore, connect_state
from ioc.store import SqliteStore
from tests.support.clock import VIETNAM
from tests.support.mqtt import wait_until

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"

# Every route and the least role it needs (None: open to all).
ROUTES: list[tuple[str, str, Role | None]] = [
    ("GET", "/healthz", None),
    ("GET", "/readyz", None),
    ("GET", "/metrics", None),
    ("GET", "/api/v1/overview", Role.VIEWER),
    ("GET", "/api/v1/devices", Role.VIEWER),
    ("GET", "/api/v1/devices/bts1", Role.VIEWER),
    ("GET", "/api/v1/devices/bts1/series/battery_v", Role.VIEWER),
    ("GET", "/api/v1/map.geojson", Role.VIEWER),
    ("GET", "/api/v1/areas", Role.VIEWER),
    ("GET", "/api/v1/search?q=mot", Role.VIEWER),
    ("GET", "/api/v1/me", Role.VIEWER),
    ("DELETE", "/api/v1/session", Role.VIEWER),  # a token is answered 409: no session
    ("GET", "/api/v1/audit", Role.ADMIN),
    ("GET", "/api/v1/texts/vi", None),
    ("GET", "/api/v1/notifications", Role.VIEWER),
    ("GET", "/api/v1/cluster", Role.VIEWER),
    ("GET", "/api/v1/reports/availability", Role.VIEWER),
    ("GET", "/api/v1/reports/online", Role.VIEWER),
    ("GET", "/api/v1/overview/trend", Role.VIEWER),
    ("GET", "/api/v1/meetings", Role.VIEWER),
    ("POST", "/api/v1/meetings", Role.OPERATOR),
    ("GET", "/api/v1/meetings/1/readiness", Role.VIEWER),
    ("GET", "/api/v1/meetings/1/report", Role.VIEWER),
    ("GET", "/api/v1/rules", Role.VIEWER),
    ("POST", "/api/v1/rules/reload", Role.ADMIN),
    ("GET", "/api/v1/alerts", Role.VIEWER),
    ("GET", "/api/v1/alerts/1", Role.VIEWER),
    ("POST", "/api/v1/alerts/1/ack", Role.OPERATOR),
    ("POST", "/api/v1/alerts/1/note", Role.OPERATOR),
    ("POST", "/api/v1/alerts/1/resolve", Role.OPERATOR),
    ("GET", "/api/v1/maintenance", Role.VIEWER),
    ("POST", "/api/v1/maintenance", Role.OPERATOR),
    ("POST", "/api/v1/maintenance/999/end", Role.OPERATOR),
    ("GET", "/api/v1/tokens", Role.ADMIN),
    ("POST", "/api/v1/tokens", Role.ADMIN),
    ("POST", "/api/v1/tokens/999/revoke", Role.ADMIN),
    ("GET", "/api/v1/inventory", Role.VIEWER),
    ("GET", "/api/v1/inventory/versions", Role.VIEWER),
    ("GET", "/api/v1/inventory/versions/1", Role.VIEWER),
    ("PUT", "/api/v1/inventory/devices/bts9?why=t", Role.ADMIN),
    ("DELETE", "/api/v1/inventory/devices/bts9?why=t", Role.ADMIN),
    ("PUT", "/api/v1/inventory/areas/C9?why=t", Role.ADMIN),
    ("DELETE", "/api/v1/inventory/areas/C9?why=t", Role.ADMIN),
]


World = tuple[TestClient, RulesService, dict[Role, str], TokenStore, SqliteStore]


@pytest.fixture
def world(
    state_url: str,
    tmp_path: Path,
    small_inventory: Inventory,
    profiles: dict[str, Profile],
) -> Iterator[World]:
    settings = load_settings(data_dir=tmp_path, state_url=state_url, inventory=SMALL_INVENTORY)
    runtime = Runtime(settings, Catalog(profiles, small_inventory))
    rules = RulesService(runtime)
    rules.start()
    engine = connect_state(state_url)
    tokens = TokenStore(engine)
    secrets = {role: tokens.create(role, f"{role.value}-1", 0)[1] for role in Role}
    telemetry = SqliteStore(tmp_path / "telemetry.db")
    context = ApiContext(
        lambda: small_inventory,
        profiles,
        AlertRepository(engine),
        tokens,
        now_ms,
        request_wait_s=5.0,
        telemetry=telemetry,
        poll_every_s=0.05,
        outbox=Outbox(engine),
    )
    with TestClient(create_app(context)) as client:
        yield client, rules, secrets, tokens, telemetry
    rules.stop()
    runtime.close()
    telemetry.close()
    engine.dispose()


def _actor(tokens: TokenStore, name: str) -> str:
    """How the token of this name is recorded as an actor: `<name> (token #<id>)`."""
    [token] = [t for t in tokens.list() if t.name == name and t.revoked_at_ms is None][-1:]
    assert token.actor == f"{name} (token #{token.id})"
    return token.actor


def _auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _raise_battery_alert(rules: RulesService, client: TestClient, secret: str) -> int:
    now = now_ms()
    rules.observe(Reading("bts", "bts1", now, {"battery_v": 45.0}))

    def listed() -> list[dict[str, object]]:
        page = client.get("/api/v1/alerts", headers=_auth(secret)).json()
        return list(page["items"])

    wait_until(lambda: bool(listed()), 10, "the alert")
    return int(listed()[0]["id"])  # type: ignore[call-overload]


@pytest.mark.parametrize(("method", "path", "needed"), ROUTES)
def test_every_route_checks_the_token_and_the_role(
    world: World,
    method: str,
    path: str,
    needed: Role | None,
) -> None:
    client, _rules, secrets, tokens, _store = world
    body = {"json": {"note": ""}} if method == "POST" else {}
    anonymous = client.request(method, path, **body)
    if needed is None:
        assert anonymous.status_code == 200
        return
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    wrong = client.request(method, path, headers=_auth("ioc_not-a-token"), **body)
    assert wrong.status_code == 401
    for role, secret in secrets.items():
        response = client.request(method, path, headers=_auth(secret), **body)
        if role.allows(needed):
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)
            assert f"needs the {needed.value} role" in response.json()["detail"]
    revoked_id = next(t.id for t in tokens.list() if t.role is Role.ADMIN)
    tokens.revoke(revoked_id, 1)
    assert (
        client.request(method, path, headers=_auth(secrets[Role.ADMIN]), **body).status_code == 401
    )


def test_the_auth_table_names_every_route(world: World) -> None:
    client = world[0]
    # The stream never ends, so its 401 is checked in test_stream.py (viewer is its only role);
    # signing in takes a password, not a token (tests/api/test_sessions.py).
    covered = [(method, path) for method, path, _ in ROUTES] + [
        ("GET", "/api/v1/stream"), ("POST", "/api/v1/session"),
    ]  # fmt: skip
    documented = client.get("/openapi.json").json()["paths"]
    assert len(documented) >= 20
    for template, operations in documented.items():
        pattern = re.compile(re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
        for method in operations:
            assert any(
                method.upper() == m and pattern.match(path.partition("?")[0]) for m, path in covered
            ), f"{method.upper()} {template} is missing from ROUTES"


def test_a_viewer_token_may_ride_in_the_url(
    world: World,
) -> None:
    client, _rules, secrets, _tokens, _store = world
    assert client.get(f"/api/v1/alerts?token={secrets[Role.VIEWER]}").status_code == 200


def test_alerts_listed_detailed_and_acted_on(
    world: World,
) -> None:
    client, rules, secrets, tokens, _store = world
    acted_as = _actor(tokens, "operator-1")
    viewer, operator = _auth(secrets[Role.VIEWER]), _auth(secrets[Role.OPERATOR])
    alert_id = _raise_battery_alert(rules, client, secrets[Role.VIEWER])
    page = client.get("/api/v1/alerts?state=firing&severity=major&area=D1", headers=viewer)
    [item] = page.json()["items"]
    assert (item["rule"], item["device_id"], item["id"]) == ("bts.battery_low", "bts1", alert_id)
    assert client.get("/api/v1/alerts?severity=critical", headers=viewer).json()["items"] == []
    assert client.get("/api/v1/alerts?area=C2", headers=viewer).json()["items"] == []
    assert client.get("/api/v1/alerts?area=nowhere", headers=viewer).status_code == 404
    assert client.get("/api/v1/alerts?limit=0", headers=viewer).status_code == 422
    # `open` as the CLI's --state open: firing or acknowledged.
    [listed] = client.get("/api/v1/alerts?state=open", headers=viewer).json()["items"]
    assert listed["id"] == alert_id
    assert client.get("/api/v1/alerts?state=opened", headers=viewer).status_code == 422

    acked = client.post(f"/api/v1/alerts/{alert_id}/ack", headers=operator)  # no body: no note
    assert acked.status_code == 200, acked.text
    again = client.post(f"/api/v1/alerts/{alert_id}/ack", json={}, headers=operator)
    assert again.status_code == 409 and "already acknowledged by operator-1 (token #" in again.text
    resolved = client.post(
        f"/api/v1/alerts/{alert_id}/resolve", json={"note": "fixed"}, headers=operator
    )
    assert resolved.status_code == 200, resolved.text
    assert client.get("/api/v1/alerts?state=open", headers=viewer).json()["items"] == []
    # Each outcome has its status: refused 409 (above), not open 409, unknown 404.
    closed = client.post(f"/api/v1/alerts/{alert_id}/note", json={"note": "x"}, headers=operator)
    assert closed.status_code == 409 and f"no open alert {alert_id}" in closed.text
    missing = client.post("/api/v1/alerts/999999/resolve", json={}, headers=operator)
    assert missing.status_code == 404 and "no alert 999999" in missing.text
    bad = client.post(
        f"/api/v1/alerts/{alert_id}/note", json={"note": "x", "extra": 1}, headers=operator
    )
    assert bad.status_code == 422

    detail = client.get(f"/api/v1/alerts/{alert_id}", headers=viewer).json()
    assert detail["alert"]["state"] == "resolved"
    assert [(h["event"], h["actor"], h["note"]) for h in detail["history"]] == [
        ("fired", "rules", ""),
        ("acknowledged", acted_as, ""),
        ("resolved", acted_as, "fixed"),
    ]
    assert client.get("/api/v1/alerts/999999", headers=viewer).status_code == 404


def test_an_action_with_no_rules_process_is_accepted_as_queued(
    world: World,
) -> None:
    client, rules, secrets, _tokens, _store = world
    alert_id = _raise_battery_alert(rules, client, secrets[Role.VIEWER])
    rules.stop()  # the rules process is away
    started = time.monotonic()
    response = client.post(
        f"/api/v1/alerts/{alert_id}/ack", json={}, headers=_auth(secrets[Role.OPERATOR])
    )
    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert time.monotonic() - started < 5.0 + 2.0


def test_metrics_in_prometheus_text_format(
    world: World,
    small_inventory: Inventory,
    profiles: dict[str, Profile],
) -> None:
    client, rules, secrets, tokens, _store = world
    _raise_battery_alert(rules, client, secrets[Role.VIEWER])
    context = ApiContext(
        lambda: small_inventory,
        profiles,
        rules.repository,
        tokens,
        now_ms,
        process_metrics=stage_metrics(None, lambda: rules),
    )
    with TestClient(create_app(context)) as with_stages:
        response = with_stages.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    assert samples[("ioc_open_alerts", (("severity", "major"),))] == 1
    assert samples[("ioc_open_alerts", (("severity", "critical"),))] == 0
    assert samples[("ioc_rules_items_total", ())] >= 1
    assert ("ioc_rules_backlog", ()) in samples
    assert samples[("ioc_rules_replayed_total", ())] == 0
    plain = client.get("/metrics")  # no stages in this process: alerts only
    assert "ioc_open_alerts" in plain.text and "ioc_rules_items" not in plain.text


def test_devices_and_the_map_show_how_each_device_stands(
    world: World,
) -> None:
    client, rules, secrets, _tokens, _store = world
    viewer = _auth(secrets[Role.VIEWER])
    _raise_battery_alert(rules, client, secrets[Role.VIEWER])

    def standing() -> dict[str, tuple[str, str | None]]:
        page = client.get("/api/v1/devices?class=bts&area=D1", headers=viewer).json()
        assert page["total"] == 2
        return {d["id"]: (d["state"], d["worst_severity"]) for d in page["items"]}

    # The live view follows the alert log within a poll.
    wait_until(lambda: standing()["bts1"] == ("up", "major"), 5, "the live view")
    assert standing() == {"bts1": ("up", "major"), "bts2": ("up", None)}
    assert client.get("/api/v1/devices?state=down", headers=viewer).json()["total"] == 0
    assert client.get("/api/v1/devices?area=nowhere", headers=viewer).status_code == 404
    detail = client.get("/api/v1/devices/bts1", headers=viewer).json()
    assert [a["rule"] for a in detail["open_alerts"]] == ["bts.battery_low"]
    assert client.get("/api/v1/devices/nope", headers=viewer).status_code == 404
    zipped = client.get("/api/v1/map.geojson", headers={**viewer, "Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"  # prepared once, not per request
    geo = client.get("/api/v1/map.geojson", headers=viewer).json()
    assert zipped.json() == geo
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == 6
    bts1 = next(f for f in geo["features"] if f["id"] == "bts1")
    assert bts1["geometry"]["coordinates"] == [107.1, 16.8]
    assert bts1["properties"]["worst_severity"] == "major"


def test_maintenance_windows_and_tokens_over_the_api(
    world: World,
) -> None:
    client, _rules, secrets, tokens, _store = world
    operator, admin = _auth(secrets[Role.OPERATOR]), _auth(secrets[Role.ADMIN])
    now = now_ms()
    window = {
        "scope": "device",
        "target": "gw1",
        "starts_at_ms": now,
        "ends_at_ms": now + 3_600_000,
        "reason": "fibre splice",
    }
    created = client.post("/api/v1/maintenance", json=window, headers=operator)
    assert created.status_code == 201, created.text
    # Attributable to the very token that did it, not only to a name several may share.
    assert created.json()["created_by"] == _actor(tokens, "operator-1")
    listed = client.get("/api/v1/maintenance", headers=operator).json()
    assert [w["target"] for w in listed] == ["gw1"]
    for mistake, message in [
        ({"target": "nope"}, "no device 'nope'"),
        ({"starts_at_ms": now + 7200_000}, "must end after it starts"),
        ({"starts_at_ms": now - 7200_000, "ends_at_ms": now - 3600_000}, "ended already"),
        ({"scope": "area", "target": "C9"}, "no area 'C9'"),
        ({"scope": "galaxy"}, "Input should be"),
    ]:
        refused = client.post("/api/v1/maintenance", json={**window, **mistake}, headers=operator)
        assert refused.status_code == 422 and message in refused.text, (mistake, refused.text)
    window_id = created.json()["id"]
    assert client.post(f"/api/v1/maintenance/{window_id}/end", headers=operator).status_code == 200
    assert client.post(f"/api/v1/maintenance/{window_id}/end", headers=operator).status_code == 404
    assert client.get("/api/v1/maintenance", headers=operator).json() == []

    made = client.post("/api/v1/tokens", json={"role": "operator", "name": "lan"}, headers=admin)
    assert made.status_code == 201 and made.json()["secret"].startswith("ioc_")
    fresh = _auth(made.json()["secret"])
    assert client.get("/api/v1/alerts", headers=fresh).status_code == 200
    names = [t["name"] for t in client.get("/api/v1/tokens", headers=admin).json()]
    assert "lan" in names and all(
        "secret" not in t for t in client.get("/api/v1/tokens", headers=admin).json()
    )
    revoked = client.post(f"/api/v1/tokens/{made.json()['id']}/revoke", headers=admin)
    assert revoked.status_code == 200
    assert client.get("/api/v1/alerts", headers=fresh).status_code == 401


def test_a_device_shows_its_last_values_and_a_metric_series(world: World) -> None:
    client, _rules, secrets, _tokens, store = world
    viewer = _auth(secrets[Role.VIEWER])
    # An hour of readings from a ten-minute boundary, so every step holds ten of them (a window
    # ending at the server's "now" could cut a step down to a single reading).
    start_ms = (now_ms() // 600_000) * 600_000 - 3_600_000
    metrics = [{"battery_v": 50.0 + i % 2, "mains_ok": True} for i in range(60)]
    store.write([Reading("bts", "bts1", start_ms + i * 60_000, m) for i, m in enumerate(metrics)])
    detail = client.get("/api/v1/devices/bts1", headers=viewer).json()
    assert detail["last"] == {
        "at_ms": start_ms + 59 * 60_000,
        "metrics": {"battery_v": 51.0, "mains_ok": True},
    }
    assert detail["telemetry_error"] is None
    assert client.get("/api/v1/devices/bts2", headers=viewer).json()["last"] is None

    default = client.get("/api/v1/devices/bts1/series/battery_v?step_s=600", headers=viewer)
    assert default.status_code == 200, default.text
    assert all(50.0 <= value <= 51.0 for _ts, value in default.json()["points"])
    start, end = (
        datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for ms in (start_ms, start_ms + 3_600_000)
    )
    window = f"start={start}&end={end}"
    series = client.get(
        f"/api/v1/devices/bts1/series/battery_v?step_s=600&{window}", headers=viewer
    )
    assert series.status_code == 200, series.text
    body = series.json()
    assert (body["unit"], body["aggregate"], body["step_s"]) == ("V", "mean", 600)
    assert [value for _ts, value in body["points"]] == [50.5] * 6  # ten-minute steps, the hour
    maxima = client.get(
        f"/api/v1/devices/bts1/series/battery_v?step_s=600&aggregate=max&{window}", headers=viewer
    ).json()
    assert [value for _ts, value in maxima["points"]] == [51.0] * 6
    # The same hour typed without an offset: a local time (Asia/Ho_Chi_Minh, UTC+7).
    local_start, local_end = (
        datetime.fromtimestamp(ms / 1000, VIETNAM).strftime("%Y-%m-%dT%H:%M:%S")
        for ms in (start_ms, start_ms + 3_600_000)
    )
    local = client.get(
        f"/api/v1/devices/bts1/series/battery_v?step_s=600&start={local_start}&end={local_end}",
        headers=viewer,
    ).json()
    assert (local["start_ms"], local["points"]) == (body["start_ms"], body["points"])
    flags = client.get("/api/v1/devices/bts1/series/mains_ok", headers=viewer).json()
    assert flags["aggregate"] == "last" and flags["points"][-1][1] is True
    for query, status_code, message in [
        ("/series/nope", 404, "no metric 'nope'"),
        ('/series/battery_v") FROM bts; DROP DATABASE x; --', 404, "no metric"),
        ("/series/mains_ok?aggregate=mean", 422, "only aggregate=last"),
        ("/series/battery_v?step_s=1&start=2026-01-01T00:00:00Z", 422, "take a longer step"),
        ("/series/battery_v?start=2026-11-02T00:00:00Z&end=2026-11-01T00:00:00Z", 422, "before"),
    ]:
        refused = client.get(f"/api/v1/devices/bts1{query}", headers=viewer)
        assert refused.status_code == status_code and message in refused.text, (query, refused.text)


def test_the_area_tree_rolls_up_and_rules_are_listed(world: World) -> None:
    client, rules, secrets, _tokens, _store = world
    viewer = _auth(secrets[Role.VIEWER])
    _raise_battery_alert(rules, client, secrets[Role.VIEWER])

    def tree() -> list[dict[str, object]]:
        return list(client.get("/api/v1/areas", headers=viewer).json())

    wait_until(lambda: tree()[0]["alerting"] == 1, 5, "the live view")
    [province] = tree()
    assert (province["id"], province["total"]) == ("P", 6)
    [district] = province["children"]  # type: ignore[misc]
    assert {c["id"]: c["alerting"] for c in district["children"]} == {"C1": 1, "C2": 0}
    shallow = client.get("/api/v1/areas?root=D1&depth=1", headers=viewer).json()
    assert [(a["id"], a["children"]) for a in shallow] == [("D1", [])]
    assert client.get("/api/v1/areas?root=nowhere", headers=viewer).status_code == 404
    # No rule control in this context: the list is empty and a reload is refused.
    assert client.get("/api/v1/rules", headers=viewer).json() == {"ids": []}
    admin = _auth(secrets[Role.ADMIN])
    assert client.post("/api/v1/rules/reload", headers=admin).status_code == 409


def test_notifications_are_listed_with_their_delivery(world: World, state_url: str) -> None:
    client, _rules, secrets, _tokens, _store = world
    engine = connect_state(state_url)
    planned = PlannedNotification(
        "alert7:fired:r:an:sms", NotificationKind.FIRED, 7, "an", "sms", 0, "r/team"
    )
    Outbox(engine).record([planned], now_ms=5)
    engine.dispose()
    viewer = _auth(secrets[Role.VIEWER])
    [listed] = client.get("/api/v1/notifications?status=queued", headers=viewer).json()
    assert (listed["key"], listed["status"], listed["attempts"]) == (planned.key, "queued", 0)
    assert client.get("/api/v1/notifications?status=sent", headers=viewer).json() == []
    assert client.get("/api/v1/notifications?status=lost", headers=viewer).status_code == 422
