"""The port poller against simulated controllers on a pty: schedules, offline and back, backoff,
refused values, a controller that restarts and a port that is not there."""

from __future__ import annotations

import itertools
import logging
import random
import re
import time
from dataclasses import dataclass, field

import pytest

from firmware_sim.modbus import LineFault, LineSettings, PtyLine, RtuSlave, SiteController
from ioc.gateway import ControllerConfig, PortPoller, RegisterMap
from tests.gateway.conftest import BAUD, port_config
from tests.support.mqtt import wait_until


@dataclass
class RecordingSink:
    """What a poller hands on, in order."""

    readings: list[tuple[str, int, dict[str, object]]] = field(default_factory=list)
    statuses: list[tuple[str, bool]] = field(default_factory=list)

    def reading(self, controller: ControllerConfig, ts_ms: int, metrics: dict[str, object]) -> None:
        self.readings.append((controller.device_id, ts_ms, metrics))

    def status(self, controller: ControllerConfig, online: bool) -> None:
        self.statuses.append((controller.device_id, online))

    def count(self, device_id: str) -> int:
        return sum(1 for reading in self.readings if reading[0] == device_id)


def run_poller(poller: PortPoller) -> PortPoller:
    poller.start()
    return poller


def test_controllers_are_polled_and_published_on_their_schedule(
    line: PtyLine, slave: RtuSlave, site_map: RegisterMap
) -> None:
    sink = RecordingSink()
    # Answers may take long on a loaded machine (the controllers are threads of this process):
    # no poll here may fail, so none may time out for want of a CPU.
    config = port_config(line.gateway_path, site_map, {1: "bts-a", 2: "bts-b"}, timeout_s=2.0)
    poller = run_poller(PortPoller(config, sink))
    try:
        wait_until(lambda: sink.count("bts-a") >= 5 and sink.count("bts-b") >= 5, 10)
    finally:
        poller.stop()
    assert sink.statuses[:2] == [("bts-a", True), ("bts-b", True)]
    device, ts_ms, metrics = sink.readings[0]
    assert abs(ts_ms - time.time() * 1000) < 10_000
    assert metrics["battery_v"] == pytest.approx(
        slave.snapshot(1 if device == "bts-a" else 2)["battery_v"], abs=0.006
    )
    stamps = [ts for name, ts, _ in sink.readings if name == "bts-a"]
    assert stamps == sorted(stamps)
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) >= 150  # every 0.2 s, not as fast as the line allows
    assert poller.counters["polls_failed"] == 0
    assert not poller.thread.is_alive()


