"""One process, many devices: each with its own MQTT connection, last will and report timer.

All connections are paho clients driven from one selector loop (no thread per device), so one
process simulates 10,000+ devices.
"""

from __future__ import annotations

import contextlib
import csv
import heapq
import json
import logging
import random
import selectors
import socket
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from firmware_sim.faults import Fault, FaultKind
from firmware_sim.fleet import DeviceSpec
from firmware_sim.physics import MODELS, Outputs

log = logging.getLogger("firmware_sim")

# Garbage kinds, each with the reject reason a correct ingestor must give it.
GARBAGE_KINDS = {
    "not_json": "bad_json",
    "wrong_type": "wrong_type",
    "out_of_range": "out_of_range",
    "unknown_metric": "unknown_metric",
    "bad_timestamp": "bad_timestamp",
    "huge": "too_large",
    "not_an_object": "bad_schema",
}
_BAD_METRIC = {"bts": "battery_v", "netgw": "rtt_ms", "vc": "mos"}


def read_credentials(path: Path) -> dict[str, str]:
    """Device id -> secret, from the identities CSV (identity,kind,secret)."""
    with path.open(encoding="utf-8", newline="") as source:
        return {row["identity"]: row["secret"] for row in csv.DictReader(source)}


@dataclass(frozen=True, slots=True)
class SimulatorOptions:
    """Where to connect and how fast to run."""

    host: str = "127.0.0.1"
    port: int = 1883
    topic_prefix: str = "ioc"
    speed: float = 1.0
    seed: int = 7
    username: str | None = None
    password: str | None = None
    credentials: Mapping[str, str] | None = None  # device id -> its secret (its user name)
    protocol: str = "3.1.1"  # or "5": then a refused publish comes back with its reason code
    keepalive_s: int = 60
    connects_per_second: int = 2000
    record_sent: bool = False


@dataclass
class SimCounters:
    """What the simulator did, for its status line and for tests to compare against."""

    telemetry_sent: int = 0
    events_sent: int = 0
    skewed_sent: int = 0
    garbage_sent: Counter[str] = field(default_factory=Counter)
    connected: int = 0
    connects: int = 0
    connect_failures: int = 0
    publish_errors: int = 0
    refused: int = 0  # publishes the broker refused (MQTT 5 PUBACK reason code, its ACL)

    def snapshot(self) -> dict[str, Any]:
        """A copy for status lines."""
        return {
            "telemetry_sent": self.telemetry_sent,
            "events_sent": self.events_sent,
            "skewed_sent": self.skewed_sent,
            "garbage_sent": dict(self.garbage_sent),
            "connected": self.connected,
            "connects": self.connects,
            "connect_failures": self.connect_failures,
            "publish_errors": self.publish_errors,
        }


class _Device:
    __slots__ = (
        "backoff_s",
        "client",
        "connect_started",
        "connected",
        "faults",
        "garbage_index",
        "index",
        "last_step",
        "model",
        "outputs",
        "rebooted",
        "reconnect_at",
        "refused",
        "rng",
        "seq",
        "spec",
        "topic",
    )

    def __init__(self, index: int, spec: DeviceSpec, rng: random.Random, prefix: str) -> None:
        self.index = index
        self.spec = spec
        self.rng = rng
        model_class = MODELS.get(spec.device_class)
        if model_class is None:
            raise ValueError(f"no firmware model for class {spec.device_class!r}")
        self.model: Any = model_class(rng)
        self.topic = f"{prefix}/{spec.device_class}/{spec.device_id}"
        self.client: mqtt.Client | None = None
        self.connected = False
        self.connect_started = 0.0  # monotonic time of a connection attempt awaiting CONNACK
        self.seq = 0
        self.last_step = 0.0
        self.outputs: Outputs | None = None
        self.reconnect_at = 0.0
        self.backoff_s = 1.0
        self.garbage_index = 0
        self.rebooted = False
        self.refused = False
        self.faults: list[Fault] = []


