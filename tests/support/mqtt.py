"""Small helpers for talking to the private broker in tests."""

from __future__ import annotations

import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode


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
        subscribed = threading.Event()
        self._client.on_subscribe = lambda *_: subscribed.set()
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        # Not retained: what is published before the broker confirms the subscription is
        # never seen, and a loaded machine can take seconds to get there.
        if not subscribed.wait(30):
            self.stop()
            raise TimeoutError(f"no subscription to {topic_filter} within 30 s")

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


@dataclass(frozen=True)
class ClientTls:
    """What a client brings to the TLS listener."""

    ca: Path  # whom it trusts
    cert: Path | None = None
    key: Path | None = None


class MqttUser:
    """An MQTT 5 client on 127.0.0.1 that remembers what the broker answered (CONNACK, each
    PUBACK's reason code) and what it was sent; `refused` says why a connection got no CONNACK
    (a TLS handshake the broker or the client refused)."""

    def __init__(
        self, port: int, name: str | None, secret: str | None, tls: ClientTls | None = None
    ) -> None:
        self.connack: int | None = None
        self.acks: dict[int, int] = {}
        self.received: list[tuple[str, bytes]] = []
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"t-{name}", protocol=mqtt.MQTTv5
        )
        if name is not None:
            self.client.username_pw_set(name, secret)
        if tls is not None:
            self.client.tls_set(
                str(tls.ca), str(tls.cert) if tls.cert else None, str(tls.key) if tls.key else None
            )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        # A refused user stays refused: no reconnection behind the test's back (paho leaves
        # the socket of a failed TLS reconnection unclosed, a warning at the next test).
        self.client.reconnect_delay_set(min_delay=60, max_delay=60)
        self.client.on_publish = self._on_publish
        self.subscribed: set[int] = set()
        self.client.on_subscribe = lambda _c, _u, mid, _r, _p: self.subscribed.add(mid)
        self.client.on_message = lambda _c, _u, m: self.received.append((m.topic, m.payload))
        self.refused: str | None = None  # why the connection ended before any CONNACK
        try:
            self.client.connect("127.0.0.1", port)
        except (ssl.SSLError, OSError) as exc:  # the TLS handshake failed
            self.refused = f"{type(exc).__name__}: {exc}"
            return
        self.client.loop_start()
        wait_until(
            lambda: self.connack is not None or self.refused is not None,
            10,
            f"the CONNACK of {name}",
        )

    def _on_disconnect(
        self, _c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        if self.connack is None:  # TLS 1.3: the server judges the client's certificate late
            self.refused = f"closed before a CONNACK ({reason})"

    def _on_connect(
        self, _c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        self.connack = reason.value

    def _on_publish(
        self, _c: mqtt.Client, _u: object, mid: int, reason: ReasonCode, _p: Properties | None
    ) -> None:
        self.acks[mid] = reason.value

    def publish(self, topic: str, payload: str = "{}") -> int:
        """Publish at QoS 1; the PUBACK's reason code."""
        info = self.client.publish(topic, payload, qos=1)
        wait_until(lambda: info.mid in self.acks, 10, f"the PUBACK on {topic}")
        return self.acks[info.mid]

    def subscribe(self, topic: str) -> None:
        """Subscribe at QoS 1 and wait for the SUBACK (whatever it grants)."""
        _result, mid = self.client.subscribe(topic, qos=1)
        wait_until(lambda: mid in self.subscribed, 10, f"the SUBACK on {topic}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
