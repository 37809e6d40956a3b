"""A collector's MQTT side: its own connection and last will, statuses, and the outbox drain.

Readings go through the disk buffer and leave it oldest first, in batches published with QoS 1;
a message is removed only when the broker has acknowledged it. A batch cut off by a lost
connection is finished by paho after the reconnect. Only a collector stopped with messages
unacknowledged sends them again at its next start; ingest recognises such repeats by `seq` and
`ts`.
Statuses are state, not history: the current one of every device is (re)published, retained,
at each connect and on every change while connected.
A publish the broker refuses (MQTT 5 PUBACK "Not authorized": the identity's ACL) is counted
in `refused`, logged once per topic when it starts and when it ends, and not retried: sending
it again would be refused again and hold up every message behind it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from ioc.broker import paho_client
from ioc.config import BrokerAddress
from ioc.edge._buffer import DiskBuffer

log = logging.getLogger("ioc.edge.mqtt")

BATCH = 200
ACK_TIMEOUT_S = 10.0  # for the drain thread to notice a stop


class Uplink:
    """Publishes for a collector and the devices it speaks for."""

    def __init__(self, address: BrokerAddress, own_topic: str, buffer: DiskBuffer) -> None:
        self._address = address
        self._own_status = f"{own_topic}/status"
        self.buffer = buffer
        self.published = 0
        self.refused = 0
        self._refused_topics: set[str] = set()
        self._statuses: dict[str, str] = {self._own_status: "online"}
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._was_connected = False
        self._client = paho_client(address)
        self._client.will_set(self._own_status, "offline", qos=1, retain=True)
        self._client.max_inflight_messages_set(BATCH)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._acked: set[int] = set()
        self._refusals: dict[int, str] = {}  # mid -> the broker's reason
        self._acks = threading.Condition()
        self._drainer = threading.Thread(target=self._drain, name="edge-uplink", daemon=True)

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up."""
        return self._connected.is_set()

    def start(self) -> None:
        """Connect in the background (reconnecting forever) and start draining the buffer."""
        self._client.connect_async(self._address.host, self._address.port, keepalive=30)
        self._client.loop_start()
        self._drainer.start()

    def wait_connected(self, timeout_s: float) -> bool:
        """Block until connected (start-up and tests)."""
        return self._connected.wait(timeout_s)

    def set_status(self, topic: str, status: str) -> None:
        """Record a device's status (`online`/`offline`) and publish it if connected."""
        with self._lock:
            if self._statuses.get(topic) == status:
                return
            self._statuses[topic] = status
        if self.connected:
            self._client.publish(topic, status, qos=1, retain=True)

    def stop(self, final_statuses: dict[str, str], timeout_s: float = 5.0) -> None:
        """Drain what the broker will take within timeout_s, say goodbye, disconnect."""
        deadline = time.monotonic() + timeout_s
        while self.buffer.has_messages.is_set() and self.connected:
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        self._stopping.set()
        if self.connected:
            infos = [
                self._client.publish(topic, status, qos=1, retain=True)
                for topic, status in {**final_statuses, self._own_status: "offline"}.items()
            ]
            for info in infos:
                _wait(info, max(0.1, deadline - time.monotonic()))
            self._client.disconnect()
        self._client.loop_stop()
        self._drainer.join(timeout=ACK_TIMEOUT_S)

    # -- paho callbacks (its network thread) -------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker %s refused the collector: %s", self._address.host, reason)
            return
        with self._lock:
            statuses = dict(self._statuses)
        for topic, status in statuses.items():
            client.publish(topic, status, qos=1, retain=True)
        if self._was_connected:
            log.warning("broker reachable again; %d readings waiting to be sent", len(self.buffer))
        self._was_connected = True
        self._connected.set()

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if self._connected.is_set() and not self._stopping.is_set():
            log.warning("lost the broker (%s); keeping readings on disk until it returns", reason)
        self._connected.clear()

    # -- the drain ---------------------------------------------------------------------------

    def _on_publish(
        self, _client: mqtt.Client, _userdata: Any, mid: int, reason: ReasonCode, _props: Any
    ) -> None:
        with self._acks:
            self._acked.add(mid)
            if reason.is_failure:
                self._refusals[mid] = str(reason)
            self._acks.notify_all()

    def _drain(self) -> None:
        while not self._stopping.is_set():
            if not (self._connected.wait(0.5) and self.buffer.has_messages.wait(0.5)):
                continue
            batch = self.buffer.oldest(BATCH)
            # paho keeps what it could not send (rc NO_CONN when the link just dropped) and
            # sends it after the reconnect, so a message is handed to it once and awaited,
            # however long the outage: publishing it again would only make a duplicate.
            mids = [self._client.publish(m.topic, m.payload, qos=1).mid for m in batch]
            acknowledged, refused = 0, []
            with self._acks:
                for mid, message in zip(mids, batch, strict=True):
                    while mid not in self._acked and not self._stopping.is_set():
                        self._acks.wait(0.5)
                    if mid not in self._acked:
                        break
                    self._acked.discard(mid)
                    reason = self._refusals.pop(mid, None)
                    refused.append((message.topic, reason))
                    acknowledged += 1
            if acknowledged:
                self.buffer.remove_through(batch[acknowledged - 1].id)
                self._say_refusals(refused)

    def _say_refusals(self, answered: list[tuple[str, str | None]]) -> None:
        """Count what the broker took and refused; one log line per topic and change."""
        for topic, reason in answered:
            if reason is None:
                self.published += 1
                if topic in self._refused_topics:
                    self._refused_topics.discard(topic)
                    log.info("the broker accepts %s again", topic)
                continue
            self.refused += 1
            if topic not in self._refused_topics:
                self._refused_topics.add(topic)
                log.warning("the broker refused a publish on %s (%s): counted, not retried; "
                            "check this collector's identity and ACL", topic, reason)  # fmt: skip


def _wait(info: mqtt.MQTTMessageInfo, timeout_s: float) -> bool:
    try:
        info.wait_for_publish(timeout_s)
    except (RuntimeError, ValueError):  # paho: connection lost, or queue full
        return False
    return info.is_published()
