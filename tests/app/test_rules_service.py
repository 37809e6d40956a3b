"""`ioc run` against a real Mosquitto: alerts published and stored, restarts, broker blips."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ioc.app import Runtime, Stages, add_ingest, add_rules, ingest_hearing, load_catalog
from ioc.broker import MosquittoProcess
from ioc.config import Settings, load_settings
from ioc.domain import AlertState, Clock, now_ms
from ioc.state import AlertRepository, connect_state
from tests.rules.harness import NORMAL, fast_rules
from tests.support.clock import ManualClock
from tests.support.mqtt import TopicFeed, wait_until

pytestmark = pytest.mark.integration

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
DEVICES = {"gw1": "netgw", "gw2": "netgw", "bts1": "bts", "bts2": "bts", "vc1": "vc", "vc2": "vc"}


class Fleet:
    """Devices that report every 0.3 s through their own paho client (which reconnects)."""

    def __init__(self, port: int) -> None:
        self.overrides: dict[str, dict[str, object]] = {d: {} for d in DEVICES}
        self.silent: set[str] = set()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-fleet")
        self._client.reconnect_delay_set(0.1, 0.5)
        self._client.connect_async("127.0.0.1", port)
        self._client.loop_start()
        self._stop = threading.Event()
        self._seq = 0
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.3):
            if not self._client.is_connected():
                continue  # a device with no broker does not queue up reports
            for device_id, device_class in DEVICES.items():
                if device_id in self.silent:
                    continue
                self._seq += 1
                metrics = {**NORMAL[device_class], **self.overrides[device_id]}
                payload = {"ts": time.time_ns() // 1_000_000, "seq": self._seq, "metrics": metrics}
                self._client.publish(
                    f"ioc/{device_class}/{device_id}/telemetry", orjson.dumps(payload), qos=1
                )

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._client.disconnect()
        self._client.loop_stop()


class AlertFeed(TopicFeed):
    """Everything published under ioc/alerts/#."""

    def __init__(self, port: int) -> None:
        super().__init__(port, "ioc/alerts/#", "test-alert-feed")

    def said(self, rule: str, device: str) -> list[str]:
        return [
            str(event["event"])
            for event in self.events
            if event["topic"] == f"ioc/alerts/{DEVICES[device]}/{device}/{rule}"
        ]


class Running:
    """`ioc run` without its API, in a thread, stopped like Ctrl-C stops it."""

    def __init__(self, settings: Settings, clock: Clock = now_ms) -> None:
        self._stop = threading.Event()
        self.code: int | None = None
        catalog = load_catalog(settings)
        stages = Stages.over(Runtime(settings, catalog))
        self.rules = add_rules(stages, clock)
        self.ingest = add_ingest(stages, [self.rules.observe])
        self.rules.hearing = ingest_hearing(self.ingest)
        supervisor = stages.supervisor()

        def run() -> None:
            self.code = supervisor.run(self._stop.is_set)

        self._thread = threading.Thread(target=run)
        self._thread.start()

    def stop(self) -> int | None:
        self._stop.set()
        self._thread.join(30)
        return self.code


@pytest.fixture
def settings(mosquitto: MosquittoProcess, tmp_path: Path) -> Settings:
    return load_settings(
        mqtt_url=mosquitto.url,
        data_dir=tmp_path / "data",
        inventory=SMALL_INVENTORY,
        rules_dir=fast_rules(tmp_path / "rules", "3s", "3s"),
        batch_interval_s=0.05,
    )


@pytest.fixture
def repository(settings: Settings) -> Iterator[AlertRepository]:
    repository = AlertRepository(connect_state(settings.resolved_state_url))
    yield repository
    repository.close()


def test_alerts_are_published_stored_and_survive_a_restart(
    mosquitto: MosquittoProcess, settings: Settings, repository: AlertRepository
) -> None:
    feed = AlertFeed(mosquitto.port)
    fleet = Fleet(mosquitto.port)
    first = Running(settings)
    try:
        fleet.overrides["bts1"] = {"battery_v": 46.0}
        wait_until(
            lambda: feed.said("bts.battery_low", "bts1") == ["fired"], 15, f"alert {feed.events}"
        )
        fleet.overrides["bts2"] = {"mains_ok": False}
        mains_lost = time.monotonic()
        time.sleep(1.0)
        assert first.stop() == 0  # stopped with the mains timer running
        second = Running(settings)
        try:
            wait_until(lambda: feed.said("bts.mains_failure", "bts2") == ["fired"], 15, "mains")
            # Fired by the timer started before the restart, not by a new one.
            assert time.monotonic() - mains_lost < 3.0 + 2.0
            fleet.overrides["bts1"] = {"battery_v": 48.5}
            wait_until(lambda: "resolved" in feed.said("bts.battery_low", "bts1"), 15, "clear")
        finally:
            assert second.stop() == 0
    finally:
        fleet.stop()
        feed.stop()
    assert feed.said("bts.battery_low", "bts1") == ["fired", "resolved"]  # never twice
    assert feed.said("device.down", "bts1") == []
    stored = repository.list_alerts()
    by_rule = {(a.rule_id, a.device_id): a for a in stored}
    assert by_rule[("bts.battery_low", "bts1")].state is AlertState.RESOLVED
    assert by_rule[("bts.mains_failure", "bts2")].state is AlertState.FIRING
    assert len(stored) == 2


def test_a_broker_restart_raises_no_outage_but_a_silent_device_is_found(
    mosquitto: MosquittoProcess, settings: Settings, repository: AlertRepository
) -> None:
    # The rules run on a clock the test moves: the outage lasts twice the silence window in
    # the rules' time without the test waiting for it.
    clock = ManualClock(now_ms())
    fleet = Fleet(mosquitto.port)
    running = Running(settings, clock)
    rules, ingest = running.rules, running.ingest

    def tick() -> None:
        clock.now += 1_000
        rules.sync()

    def everyone_reported_since(count: int) -> Callable[[], bool]:
        return lambda: rules.engine.stats.items >= count + 2 * len(DEVICES)

    try:
        wait_until(everyone_reported_since(0), 15, "the fleet heard")
        mosquitto.stop(kill=True)
        wait_until(lambda: not ingest.consumer.connected, 15, "ingest noticing the broker gone")
        tick()
        assert rules.stats.blind_spells == 1
        clock.now += 6_000  # twice the silence window with no broker at all
        tick()
        mosquitto.start()
        wait_until(lambda: ingest.consumer.connected, 30, "ingest back on the broker")
        tick()  # hearing again: every device gets a full window from now
        wait_until(everyone_reported_since(rules.engine.stats.items), 15, "the fleet back")
        tick()
        assert repository.list_alerts() == []
        fleet.silent.add("vc2")
        for _ in range(4):  # the others keep reporting between the rules' seconds
            wait_until(everyone_reported_since(rules.engine.stats.items - 2), 15, "reports")
            tick()
        [down] = repository.list_alerts()
        assert (down.rule_id, down.device_id) == ("device.down", "vc2")
    finally:
        assert running.stop() == 0
        fleet.stop()
