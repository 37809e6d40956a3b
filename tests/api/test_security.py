"""The API's doors: failed token attempts throttled per address (429 with Retry-After, counted
in /metrics) while other addresses and good tokens go on, and the security headers on the
wall, the API, a stream's start and the docs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from ioc.api import ApiContext, create_app
from ioc.api._security import FAILED_ATTEMPTS_PER_MINUTE
from ioc.domain import Inventory, Profile, Role, now_ms
from ioc.state import AlertRepository, TokenStore, connect_state


@pytest.fixture
def api(
    tmp_path: Path, small_inventory: Inventory, profiles: dict[str, Profile]
) -> Iterator[tuple[TestClient, str]]:
    engine = connect_state(f"sqlite:///{tmp_path / 'state.db'}")
    tokens = TokenStore(engine)
    _token, secret = tokens.create(Role.VIEWER, "wall", 0)
    context = ApiContext(lambda: small_inventory, profiles, AlertRepository(engine), tokens, now_ms)
    with TestClient(create_app(context)) as client:
        yield client, secret
    engine.dispose()


def _metric(client: TestClient, name: str) -> float:
    text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == f"{name}_total":
                return float(sample.value)
    raise AssertionError(f"{name} not in /metrics")


def test_guessing_tokens_is_throttled_per_address(api: tuple[TestClient, str]) -> None:
    client, secret = api
    for guess in range(FAILED_ATTEMPTS_PER_MINUTE):
        answer = client.get("/api/v1/overview", headers={"Authorization": f"Bearer guess-{guess}"})
        assert answer.status_code == 401
    throttled = client.get("/api/v1/overview", headers={"Authorization": f"Bearer {secret}"})
    assert throttled.status_code == 429  # even a right token, from an address that guessed
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    assert "too many failed attempts from testclient" in throttled.json()["detail"]
    # Another address is not held up by this one's guesses.
    with TestClient(client.app, client=("198.51.100.7", 50000)) as other:
        assert other.get("/api/v1/overview", params={"token": secret}).status_code == 200
    assert _metric(client, "ioc_api_token_failures") == FAILED_ATTEMPTS_PER_MINUTE
    assert _metric(client, "ioc_api_throttled") == 1


def test_every_answer_carries_the_security_headers(api: tuple[TestClient, str]) -> None:
    client, secret = api
    for path in ("/wall/", "/wall/wall.js", "/api/v1/overview", "/healthz"):
        answer = client.get(path, params={"token": secret})
        assert answer.status_code == 200, path
        policy = answer.headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy, path
        assert "unsafe-inline" not in policy, path
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Referrer-Policy"] == "no-referrer"  # the wall's token in its URL
    # The docs' viewers come from this origin: an isolated network shows them too.
    for page in ("/docs", "/redoc"):
        docs = client.get(page)
        assert "https:" not in docs.headers["Content-Security-Policy"]
        assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
        assert assets and all(a.startswith("/docs-assets/") for a in assets), assets
        for asset in assets:
            assert client.get(asset).status_code == 200, asset


def test_a_token_past_its_expiry_is_refused_and_its_makers_are_recorded(
    tmp_path: Path, small_inventory: Inventory, profiles: dict[str, Profile]
) -> None:
    clock = [1_790_000_000_000]
    engine = connect_state(f"sqlite:///{tmp_path / 'state.db'}")
    tokens = TokenStore(engine)
    _admin, admin = tokens.create(Role.ADMIN, "admin", clock[0])
    context = ApiContext(
        lambda: small_inventory, profiles, AlertRepository(engine), tokens, lambda: clock[0]
    )
    try:
        with TestClient(create_app(context)) as client:
            made = client.post(
                "/api/v1/tokens",
                json={"role": "viewer", "name": "visitor wall", "expires_in_s": 3600},
                headers={"Authorization": f"Bearer {admin}"},
            )
            assert made.status_code == 201, made.text
            assert made.json()["expires_at_ms"] == clock[0] + 3_600_000
            assert made.json()["created_by"] == f"admin (token #{_admin.id})"
            visitor = {"Authorization": f"Bearer {made.json()['secret']}"}
            assert client.get("/api/v1/overview", headers=visitor).status_code == 200
            clock[0] += 3_600_000  # the hour is up
            assert client.get("/api/v1/overview", headers=visitor).status_code == 401
            # Who made a token and who revoked it is on its record.
            token_id = made.json()["id"]
            revoked = client.post(
                f"/api/v1/tokens/{token_id}/revoke",
                headers={"Authorization": f"Bearer {admin}"},
            )
            assert revoked.status_code == 200, revoked.text
            listed = {t["id"]: t for t in client.get(
                "/api/v1/tokens", headers={"Authorization": f"Bearer {admin}"}
            ).json()}  # fmt: skip
            assert listed[token_id]["revoked_by"] == f"admin (token #{_admin.id})"
            assert (
                client.get(  # a token without an expiry goes on
                    "/api/v1/overview", headers={"Authorization": f"Bearer {admin}"}
                ).status_code
                == 200
            )
    finally:
        engine.dispose()
