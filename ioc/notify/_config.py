"""The notification file: people, teams, on-call rotations, routes with escalation, channels.

Validated strictly like the rule files: unknown keys are mistakes, and every reference (a team's
members, a route's target, its area, classes and rules) is checked against the rest of the file,
the inventory and the rules in force. Each mistake is one line naming the file and the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ioc.config.documents import Duration, read_model
from ioc.domain import BadFileError, Inventory, Severity, zone_named
from ioc.reports import ReportError, grouping

_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
Id = Annotated[str, Field(pattern=_ID)]
_PHONE = re.compile(r"^\+?[0-9]{8,15}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class NotifyConfigError(BadFileError):
    """The notification file is wrong; the message lists every mistake, one per line."""


class Channel(StrEnum):
    """Where a message can go."""

    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"
    MQTT = "mqtt"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Contacts(_Strict):
    """How to reach one person (each channel a team uses needs its contact)."""

    email: str | None = None
    phone: str | None = None
    webhook: str | None = Field(default=None, pattern=r"^https?://\S+$")
    mqtt: bool = False  # messages on {prefix}/notify/person/{id} (the mobile app)

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value

    @field_validator("phone")
    @classmethod
    def _check_phone(cls, value: str | None) -> str | None:
        if value is not None and not _PHONE.match(value.replace(" ", "")):
            raise ValueError(f"{value!r} is not a phone number (e.g. +84901234567)")
        return value.replace(" ", "") if value else value


class Person(_Strict):
    """A field engineer or an operator."""

    id: Id
    name: str = Field(min_length=1, max_length=128)
    language: Literal["vi", "en"] | None = None  # the file's default when unset
    contacts: Contacts


class Team(_Strict):
    """People notified together, and the channels used to reach them."""

    id: Id
    members: list[Id] = Field(min_length=1)
    channels: list[Channel] = Field(min_length=1)


class Rotation(_Strict):
    """Who of a team is on duty: shifts of a fixed length from `start`, in `order`."""

    id: Id
    team: Id
    start: datetime  # local time in the file's time zone unless it names one
    shift: Duration = Field(gt=0)
    order: list[Id] | None = None  # the team's members by default


class Match(_Strict):
    """Which alerts a route takes; every given criterion must hold."""

    area: str | None = None  # the area and everything below it
    classes: list[str] | None = Field(default=None, alias="class", min_length=1)
    min_severity: Severity = Severity.WARNING
    rules: list[str] | None = Field(default=None, min_length=1)


class Escalation(_Strict):
    """Still not acknowledged `after` the first message: tell `notify` too."""

    after: Duration = Field(gt=0)
    notify: Id


class Route(_Strict):
    """Alerts matching go to a team (everyone) or a rotation (whoever is on duty)."""

    id: Id
    match: Match = Match()
    notify: Id
    escalate: list[Escalation] = []
    repeat: Duration | None = Field(default=None, gt=0)  # again while open and unacknowledged
    send_resolved: bool = True
    continue_: bool = Field(default=False, alias="continue")  # look at later routes too


class Limits(_Strict):
    """Per person: beyond `per_hour` messages in an hour, one summary instead of each."""

    per_hour: int = Field(default=20, ge=1, le=10_000)
    group_wait: Duration = Field(default=30.0, ge=0, le=3600)  # collect an outage's devices


class ScheduledReport(_Strict):
    """A report sent by e-mail (its figures in the text, the workbook attached) once a week or
    month, for the period just ended, to teams and people."""

    id: Id
    kind: Literal["availability", "power", "links"] = "availability"
    every: Literal["week", "month"] = "month"
    at: str = Field(default="07:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")  # local time
    by: str = Field(default="district", max_length=32)  # a grouping of `ioc report`
    area: str | None = None
    classes: str | None = Field(default=None, alias="class")
    tag: str | None = None
    to: list[Id] = Field(min_length=1)  # teams (every member) and people
    language: Literal["vi", "en"] | None = None  # each person's (or the file's) when unset


class NotifyFile(_Strict):
    """The whole file."""

    version: Literal[1]
    language: Literal["vi", "en"] = "vi"
    timezone: str | None = None  # the deployment's (IOC_TIMEZONE) when unset
    link_base: str | None = Field(default=None, pattern=r"^https?://\S+$")
    people: list[Person] = Field(min_length=1)
    teams: list[Team] = Field(min_length=1)
    rotations: list[Rotation] = []
    routes: list[Route] = Field(min_length=1)
    limits: Limits = Limits()
    reports: list[ScheduledReport] = []

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str | None) -> str | None:
        if value is not None:
            zone_named(value)
        return value


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """A checked notification file."""

    spec: NotifyFile
    path: Path
    people: Mapping[str, Person]
    teams: Mapping[str, Team]
    rotations: Mapping[str, Rotation]
    zone: tzinfo  # the file's, else the deployment's: rotations, schedules, message times


def load_notify_config(
    path: Path, inventory: Inventory, rule_ids: Iterable[str], zone: tzinfo
) -> NotifyConfig:
    """Read and check the file, whose times are in `zone` unless it names its own; raise
    NotifyConfigError listing each mistake."""
    spec = read_model(path, NotifyFile, NotifyConfigError)
    problems = _check(spec, inventory, set(rule_ids))
    if problems:
        raise NotifyConfigError("\n".join(f"{path}: {problem}" for problem in problems))
    return NotifyConfig(
        spec,
        path,
        {p.id: p for p in spec.people},
        {t.id: t for t in spec.teams},
        {r.id: r for r in spec.rotations},
        zone_named(spec.timezone) if spec.timezone is not None else zone,
    )


def recheck_notify_config(
    config: NotifyConfig, inventory: Inventory, rule_ids: Iterable[str]
) -> None:
    """Check a file in force against a changed inventory (an area it routes by gone); raise
    NotifyConfigError listing each mistake."""
    problems = _check(config.spec, inventory, set(rule_ids))
    if problems:
        raise NotifyConfigError("\n".join(f"{config.path}: {problem}" for problem in problems))


def _check(spec: NotifyFile, inventory: Inventory, rule_ids: set[str]) -> list[str]:
    rotations = {r.id for r in spec.rotations}
    teams = {t.id: t for t in spec.teams}
    problems = _check_unique(spec)
    if overlap := set(teams) & rotations:
        problems.append(f"teams and rotations share the ids {sorted(overlap)}: keep them apart")
    problems += _check_teams(spec)
    for rotation in spec.rotations:
        where = f"rotations[{rotation.id!r}]"
        team = teams.get(rotation.team)
        if team is None:
            problems.append(f"{where}.team: no team {rotation.team!r}")
        elif rotation.order is not None:
            strangers = [p for p in rotation.order if p not in team.members]
            if strangers:
                problems.append(f"{where}.order: not in team {team.id}: {strangers}")
    for route in spec.routes:
        problems += _check_route(route, set(teams) | rotations, inventory, rule_ids)
    for report in spec.reports:
        problems += _check_report(report, spec, inventory)
    return problems


def _check_report(report: ScheduledReport, spec: NotifyFile, inventory: Inventory) -> list[str]:
    where = f"reports[{report.id!r}]"
    people = {p.id: p for p in spec.people}
    teams = {t.id: t for t in spec.teams}
    problems = []
    for target in report.to:
        members = teams[target].members if target in teams else [target]
        if target not in teams and target not in people:
            problems.append(f"{where}.to: no team or person {target!r}")
            continue
        for member in members:
            if member in people and people[member].contacts.email is None:
                problems.append(f"{where}.to: {member} has no e-mail address for its report")
    if report.area is not None and report.area not in inventory.areas:
        problems.append(f"{where}.area: no area {report.area!r} in the inventory")
    try:
        grouping(report.by, inventory)
    except ReportError as exc:
        problems.append(f"{where}.by: {exc}")
    return problems


def _check_unique(spec: NotifyFile) -> list[str]:
    problems = []
    for kind, items in (("people", spec.people), ("teams", spec.teams),
                        ("rotations", spec.rotations), ("routes", spec.routes),
                        ("reports", spec.reports)):  # fmt: skip
        seen: set[str] = set()
        for item in items:
            if item.id in seen:
                problems.append(f"{kind}[{item.id!r}].id: defined twice")
            seen.add(item.id)
    return problems


def _check_teams(spec: NotifyFile) -> list[str]:
    people = {p.id: p for p in spec.people}
    problems = []
    for team in spec.teams:
        where = f"teams[{team.id!r}]"
        for member in team.members:
            person = people.get(member)
            if person is None:
                problems.append(f"{where}.members: no person {member!r}")
                continue
            for channel in team.channels:
                if not _reachable(person, channel):
                    problems.append(
                        f"{where}.channels: {member} has no {_CONTACT[channel]} for {channel}"
                    )
    return problems


def _check_route(
    route: Route, targets: set[str], inventory: Inventory, rule_ids: set[str]
) -> list[str]:
    where = f"routes[{route.id!r}]"
    problems = []
    if route.notify not in targets:
        problems.append(f"{where}.notify: no team or rotation {route.notify!r}")
    for level, step in enumerate(route.escalate):
        if step.notify not in targets:
            problems.append(f"{where}.escalate[{level}].notify: no team or rotation "
                            f"{step.notify!r}")  # fmt: skip
    afters = [step.after for step in route.escalate]
    if afters != sorted(afters):
        problems.append(f"{where}.escalate: levels must come in order of `after`")
    match = route.match
    if match.area is not None and match.area not in inventory.areas:
        problems.append(f"{where}.match.area: no area {match.area!r} in the inventory")
    known_classes = {d.device_class for d in inventory.devices.values()}
    for device_class in match.classes or []:
        if device_class not in known_classes:
            problems.append(f"{where}.match.class: no device class {device_class!r}")
    for rule in match.rules or []:
        if rule not in rule_ids:
            problems.append(f"{where}.match.rules: no rule {rule!r} in force")
    return problems


_CONTACT = {
    Channel.EMAIL: "e-mail address",
    Channel.SMS: "phone number",
    Channel.WEBHOOK: "webhook URL",
    Channel.MQTT: "mqtt: true",
}


def _reachable(person: Person, channel: Channel) -> bool:
    contacts = person.contacts
    return {
        Channel.EMAIL: contacts.email is not None,
        Channel.SMS: contacts.phone is not None,
        Channel.WEBHOOK: contacts.webhook is not None,
        Channel.MQTT: contacts.mqtt,
    }[channel]
