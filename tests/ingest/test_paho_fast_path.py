"""The hand-written PUBLISH parser in ioc/ingest/_paho.py, fed byte streams cut anywhere."""

from __future__ import annotations

import socket
import struct

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from ioc.ingest._paho import BufferedClient
from tests.support.packets import publish_packet, varint

_messages = st.lists(
    st.tuples(
        st.binary(min_size=1, max_size=40).filter(lambda t: b"\x00" not in t),
        st.binary(max_size=300),
        st.sampled_from([0, 1]),
        st.booleans(),
        st.integers(1, 65535),
        # v5 PUBLISH properties: none, a content type, a user property, one past 127 bytes
        st.sampled_from(
            [
                b"",
                b"\x03\x00\x04json",
                b"\x26\x00\x01k\x00\x01v",
                b"\x26\x00\x01k\x00\x80" + b"v" * 128,
            ]
        ),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(messages=_messages, v5=st.booleans(), cuts=st.lists(st.integers(0, 5000), max_size=20))
def test_every_publish_is_delivered_once_in_order_however_the_stream_is_cut(
    messages: list[tuple[bytes, bytes, int, bool, int, bytes]], v5: bool, cuts: list[int]
) -> None:
    received: list[tuple[bytes, bytes, bool, int]] = []
    client = _client(v5, received)
    stream = b"".join(
        publish_packet(topic, payload, qos, mid, retain, properties if v5 else None)
        for topic, payload, qos, retain, mid, properties in messages
    )
    points = sorted({c % (len(stream) + 1) for c in cuts} | {len(stream)})
    parts = [stream[start:end] for start, end in zip([0, *points], points, strict=False)]
    assert _read(client, parts) == [mqtt.MQTT_ERR_SUCCESS] * len(parts)
    assert received == [
        (topic, payload, retain, mid if qos else 0)
        for topic, payload, qos, retain, mid, _properties in messages
    ]


@pytest.mark.parametrize("v5", [False, True])
def test_a_publish_whose_header_runs_past_its_packet_is_a_protocol_error(v5: bool) -> None:
    received: list[tuple[bytes, bytes, bool, int]] = []
    client = _client(v5, received)
    good = publish_packet(b"ioc/bts/b1/telemetry", b"{}", 1, 7, False, b"" if v5 else None)
    # A topic said to be 20 bytes long in a 12-byte packet, the next packet behind it.
    bad = b"\x32" + varint(12) + struct.pack("!H", 20) + b"ioc/b" + b"\x00\x08" + b"xyz"
    assert _read(client, [good + bad + good]) == [mqtt.MQTT_ERR_PROTOCOL]
    assert received == [(b"ioc/bts/b1/telemetry", b"{}", False, 7)]  # the good one before


def _client(v5: bool, received: list[tuple[bytes, bytes, bool, int]]) -> BufferedClient:
    return BufferedClient(
        CallbackAPIVersion.VERSION2,
        client_id="t",
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        manual_ack=True,
        on_publishes=received.extend,
    )


def _read(client: BufferedClient, parts: list[bytes]) -> list[MQTTErrorCode]:
    """What loop_read answers to each part of a stream arriving on its socket."""
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    client._sock = ours  # type: ignore[assignment]
    results = []
    try:
        for part in parts:
            theirs.sendall(part)
            results.append(client.loop_read())
    finally:
        client._sock = None
        ours.close()
        theirs.close()
    return results
