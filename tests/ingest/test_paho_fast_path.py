"""The hand-written PUBLISH parser in ioc/ingest/_paho.py, fed byte streams cut anywhere."""

from __future__ import annotations

import socket

import paho.mqtt.client as mqtt
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from ioc.ingest._paho import BufferedClient
from tests.support.packets import publish_packet

_messages = st.lists(
    st.tuples(
        st.binary(min_size=1, max_size=40).filter(lambda t: b"\x00" not in t),
        st.binary(max_size=300),
        st.sampled_from([0, 1]),
        st.booleans(),
        st.integers(1, 65535),
        # v5 PUBLISH properties: none, or a content type, or a user property
        st.sampled_from([b"", b"\x03\x00\x04json", b"\x26\x00\x01k\x00\x01v"]),
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
    client = BufferedClient(
        CallbackAPIVersion.VERSION2,
        client_id="t",
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        manual_ack=True,
        on_publishes=received.extend,
    )
    stream = b"".join(
        publish_packet(topic, payload, qos, mid, retain, properties if v5 else None)
        for topic, payload, qos, retain, mid, properties in messages
    )
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    client._sock = ours  # type: ignore[assignment]
    try:
        points = sorted({c % (len(stream) + 1) for c in cuts} | {len(stream)})
        start = 0
        for point in points:
            theirs.sendall(stream[start:point])
            start = point
            assert client.loop_read() == mqtt.MQTT_ERR_SUCCESS
    finally:
        client._sock = None
        ours.close()
        theirs.close()
    assert received == [
        (topic, payload, retain, mid if qos else 0)
        for topic, payload, qos, retain, mid, _properties in messages
    ]