def test_a_silent_controller_goes_offline_once_is_backed_off_and_comes_back(
    line: PtyLine, slave: RtuSlave, site_map: RegisterMap, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ioc.gateway")
    sink = RecordingSink()
    poller = run_poller(
        # 0.1 s to answer: the backoff below is counted in polls of a silent unit.
        PortPoller(
            port_config(line.gateway_path, site_map, {1: "bts-a", 2: "bts-b"}, timeout_s=0.1),
            sink,
        )
    )
    try:
        wait_until(lambda: sink.count("bts-a") >= 2, 10)
        slave.set_line_fault(1, LineFault.SILENT)
        wait_until(lambda: ("bts-a", False) in sink.statuses, 10, "unit 1 reported offline")
        asked_when_offline = slave.counters.faults_injected["silent"]
        b_before, began = sink.count("bts-b"), time.monotonic()
        time.sleep(3.0)  # real time on a real line: 15 polls' worth at 0.2 s
        asked_while_offline = slave.counters.faults_injected["silent"] - asked_when_offline
        # The other unit kept its rhythm: at least half the polls of a 0.2 s cycle in the time
        # that passed (a loaded machine stretches every cycle, and once failed a fixed 10).
        polls_due = (time.monotonic() - began) / 0.2
        assert sink.count("bts-b") - b_before >= polls_due / 2, (sink.count("bts-b"), polls_due)
        slave.set_line_fault(1, LineFault.SILENT, active=False)
        wait_until(lambda: sink.statuses[-1] == ("bts-a", True), 10, "unit 1 back online")
    finally:
        poller.stop()
    # Backoff 0.4, 0.8, 1.6, 1.6 s while offline instead of a poll every 0.2 s.
    assert 2 <= asked_while_offline <= 6
    assert sink.statuses.count(("bts-a", False)) == 1
    assert poller.counters["timeouts"] >= 2
    offline_lines = [r for r in caplog.records if "offline after" in r.getMessage()]
    back_lines = [r for r in caplog.records if "answers again" in r.getMessage()]
    assert len(offline_lines) == 1 and len(back_lines) == 1
    # The line names the unit and its last failure: no answer, or, on a loaded machine, the
    # other unit's reply arriving after the 0.1 s timeout (garbage for unit 1's request).
    said = offline_lines[0].getMessage()
    assert "(unit 1 on " in said and "offline after 2 failed polls" in said, said
    assert re.search(r"no answer from unit 1|bytes of garbage instead of a reply from unit 1", said)


def test_a_controller_that_restarts_is_found_again(line: PtyLine, site_map: RegisterMap) -> None:
    first = RtuSlave(line, [SiteController(1, random.Random(1))], LineSettings(baudrate=BAUD))
    first.start()
    sink = RecordingSink()
    poller = run_poller(PortPoller(port_config(line.gateway_path, site_map, {1: "bts-a"}), sink))
    try:
        wait_until(lambda: sink.count("bts-a") >= 2, 10)
        first.stop()  # power cycle: nothing answers for a while
        wait_until(lambda: ("bts-a", False) in sink.statuses, 10, "offline while it is away")
        second = RtuSlave(line, [SiteController(1, random.Random(9))], LineSettings(baudrate=BAUD))
        second.start()
        count = sink.count("bts-a")
        wait_until(lambda: sink.count("bts-a") > count, 10, "readings after the restart")
        second.stop()
    finally:
        poller.stop()
    assert sink.statuses == [("bts-a", True), ("bts-a", False), ("bts-a", True)]


def test_an_absurd_raw_value_is_refused_and_the_rest_published(
    line: PtyLine, slave: RtuSlave, site_map: RegisterMap, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ioc.gateway")
    sink = RecordingSink()
    poller = run_poller(PortPoller(port_config(line.gateway_path, site_map, {1: "bts-a"}), sink))
    try:
        wait_until(lambda: sink.count("bts-a") >= 1, 10)
        slave.override_register(1, "holding", 0, 0xFFFF)  # 655.35 V on a 48 V bus
        wait_until(lambda: poller.counters["rejected_values"] >= 3, 10)
        slave.override_register(1, "holding", 0, None)
        wait_until(lambda: "battery_v" in sink.readings[-1][2], 10)
    finally:
        poller.stop()
    refused = [m for _, _, m in sink.readings if "battery_v" not in m]
    assert len(refused) >= 3
    assert all("battery_a" in metrics and "door_open" in metrics for metrics in refused)
    assert all(float(m["battery_v"]) < 60 for _, _, m in sink.readings if "battery_v" in m)  # type: ignore[arg-type]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("refused a value: battery_v: 655.35" in m for m in messages) == 1
    assert sum("battery_v reads plausibly again" in m for m in messages) == 1


@pytest.mark.parametrize("fault", [LineFault.CRC_ERROR, LineFault.NOISE, LineFault.WRONG_UNIT])
def test_corrupt_replies_are_counted_and_never_published(
    fault: LineFault, line: PtyLine, slave: RtuSlave, site_map: RegisterMap
) -> None:
    sink = RecordingSink()
    poller = run_poller(PortPoller(port_config(line.gateway_path, site_map, {1: "bts-a"}), sink))
    try:
        wait_until(lambda: sink.count("bts-a") >= 1, 10)
        slave.set_line_fault(1, fault)
        published = sink.count("bts-a")
        wait_until(lambda: ("bts-a", False) in sink.statuses, 10)
        assert sink.count("bts-a") == published  # nothing from the corrupted replies
        slave.set_line_fault(1, fault, active=False)
        wait_until(lambda: sink.statuses[-1] == ("bts-a", True), 10)
    finally:
        poller.stop()
    kind = {"crc_error": "crc_errors", "noise": "bad_frames", "wrong_unit": "wrong_unit"}
    assert poller.counters[kind[fault]] >= 2
    truth = slave.snapshot(1)
    assert all(
        m["battery_v"] == pytest.approx(truth["battery_v"], abs=0.006) for _, _, m in sink.readings
    )


def test_a_port_that_is_not_there_is_counted_and_survived(site_map: RegisterMap) -> None:
    sink = RecordingSink()
    poller = run_poller(PortPoller(port_config("/dev/ttyIOC-gone", site_map, {1: "bts-a"}), sink))
    try:
        wait_until(lambda: ("bts-a", False) in sink.statuses, 10)
        assert poller.thread.is_alive()
    finally:
        poller.stop()
    assert poller.counters["port_errors"] >= 2
    assert sink.readings == []


def test_a_baud_rate_mismatch_takes_the_controllers_offline_with_one_line_each(
    line: PtyLine, slave: RtuSlave, site_map: RegisterMap, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ioc.gateway")
    sink = RecordingSink()
    config = port_config(line.gateway_path, site_map, {1: "bts-a", 2: "bts-b"}, baudrate=19200)
    poller = run_poller(PortPoller(config, sink))
    try:
        wait_until(
            lambda: {("bts-a", False), ("bts-b", False)} <= set(sink.statuses), 10, "both offline"
        )
        time.sleep(1.0)  # more failed polls: still one line each
    finally:
        poller.stop()
    assert sink.readings == []
    assert slave.counters.garbled >= 4 and slave.counters.replies == 0
    assert poller.counters["timeouts"] >= 4
    offline = [r.getMessage() for r in caplog.records if "offline after" in r.getMessage()]
    assert len(offline) == 2, offline
    assert poller.thread is not None and not poller.thread.is_alive()
