"""Local accounts on both databases: added with a hashed password, signed in to a session,
locked out after repeated wrong passwords (and free again when the lock ends), disabled,
their password changed; every step in the audit trail under the person's name."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from ioc.accounts import AccountDesk, AccountPolicy
from ioc.domain import AccountSource, BadInput, Caller, Conflict, NotFound, Role, SignInRefused
from ioc.state import AccountStore, AuditLog, connect_state
from ioc.state._accounts import account_table

T0 = 1_793_491_200_000
ADMIN = Caller("root", "cli ioc-1")
FROM = "api 10.0.0.7"
LAN_PASSWORD = "đèn-đỏ-2026"


class Clock:
    def __init__(self) -> None:
        self.now_ms = T0

    def __call__(self) -> int:
        return self.now_ms


@pytest.fixture
def engine(state_url: str) -> Iterator[Engine]:
    engine = connect_state(state_url)
    yield engine
    engine.dispose()


@pytest.fixture
def desk(engine: Engine) -> tuple[AccountDesk, AuditLog, Clock]:
    clock, trail = Clock(), AuditLog(engine)
    policy = AccountPolicy(session_s=3600, lockout_attempts=3, lockout_s=600)
    return AccountDesk(AccountStore(engine), trail, clock, policy), trail, clock


def refusal(desk: AccountDesk, username: str, password: str) -> SignInRefused:
    with pytest.raises(SignInRefused) as caught:
        desk.sign_in(username, password, FROM)
    return caught.value


@pytest.mark.parametrize("state_url", ["sqlite", "postgresql"], indirect=True)
def test_a_person_signs_in_and_the_session_is_theirs_until_it_ends(
    desk: tuple[AccountDesk, AuditLog, Clock], engine: Engine
) -> None:
    accounts, trail, clock = desk
    lan = accounts.add("Lan", "Nguyễn Thị Lan", Role.OPERATOR, LAN_PASSWORD, ADMIN)
    assert (lan.username, lan.source, lan.actor) == ("lan", AccountSource.LOCAL,
                                                     "Nguyễn Thị Lan (lan)")  # fmt: skip
    with engine.connect() as connection:
        stored = connection.execute(select(account_table.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$")  # never the password itself

    with pytest.raises(Conflict, match="already an account 'lan'"):  # the unique name decides
        accounts.store.add("lan", "Lan", Role.VIEWER, AccountSource.LOCAL, None, T0, "x")
    session, secret = accounts.sign_in(" LAN ", LAN_PASSWORD, FROM)
    assert session.account.role is Role.OPERATOR and session.expires_at_ms == T0 + 3_600_000
    found = accounts.session(secret)
    assert found is not None and found.csrf == session.csrf and found.account.username == "lan"
    assert found.account.last_sign_in_ms == T0
    assert accounts.session(secret + "x") is None and accounts.session("ioc_abc") is None

    clock.now_ms = T0 + 3_600_000  # the session's end
    assert accounts.session(secret) is None
    session, secret = accounts.sign_in("lan", LAN_PASSWORD, FROM)
    accounts.sign_out(session, FROM)
    assert accounts.session(secret) is None

    actions = [(e.action, e.actor, e.origin) for e in trail.find()][::-1]
    assert actions == [
        ("account.create", "root", "cli ioc-1"),
        ("session.open", "Nguyễn Thị Lan (lan)", FROM),
        ("session.open", "Nguyễn Thị Lan (lan)", FROM),
        ("session.close", "Nguyễn Thị Lan (lan)", FROM),
    ]
    created = trail.find(action="account.create")[0]
    assert created.after == {"name": "Nguyễn Thị Lan", "role": "operator", "source": "local",
                             "disabled": False, "locked": False}  # fmt: skip


@pytest.mark.parametrize("state_url", ["sqlite", "postgresql"], indirect=True)
def test_repeated_wrong_passwords_lock_the_account_out_for_a_while(
    desk: tuple[AccountDesk, AuditLog, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    accounts, trail, clock = desk
    accounts.add("lan", "Nguyễn Thị Lan", Role.OPERATOR, LAN_PASSWORD, ADMIN)
    caplog.set_level(logging.WARNING, "ioc.accounts")
    for _ in range(2):
        assert refusal(accounts, "lan", "wrong-password").told == "wrong username or password"
    accounts.sign_in("lan", LAN_PASSWORD, FROM)  # a success starts the count again
    for _ in range(3):
        refusal(accounts, "lan", "wrong-password")
    locked = refusal(accounts, "lan", LAN_PASSWORD)  # the right password, but locked out
    assert locked.told == "too many wrong passwords: this account is locked for a while"
    assert locked.retry_after_s == 600
    assert "locked out by ioc until" in locked.why
    assert "account 'lan' locked out after 3 wrong passwords" in caplog.text
    assert "sign-in refused for 'lan' from api 10.0.0.7: wrong password" in caplog.text

    clock.now_ms += 599_000
    assert refusal(accounts, "lan", LAN_PASSWORD).retry_after_s == 1
    clock.now_ms += 1_000
    session, _ = accounts.sign_in("lan", LAN_PASSWORD, FROM)
    assert session.account.failed_attempts == 0 and session.account.locked_until_ms is None

    lock = trail.find(action="account.lock")
    assert len(lock) == 1 and lock[0].actor == "ioc (lockout)" and lock[0].after is not None
    assert lock[0].after["locked"] is True
    refused = trail.find(action="session.refused")
    assert [e.after for e in refused][::-1] == (
        [{"reason": "wrong password"}] * 5
        + [{"reason": f"locked out by ioc until {locked.why.split('until ')[1]}"}] * 2
    )


@pytest.mark.parametrize("state_url", ["sqlite"], indirect=True)
def test_unknown_names_and_disabled_accounts_are_refused_and_an_admin_lifts_a_lockout(
    desk: tuple[AccountDesk, AuditLog, Clock],
) -> None:
    accounts, trail, _ = desk
    accounts.add("lan", "Nguyễn Thị Lan", Role.OPERATOR, LAN_PASSWORD, ADMIN)
    assert refusal(accounts, "nobody", LAN_PASSWORD).why == "no such account"
    assert refusal(accounts, "lan; DROP TABLE account", "x").why == "not a username"
    assert refusal(accounts, "lan", "x" * 5000).why == "wrong password"

    _, secret = accounts.sign_in("lan", LAN_PASSWORD, FROM)
    accounts.disable("lan", ADMIN)
    assert accounts.session(secret) is None  # the open session ends at once
    assert (
        refusal(accounts, "lan", LAN_PASSWORD).told == "this account is disabled; ask an ioc admin"
    )
    accounts.enable("lan", ADMIN)
    for _ in range(3):
        refusal(accounts, "lan", "wrong-password")
    assert refusal(accounts, "lan", LAN_PASSWORD).retry_after_s is not None
    accounts.enable("lan", ADMIN)  # lifts the lockout too
    accounts.sign_in("lan", LAN_PASSWORD, FROM)

    with pytest.raises(Conflict, match="already an account 'lan'"):
        accounts.add("LAN", "Lan", Role.VIEWER, LAN_PASSWORD, ADMIN)
    with pytest.raises(BadInput, match="10 to 1024 characters, not 5"):
        accounts.add("hung", "Hùng", Role.VIEWER, "short", ADMIN)
    with pytest.raises(BadInput, match="is not a username"):
        accounts.add("a b", "A B", Role.VIEWER, LAN_PASSWORD, ADMIN)
    with pytest.raises(NotFound, match="no account 'nobody'"):
        accounts.disable("nobody", ADMIN)
    assert [e.action for e in trail.find(action="account.")][::-1] == [
        "account.create", "account.disable", "account.enable", "account.lock", "account.enable",
    ]  # fmt: skip


@pytest.mark.parametrize("state_url", ["sqlite"], indirect=True)
def test_a_new_password_ends_the_sessions_of_the_old_one(
    desk: tuple[AccountDesk, AuditLog, Clock],
) -> None:
    accounts, trail, _ = desk
    accounts.add("lan", "Nguyễn Thị Lan", Role.OPERATOR, LAN_PASSWORD, ADMIN)
    _, secret = accounts.sign_in("lan", LAN_PASSWORD, FROM)
    accounts.set_password("lan", "mật-khẩu-mới-2027", ADMIN)
    assert accounts.session(secret) is None
    assert refusal(accounts, "lan", LAN_PASSWORD).why == "wrong password"
    accounts.sign_in("lan", "mật-khẩu-mới-2027", FROM)
    entry = trail.find(action="account.password")[0]
    assert "mật" not in str(entry.after) and entry.actor == "root"
