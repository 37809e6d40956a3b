"""The province's LDAP / Active Directory: a person proves who they are by binding as
themselves, and their groups give their role (the highest wins).

Such directories refuse anonymous search, so the person's entry and groups are read either
as the person (after their bind; `user_dn` says how to name them) or as a read-only service
account (`service_account`, which also finds a person whose DN cannot be written from their
name). Locked and expired accounts are refused with the reason logged: OpenLDAP's password
policy (the control RFC draft behera-ldap-password-policy defines, asked on every bind), Active
Directory's sub-codes of a refused bind (`data 775`), and the entry's own `shadowExpire`,
`accountExpires`, `userAccountControl` and `pwdAccountLockedTime`."""

from __future__ import annotations

import logging
import math
import re
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn
from pyasn1.codec.ber import decoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import namedtype, namedval, tag, univ
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ioc.config.documents import read_model
from ioc.domain import BadFileError, RetryLater, Role, SignInRefused, said

log = logging.getLogger("ioc.accounts")

PPOLICY_OID = "1.3.6.1.4.1.42.2.27.8.5.1"
# What the person is told when the directory refuses them; the reason goes to the log.
WRONG = said("wrong username or password")
NO_ROLE = said("this account is in none of the directory groups that give a role in ioc")


def _refused(reason: str) -> SignInRefused:
    told = said(
        "the directory refuses this account ({reason}); ask the directory's administrators",
        reason=reason,
    )
    return SignInRefused(told, reason)


class DirectoryConfigError(BadFileError):
    """The directory file is wrong."""


