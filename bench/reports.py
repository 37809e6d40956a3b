"""A month's availability for a province-sized fleet, beside a plain SQL aggregate in the same run.

  state database (PostgreSQL, a throwaway database) <- N outage alerts over 30 days, and what
  ioc watched (a spell a day, a minute lost at each restart; every device heard)

Measured: `availability_report` (reading the outage alerts with their first acknowledgement,
the windows and the watch spells, then merging overlaps, cutting to watched time and setting
maintenance apart per device, grouped by area)
against one SQL statement summing each device's raw alert durations over the same rows (no
overlaps merged, no maintenance, no areas): the floor of what reading the rows costs.
Usage: python bench/reports.py [--devices 100000] [--outages 200000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text  # noqa: E402

from ioc.app import Runtime, availability_report, load_catalog  # noqa: E402
from ioc.config import load_settings  # noqa: E402
from ioc.inventory import FleetShape, generate_inventory, write_inventory  # noqa: E402
from ioc.reports import Period, Scope  # noqa: E402
from ioc.state import WatchLog, connect_state  # noqa: E402
from ioc.state._alert_tables import alert_table, maintenance_window_table  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DAY = 86_400_000
T0 = 1_793_491_200_000  # 2026-11-01T00:00Z


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--outages", type=int, default=200_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ioc-bench-reports-"))
    inventory_file = folder / "inventory.json"
    write_inventory(generate_inventory(FleetShape.for_device_count(args.devices)), inventory_file)
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        settings = load_settings(state_url=url, inventory=inventory_file, data_dir=folder)
        catalog = load_catalog(settings)
        devices = list(catalog.inventory.devices.values())
        engine = connect_state(url)
        rng = random.Random(16)
        rows = []
        for _ in range(args.outages):
            device = rng.choice(devices)
            opened = T0 + rng.randrange(30 * DAY)
            rows.append({
                "rule_id": "device.down", "device_id": device.id,
                "device_class": device.device_class, "area_id": device.area_id,
                "severity": "critical", "probable_cause": "lossOfSignal",
                "event_type": "communicationsAlarm", "state": "resolved", "title_vi": "",
                "title_en": "", "message_vi": "", "message_en": "", "facts": "{}",
                "opened_at_ms": opened, "updated_at_ms": opened,
                "resolved_at_ms": opened + rng.randrange(4 * 3_600_000), "silenced": False,
            })  # fmt: skip
        windows = [
            {"scope": "area", "target": rng.choice(list(catalog.inventory.areas)),
             "starts_at_ms": T0 + day * DAY, "ends_at_ms": T0 + day * DAY + 4 * 3_600_000,
             "reason": "planned", "created_by": "bench"}
            for day in range(30)
        ]  # fmt: skip
        with engine.begin() as connection:
            connection.execute(insert(alert_table), rows)
            connection.execute(insert(maintenance_window_table), windows)
        # ioc watched the whole month, with a restart a day (30 spells), every device heard.
        watch = WatchLog(engine)
        for day in range(30):
            watch.extend(watch.begin(T0 + day * DAY), T0 + (day + 1) * DAY - 60_000)
        watch.heard({device.id: T0 - DAY for device in devices})
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
        print(
            f"{len(devices):,} devices, {len(rows):,} outages, 30 windows over 30 days", flush=True
        )
        period = Period(T0, T0 + 30 * DAY)
        plain = "SELECT device_id, sum(least(resolved_at_ms, :end) - greatest(opened_at_ms, :start)) FROM alert WHERE rule_id = 'device.down' AND opened_at_ms < :end AND resolved_at_ms > :start GROUP BY device_id"  # noqa: E501
        timings: dict[str, list[float]] = {"sql": [], "report": []}
        runtime = Runtime(settings, catalog)  # one per process, as the API holds it
        for _ in range(3):
            began = time.perf_counter()
            with engine.connect() as connection:
                summed = connection.execute(
                    text(plain), {"start": period.start_ms, "end": period.end_ms}
                ).all()
            timings["sql"].append(time.perf_counter() - began)
            began = time.perf_counter()
            report = availability_report(runtime, period, Scope(), "district")
            timings["report"].append(time.perf_counter() - began)
        runtime.close()
        engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    sql, full = min(timings["sql"]), min(timings["report"])
    print(f"  plain SQL sum per device ({len(summed):,} rows): {sql:6.2f} s")
    print(f"  availability by district ({len(report)} groups):   {full:6.2f} s")
    print(f"  report / plain SQL: {full / sql:.1f}x (best of 3 each)")


if __name__ == "__main__":
    main()
