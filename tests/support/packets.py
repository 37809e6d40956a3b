"""Raw MQTT packets for tests and the load generator (encoded by hand on purpose: they feed
ioc's own packet parser and a broker at full speed)."""

from __future__ import annotations

import struct


def varint(value: int) -> bytes:
    """An MQTT variable byte integer."""
    out = bytearray()
    while True:
        byte, value = value % 128, value // 128
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def string(data: bytes) -> bytes:
    """A length-prefixed MQTT string."""
    return struct.pack("!H", len(data)) + data


def connect_packet(
    client_id: str, keepalive: int = 600, login: tuple[str, str] | None = None
) -> bytes:
    """MQTT 3.1.1 CONNECT with a clean session, and a user name and password if given."""
    flags = 0x02 | (0xC0 if login else 0)
    body = string(b"MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive)
    body += string(client_id.encode())
    if login:
        body += string(login[0].encode()) + string(login[1].encode())
    return b"\x10" + varint(len(body)) + body


def publish_packet(
    topic: bytes,
    payload: bytes,
    qos: int = 1,
    mid: int = 1,
    retain: bool = False,
    properties: bytes | None = None,
) -> bytes:
    """PUBLISH at QoS 0 or 1; `properties` (even b"") makes it an MQTT 5 packet."""
    body = string(topic)
    if qos:
        body += struct.pack("!H", mid)
    if properties is not None:
        body += varint(len(properties)) + properties
    body += payload
    return bytes([0x30 | (qos << 1) | int(retain)]) + varint(len(body)) + body
