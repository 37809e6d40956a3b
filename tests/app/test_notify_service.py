"""The notifier service over a real state database and a real HTTP receiver: it starts after the
history, follows the alert log, and a restart mid-delivery neither loses nor repeats a message."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml

from ioc.app import Catalog, NotifyService, build_senders
from ioc.config import load_settings
from ioc.domain import Alert, AlertState, Inventory, NotificationStatus, Profile, Severity
from ioc.domain import TransitionKind as Kind
from ioc.notify import NotifyConfig, NotifyConfigError, load_notify_config
from tests.support.clock import VIETNAM, ManualClock
from tests.support.http_receiver import HttpReceiver
from tests.support.services import MakeRuntime, notifier

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
T0 = 1_793_520_000_000


def _config(path: Path, receiver: HttpReceiver, inventory: Inventory) -> NotifyConfig:
    document = {
        "version": 1,
        "people": [{"id": "an", "name": "An", "contacts": {"webhook": f"{receiver.url}/an"}}],
        "teams": [{"id": "field", "members": ["an"], "channels": ["webhook"]}],
        "routes": [
            {"id": "all", "notify": "field", "escalate": [{"after": "10m", "notify": "field"}]}
        ],
        "limits": {"group_wait": "0s"},
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return load_notify_config(path, inventory, [], VIETNAM)


def _fire(service: NotifyService, inventory: Inventory, device: str, at: int) -> Alert:
    d = inventory.devices[device]
    alert = Alert(
        0, "bts.door_open", device, d.device_class, d.area_id, Severity.MAJOR, "x", "y",
        AlertState.FIRING, "Cửa mở", "Door open", "m", "m", {}, at, at,
    )  # fmt: skip
    return service.alerts.create(alert, Kind.FIRED, "rules", "")


def test_a_restart_mid_delivery_neither_loses_nor_repeats(
    tmp_path: Path,
    receiver: HttpReceiver,
    small_inventory: Inventory,
    profiles: dict[str, Profile],
    runtimes: MakeRuntime,
) -> None:
    _config(tmp_path / "notify.yaml", receiver, small_inventory)
    settings = load_settings(
        data_dir=tmp_path, inventory=SMALL_INVENTORY, notify_webhook_secret="s3cret",
        notify_config=tmp_path / "notify.yaml",
    )  # fmt: skip
    catalog = Catalog(profiles, small_inventory)
    clock = ManualClock(T0)

    def service() -> NotifyService:
        return notifier(runtimes(settings, catalog), clock)

    first = service()
    before = _fire(first, small_inventory, "bts1", clock.now)
    first.start()  # the first start begins after the history: `before` is not news
    first.stop()
    first = service()
    first.start()
    receiver.stop()
    after = _fire(first, small_inventory, "bts2", clock.now)
    first.run_pass()  # the receiver is away: queued for a retry
    [queued] = first.outbox.listing()
    assert (queued.alert_id, queued.status, queued.attempts) == (
        after.id, NotificationStatus.QUEUED, 1,
    )  # fmt: skip
    first.stop()

    receiver.start()
    second = service()
    second.start()
    clock.now += 60_000
    second.run_pass()
    second.run_pass()
    second.stop()
    assert [orjson.loads(r.body)["alert_id"] for r in receiver.received] == [after.id]
    assert before.id != after.id


def test_a_channel_without_its_settings_is_a_clear_error(
    tmp_path: Path, receiver: HttpReceiver, small_inventory: Inventory
) -> None:
    config = _config(tmp_path / "notify.yaml", receiver, small_inventory)
    settings = load_settings(data_dir=tmp_path)
    with pytest.raises(
        NotifyConfigError, match="teams use webhook needs IOC_NOTIFY_WEBHOOK_SECRET"
    ):
        build_senders(settings, config, None)


def test_an_escalation_is_sent_once_however_many_passes_see_it_due(
    tmp_path: Path,
    receiver: HttpReceiver,
    small_inventory: Inventory,
    profiles: dict[str, Profile],
    runtimes: MakeRuntime,
) -> None:
    _config(tmp_path / "notify.yaml", receiver, small_inventory)
    settings = load_settings(
        data_dir=tmp_path, notify_webhook_secret="s3cret", notify_config=tmp_path / "notify.yaml"
    )
    clock = ManualClock(T0)
    service = notifier(runtimes(settings, Catalog(profiles, small_inventory)), clock)
    service.outbox.record([], clock.now, cursor=0)
    _fire(service, small_inventory, "bts1", clock.now)
    service.run_pass()
    clock.now += 11 * 60_000
    for _ in range(3):
        service.run_pass()
        clock.now += 1000
    service.stop()
    kinds = [orjson.loads(r.body)["kind"] for r in receiver.received]
    assert kinds == ["fired", "escalated"]
