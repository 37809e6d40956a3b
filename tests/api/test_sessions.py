"""People sign in to the API with their own account: a session cookie (HttpOnly, SameSite
Strict) that a change must back with the session's CSRF token, lockout and the address's
throttle on wrong passwords, the session ended on sign-out and on disabling, each action in
the audit trail under the person's name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ioc.accounts import AccountDesk, AccountPolicy
from ioc.api import ApiContext, create_app
from ioc.api._security import FAILED_ATTEMPTS_PER_MINUTE
from ioc.domain import Caller, Inventory, Profile, Role, now_ms
from ioc.state import AccountStore, AlertRepository, AuditLog, TokenStore, connect_state

ADMIN = Caller("root", "cli ioc-1")
LAN, HUNG = ("lan", "đèn-đỏ-2026"), ("hung", "mưa-to-2026")


@pytest.fixture
def api(
    tmp_path: Path, small_inventory: Inventory, profiles: dict[str, Profile]
) -> Iterator[tuple[TestClient, AccountDesk, AuditLog]]:
    engine = connect_state(f"sqlite:///{tmp_path / 'state.db'}")
    trail = AuditLog(engine)
    accounts = AccountDesk(AccountStore(engine), trail, now_ms, AccountPolicy(lockout_attempts=3))
    accounts.add(LAN[0], "Nguyễn Thị Lan", Role.OPERATOR, LAN[1], ADMIN)
    accounts.add(HUNG[0], "Trần Văn Hùng", Role.VIEWER, HUNG[1], ADMIN)
    context = ApiContext(
        lambda: small_inventory, profiles, AlertRepository(engine), TokenStore(engine), now_ms,
        audit=trail, accounts=accounts,
    )  # fmt: skip
    with TestClient(create_app(context)) as client:
        yield client, accounts, trail
    engine.dispose()


def sign_in(client: TestClient, person: tuple[str, str]) -> dict[str, object]:
    answer = client.post("/api/v1/session", json={"username": person[0], "password": person[1]})
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def window() -> dict[str, object]:
    now = now_ms()
    return {"scope": "device", "target": "gw1", "starts_at_ms": now,
            "ends_at_ms": now + 3_600_000, "reason": "hàn cáp quang"}  # fmt: skip


def test_a_signed_in_operator_acts_under_their_own_name_and_a_change_needs_its_csrf_token(
    api: tuple[TestClient, AccountDesk, AuditLog],
) -> None:
    client, _, trail = api
    answer = client.post("/api/v1/session", json={"username": "lan", "password": LAN[1]})
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("ioc_session=ioc-s_")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Max-Age=43200" in cookie  # a shift, by default
    session = answer.json()
    assert (session["username"], session["name"], session["role"]) == (
        "lan", "Nguyễn Thị Lan", "operator"
    )  # fmt: skip
    me = client.get("/api/v1/me").json()
    assert (me["name"], me["username"], me["csrf"]) == ("Nguyễn Thị Lan", "lan", session["csrf"])

    # A change carried by the cookie alone, as another site's form would send it: refused.
    forged = client.post("/api/v1/maintenance", json=window())
    assert forged.status_code == 403
    assert "needs the X-CSRF-Token header" in forged.json()["detail"]
    wrong = client.post("/api/v1/maintenance", json=window(), headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    assert client.get("/api/v1/maintenance").json() == []  # nothing was planned
    planned = client.post(
        "/api/v1/maintenance", json=window(), headers={"X-CSRF-Token": session["csrf"]}
    )
    assert planned.status_code == 201 and planned.json()["created_by"] == "Nguyễn Thị Lan (lan)"

    ended = client.delete("/api/v1/session", headers={"X-CSRF-Token": session["csrf"]})
    assert ended.status_code == 204 and 'ioc_session=""' in ended.headers["set-cookie"]
    client.cookies.set("ioc_session", cookie.split(";")[0].split("=", 1)[1])  # kept by a thief
    assert client.get("/api/v1/me").status_code == 401

    actions = [(e.action, e.actor, e.origin) for e in trail.find()][::-1]
    assert actions[2:] == [
        ("session.open", "Nguyễn Thị Lan (lan)", "api testclient"),
        ("window.plan", "Nguyễn Thị Lan (lan)", "api testclient"),
        ("session.close", "Nguyễn Thị Lan (lan)", "api testclient"),
    ]


def test_a_viewer_signed_in_reads_but_may_not_act(
    api: tuple[TestClient, AccountDesk, AuditLog],
) -> None:
    client, _, _ = api
    session = sign_in(client, HUNG)
    assert client.get("/api/v1/overview").status_code == 200
    refused = client.post(
        "/api/v1/maintenance", json=window(), headers={"X-CSRF-Token": str(session["csrf"])}
    )
    assert refused.status_code == 403
    assert refused.json()["detail"] == "this needs the operator role; yours is viewer"
    # A token sent beside the cookie is who acts: machines keep their tokens.
    assert (
        client.get("/api/v1/me", headers={"Authorization": "Bearer ioc_wrong"}).status_code == 401
    )


def test_wrong_passwords_lock_the_account_and_guesses_are_throttled_per_address(
    api: tuple[TestClient, AccountDesk, AuditLog],
) -> None:
    client, accounts, _ = api
    for _ in range(3):
        wrong = client.post("/api/v1/session", json={"username": "lan", "password": "guess-123"})
        assert wrong.status_code == 401
        assert wrong.json()["detail"] == "wrong username or password"
        assert "set-cookie" not in wrong.headers
    in_vietnamese = client.post(
        "/api/v1/session", json={"username": "lan", "password": LAN[1]},
        headers={"Accept-Language": "vi"},
    )  # fmt: skip
    assert (
        in_vietnamese.json()["detail"] == "nhập sai mật khẩu quá nhiều lần: tài khoản tạm bị khoá"
    )
    locked = client.post("/api/v1/session", json={"username": "lan", "password": LAN[1]})
    assert locked.status_code == 401
    assert locked.json()["detail"] == "too many wrong passwords: this account is locked for a while"
    assert 899 <= int(locked.headers["Retry-After"]) <= 900
    accounts.enable("lan", ADMIN)
    with TestClient(client.app, client=("198.51.100.9", 50000)) as other:
        sign_in(other, LAN)  # lifted by an admin, from another address

    for guess in range(FAILED_ATTEMPTS_PER_MINUTE - 5):  # five failed from here already
        client.post("/api/v1/session", json={"username": f"u{guess}", "password": "guess-123"})
    throttled = client.post("/api/v1/session", json={"username": "hung", "password": HUNG[1]})
    assert throttled.status_code == 429 and "Retry-After" in throttled.headers


def test_disabling_an_account_ends_its_sessions_at_once(
    api: tuple[TestClient, AccountDesk, AuditLog],
) -> None:
    client, accounts, _ = api
    sign_in(client, LAN)
    assert client.get("/api/v1/me").status_code == 200
    accounts.disable("lan", ADMIN)
    assert client.get("/api/v1/me").status_code == 401
    again = client.post("/api/v1/session", json={"username": "lan", "password": LAN[1]})
    assert again.json()["detail"] == "this account is disabled; ask an ioc admin"


def test_an_api_without_accounts_takes_tokens_only(
    tmp_path: Path, small_inventory: Inventory, profiles: dict[str, Profile]
) -> None:
    engine = connect_state(f"sqlite:///{tmp_path / 'state.db'}")
    context = ApiContext(
        lambda: small_inventory, profiles, AlertRepository(engine), TokenStore(engine), now_ms
    )
    with TestClient(create_app(context)) as client:
        answer = client.post("/api/v1/session", json={"username": "lan", "password": LAN[1]})
        assert answer.status_code == 401 and answer.json()["detail"] == "this API takes tokens only"
    engine.dispose()
