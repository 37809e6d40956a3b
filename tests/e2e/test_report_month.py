"""A month of history made through the real pipeline on a driven clock, then every report figure
checked against the script's own arithmetic.

Scripted devices publish wire-protocol reports to a real Mosquitto every 30 minutes of November
(and at the extra moments their faults need); `ioc run`'s ingest stores them and feeds the rules
on the same driven clock; alerts, acknowledgements, maintenance windows and a meeting go to the
state database. On SQLite (state and embedded telemetry store), and on PostgreSQL with the
telemetry in InfluxDB. The clock stands still at each moment until the rules have judged all
that was published at it, so each alert opens and closes at a moment the script knows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ioc.app import (
    Catalog,
    MeetingDesk,
    RulesService,
    Runtime,
    Stages,
    add_ingest,
    add_rules,
    availability_report,
    ingest_hearing,
    load_catalog,
    report_rows,
)
from ioc.broker import MosquittoProcess
from ioc.config import Settings, load_settings
from ioc.domain import AlertAction, Caller, MaintenanceWindow, WindowScope
from ioc.reports import Period, Scope
from ioc.state import AlertRepository, connect_state
from tests.rules.harness import NORMAL, fast_rules
from tests.support.clock import ManualClock
from tests.support.influx import InfluxProcess
from tests.support.mqtt import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = 1_793_491_200_000  # 2026-11-01T00:00Z
NOVEMBER = Period(T0, T0 + 30 * DAY)
EVERY = HOUR  # how often each device reports
# device.down opens this long after a device's last report: past its next report, as in the
# shipped profiles (a deadline on the very moment of the next report would race it).
ABSENCE = 75 * MIN
# The rules' timers run at each moment before its reports and again this long after them: the
# meetings check (every 10 s) sees a point ready 10 s after the report that says so.
AFTER_REPORTS = 10_000
CLASS_OF = {"gw1": "netgw", "gw2": "netgw", "bts1": "bts", "bts2": "bts", "vc1": "vc", "vc2": "vc"}
BTS2_SINCE = T0 + 15 * DAY  # bts2 enters the inventory (and starts reporting) on 16 November


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> int:
    """A moment of November (day 1 is the 1st)."""
    return T0 + (day - 1) * DAY + hour * HOUR + minute * MIN + second * 1000


# -- the script ------------------------------------------------------------------------------
# Every device reports on the hour; where a fault needs it, one reports between.
# gw2: its WAN down 3 Nov 10:00-11:30 (a window 11:00-12:00 covers 30 minutes; acknowledged
#      at 10:20), and flapping 10 Nov 08:00-08:06 (down 08:00-08:02 and 08:04-08:06).
# gw1: 2 % loss 5 Nov 08:00-12:00, none otherwise; gw2 always 0.5 %.
# vc2: silent 15 Nov after 06:00 until 09:00 (down from 07:15). Before the meeting of 25 Nov
#      08:00-09:30 not registered at 07:00 and 07:40; registered and in the call at 08:00, then
#      silent until 10:00 (down from 09:15).
# vc1: in the meeting with loss 0.5 / 2.0 / 1.0 %, jitter 10 / 25 / 12 ms, MOS 4.2 / 3.9 / 4.1.
# bts1: mains lost 20 Nov 14:00-18:00: on battery (discharging) until the generator starts at
#      15:00, battery 51.0 V then 48.2 V.
# bts2: reports from 16 Nov only (its `since:` in the inventory).
WAN_DOWN = (at(3, 10), at(3, 11, 30))
WINDOW = (at(3, 11), at(3, 12))
ACK_AT = at(3, 10, 20)
FLAPS = {at(10, 8): False, at(10, 8, 2): True, at(10, 8, 4): False, at(10, 8, 6): True}
GW1_LOSSY = (at(5, 8), at(5, 12))
VC2_SILENT = (at(15, 6), at(15, 9))  # last report, first report again
MEETING = (at(25, 8), at(25, 9, 30))
VC2_UNREGISTERED = (at(25, 7), at(25, 7, 40))
VC2_BACK = at(25, 10)
VC1_CALL = {  # loss %, jitter ms, MOS
    at(25, 8): (0.5, 10.0, 4.2), at(25, 8, 30): (2.0, 25.0, 3.9), at(25, 9): (1.0, 12.0, 4.1),
}  # fmt: skip
MAINS_LOST = (at(20, 14), at(20, 18))
GENERATOR_FROM = at(20, 15)
BATTERY = {at(20, 14): 51.0, at(20, 15): 48.2}
# Reports between the hourly ones.
EXTRA = {
    **{moment: "gw2" for moment in FLAPS}, WAN_DOWN[1]: "gw2",
    VC2_UNREGISTERED[1]: "vc2", at(25, 8, 30): "vc1",
}  # fmt: skip


def metrics_of(device: str, moment: int) -> dict[str, object] | None:
    """What a device reports at a moment; None when it is silent."""
    values: dict[str, object] = dict(NORMAL[CLASS_OF[device]])
    if device in ("gw1", "gw2"):
        values["uptime_s"] = 100_000.0 + (moment - T0) / 1000
        lossy = device == "gw1" and GW1_LOSSY[0] <= moment <= GW1_LOSSY[1]
        values["loss_pct"] = 0.5 if device == "gw2" else (2.0 if lossy else 0.0)
    if device == "gw2":
        values["wan_up"] = FLAPS.get(moment, not WAN_DOWN[0] <= moment < WAN_DOWN[1])
    if device == "bts1" and MAINS_LOST[0] <= moment < MAINS_LOST[1]:
        generator = moment >= GENERATOR_FROM
        values |= {"mains_ok": False, "mains_v": 0.0, "genset_on": generator,
                   "battery_a": 5.0 if generator else -10.0,
                   "battery_v": BATTERY.get(moment, 52.0)}  # fmt: skip
    if device == "bts2" and moment < BTS2_SINCE:
        return None
    if device.startswith("vc"):
        values |= {"jitter_ms": 5.0, "loss_pct": 0.0}
    if device == "vc1" and moment in VC1_CALL:
        loss, jitter, mos = VC1_CALL[moment]
        values |= {"in_call": True, "loss_pct": loss, "jitter_ms": jitter, "mos": mos}
    if device == "vc2":
        if VC2_SILENT[0] < moment < VC2_SILENT[1] or MEETING[0] < moment < VC2_BACK:
            return None
        if moment in VC2_UNREGISTERED:
            values["registered"] = False
        if moment == MEETING[0]:
            values |= {"in_call": True, "loss_pct": 0.2, "jitter_ms": 8.0, "mos": 4.0}
    return values


@dataclass
class Script:
    """Every moment the clock stops at, what is published then, and what a person does."""

    reports: dict[int, list[tuple[str, dict[str, object]]]] = field(default_factory=dict)
    actions: dict[int, Callable[[], None]] = field(default_factory=dict)
    ticks: set[int] = field(default_factory=set)  # moments with nothing published (timers)

    @property
    def moments(self) -> list[int]:
        return sorted(set(self.reports) | set(self.actions) | self.ticks)

    def readings(self, device: str, metric: str) -> list[float]:
        """The values of a metric a device published in November."""
        return [
            float(values[metric])  # type: ignore[arg-type]
            for moment, published in self.reports.items()
            if NOVEMBER.start_ms <= moment < NOVEMBER.end_ms
            for name, values in published
            if name == device and metric in values
        ]


def november_script() -> Script:
    script = Script()
    regular = set(range(T0 - 2 * EVERY, NOVEMBER.end_ms + EVERY, EVERY))
    for moment in sorted(regular | set(EXTRA)):
        for device in CLASS_OF:
            if moment not in regular and EXTRA[moment] != device:
                continue
            values = metrics_of(device, moment)
            if values is not None:
                script.reports.setdefault(moment, []).append((device, values))
    # Moments for the timers: the rules' `for:` (30 s on battery, 60 s mains), silences
    # reaching ABSENCE, the meeting's T-15 and its end.
    script.ticks |= {MAINS_LOST[0] + 30_000, MAINS_LOST[0] + MIN}
    script.ticks |= {VC2_SILENT[0] + ABSENCE, MEETING[0] + ABSENCE}
    script.ticks |= {MEETING[0] - 15 * MIN, MEETING[1]}
    return script


# -- the world -------------------------------------------------------------------------------


class Month:
    """`ioc run` without its API on a driven clock, fed by scripted devices over MQTT."""

    def __init__(self, settings: Settings, port: int) -> None:
        self.settings = settings
        self.catalog: Catalog = load_catalog(settings)
        self.clock = ManualClock(T0 - 3 * EVERY)
        self.runtime = Runtime(settings, self.catalog)
        stages = Stages.over(self.runtime)
        self.rules: RulesService = add_rules(stages, self.clock)
        ingest = add_ingest(stages, [self.rules.observe], clock=self.clock)
        self.rules.hearing = ingest_hearing(ingest)
        self.ingest = ingest
        self._supervisor = stages.supervisor()
        self._stop = threading.Event()
        self.code: int | None = None
        self._thread = threading.Thread(target=self._run)
        self._thread.start()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="scripted-devices")
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        self._seq: dict[str, int] = {}
        self.published = 0
        wait_until(lambda: ingest.consumer.connected, 30, "ingest subscribed")

    def _run(self) -> None:
        self.code = self._supervisor.run(self._stop.is_set)

    def play(self, script: Script) -> None:
        """Stop the clock at each moment: what a person does, the rules' timers, the reports
        (waiting until the rules judged them all), and the timers again AFTER_REPORTS later."""
        for moment in script.moments:
            self.clock.now = moment
            if moment in script.actions:
                script.actions[moment]()
            self.rules.sync()  # the timers due now, before the moment's reports
            reports = script.reports.get(moment, [])
            for device, values in reports:
                seq = self._seq[device] = self._seq.get(device, 0) + 1
                payload = orjson.dumps({"ts": moment, "seq": seq, "metrics": values})
                self._client.publish(f"ioc/{CLASS_OF[device]}/{device}/telemetry", payload, qos=1)
                self.published += 1
            if reports:
                self._judged(self.published)
                self.clock.now = moment + AFTER_REPORTS
                self.rules.sync()

    def _judged(self, items: int) -> None:
        deadline = time.monotonic() + 30
        while self.rules.engine.stats.items < items:
            if time.monotonic() > deadline:
                raise AssertionError(f"the rules judged {self.rules.engine.stats.items}/{items}")
            time.sleep(0.0005)

    def stop(self) -> int | None:
        self._client.disconnect()
        self._client.loop_stop()
        self._stop.set()
        self._thread.join(60)
        return self.code


@pytest.fixture
def settings(
    request: pytest.FixtureRequest, state_url: str, mosquitto: MosquittoProcess, tmp_path: Path
) -> Settings:
    """SQLite state with the embedded telemetry store; PostgreSQL state with InfluxDB."""
    inventory = tmp_path / "inventory.yaml"
    text = SMALL_INVENTORY.read_text(encoding="utf-8")
    inventory.write_text(
        text.replace("depends_on: [gw2]}", "depends_on: [gw2], since: 2026-11-16}", 1),
        encoding="utf-8",
    )
    telemetry: dict[str, Any] = {}
    if state_url.startswith("postgresql"):
        influxd: InfluxProcess = request.getfixturevalue("influxd")
        telemetry = {
            "influx_url": influxd.url,
            "influx_db": request.getfixturevalue("influx_db"),
            "influx_api": "v1",
        }
    return load_settings(
        mqtt_url=mosquitto.url,
        data_dir=tmp_path / "data",
        inventory=inventory,
        rules_dir=fast_rules(tmp_path / "rules", f"{ABSENCE // MIN}m", "60s"),
        state_url=state_url,
        batch_interval_s=0.01,
        **telemetry,
    )


@pytest.fixture
def month(settings: Settings, mosquitto: MosquittoProcess) -> Iterator[Month]:
    world = Month(settings, mosquitto.port)
    yield world
    world.stop()
    world.runtime.close()  # the reports read after the stop opened it again


def test_a_month_through_the_pipeline_gives_the_scripts_figures(
    month: Month, settings: Settings
) -> None:
    script = november_script()
    repository = AlertRepository(connect_state(settings.resolved_state_url))
    desk = MeetingDesk(month.runtime)
    meeting = desk.plan(
        "Giao ban tỉnh",
        MEETING[0],
        MEETING[1] - MEETING[0],
        Caller("op", "cli ioc-1"),
        points=["vc1", "vc2"],
        now_ms=month.clock.now,
    )
    repository.add_window(
        MaintenanceWindow(0, WindowScope.DEVICE, "gw2", *WINDOW, "cáp quang", "op")
    )

    def acknowledge() -> None:
        [wan_down] = [a for a in repository.open_alerts() if a.rule_id == "netgw.wan_down"]
        repository.request(wan_down.id, AlertAction.ACKNOWLEDGE, "op", "on it", ACK_AT)

    script.actions[ACK_AT] = acknowledge
    month.play(script)
    assert month.stop() == 0
    assert month.ingest.stats.stored == month.published  # every report stored

    # -- availability (device.down and netgw.wan_down are the outage rules) ----------------
    rows = {a.key: a.row() for a in availability_report(month.runtime, NOVEMBER, Scope(), "device")}
    month_min = 30 * 24 * 60
    # gw2: 90 minutes down, 30 of them in the window; two flaps of 2 minutes.
    gw2_out, gw2_maintenance = (90 - 30) + 2 + 2, 30
    assert rows["gw2"] == {
        "group": "gw2", "name": "Cổng xã Hai", "devices": 1,
        "availability_pct": round((1 - gw2_out / (month_min - gw2_maintenance)) * 100, 3),
        "outages": 3, "outage_min": gw2_out, "maintenance_min": gw2_maintenance,
        "counted_min": month_min, "unmonitored_min": 0.0, "mtta_min": 20.0, "mtta_outages": 1,
        "mttr_min": round((90 + 2 + 2) / 3, 2), "mttr_outages": 3,
    }  # fmt: skip
    # vc2: down from 75 minutes after its last report until it reported again: 15 Nov
    # 07:15-09:00, 25 Nov 09:15-10:00 (never acknowledged).
    vc2_out = 105 + 45
    assert rows["vc2"] == {
        "group": "vc2", "name": "Điểm cầu xã Hai", "devices": 1,
        "availability_pct": round((1 - vc2_out / month_min) * 100, 3),
        "outages": 2, "outage_min": vc2_out, "maintenance_min": 0, "counted_min": month_min,
        "unmonitored_min": 0.0, "mtta_min": None, "mtta_outages": 0,
        "mttr_min": round((105 + 45) / 2, 2), "mttr_outages": 2,
    }  # fmt: skip
    # bts2 counts from 16 November: its silence before (device.down) is not held against it.
    assert rows["bts2"]["counted_min"] == 15 * 24 * 60
    assert (rows["bts2"]["outages"], rows["bts2"]["availability_pct"]) == (0, 100.0)
    for device in ("gw1", "bts1", "vc1"):
        assert (rows[device]["outages"], rows[device]["availability_pct"]) == (0, 100.0)
    [everything] = availability_report(month.runtime, NOVEMBER, Scope(), "all")
    counted = 5 * month_min + 15 * 24 * 60
    assert everything.row()["availability_pct"] == round(
        (1 - (gw2_out + vc2_out) / (counted - gw2_maintenance)) * 100, 3
    )

    # -- online at a moment ----------------------------------------------------------------
    moment = Period(at(15, 8), at(15, 8) + 1)
    [vc] = availability_report(month.runtime, moment, Scope(device_class="vc"), "all")
    assert vc.moment_row() == {"group": "all", "name": "all", "devices": 2, "online": 1, "out": 1,
                               "in_maintenance": 0, "no_data": 0}  # fmt: skip

    # -- links: most drops first, flapping episodes, mean loss from telemetry ---------------
    links = report_rows(month.runtime, "links", NOVEMBER, Scope(), "device")
    assert [row["group"] for row in links] == ["gw2", "gw1"]
    assert (links[0]["outages"], links[0]["flapping_episodes"]) == (3, 1)
    for row in links:
        losses = script.readings(str(row["group"]), "loss_pct")
        assert row["mean_loss_pct"] == round(sum(losses) / len(losses), 2)

    # -- BTS power: the `for:` timers of the rules (60 s mains, 30 s on battery) ------------
    power = {
        row["group"]: row
        for row in report_rows(month.runtime, "power", NOVEMBER, Scope(), "device")
    }
    mains_h = (MAINS_LOST[1] - (MAINS_LOST[0] + MIN)) / HOUR
    battery_h = (GENERATOR_FROM - (MAINS_LOST[0] + 30_000)) / HOUR
    generator_h = (MAINS_LOST[1] - GENERATOR_FROM) / HOUR
    assert power["bts1"] == {
        "group": "bts1", "name": "BTS Một", "devices": 1,
        "mains_failures": 1, "mains_failures_h": round(mains_h, 2),
        "on_battery": 1, "on_battery_h": round(battery_h, 2),
        "generator": 1, "generator_h": round(generator_h, 2),
        "lowest_battery_v": min(script.readings("bts1", "battery_v")),
    }  # fmt: skip
    assert power["bts1"]["lowest_battery_v"] == 48.2
    assert (power["bts2"]["mains_failures"], power["bts2"]["lowest_battery_v"]) == (0, 53.5)

    # -- the meeting -----------------------------------------------------------------------
    fired = [
        (a.rule_id, a.device_id, a.opened_at_ms, a.resolved_at_ms)
        for a in repository.list_alerts(limit=100)
        if a.rule_id == "meeting.point_not_ready"
    ]
    # Not registered from 07:40 (two reports): not ready at T-15, ready at the first check
    # after it registers; down from 09:15 during the meeting: not ready until it is over.
    assert sorted(fired) == [
        ("meeting.point_not_ready", "vc2", MEETING[0] - 15 * MIN, MEETING[0] + AFTER_REPORTS),
        ("meeting.point_not_ready", "vc2", MEETING[0] + ABSENCE, MEETING[1]),
    ]
    _meeting, report = desk.report(meeting.id, month.clock.now)
    assert report == [
        {"point": "vc1", "connected_min": 90.0, "meeting_min": 90.0, "drops": 0,
         "out_min": 0.0, "no_data_min": 0.0, "quality_alerts": 1,  # vc.call_loss: 2 % at 08:30
         "worst_loss_pct": 2.0, "worst_jitter_ms": 25.0, "lowest_mos": 3.9},
        {"point": "vc2", "connected_min": 75.0, "meeting_min": 90.0, "drops": 1,
         "out_min": 15.0, "no_data_min": 0.0, "quality_alerts": 0,
         "worst_loss_pct": 0.2, "worst_jitter_ms": 8.0, "lowest_mos": 4.0},
    ]  # fmt: skip
    repository.close()
