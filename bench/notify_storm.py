"""A province-wide storm through the notifier: alerts planned from the log and delivered to a
real HTTP receiver, with the hourly limit holding most back.

Baseline in the same run: recording the same number of notifications straight into the outbox
(one SQLite transaction each), the floor any planner has to pay.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ioc.app import Catalog, NotifyService, build_senders
from ioc.config import load_settings
from ioc.domain import (
    DEFAULT_ZONE,
    Alert,
    AlertState,
    NotificationKind,
    NotificationStatus,
    PlannedNotification,
    Severity,
    zone_named,
)
from ioc.domain import TransitionKind as Kind
from ioc.inventory import (
    FleetShape,
    bundled_profiles_dir,
    generate_inventory,
    load_inventory,
    load_profiles,
    write_inventory,
)
from ioc.notify import load_notify_config
from ioc.state import Outbox, connect_state
from tests.support.clock import ManualClock
from tests.support.http_receiver import HttpReceiver


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=5_000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ioc-bench-notify-"))
    profiles = load_profiles(bundled_profiles_dir())
    write_inventory(generate_inventory(FleetShape.for_device_count(20_000), 7), workdir / "i.json")
    inventory = load_inventory(workdir / "i.json", profiles, zone_named(DEFAULT_ZONE))
    receiver = HttpReceiver()
    receiver.start()
    people = [f"eng{i}" for i in range(10)]
    notify_file = workdir / "notify.yaml"
    notify_file.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "people": [
                    {"id": p, "name": p, "contacts": {"webhook": f"{receiver.url}/{p}"}}
                    for p in people
                ],
                "teams": [{"id": "province", "members": people, "channels": ["webhook"]}],
                "routes": [{"id": "all", "notify": "province"}],
                "limits": {"per_hour": 20, "group_wait": "0s"},
            }
        ),
        encoding="utf-8",
    )
    settings = load_settings(
        data_dir=workdir, notify_config=notify_file, notify_webhook_secret="bench"
    )
    config = load_notify_config(notify_file, inventory, [])
    clock = ManualClock(1_800_000_000_000)
    service = NotifyService(
        settings, Catalog(profiles, inventory), config,
        build_senders(settings, config, None), clock,
    )  # fmt: skip
    # Not start(): its background passes would race this bench's own; from the log's start.
    service.outbox.record([], clock.now, cursor=0)
    devices = list(inventory.devices.values())[: args.alerts]
    for i, device in enumerate(devices):
        alert = Alert(
            0, "storm", device.id, device.device_class, device.area_id, Severity.MAJOR, "x",
            "y", AlertState.FIRING, "Mất kết nối", "Down", "m", "m", {}, clock.now, clock.now,
        )  # fmt: skip
        service.alerts.create(alert, Kind.FIRED, "bench", str(i))
    expected = args.alerts * len(people)
    started = time.perf_counter()
    service.run_pass()  # plans every transition, then the first delivery batch
    plan_s = time.perf_counter() - started
    started = time.perf_counter()
    while service.outbox.due(clock.now):
        service.run_pass()
    deliver_s = time.perf_counter() - started
    statuses = [n.status for n in service.outbox.listing(limit=expected + 100)]
    service.stop()

    baseline = Outbox(connect_state(f"sqlite:///{workdir / 'baseline.db'}"))
    started = time.perf_counter()
    for i in range(expected):
        planned = PlannedNotification(f"k{i}", NotificationKind.FIRED, i, "p", "webhook", 0, "v")
        baseline.record([planned], 0)
    baseline_s = time.perf_counter() - started
    receiver.stop()

    per_plan = plan_s / expected * 1e6
    per_deliver = deliver_s / expected * 1e6
    per_baseline = baseline_s / expected * 1e6
    print(
        f"bench: {args.alerts:,} alerts x {len(people)} engineers = {expected:,} notifications\n"
        f"  baseline: one outbox insert per transaction  {per_baseline:8.1f} us each\n"
        f"  planned from the alert log (batched)          {per_plan:8.1f} us each "
        f"({per_plan / per_baseline:.2f}x)\n"
        f"  delivered or held by the limit                {per_deliver:8.1f} us each "
        f"({per_deliver / per_baseline:.2f}x)\n"
        f"  sent {statuses.count(NotificationStatus.SENT):,}, "
        f"held {statuses.count(NotificationStatus.HELD):,}, "
        f"messages received {len(receiver.received):,} "
        f"({len(receiver.received) / len(people):.0f} per engineer)",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
