"""Small helpers for talking to the private broker in tests."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterable

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0, what: str = "") -> None:
    """Poll a condition until it holds; fail with `what` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or condition}")
        time.sleep(0.02)


def has_subscriber(port: int, user: str | None = None, secret: str | None = None) -> bool:
    """Whether the broker reports any subscription ($SYS is published every few seconds)."""
    login = ["-u", user, "-P", secret or ""] if user else []
    probe = subprocess.run(
        [
            "mosquitto_sub",
            "-p",
            str(port),
            *login,
            "-t",
            "$SYS/broker/subscriptions/count",
            "-C",
            "1",
            "-W",
            "2",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.stdout.strip() not in ("", "0")


def publish_all(
    port: int,
    messages: Iterable[tuple[str, bytes]],
    client_id: str = "test-pub",
    retain: bool = False,
) -> int:
    """Publish with QoS 1 and return once the broker has acknowledged every message."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=1, retain=retain) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(timeout=30)
    client.disconnect()
    client.loop_stop()
    return len(infos)


def telemetry(
    device: str, seq: int, ts_ms: int, device_class: str = "bts", prefix: str = "ioc"
) -> tuple[str, bytes]:
    """One valid telemetry message."""
    metric = {"bts": "temp_c", "netgw": "rtt_ms", "vc": "jitter_ms"}[device_class]
    return (
        f"{prefix}/{device_class}/{device}/telemetry",
        orjson.dumps({"ts": ts_ms, "seq": seq, "metrics": {metric: 20.0 + seq % 10}}),
    )


class TopicFeed:
    """Every message published under a topic filter, as decoded JSON with its topic."""

    def __init__(self, port: int, topic_filter: str, client_id: str) -> None:
        self.events: list[dict[str, object]] = []
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self._client.on_message = lambda _c, _u, message: self.events.append(
            {"topic": message.topic, **orjson.loads(message.payload)}
        )
        self._client.on_connect = lambda client, *_: client.subscribe(topic_filter, qos=1)
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()

    def stop(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()


class StatusWatch:
    """The retained status words under a prefix, as they change."""

    def __init__(self, port: int) -> None:
        self.status: dict[str, str] = {}
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="status-watch")
        self._client.on_message = lambda _c, _u, m: self.status.__setitem__(
            m.topic, m.payload.decode()
        )
        self._client.on_connect = lambda client, *_: client.subscribe("ioc/+/+/status", qos=1)
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