class DirectoryUnavailable(RetryLater):
    """The directory does not answer, or refuses the service account."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UserSearch(_Strict):
    """Where people are, and how one is found by the name they type."""

    base: str = Field(min_length=3, description="e.g. ou=people,dc=quangtri,dc=gov,dc=vn")
    filter: str = Field(default="(uid={username})", description="AD: (sAMAccountName={username})")
    name_attribute: str = "displayName"  # the name shown and recorded; cn when missing

    @field_validator("filter")
    @classmethod
    def _names_the_person(cls, value: str) -> str:
        if "{username}" not in value:
            raise ValueError("the filter must hold {username}")
        return value


class GroupSearch(_Strict):
    """Where groups are, and which hold a person."""

    base: str = Field(min_length=3)
    filter: str = "(|(member={dn})(uniqueMember={dn})(memberUid={username}))"


class ServiceAccount(_Strict):
    """A read-only account for look-ups; its password is IOC_DIRECTORY_PASSWORD."""

    dn: str = Field(min_length=3)


class DirectoryConfig(_Strict):
    """The directory file (IOC_DIRECTORY_FILE)."""

    url: str = Field(description="ldap://host[:port] or ldaps://host[:port]")
    start_tls: bool = False  # ldap:// upgraded with StartTLS before any password is sent
    ca_file: Path | None = None  # PEM; the system's CAs when none
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    # How to name the person to bind as them: `uid={username},ou=people,...` on OpenLDAP,
    # `{username}@tinh.gov.vn` on Active Directory. None: found by the service account.
    user_dn: str | None = None
    users: UserSearch
    groups: GroupSearch
    service_account: ServiceAccount | None = None
    # Directory groups (their cn or whole DN) giving each role; the highest a person has wins.
    roles: dict[Role, list[str]]

    @field_validator("url")
    @classmethod
    def _ldap_url(cls, value: str) -> str:
        if not re.match(r"^ldaps?://[^/\s]+/?$", value):
            raise ValueError(f"{value!r} is not ldap://host[:port] or ldaps://host[:port]")
        return value

    @field_validator("user_dn")
    @classmethod
    def _names_the_person(cls, value: str | None) -> str | None:
        if value is not None and "{username}" not in value:
            raise ValueError("user_dn must hold {username}")
        return value

    @model_validator(mode="after")
    def _can_find_people(self) -> DirectoryConfig:
        if self.user_dn is None and self.service_account is None:
            raise ValueError(
                "give user_dn (to bind as the person) or service_account (to find them first)"
            )
        if not any(self.roles.values()):
            raise ValueError("roles gives no group any role")
        return self


def read_directory_config(path: Path) -> DirectoryConfig:
    """The directory file, checked (DirectoryConfigError naming each mistake)."""
    return read_model(path, DirectoryConfig, DirectoryConfigError)


@dataclass(frozen=True, slots=True)
class DirectoryPerson:
    """Who the directory says signed in."""

    username: str
    dn: str
    display_name: str
    role: Role
    groups: tuple[str, ...]


class _Warning(univ.Choice):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(
        namedtype.NamedType(
            "timeBeforeExpiration",
            univ.Integer().subtype(
                implicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatSimple, 0)
            ),
        ),
        namedtype.NamedType(
            "graceAuthNsRemaining",
            univ.Integer().subtype(
                implicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatSimple, 1)
            ),
        ),
    )


class _PolicyError(univ.Enumerated):  # type: ignore[misc]
    namedValues = namedval.NamedValues(
        ("passwordExpired", 0), ("accountLocked", 1), ("changeAfterReset", 2),
        ("passwordModNotAllowed", 3), ("mustSupplyOldPassword", 4),
        ("insufficientPasswordQuality", 5), ("passwordTooShort", 6), ("passwordTooYoung", 7),
        ("passwordInHistory", 8),
    )  # fmt: skip


class _PolicyResponse(univ.Sequence):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(
        namedtype.OptionalNamedType(
            "warning",
            _Warning().subtype(
                explicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, 0)
            ),
        ),
        namedtype.OptionalNamedType(
            "error",
            _PolicyError().subtype(
                implicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatSimple, 1)
            ),
        ),
    )


_POLICY_REASONS = {
    "passwordExpired": "password expired",
    "accountLocked": "locked",
    "changeAfterReset": "must change the password first",
}
# Active Directory's sub-code of a refused bind (`... data 775, ...`).
_AD_REASONS = {
    "525": "no such user",
    "52e": "wrong password",
    "530": "not permitted to sign in at this time",
    "531": "not permitted on this workstation",
    "532": "password expired",
    "533": "disabled",
    "701": "account expired",
    "773": "must change the password first",
    "775": "locked",
}
_AD_DISABLED = 0x2  # userAccountControl's ACCOUNTDISABLE
_AD_NEVER = (0, 0x7FFF_FFFF_FFFF_FFFF)  # accountExpires: never
_FILETIME_EPOCH_S = 11_644_473_600  # 1601-01-01 to 1970-01-01


def policy_error(result: dict[str, Any]) -> str | None:
    """The password policy's error in a bind's answer (`accountLocked`), if it gave one."""
    control = (result.get("controls") or {}).get(PPOLICY_OID)
    if not control or not control.get("value"):
        return None
    try:
        decoded, _ = decoder.decode(control["value"], asn1Spec=_PolicyResponse())
    except PyAsn1Error:
        return None
    error = decoded.getComponentByName("error")
    return str(error.prettyPrint()) if error.isValue else None


def refusal_reason(result: dict[str, Any]) -> str | None:
    """Why a directory refused a bind, beyond a wrong password: locked, expired, disabled."""
    error = policy_error(result)
    if error is not None and error in _POLICY_REASONS:
        return f"{_POLICY_REASONS[error]} (password policy: {error})"
    match = re.search(r"\bdata ([0-9a-f]{3})\b", str(result.get("message", "")))
    if match and match.group(1) in _AD_REASONS and match.group(1) not in ("525", "52e"):
        return f"{_AD_REASONS[match.group(1)]} (Active Directory: data {match.group(1)})"
    return None


def entry_reason(attributes: dict[str, Any], now_s: float) -> str | None:
    """Why an entry that bound must still be refused: expired, disabled, or locked by the
    directory's administrators where the directory does not enforce it at the bind."""
    shadow_expire = _first(attributes.get("shadowExpire"))
    if shadow_expire is not None and int(shadow_expire) * 86_400 <= now_s:
        day = datetime.fromtimestamp(int(shadow_expire) * 86_400, UTC).date()
        return f"expired on {day.isoformat()} (shadowExpire)"
    expires = _first(attributes.get("accountExpires"))
    if isinstance(expires, datetime):
        expires_s: float | None = expires.timestamp() if expires.year < 9000 else None
    elif expires is not None and int(expires) not in _AD_NEVER:
        expires_s = int(expires) / 10_000_000 - _FILETIME_EPOCH_S
    else:
        expires_s = None
    if expires_s is not None and expires_s <= now_s:
        return "account expired (accountExpires)"
    control = _first(attributes.get("userAccountControl"))
    if control is not None and int(control) & _AD_DISABLED:
        return "disabled (userAccountControl)"
    if _first(attributes.get("pwdAccountLockedTime")) is not None:
        return "locked (pwdAccountLockedTime)"
    return None


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


