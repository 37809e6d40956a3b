"""A flapping link does not flood the duty phone: the real rules (the bundled set) judge a
gateway whose WAN link drops and returns every minute, the notifier e-mails a real SMTP
server. After the first down/up pair and the flapping notice, its downs and ups are held
(each skipped notification says why) until it has been stable for the rule's 15 minutes;
then the flapping notice's end, and the link still down, are told once."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import yaml

from ioc.app import Catalog, RulesService
from ioc.config import load_settings
from ioc.domain import Inventory, NotificationStatus, Profile, Reading
from tests.rules.harness import NORMAL
from tests.support.clock import ManualClock
from tests.support.services import MakeRuntime, notifier
from tests.support.smtp import private_smtp_server

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
CLASS_OF = {"gw1": "netgw", "gw2": "netgw", "bts1": "bts", "bts2": "bts", "vc1": "vc", "vc2": "vc"}
T0 = 1_795_000_000_000
MIN = 60_000


def test_a_flapping_link_is_told_once_until_it_is_stable(
    tmp_path: Path,
    profiles: dict[str, Profile],
    small_inventory: Inventory,
    runtimes: MakeRuntime,
) -> None:
    notify_file = tmp_path / "notify.yaml"
    notify_file.write_text(yaml.safe_dump({
        "version": 1,
        "people": [{"id": "an", "name": "An", "contacts": {"email": "an@stttt.gov.vn"}}],
        "teams": [{"id": "field", "members": ["an"], "channels": ["email"]}],
        "routes": [{"id": "links", "match": {"class": ["netgw"]}, "notify": "field"}],
        "limits": {"group_wait": "0s", "per_hour": 100},
    }), encoding="utf-8")  # fmt: skip
    catalog = Catalog(profiles, small_inventory)
    clock = ManualClock(T0)
    with private_smtp_server(tmp_path) as (port, mailbox, cert):
        settings = load_settings(
            data_dir=tmp_path, inventory=SMALL_INVENTORY, notify_config=notify_file,
            smtp_url=f"smtp://ioc@127.0.0.1:{port}", smtp_password="mail-pass",
            smtp_ca_file=cert,
        )  # fmt: skip
        runtime = runtimes(settings, catalog)  # one process: the rules and the notifier
        rules = RulesService(runtime, None, clock)
        office = notifier(runtime, clock)
        office.outbox.record([], clock.now, cursor=0)
        rules.start()

        def minute(wan_up: bool) -> None:
            """Every device reports; gw1's link is as given; the rules and the notifier act."""
            for device, device_class in CLASS_OF.items():
                metrics = {**NORMAL[device_class]}
                if device == "gw1":
                    metrics["wan_up"] = wan_up
                rules.observe(Reading(device_class, device, clock.now, metrics))
            rules.sync()
            office.run_pass()
            clock.now += MIN

        try:
            minute(True)
            for wan_up in (False, True, False, True, False, True, False, True, False):
                minute(wan_up)  # flapping from the third change (minute 3) on
            for _ in range(16):
                minute(False)  # down for good: stable after 15 quiet minutes
            sent = [_subject(m.content) for m in mailbox.messages]
            listed = office.outbox.listing(limit=100)
        finally:
            rules.stop()
            office.stop()
    assert sent == [
        "[IOC] SỰ CỐ nghiêm trọng: Mất đường truyền WAN (gw1)",
        "[IOC] ĐÃ HẾT nghiêm trọng: Mất đường truyền WAN (gw1)",
        # Minute 3: down again, the third change: the flapping notice stands for it.
        "[IOC] SỰ CỐ nặng: Đường truyền chập chờn (gw1)",  # a space kept in a long subject
        "[IOC] ĐÃ HẾT nặng: Đường truyền chập chờn (gw1)",  # 15 minutes stable
        "[IOC] SỰ CỐ nghiêm trọng: Mất đường truyền WAN (gw1)",  # ...and still down
    ], sent
    skipped = [n for n in listed if n.status is NotificationStatus.SKIPPED]
    assert len(skipped) == 7  # 4 more downs and 3 ups while it flapped
    assert all(
        n.last_error is not None and "held while gw1 is flapping (alert #" in n.last_error
        for n in skipped
    ), [n.last_error for n in skipped]


def _subject(content: bytes) -> str:
    message = message_from_bytes(content, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return str(message["Subject"])
