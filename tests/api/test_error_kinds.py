"""Errors become statuses in one place, by kind, and every route keeps the statuses its OpenAPI
entry promises: the state database cut away under the API (PostgreSQL behind a relay) is 503
on every route that reads it, as documented, not a 500; an unknown area 404, a cancelled
meeting's report 409, a backwards period 422, each from the one handler."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ioc.api import ApiContext, create_app
from ioc.domain import Inventory, Profile, Role, now_ms
from ioc.state import AlertRepository, TokenStore, connect_state
from tests.support.relay import relayed_database

# Routes that read the state database, and their OpenAPI paths.
READING_ROUTES = {
    "/api/v1/alerts": "/api/v1/alerts",
    "/api/v1/alerts/1": "/api/v1/alerts/{alert_id}",
    "/api/v1/maintenance": "/api/v1/maintenance",
}


@pytest.mark.parametrize("state_url", ["postgresql"], indirect=True)
def test_the_state_database_away_is_503_where_the_openapi_says_so(
    state_url: str, small_inventory: Inventory, profiles: dict[str, Profile]
) -> None:
    relay, relayed = relayed_database(state_url)
    direct = connect_state(state_url)
    tokens = TokenStore(direct)  # tokens still answer: the caller is known
    _, viewer = tokens.create(Role.VIEWER, "wall", now_ms())
    alerts = AlertRepository(connect_state(relayed))
    context = ApiContext(lambda: small_inventory, profiles, alerts, tokens, now_ms)
    auth = {"Authorization": f"Bearer {viewer}"}
    try:
        with TestClient(create_app(context)) as client:
            documented = client.get("/openapi.json").json()["paths"]
            assert client.get("/api/v1/alerts", headers=auth).status_code == 200
            relay.cut()
            for route, template in READING_ROUTES.items():
                answer = client.get(route, headers=auth)
                assert answer.status_code == 503, (route, answer.text)
                assert answer.json()["detail"].startswith("cannot "), answer.text
                assert "503" in documented[template]["get"]["responses"], route
            relay.restore()
            assert client.get("/api/v1/alerts", headers=auth).status_code == 200
            nowhere = client.get("/api/v1/alerts?area=nowhere", headers=auth)
            assert (nowhere.status_code, nowhere.json()) == (
                404, {"detail": "no area 'nowhere' in the inventory, nor any alert in it"},
            )  # fmt: skip
    finally:
        alerts.close()
        direct.dispose()
        relay.close()


def test_every_v1_operation_promises_the_statuses_of_the_kinds_any_route_may_give(
    small_inventory: Inventory, profiles: dict[str, Profile], tmp_path: Path
) -> None:
    engine = connect_state(f"sqlite:///{tmp_path / 'state.db'}")
    context = ApiContext(
        lambda: small_inventory, profiles, AlertRepository(engine), TokenStore(engine), now_ms
    )
    with TestClient(create_app(context)) as client:
        paths = client.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            # BadInput (422) and the state database or a store away (503) can meet any route.
            assert {"422", "503"} <= set(operation["responses"]), (method, path)
    engine.dispose()


def test_an_error_is_told_in_the_language_the_request_asks_for(
    tmp_path: Path, small_inventory: Inventory, profiles: dict[str, Profile]
) -> None:
    engine = connect_state(f"sqlite:///{tmp_path / 'state.db'}")
    tokens = TokenStore(engine)
    _, operator = tokens.create(Role.OPERATOR, "ops", now_ms())
    context = ApiContext(lambda: small_inventory, profiles, AlertRepository(engine), tokens, now_ms)
    auth = {"Authorization": f"Bearer {operator}"}
    with TestClient(create_app(context)) as client:
        plain = client.post("/api/v1/maintenance/999/end", headers=auth)
        assert plain.json()["detail"] == "no open maintenance window 999"  # scripts: as written
        asked = client.post(
            "/api/v1/maintenance/999/end", headers={**auth, "Accept-Language": "vi"}
        )
        assert asked.json()["detail"] == "không có cửa sổ bảo trì đang mở 999"
        chosen = client.get("/api/v1/alerts?area=nowhere&lang=vi", headers=auth)
        assert chosen.json()["detail"] == (
            "không có khu vực 'nowhere' trong danh mục, cũng không có cảnh báo nào ở đó"
        )
        english = client.post(
            "/api/v1/maintenance/999/end", headers={**auth, "Accept-Language": "en-GB,vi;q=0.5"}
        )
        assert english.json()["detail"] == "no open maintenance window 999"
    engine.dispose()
