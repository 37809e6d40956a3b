"""A fast MQTT load generator: pre-encoded QoS 1 PUBLISH packets streamed over one socket.

Encoding happens before the clock starts, so the generator costs almost no CPU while the
system under test runs; PUBACKs are read (and counted) by a second thread.
"""

from __future__ import annotations

import socket
import threading
import time

import orjson

from tests.support.packets import connect_packet, publish_packet


def bts_messages(
    count: int, devices: int, start_ms: int, interval_ms: int = 1000
) -> list[tuple[str, bytes]]:
    """8-metric BTS telemetry, round-robin over devices, each device reporting every
    `interval_ms` (keep count / devices * interval_ms inside ingest's allowed clock skew)."""
    messages = []
    for index in range(count):
        device = f"bts-QT-{index % devices + 1:05d}"
        payload = orjson.dumps(
            {
                "ts": start_ms + index // devices * interval_ms,
                "seq": index // devices,
                "metrics": {
                    "mains_ok": True,
                    "mains_v": 228.4,
                    "battery_v": 53.9,
                    "battery_a": 1.5,
                    "load_a": 31.2,
                    "temp_c": 25.5 + index % 7 / 10,
                    "humidity_pct": 71.0,
                    "door_open": False,
                },
            }
        )
        messages.append((f"ioc/bts/{device}/telemetry", payload))
    return messages


class LoadGenerator:
    """Streams pre-encoded messages to a broker as fast as the socket takes them."""

    def __init__(
        self,
        port: int,
        messages: list[tuple[str, bytes]],
        client_id: str = "loadgen",
        login: tuple[str, str] | None = None,
    ):
        self.port = port
        self.client_id = client_id
        self.login = login
        self.stream = b"".join(
            publish_packet(topic.encode(), payload, mid=index % 65535 + 1)
            for index, (topic, payload) in enumerate(messages)
        )
        self.count = len(messages)
        self.acked = 0
        self.sent_at = 0.0
        self.done_at = 0.0

    def run(self) -> None:
        """Connect, send everything, and return when every PUBACK arrived."""
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(connect_packet(self.client_id, login=self.login))
        connack = sock.recv(4)
        if connack[:1] != b"\x20" or connack[3:4] != b"\x00":
            raise RuntimeError(f"the broker refused the load generator: CONNACK {connack!r}")
        reader = threading.Thread(target=self._read_acks, args=(sock,))
        reader.start()
        self.sent_at = time.monotonic()
        view = memoryview(self.stream)
        chunk = 1 << 20
        for offset in range(0, len(view), chunk):
            sock.sendall(view[offset : offset + chunk])
        reader.join()
        self.done_at = time.monotonic()
        sock.sendall(b"\xe0\x00")
        sock.close()

    def _read_acks(self, sock: socket.socket) -> None:
        pending = b""
        while self.acked < self.count:
            data = sock.recv(1 << 16)
            if not data:
                raise RuntimeError("broker closed the connection")
            pending += data
            whole = len(pending) // 4  # PUBACK is 4 bytes: 0x40 0x02 id id
            self.acked += whole
            pending = pending[whole * 4 :]