class Simulator:
    """Runs a fleet of simulated devices against an MQTT broker."""

    def __init__(
        self, fleet: Sequence[DeviceSpec], options: SimulatorOptions, faults: Sequence[Fault] = ()
    ) -> None:
        self.options = options
        self.counters = SimCounters()
        self.sent: list[tuple[str, int]] = []
        rng = random.Random(options.seed)
        self._devices = [
            _Device(i, spec, random.Random(rng.getrandbits(64)), options.topic_prefix)
            for i, spec in enumerate(fleet)
        ]
        self._by_id = {device.spec.device_id: device for device in self._devices}
        for fault in faults:
            device = self._by_id.get(fault.device_id)
            if device is None:
                raise ValueError(
                    f"fault {fault.kind} names device {fault.device_id!r}, which is not simulated"
                )
            device.faults.append(fault)
        self._selector = selectors.DefaultSelector()
        self._timers: list[tuple[float, int, int]] = []
        self._start = 0.0
        self._dirty: set[int] = set()

    # -- time --------------------------------------------------------------------------------

    def _elapsed_sim_s(self, now: float) -> float:
        return (now - self._start) * self.options.speed

    # -- connections -------------------------------------------------------------------------

    def _make_client(self, device: _Device) -> mqtt.Client:
        v5 = self.options.protocol == "5"
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=device.spec.device_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else True,  # MQTT 5 starts clean by default
            userdata=device,
        )
        client.on_publish = self._on_publish
        client.will_set(f"{device.topic}/status", "offline", qos=1, retain=True)
        credentials = self.options.credentials
        if credentials is not None:
            device_id = device.spec.device_id
            client.username_pw_set(device_id, credentials.get(device_id))
        elif self.options.username:
            client.username_pw_set(self.options.username, self.options.password)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        return client

    def _on_socket_open(self, _client: mqtt.Client, device: _Device, sock: Any) -> None:
        self._selector.register(sock, selectors.EVENT_READ, device)

    def _on_socket_close(self, _client: mqtt.Client, _device: _Device, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)

    def _on_connect(
        self, client: mqtt.Client, device: _Device, _flags: Any, reason: Any, _properties: Any
    ) -> None:
        if reason.is_failure:
            self.counters.connect_failures += 1
            return
        device.connected = True
        device.connect_started = 0.0
        device.backoff_s = 1.0
        self.counters.connected += 1
        self.counters.connects += 1
        client.publish(f"{device.topic}/status", "online", qos=1, retain=True)

    def _on_publish(
        self, _client: mqtt.Client, device: _Device, _mid: int, reason: Any, _properties: Any
    ) -> None:
        refused = bool(getattr(reason, "is_failure", False))
        if refused:
            self.counters.refused += 1
        if refused != device.refused:  # once when it starts, once when it ends
            device.refused = refused
            if refused:
                log.warning("%s: the broker refuses its publishes (%s)", device.spec.device_id,
                            reason)  # fmt: skip
            else:
                log.info("%s: the broker accepts its publishes again", device.spec.device_id)

    def _on_disconnect(
        self, _client: mqtt.Client, device: _Device, _flags: Any, _reason: Any, _properties: Any
    ) -> None:
        device.connect_started = 0.0
        if device.connected:
            device.connected = False
            self.counters.connected -= 1
        jitter = device.rng.uniform(0.5, 1.5)
        device.reconnect_at = time.monotonic() + device.backoff_s * jitter
        device.backoff_s = min(device.backoff_s * 2, 60.0)

    def _connect(self, device: _Device) -> None:
        device.connect_started = time.monotonic()
        try:
            if device.client is None:
                device.client = self._make_client(device)
                device.client.connect(
                    self.options.host, self.options.port, keepalive=self.options.keepalive_s
                )
            else:
                device.client.reconnect()
        except OSError:
            device.connect_started = 0.0
            self.counters.connect_failures += 1
            device.reconnect_at = time.monotonic() + device.backoff_s
            device.backoff_s = min(device.backoff_s * 2, 60.0)

    def _drop(self, device: _Device) -> None:
        """Cut the connection the way a power loss or a dead link does: no DISCONNECT."""
        client = device.client
        sock = client.socket() if client is not None else None
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    # -- reporting ---------------------------------------------------------------------------

    def _active_faults(self, device: _Device, elapsed: float) -> set[FaultKind]:
        return {fault.kind for fault in device.faults if fault.active(elapsed)}

    def _may_talk(self, device: _Device, faults: set[FaultKind]) -> bool:
        if FaultKind.DIE in faults or (device.outputs is not None and not device.outputs.powered):
            return False
        return self._upstream_reachable(device, set())

    def _upstream_reachable(self, device: _Device, seen: set[str]) -> bool:
        """Every gateway on the way out is up, with its link up, all the way (not just the
        nearest: a commune behind a failed district link is cut off too)."""
        for upstream_id in device.spec.depends_on:
            upstream = self._by_id.get(upstream_id)
            if upstream is None or upstream_id in seen:
                continue
            seen.add(upstream_id)
            outputs = upstream.outputs
            if outputs is not None and (not outputs.link_ok or not outputs.powered):
                return False
            if not self._upstream_reachable(upstream, seen):
                return False
        return True

    def _report(self, device: _Device, now: float) -> None:
        elapsed = self._elapsed_sim_s(now)
        dt = elapsed - device.last_step if device.last_step else device.spec.interval_s
        device.last_step = elapsed
        faults = self._active_faults(device, elapsed)
        if FaultKind.REBOOT in faults:
            if device.rebooted:
                faults.discard(FaultKind.REBOOT)  # once per fault, not at every report
            else:
                device.rebooted = True
                device.seq = 0
                self._drop(device)
        else:
            device.rebooted = False
        device.outputs = device.model.step(elapsed, dt, faults)
        talk = self._may_talk(device, faults)
        if not talk:
            if device.connected:
                self._drop(device)
            return
        if not device.connected:
            # The first connection comes from the start-up queue; a pending one gets 30 s.
            waiting = device.connect_started and now - device.connect_started < 30.0
            if device.client is not None and not waiting and now >= device.reconnect_at:
                self._connect(device)
            return
        client = device.client
        assert client is not None
        ts_ms = time.time_ns() // 1_000_000
        for event_type, data in device.outputs.events:
            self._publish(device, "event", {"ts": ts_ms, "type": event_type, "data": data})
            self.counters.events_sent += 1
        if FaultKind.GARBAGE in faults:
            self._publish_garbage(device, ts_ms)
            return
        device.seq += 1
        skewed = FaultKind.CLOCK_SKEW in faults
        payload = {
            "ts": ts_ms + (6 * 3600_000 if skewed else 0),
            "seq": device.seq,
            "metrics": device.outputs.metrics,
        }
        if self._publish(device, "telemetry", payload):
            self.counters.telemetry_sent += 1
            if skewed:
                self.counters.skewed_sent += 1
            elif self.options.record_sent:
                self.sent.append((device.spec.device_id, ts_ms))

    def _publish(self, device: _Device, kind: str, document: Any) -> bool:
        return self._publish_raw(device, kind, json.dumps(document).encode())

    def _publish_raw(self, device: _Device, kind: str, payload: bytes) -> bool:
        client = device.client
        assert client is not None
        info = client.publish(f"{device.topic}/{kind}", payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self.counters.publish_errors += 1
            return False
        if client.want_write():
            self._dirty.add(device.index)
        return True

    def _publish_garbage(self, device: _Device, ts_ms: int) -> None:
        kinds = list(GARBAGE_KINDS)
        kind = kinds[device.garbage_index % len(kinds)]
        device.garbage_index += 1
        metric = _BAD_METRIC.get(device.spec.device_class, "value")
        # Every garbage message is unique (n), so a receiver can tell a redelivery from a repeat.
        n = device.garbage_index
        payloads = {
            "not_json": b"{ts: oops #%d" % n,
            "wrong_type": json.dumps({"ts": ts_ms, "metrics": {metric: f"high #{n}"}}).encode(),
            "out_of_range": json.dumps({"ts": ts_ms, "metrics": {metric: 1e9 + n}}).encode(),
            "unknown_metric": json.dumps({"ts": ts_ms, "metrics": {"frobnication": n}}).encode(),
            "bad_timestamp": json.dumps({"ts": f"yesterday #{n}", "metrics": {metric: 1}}).encode(),
            "huge": b'{"ts": %d, "metrics": {"x": "' % n + b"A" * 100_000 + b'"}}',
            "not_an_object": b"[%d, 2, 3]" % n,
        }
        if self._publish_raw(device, "telemetry", payloads[kind]):
            self.counters.garbage_sent[kind] += 1

    # -- the loop ----------------------------------------------------------------------------

    def run(
        self,
        duration_s: float | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        on_status: Callable[[SimCounters], None] | None = None,
        status_every_s: float = 1.0,
    ) -> SimCounters:
        """Run until duration_s has passed or should_stop() is true; returns the counters."""
        self._start = now = time.monotonic()
        speed = self.options.speed
        # First connections are spread over the connect budget; first reports over an interval.
        for device in self._devices:
            first = now + device.rng.uniform(0.0, device.spec.interval_s / speed)
            heapq.heappush(self._timers, (first, device.index, device.index))
        connect_queue = list(self._devices)
        next_status = now + status_every_s
        next_misc = now + 1.0
        misc_cursor = 0
        try:
            while not should_stop():
                now = time.monotonic()
                if duration_s is not None and now - self._start >= duration_s:
                    break
                # New connections at the configured rate, however long a loop turn takes.
                allowed = int(self.options.connects_per_second * (now - self._start)) + 1
                while connect_queue and len(self._devices) - len(connect_queue) < allowed:
                    self._connect(connect_queue.pop())
                while self._timers and self._timers[0][0] <= now:
                    _, _, index = heapq.heappop(self._timers)
                    device = self._devices[index]
                    self._report(device, now)
                    next_due = now + device.spec.interval_s / speed
                    heapq.heappush(self._timers, (next_due, index, index))
                for index in list(self._dirty):
                    client = self._devices[index].client
                    if client is not None:
                        client.loop_write()
                        if not client.want_write():
                            self._dirty.discard(index)
                timeout = 0.05
                if self._timers:
                    timeout = max(0.0, min(timeout, self._timers[0][0] - time.monotonic()))
                for key, _mask in self._selector.select(timeout):
                    device = key.data
                    if device.client is not None:
                        device.client.loop_read()
                if now >= next_misc:
                    # Keepalive pings for a slice of the fleet each tick.
                    step = max(1, len(self._devices) // 10)
                    for device in self._devices[misc_cursor : misc_cursor + step]:
                        if device.client is not None and device.connected:
                            device.client.loop_misc()
                    misc_cursor = (misc_cursor + step) % max(1, len(self._devices))
                    next_misc = now + 0.1
                if on_status is not None and now >= next_status:
                    on_status(self.counters)
                    next_status = now + status_every_s
        finally:
            self._shutdown()
        return self.counters

    def _shutdown(self) -> None:
        deadline = time.monotonic() + 2.0
        # Let queued QoS 1 publishes drain before the clean disconnects.
        while self._dirty and time.monotonic() < deadline:
            for index in list(self._dirty):
                client = self._devices[index].client
                if (
                    client is None
                    or client.loop_write() != mqtt.MQTT_ERR_SUCCESS
                    or not client.want_write()
                ):
                    self._dirty.discard(index)
        for device in self._devices:
            if device.client is not None and device.connected:
                # A firmware shutting down says so; only a crash leaves it to the last will.
                device.client.publish(f"{device.topic}/status", "offline", qos=1, retain=True)
                device.client.disconnect()
                device.client.loop_write()
        self._selector.close()