class Directory:
    """Signs people in against the directory the file describes."""

    def __init__(self, config: DirectoryConfig, service_password: str | None = None) -> None:
        if config.service_account is not None and not service_password:
            raise DirectoryConfigError(
                "the directory's service account needs its password in IOC_DIRECTORY_PASSWORD"
            )
        self.config = config
        self._service_password = service_password
        tls = None
        if config.url.startswith("ldaps://") or config.start_tls:
            ca = str(config.ca_file) if config.ca_file else None
            tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ca)
        self._server = ldap3.Server(
            config.url, tls=tls, connect_timeout=config.timeout_s, get_info=ldap3.NONE
        )

    def sign_in(self, username: str, password: str, now_s: float) -> DirectoryPerson:
        """The person, if the directory says the password is theirs and their groups give a
        role; SignInRefused (the reason for the log) or DirectoryUnavailable otherwise."""
        if not password:  # an empty password is an anonymous bind, which "succeeds"
            raise SignInRefused(WRONG, "an empty password")
        try:
            return self._sign_in(username, password, now_s)
        except LDAPException as exc:
            raise DirectoryUnavailable(f"the directory at {self.config.url}: {exc}") from exc

    def _sign_in(self, username: str, password: str, now_s: float) -> DirectoryPerson:
        config = self.config
        service = self._service() if config.service_account is not None else None
        try:
            dn, attributes, groups = self._as_person(service, username, password, now_s)
        finally:
            if service is not None:
                service.unbind()
        role = self._role(groups)
        if role is None:
            raise SignInRefused(NO_ROLE, f"in no group mapped to a role: {sorted(groups)}")
        name = _first(attributes.get(config.users.name_attribute)) or _first(attributes.get("cn"))
        return DirectoryPerson(username, dn, str(name or username), role, tuple(sorted(groups)))

    def _as_person(
        self, service: ldap3.Connection | None, username: str, password: str, now_s: float
    ) -> tuple[str, dict[str, Any], set[str]]:
        """Bind as the person; their DN, entry and groups (read by the service account when
        there is one, else as the person)."""
        if self.config.user_dn is not None:
            bind_name = self.config.user_dn.format(username=escape_rdn(username))
        else:
            assert service is not None
            found = self._entry(service, username)
            if found is None:
                raise SignInRefused(WRONG, "no such person in the directory")
            bind_name = found[0]
        person = self._bind(bind_name, password)
        try:
            if not person.bound:
                reason = refusal_reason(person.result)
                if reason is None:
                    raise SignInRefused(WRONG, f"the directory refused the bind of {bind_name}")
                raise _refused(reason)
            reader = service or person
            entry = self._entry(reader, username)
            if entry is None:
                raise SignInRefused(WRONG, f"{bind_name} bound but no entry matches the filter")
            dn, attributes = entry
            reason = entry_reason(attributes, now_s)
            if reason is not None:
                raise _refused(reason)
            return dn, attributes, self._groups(reader, username, dn, attributes)
        finally:
            person.unbind()

    def _bind(self, user: str, password: str) -> ldap3.Connection:
        """A connection bound as `user` if the directory agrees (`.bound`), asking for the
        password policy's answer; StartTLS first when the file says so."""
        connection = ldap3.Connection(
            self._server, user=user, password=password, raise_exceptions=False,
            # ldap3 packs it into SO_RCVTIMEO as whole seconds.
            receive_timeout=math.ceil(self.config.timeout_s), auto_referrals=False,
        )  # fmt: skip
        try:
            if self.config.start_tls:
                connection.open()
                if not connection.start_tls():
                    raise DirectoryUnavailable(
                        f"the directory at {self.config.url} refuses StartTLS"
                    )
            connection.bind(controls=[(PPOLICY_OID, False, None)])
        except (LDAPException, DirectoryUnavailable):
            # ldap3 keeps the socket of a connect that failed; close it with the connection.
            connection.strategy.close()
            if connection.socket is not None:
                connection.socket.close()
            raise
        return connection

    def _service(self) -> ldap3.Connection:
        account = self.config.service_account
        assert account is not None
        connection = self._bind(account.dn, self._service_password or "")
        if not connection.bound:
            connection.unbind()
            raise DirectoryUnavailable(
                f"the directory at {self.config.url} refuses the service account"
                f" {account.dn}: {connection.result.get('description')}"
            )
        return connection

    def _entry(self, reader: ldap3.Connection, username: str) -> tuple[str, dict[str, Any]] | None:
        users = self.config.users
        query = users.filter.format(username=escape_filter_chars(username))
        wanted = [users.name_attribute, "cn", "memberOf", "shadowExpire", "accountExpires",
                  "userAccountControl", "pwdAccountLockedTime"]  # fmt: skip
        reader.search(users.base, query, attributes=wanted, size_limit=2)
        entries = [e for e in reader.response or [] if e.get("type") == "searchResEntry"]
        if len(entries) != 1:  # none, or a filter that names two people
            return None
        return entries[0]["dn"], dict(entries[0]["attributes"])

    def _groups(
        self, reader: ldap3.Connection, username: str, dn: str, attributes: dict[str, Any]
    ) -> set[str]:
        groups = self.config.groups
        query = groups.filter.format(
            dn=escape_filter_chars(dn), username=escape_filter_chars(username)
        )
        reader.search(groups.base, query, attributes=["cn"])
        found: set[str] = set()
        for entry in reader.response or []:
            if entry.get("type") == "searchResEntry":
                found.add(entry["dn"].lower())
                found.update(str(cn).lower() for cn in entry["attributes"].get("cn", []))
        for member_of in attributes.get("memberOf") or []:  # Active Directory lists them
            found.add(str(member_of).lower())
            cn = re.match(r"(?i)^cn=([^,]+),", str(member_of))
            if cn:
                found.add(cn.group(1).lower())
        return found

    def _role(self, groups: set[str]) -> Role | None:
        given = [
            role
            for role, names in self.config.roles.items()
            if any(name.lower() in groups for name in names)
        ]
        return max(given, key=lambda role: role.rank) if given else None
