"""Messages a person can act on from a phone: Vietnamese by default, English on request, and a
short form that fits one SMS (160 GSM characters: diacritics folded, as Vietnamese SMS does)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from ioc.domain import Alert, NotificationKind
from ioc.i18n import SEVERITY_WORDS, Speech, mark

SMS_LIMIT = 160
_LISTED_DEVICES = 10

_KINDS = {
    NotificationKind.FIRED: mark("INCIDENT"),
    NotificationKind.ESCALATED: mark("UNACKNOWLEDGED"),
    NotificationKind.REPEATED: mark("STILL OPEN"),
    NotificationKind.RESOLVED: mark("RESOLVED"),
}


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message (e-mail only)."""

    filename: str
    content_type: str  # maintype/subtype
    data: bytes


@dataclass(frozen=True, slots=True)
class Message:
    """One message in the forms the channels need."""

    subject: str
    text: str
    short: str  # one SMS
    link: str | None
    data: dict[str, object] = field(default_factory=dict)  # for webhooks and the mobile app
    attachments: tuple[Attachment, ...] = ()

    def payload(self, key: str, person_id: str) -> dict[str, object]:
        """The JSON form for machines (webhook bridges, the mobile app)."""
        return {
            "key": key,
            "person": person_id,
            "subject": self.subject,
            "text": self.text,
            "short": self.short,
            "link": self.link,
            **self.data,
        }


def alert_message(
    kind: NotificationKind,
    alert: Alert,
    children: Sequence[Alert],
    speech: Speech,
    link_base: str | None,
    ack_link: str | None = None,
) -> Message:
    """The message about one root incident and the devices affected under it."""
    vietnamese = speech.language == "vi"
    title = alert.title_vi if vietnamese else alert.title_en
    detail = alert.message_vi if vietnamese else alert.message_en
    told = speech.say(_KINDS[kind])
    severity = speech.say(SEVERITY_WORDS[alert.severity.value])
    subject = f"[IOC] {told} {severity}: {title} ({alert.device_id})"
    lines = [
        subject,
        detail,
        speech.say("since {moment}", moment=speech.moment(alert.opened_at_ms)),
    ]
    if kind is NotificationKind.RESOLVED and alert.resolved_at_ms is not None:
        lasted = speech.duration(alert.resolved_at_ms - alert.opened_at_ms)
        lines.append(speech.say("it lasted {duration}", duration=lasted))
    affected = sorted({child.device_id for child in children})
    if affected:
        listed = ", ".join(affected[:_LISTED_DEVICES])
        more = len(affected) - _LISTED_DEVICES
        extra = " " + speech.say("and {n} more", n=more) if more > 0 else ""
        lines.append(speech.say("{n} affected devices", n=len(affected)) + f": {listed}{extra}")
    link = f"{link_base.rstrip('/')}/wall/?alert={alert.id}" if link_base else None
    if link:
        lines.append(speech.say("Open") + f": {link}")
    if ack_link and kind is not NotificationKind.RESOLVED:
        lines.append(speech.say("Acknowledge") + f": {ack_link}")
    short = fold(f"IOC {told} {title}: {detail}" + (f" +{len(affected)}" if affected else ""))
    if link and len(short) + len(link) + 1 <= SMS_LIMIT:
        short = f"{short} {link}"
    return Message(
        subject=subject,
        text="\n".join(lines),
        short=short[:SMS_LIMIT],
        link=link,
        data={
            "kind": kind.value,
            "alert_id": alert.id,
            "rule": alert.rule_id,
            "device_id": alert.device_id,
            "area_id": alert.area_id,
            "severity": alert.severity.value,
            "title": title,
            "affected": affected,
            "ack_link": ack_link if kind is not NotificationKind.RESOLVED else None,
        },
    )


def summary_message(held: int, alert_ids: Sequence[int], speech: Speech) -> Message:
    """What a person's hourly limit held back, in one message."""
    text = "[IOC] " + speech.say("{n} more messages in the past hour were held back", n=held)
    listed = ", ".join(f"#{alert_id}" for alert_id in alert_ids[:_LISTED_DEVICES])
    return Message(
        subject=text,
        text=f"{text}: {listed}" if listed else text,
        short=fold(text)[:SMS_LIMIT],
        link=None,
        data={"kind": "summary", "held": held, "alert_ids": list(alert_ids)},
    )


def fold(text: str) -> str:
    """Vietnamese without diacritics (đ -> d): an SMS in GSM-7 carries 160 characters, in
    UCS-2 only 70."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(ascii_only.split())
