"""What a collector at the edge publishes, as the devices it speaks for: readings and events in
wire protocol v1 (numbered per device), and retained statuses; all through the disk buffer and
the uplink, so nothing taken while the broker is away is lost."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import orjson

from ioc.config import BrokerAddress
from ioc.edge._buffer import DiskBuffer
from ioc.edge._uplink import Uplink


@dataclass(frozen=True, slots=True)
class EdgeOptions:
    """Where a collector publishes and keeps its buffer."""

    broker: BrokerAddress
    topic_prefix: str
    buffer_path: Path


class EdgeOutbox:
    """A collector's way out: one MQTT connection with the collector's own last will."""

    def __init__(
        self, options: EdgeOptions, own_class: str, own_id: str, max_buffered: int
    ) -> None:
        self._prefix = options.topic_prefix
        self.own_class, self.own_id = own_class, own_id
        self.buffer = DiskBuffer(options.buffer_path, max_buffered)
        self.uplink = Uplink(options.broker, self.topic(own_class, own_id), self.buffer)
        self._seq: Counter[str] = Counter()
        self._seq_lock = threading.Lock()

    def topic(self, device_class: str, device_id: str) -> str:
        """A device's topic root."""
        return f"{self._prefix}/{device_class}/{device_id}"

    def reading(
        self, device_class: str, device_id: str, ts_ms: int, metrics: dict[str, object]
    ) -> None:
        """Queue one reading of a device (telemetry, numbered per device)."""
        payload = orjson.dumps({"ts": ts_ms, "seq": self._next_seq(device_id), "metrics": metrics})
        self.buffer.append(f"{self.topic(device_class, device_id)}/telemetry", payload)

    def event(
        self,
        device_class: str,
        device_id: str,
        ts_ms: int,
        event_type: str,
        data: dict[str, object] | None = None,
    ) -> None:
        """Queue one event of a device."""
        body: dict[str, object] = {"ts": ts_ms, "type": event_type}
        if data:
            body["data"] = data
        self.buffer.append(f"{self.topic(device_class, device_id)}/event", orjson.dumps(body))

    def status(self, device_class: str, device_id: str, online: bool) -> None:
        """A device's availability (retained; republished at every reconnect)."""
        topic = f"{self.topic(device_class, device_id)}/status"
        self.uplink.set_status(topic, "online" if online else "offline")

    def sequence(self, device_id: str) -> int:
        """The last number given to a reading of this device."""
        with self._seq_lock:
            return self._seq[device_id]

    def start(self) -> None:
        """Connect (in the background) and start sending what the buffer holds."""
        self.uplink.start()

    def stop(self, devices: list[tuple[str, str]]) -> None:
        """Hand the buffer to the broker, say offline for `devices` and for the collector."""
        offline = {f"{self.topic(c, d)}/status": "offline" for c, d in devices}
        self.uplink.stop(offline)
        self.buffer.close()

    def _next_seq(self, device_id: str) -> int:
        with self._seq_lock:
            self._seq[device_id] += 1
            return self._seq[device_id]
