"""paho's client with a fast receive path and bulk acknowledgements, for ingest's hot path.

Stock paho reads every packet with several one-byte recv() calls after a select() each, builds
an MQTTMessage and runs a topic matcher per message, and queues every PUBACK as its own packet
(a lock, a wake-up byte to its network thread, a send). At tens of thousands of messages a
second that is most of ingest's CPU. This subclass reads the socket in 64 KiB chunks, parses
every complete PUBLISH in the chunk itself and hands topic and payload straight to one
handler; every other packet (CONNACK, SUBACK, PINGRESP...) goes through paho's own handling.
A batch's PUBACKs are written as one buffer.

paho keeps connecting, subscribing, keepalive, reconnection and TLS. The subclass relies on
paho 2.1/2.2 internals (`_in_packet`, `_packet_handle`, `_packet_queue`, `_loop_rc_handle`),
which is why pyproject pins paho-mqtt to 2.1-2.2; the ingest tests cover every path
(acknowledgement, redelivery after a crash, reconnection, MQTT 3.1.1 and 5).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.exception import MalformedPacket

_PUBLISH = 0x30
_PUBACK = 0x40
_READ_CHUNK = 65536
_PUBACK_FORMAT = struct.Struct("!BBH")

# topic, payload, the fixed header's flags (PUBLISH_RETAIN, PUBLISH_DUP), message id (0 for QoS 0)
Publish = tuple[bytes, bytes, int, int]
PUBLISH_RETAIN = 0x01
PUBLISH_DUP = 0x08  # the broker sent this message before (redelivered on a resumed session)
# Called with the PUBLISH packets of one read, in order.
PublishHandler = Callable[[list[Publish]], None]


def _in_packet(command: int = 0, length: int = 0, body: bytes = b"") -> Any:
    """paho's reader state for one packet (its private `_InPacket` layout)."""
    return {
        "command": command,
        "have_remaining": 1 if command else 0,
        "remaining_count": [],
        "remaining_mult": 1,
        "remaining_length": length,
        "packet": bytearray(body),
        "to_process": 0,
        "pos": 0,
    }


class BufferedClient(mqtt.Client):
    """A paho Client that parses PUBLISH packets in bulk and acknowledges them in bulk."""

    def __init__(self, *args: Any, on_publishes: PublishHandler, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_publishes = on_publishes
        # bytes, not a bytearray: a slice of it is the payload itself, one copy and no more.
        self._read_buffer = b""
        self._read_buffer_socket: object = None

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Read what the socket has and handle every complete packet in it."""
        if self._sock is None:
            return MQTTErrorCode.MQTT_ERR_NO_CONN
        if self._sock is not self._read_buffer_socket:
            # A new connection: bytes left from the old one belong to nobody.
            self._read_buffer = b""
            self._read_buffer_socket = self._sock
        try:
            data = self._sock_recv(_READ_CHUNK)
        except BlockingIOError:
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        except OSError:
            return self._loop_rc_handle(MQTTErrorCode.MQTT_ERR_CONN_LOST)
        if not data:
            return self._loop_rc_handle(MQTTErrorCode.MQTT_ERR_CONN_LOST)
        self._read_buffer = self._read_buffer + data if self._read_buffer else data
        with self._msgtime_mutex:
            self._last_bytes_received = mqtt.time_func()
        result = self._handle_buffered_packets()
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return self._loop_rc_handle(result)
        return result

    def _handle_buffered_packets(self) -> MQTTErrorCode:
        buffer = self._read_buffer
        size = len(buffer)
        position = 0
        v5 = self._protocol == mqtt.MQTTv5
        publishes: list[Publish] = []
        try:
            while position + 2 <= size:
                command = buffer[position]
                length = buffer[position + 1]
                if length < 0x80:  # a short packet: no call for its one-byte length
                    body = position + 2
                else:
                    length, body = _varint(buffer, position + 1, size)
                    if body < 0:
                        break
                end = body + length
                if end > size:
                    break
                if command & 0xF0 == _PUBLISH and command & 0x06 != 0x04:  # QoS 0 or 1
                    topic_end = body + 2 + ((buffer[body] << 8) | buffer[body + 1])
                    cursor = topic_end
                    mid = 0
                    if command & 0x06:
                        mid = (buffer[cursor] << 8) | buffer[cursor + 1]
                        cursor += 2
                    if v5:
                        if cursor < end and buffer[cursor] < 0x80:  # no properties, or a few
                            cursor += 1 + buffer[cursor]
                        else:
                            properties_length, cursor = _varint(buffer, cursor, end)
                            if cursor < 0:
                                raise MalformedPacket("PUBLISH properties run past the packet")
                            cursor += properties_length
                    if cursor > end:
                        raise MalformedPacket("PUBLISH header runs past the packet")
                    publishes.append(
                        (
                            buffer[body + 2 : topic_end],
                            buffer[cursor:end],
                            command & (PUBLISH_RETAIN | PUBLISH_DUP),
                            mid,
                        )
                    )
                else:
                    # What came before a control packet is handed over first: a DISCONNECT
                    # or CONNACK starts another connection, where those message ids are void.
                    self._hand_over(publishes)
                    result = self._paho_handle(command, length, buffer[body:end])
                    if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
                        position = end
                        return result
                position = end
            self._hand_over(publishes)
        except (MalformedPacket, IndexError):
            self._hand_over(publishes)  # the good packets before the bad one
            return MQTTErrorCode.MQTT_ERR_PROTOCOL
        finally:
            if position:
                self._read_buffer = buffer[position:]
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _hand_over(self, publishes: list[Publish]) -> None:
        if not publishes:
            return
        self._on_publishes(publishes[:])
        if not self._manual_ack:
            self.ack_many(mid for _topic, _payload, _flags, mid in publishes if mid)
        publishes.clear()

    def _paho_handle(self, command: int, length: int, body: bytes) -> MQTTErrorCode:
        """Let paho handle a control packet exactly as its own reader would have."""
        self._in_packet = _in_packet(command, length, body)
        try:
            return self._packet_handle()
        finally:
            self._in_packet = _in_packet()

    def ack_many(self, mids: Iterable[int]) -> None:
        """PUBACK many QoS 1 messages with one queued write (valid for MQTT 3.1.1 and 5)."""
        packet = b"".join(_PUBACK_FORMAT.pack(_PUBACK, 2, mid) for mid in mids)
        if packet:
            self._packet_queue(_PUBACK, packet, 0, 0)


def _varint(buffer: bytes, start: int, limit: int) -> tuple[int, int]:
    """An MQTT variable byte integer at start: (value, index after it); index -1 if incomplete."""
    value, multiplier, index = 0, 1, start
    while True:
        if index >= limit:
            return 0, -1
        byte = buffer[index]
        value += (byte & 0x7F) * multiplier
        index += 1
        if byte < 0x80:
            return value, index
        multiplier *= 128
        if index - start >= 4:
            raise MalformedPacket("variable byte integer longer than 4 bytes")
