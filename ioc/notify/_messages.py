"""Messages a person can act on from a phone: Vietnamese by default, English on request, and a
short form that fits one SMS (160 GSM characters: diacritics folded, as Vietnamese SMS does)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from ioc.domain import Alert, NotificationKind

SMS_LIMIT = 160
_LISTED_DEVICES = 10

_WORDS = {
    "vi": {
        NotificationKind.FIRED: "SỰ CỐ",
        NotificationKind.ESCALATED: "CHƯA AI NHẬN",
        NotificationKind.REPEATED: "VẪN CÒN",
        NotificationKind.RESOLVED: "ĐÃ HẾT",
        "critical": "nghiêm trọng", "major": "nặng", "minor": "nhẹ", "warning": "cảnh báo",
        "indeterminate": "chưa rõ", "cleared": "đã hết",
        "since": "từ", "affected": "thiết bị bị ảnh hưởng", "more": "và {n} thiết bị khác",
        "open": "Xem", "ack": "Nhận xử lý",
        "summary": "{n} tin khác trong giờ qua đã được gộp lại",
    },
    "en": {
        NotificationKind.FIRED: "INCIDENT",
        NotificationKind.ESCALATED: "UNACKNOWLEDGED",
        NotificationKind.REPEATED: "STILL OPEN",
        NotificationKind.RESOLVED: "RESOLVED",
        "critical": "critical", "major": "major", "minor": "minor", "warning": "warning",
        "indeterminate": "indeterminate", "cleared": "cleared",
        "since": "since", "affected": "affected devices", "more": "and {n} more",
        "open": "Open", "ack": "Acknowledge",
        "summary": "{n} more messages in the past hour were held back",
    },
}  # fmt: skip


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
    language: str,
    zone: tzinfo,
    link_base: str | None,
    ack_link: str | None = None,
) -> Message:
    """The message about one root incident and the devices affected under it."""
    words = _WORDS[language]
    title = alert.title_vi if language == "vi" else alert.title_en
    detail = alert.message_vi if language == "vi" else alert.message_en
    moment = datetime.fromtimestamp(alert.opened_at_ms / 1000, zone)
    opened = f"{moment:%H:%M %d/%m} UTC{moment.isoformat()[-6:]}"
    subject = f"[IOC] {words[kind]} {words[alert.severity.value]}: {title} ({alert.device_id})"
    lines = [subject, detail, f"{words['since']} {opened}"]
    affected = sorted({child.device_id for child in children})
    if affected:
        listed = ", ".join(affected[:_LISTED_DEVICES])
        more = len(affected) - _LISTED_DEVICES
        extra = " " + words["more"].format(n=more) if more > 0 else ""
        lines.append(f"{len(affected)} {words['affected']}: {listed}{extra}")
    link = f"{link_base.rstrip('/')}/wall/?alert={alert.id}" if link_base else None
    if link:
        lines.append(f"{words['open']}: {link}")
    if ack_link and kind is not NotificationKind.RESOLVED:
        lines.append(f"{words['ack']}: {ack_link}")
    short = fold(
        f"IOC {words[kind]} {title}: {detail}" + (f" +{len(affected)}" if affected else "")
    )
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


def summary_message(held: int, alert_ids: Sequence[int], language: str) -> Message:
    """What a person's hourly limit held back, in one message."""
    text = "[IOC] " + _WORDS[language]["summary"].format(n=held)
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
