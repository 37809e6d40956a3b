"""People of the province's directory sign in: a real OpenLDAP slapd made by the test (people,
groups, a read-only service account, anonymous search refused, the password-policy overlay).
Their groups give the role, the highest wins; a wrong password, a locked and an expired
account, a person in no group of ioc's are refused with the reason logged; the directory's
people are kept as accounts once signed in, their role following their groups."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ioc.accounts import (
    AccountDesk,
    Directory,
    DirectoryConfig,
    DirectoryConfigError,
    DirectoryUnavailable,
    read_directory_config,
)
from ioc.api import ApiContext, create_app
from ioc.domain import AccountSource, Inventory, Profile, Role, SignInRefused, now_ms
from ioc.state import AccountStore, AlertRepository, AuditLog, TokenStore, connect_state
from tests.support.slapd import (
    GROUPS,
    PEOPLE,
    PEOPLE_ENTRIES,
    READER_DN,
    READER_PASSWORD,
    Slapd,
)

NOW_S = 1_796_083_200.0  # 2026-12-01


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    server = Slapd(tmp_path_factory.mktemp("slapd"))
    server.start()
    yield server
    server.stop()


def config(slapd: Slapd, **changes: object) -> DirectoryConfig:
    """Look-ups as the person by default (user_dn); `service_account=...` for the reader."""
    document: dict[str, object] = {
        "url": slapd.url,
        "user_dn": f"uid={{username}},{PEOPLE}",
        "users": {"base": PEOPLE},
        "groups": {"base": GROUPS},
        "roles": {"admin": ["ioc-admins"], "operator": [f"cn=ioc-operators,{GROUPS}"],
                  "viewer": ["IOC-Viewers"]},
    }  # fmt: skip
    document.update(changes)
    return DirectoryConfig.model_validate(document)


def password(uid: str) -> str:
    return PEOPLE_ENTRIES[uid][1]


def refused(directory: Directory, uid: str, typed: str) -> SignInRefused:
    with pytest.raises(SignInRefused) as caught:
        directory.sign_in(uid, typed, NOW_S)
    return caught.value


@pytest.mark.parametrize("as_service", [False, True], ids=["as-the-person", "service-account"])
def test_groups_give_the_role_and_the_highest_wins(slapd: Slapd, as_service: bool) -> None:
    changes: dict[str, object] = (
        {"user_dn": None, "service_account": {"dn": READER_DN}} if as_service else {}
    )
    directory = Directory(config(slapd, **changes), READER_PASSWORD if as_service else None)
    lan = directory.sign_in("lan", password("lan"), NOW_S)
    assert (lan.display_name, lan.role, lan.dn) == ("Nguyễn Thị Lan", Role.OPERATOR,
                                                    f"uid=lan,{PEOPLE}")  # fmt: skip
    assert "ioc-viewers" in lan.groups and "ioc-operators" in lan.groups
    assert directory.sign_in("minh", password("minh"), NOW_S).role is Role.ADMIN
    assert directory.sign_in("hung", password("hung"), NOW_S).role is Role.VIEWER


@pytest.mark.parametrize("as_service", [False, True], ids=["as-the-person", "service-account"])
def test_wrong_locked_expired_and_roleless_people_are_refused_with_the_reason(
    slapd: Slapd, as_service: bool
) -> None:
    changes: dict[str, object] = (
        {"user_dn": None, "service_account": {"dn": READER_DN}} if as_service else {}
    )
    directory = Directory(config(slapd, **changes), READER_PASSWORD if as_service else None)
    wrong = refused(directory, "hung", "not-his-password")
    assert wrong.told == "wrong username or password"
    assert refused(directory, "nobody", "whatever-pw").told == "wrong username or password"
    assert refused(directory, "hung", "").why == "an empty password"  # not an anonymous bind
    # An injection in the name is a name like any other.
    assert refused(directory, "*)(uid=*", "whatever-pw").told == "wrong username or password"

    locked = refused(directory, "khoa", password("khoa"))
    assert locked.why == "locked (password policy: accountLocked)"
    assert locked.told == (
        "the directory refuses this account (locked (password policy: accountLocked));"
        " ask the directory's administrators"
    )
    expired = refused(directory, "binh", password("binh"))
    assert expired.why == "expired on 1970-01-02 (shadowExpire)"
    roleless = refused(directory, "thao", password("thao"))
    assert (
        roleless.told == "this account is in none of the directory groups that give a role in ioc"
    )
    assert roleless.why == "in no group mapped to a role: ['cn=finance,ou=groups," + \
        "dc=quangtri,dc=gov,dc=vn', 'finance']"  # fmt: skip


def test_a_directory_away_or_refusing_the_service_account_is_said_so(
    slapd: Slapd, tmp_path: Path
) -> None:
    reader = {"user_dn": None, "service_account": {"dn": READER_DN}}
    with pytest.raises(DirectoryUnavailable, match=r"refuses the service account .*invalidCred"):
        Directory(config(slapd, **reader), "wrong-reader-pw").sign_in("lan", "x-pw", NOW_S)
    with pytest.raises(DirectoryConfigError, match="needs its password in IOC_DIRECTORY_PASS"):
        Directory(config(slapd, **reader), None)
    away = Slapd(tmp_path / "away")  # made, never started: nothing listens on its port
    with pytest.raises(DirectoryUnavailable, match=f"the directory at {away.url}: "):
        Directory(config(away, timeout_s=1)).sign_in("lan", password("lan"), NOW_S)


def test_a_directory_file_with_mistakes_is_refused_naming_each(tmp_path: Path) -> None:
    path = tmp_path / "directory.yaml"
    path.write_text(
        "url: http://ldap.example\nusers: {base: 'ou=people,dc=x', filter: '(uid=lan)'}\n"
        "groups: {base: 'ou=groups,dc=x'}\nroles: {boss: [admins]}\n",
        encoding="utf-8",
    )
    with pytest.raises(DirectoryConfigError) as caught:
        read_directory_config(path)
    assert str(caught.value).splitlines() == [
        f"{path}: url: 'http://ldap.example' is not ldap://host[:port] or ldaps://host[:port]",
        f"{path}: users.filter: the filter must hold {{username}}",
        f"{path}: roles.boss.[key]: Input should be 'viewer', 'operator' or 'admin'",
    ]
    path.write_text(
        "url: ldaps://ldap.example:636\nusers: {base: 'ou=people,dc=x'}\n"
        "groups: {base: 'ou=groups,dc=x'}\nroles: {admin: [admins]}\n",
        encoding="utf-8",
    )
    with pytest.raises(DirectoryConfigError, match=r"give user_dn .* or service_account"):
        read_directory_config(path)


@pytest.mark.parametrize("state_url", ["sqlite"], indirect=True)
def test_the_directorys_people_are_kept_as_accounts_and_follow_their_groups(
    slapd: Slapd, state_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = connect_state(state_url)
    trail = AuditLog(engine)
    clock = lambda: int(NOW_S * 1000)  # noqa: E731
    desk = AccountDesk(AccountStore(engine), trail, clock, directory=Directory(config(slapd)))
    caplog.set_level(logging.WARNING, "ioc.accounts")
    session, secret = desk.sign_in("Lan", password("lan"), "api 10.0.0.7")
    lan = session.account
    assert (lan.username, lan.source, lan.role, lan.actor) == (
        "lan", AccountSource.DIRECTORY, Role.OPERATOR, "Nguyễn Thị Lan (lan)"
    )  # fmt: skip
    assert desk.session(secret) is not None

    # The province moves Lan to the viewers: her next sign-in has that role.
    demoted = Directory(config(slapd, roles={"viewer": ["ioc-operators"]}))
    desk.directory = demoted
    again, _ = desk.sign_in("lan", password("lan"), "api 10.0.0.7")
    assert again.account.role is Role.VIEWER
    change = trail.find(action="account.change")[0]
    assert (change.actor, change.before, change.after) == (
        "directory",
        {"name": "Nguyễn Thị Lan", "role": "operator", "source": "directory",
         "disabled": False, "locked": False},
        {"name": "Nguyễn Thị Lan", "role": "viewer", "source": "directory",
         "disabled": False, "locked": False},
    )  # fmt: skip

    with pytest.raises(SignInRefused):
        desk.sign_in("khoa", password("khoa"), "api 10.0.0.8")
    assert (
        "sign-in refused for 'khoa' from api 10.0.0.8: locked (password policy: accountLocked)"
        in caplog.text
    )
    kept = trail.find(action="session.refused")[0]
    assert (kept.actor, kept.after) == (
        "khoa",
        {"reason": "locked (password policy: accountLocked)"},
    )
    assert desk.store.find("khoa") is None  # refused people are not kept as accounts
    engine.dispose()


@pytest.mark.parametrize("state_url", ["sqlite"], indirect=True)
def test_a_directory_person_signs_in_to_the_api_and_a_directory_away_is_a_503(
    slapd: Slapd,
    state_url: str,
    small_inventory: Inventory,
    profiles: dict[str, Profile],
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = connect_state(state_url)
    trail = AuditLog(engine)
    desk = AccountDesk(AccountStore(engine), trail, now_ms, directory=Directory(config(slapd)))
    context = ApiContext(
        lambda: small_inventory, profiles, AlertRepository(engine), TokenStore(engine), now_ms,
        audit=trail, accounts=desk,
    )  # fmt: skip
    with TestClient(create_app(context)) as client:
        signed = client.post(
            "/api/v1/session", json={"username": "minh", "password": "minh-pw-2026"}
        )
        assert signed.status_code == 200, signed.text
        me = client.get("/api/v1/me").json()
        assert (me["name"], me["role"], me["username"]) == ("Lê Quang Minh", "admin", "minh")
        locked = client.post(
            "/api/v1/session", json={"username": "khoa", "password": password("khoa")}
        )
        assert locked.status_code == 401
        assert "the directory refuses this account (locked" in locked.json()["detail"]
        desk.directory = Directory(config(Slapd(slapd.directory / "away"), timeout_s=1))
        away = client.post("/api/v1/session", json={"username": "lan", "password": password("lan")})
        assert away.status_code == 503 and away.json()["detail"].startswith(
            "the directory at ldap://"
        )
    assert "sign-in of 'lan' from api testclient not checked: the directory at" in caplog.text
    engine.dispose()
