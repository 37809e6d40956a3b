"""A monthly report from the notification file, sent by the notifier to a real SMTP server
(aiosmtpd, STARTTLS and login) with its workbook attached: once for its month, not again after a
restart, and the next month's when that month ends; recorded in the outbox like any message."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import io
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from openpyxl import load_workbook

from ioc.app import Catalog, NotifyService
from ioc.config import load_settings
from ioc.domain import (
    Alert,
    AlertState,
    AlertTransition,
    Inventory,
    NotificationKind,
    NotificationStatus,
    Profile,
    Severity,
    TransitionKind,
)
from ioc.notify import NotifyConfig, load_notify_config
from tests.support.clock import VIETNAM, ManualClock
from tests.support.history import SMALL_DEVICES, record_watching
from tests.support.services import MakeRuntime, notifier
from tests.support.smtp import private_smtp_server

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
MIN = 60_000


def local_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=HANOI).timestamp() * 1000)


def _office_reports(tmp_path: Path, inventory: Inventory, report: dict[str, str]) -> NotifyConfig:
    """A notification file with one person in an office team, sent `report` by e-mail."""
    notify_file = tmp_path / "notify.yaml"
    notify_file.write_text(yaml.safe_dump({
        "version": 1,
        "people": [{"id": "chi", "name": "Chị Lan", "contacts": {"email": "lan@stttt.gov.vn"}}],
        "teams": [{"id": "office", "members": ["chi"], "channels": ["email"]}],
        "routes": [{"id": "all", "notify": "office"}],
        "reports": [{**report, "to": ["office"]}],
    }, allow_unicode=True), encoding="utf-8")  # fmt: skip
    return load_notify_config(notify_file, inventory, [], VIETNAM)


def test_a_monthly_report_goes_out_once_with_its_workbook(
    tmp_path: Path,
    small_inventory: Inventory,
    profiles: dict[str, Profile],
    runtimes: MakeRuntime,
) -> None:
    report = {"id": "monthly", "every": "month", "at": "07:00", "by": "commune"}
    config = _office_reports(tmp_path, small_inventory, report)
    catalog = Catalog(profiles, small_inventory)
    clock = ManualClock(local_ms("2026-12-01T07:00"))
    with private_smtp_server(tmp_path) as (port, mailbox, cert):
        settings = load_settings(
            data_dir=tmp_path, inventory=SMALL_INVENTORY, smtp_url=f"smtp://ioc@127.0.0.1:{port}",
            smtp_password="mail-pass", smtp_ca_file=cert, notify_config=config.path,
        )  # fmt: skip

        def office() -> NotifyService:
            return notifier(runtimes(settings, catalog), clock)

        first = office()
        # gw2 out for two hours in November (local time).
        opened = local_ms("2026-11-10T09:00")
        alert = first.alerts.create(
            Alert(0, "netgw.wan_down", "gw2", "netgw", "C2", Severity.CRITICAL, "lossOfSignal",
                  "communicationsAlarm", AlertState.FIRING, "", "", "", "", {}, opened, opened),
            TransitionKind.FIRED, "rules", "",
        )  # fmt: skip
        over = dataclasses.replace(
            alert, state=AlertState.RESOLVED, resolved_at_ms=opened + 120 * MIN
        )
        first.alerts.record(
            [AlertTransition(TransitionKind.RESOLVED, over, opened + 120 * MIN, "rules")]
        )
        watched_until = local_ms("2027-01-02T00:00")
        record_watching(settings.resolved_state_url, opened - 30 * 24 * 60 * MIN, watched_until,
                        SMALL_DEVICES)  # fmt: skip
        first.start()
        first.run_pass()
        first.run_pass()
        first.stop()
        assert len(mailbox.messages) == 1
        second = office()  # a restart later that day: nothing new
        second.start()
        clock.now += 6 * 3600_000
        second.run_pass()
        assert len(mailbox.messages) == 1
        clock.now = local_ms("2027-01-01T07:00")  # December is over
        second.run_pass()
        second.stop()
        assert len(mailbox.messages) == 2
        listed = second.outbox.listing()

    november, december = (
        email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[arg-type]
        for envelope in mailbox.messages
    )
    assert isinstance(november, EmailMessage)
    assert november["To"] == "Chị Lan <lan@stttt.gov.vn>"
    assert november["Subject"] == (
        "Khả dụng theo xã, 2026-11-01 00:00+07:00 đến 2026-12-01 00:00+07:00"
    )
    body = november.get_body(("plain",))
    assert body is not None and "C2" in body.get_content()
    assert "Khả dụng %" in body.get_content()  # the table's headers in the reader's language
    [attachment] = list(november.iter_attachments())
    assert attachment.get_filename() == "monthly-2026-11-01.xlsx"
    sheet = load_workbook(io.BytesIO(attachment.get_content())).active
    assert sheet is not None
    rows = {row[0]: row for row in sheet.iter_rows(min_row=3, values_only=True)}
    # C2: three devices over November's 30 days, 120 minutes out.
    assert rows["C2"][1:7] == ("Xã Hai", 3, round((1 - 120 / (3 * 43200)) * 100, 3), 1, 120, 0)
    assert rows["C1"][3] == 100
    assert "2026-12-01 00:00+07:00 đến 2027-01-01 00:00+07:00" in str(december["Subject"])
    reports = [n for n in listed if n.kind is NotificationKind.REPORT]
    assert [(n.status, n.via) for n in reports] == [(NotificationStatus.SENT, "monthly")] * 2


def test_a_report_whose_telemetry_cannot_be_read_is_retried_not_lost(
    tmp_path: Path,
    small_inventory: Inventory,
    profiles: dict[str, Profile],
    runtimes: MakeRuntime,
) -> None:
    report = {"id": "links", "kind": "links", "every": "week"}
    config = _office_reports(tmp_path, small_inventory, report)
    catalog = Catalog(profiles, small_inventory)
    clock = ManualClock(local_ms("2026-11-30T07:00"))  # a Monday: last week is due
    with private_smtp_server(tmp_path) as (port, mailbox, cert):
        mail = {
            "smtp_url": f"smtp://ioc@127.0.0.1:{port}", "smtp_password": "mail-pass",
            "smtp_ca_file": cert, "data_dir": tmp_path, "inventory": SMALL_INVENTORY,
            "notify_config": config.path,
        }  # fmt: skip
        # The links report's mean loss is read from an InfluxDB nobody answers at.
        away = load_settings(**mail, influx_url="http://127.0.0.1:9", influx_api="v1")
        first = notifier(runtimes(away, catalog), clock)
        first.start()
        first.run_pass()
        first.stop()
        [queued] = [n for n in first.outbox.listing() if n.kind is NotificationKind.REPORT]
        assert queued.status is NotificationStatus.QUEUED
        assert queued.last_error is not None
        assert "the telemetry store cannot answer" in queued.last_error
        assert first.failure is None and mailbox.messages == []
        # Back on a store that answers (the embedded one), after the backoff: sent once.
        answering = load_settings(**mail)
        second = notifier(runtimes(answering, catalog), clock)
        second.start()
        clock.now += 10 * MIN
        second.run_pass()
        second.run_pass()
        second.stop()
        assert len(mailbox.messages) == 1
        [sent] = [n for n in second.outbox.listing() if n.kind is NotificationKind.REPORT]
        assert (sent.status, sent.attempts) == (NotificationStatus.SENT, 2)
