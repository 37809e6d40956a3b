"""paho's client with cheaper reads and bulk acknowledgements, for ingest's hot path.

Stock paho reads every packet with several small recv() calls after one select() each, and
queues every PUBACK as its own packet (a lock, a wake-up byte to its network thread, a send).
At tens of thousands of messages a second those system calls are most of ingest's CPU. This
subclass reads the socket in 64 KiB chunks, drains what it buffered before going back to
select(), and writes a batch's PUBACKs as one buffer.

It relies on paho 2.1/2.2 internals (`_sock_recv`, `_packet_queue`), which is why pyproject
pins paho-mqtt below 3; the ingest tests exercise every path (acknowledgement, redelivery
after a crash, reconnection).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

_PUBACK = 0x40
_READ_CHUNK = 65536
_PUBACK_FORMAT = struct.Struct("!BBH")


class BufferedClient(mqtt.Client):
    """A paho Client that reads in chunks and acknowledges QoS 1 messages in bulk."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_buffer = bytearray()
        self._read_buffer_socket: object = None

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._sock is not self._read_buffer_socket:
            # A new connection: bytes left from the old one belong to nobody.
            self._read_buffer = bytearray()
            self._read_buffer_socket = self._sock
        buffer = self._read_buffer
        if not buffer:
            data = super()._sock_recv(_READ_CHUNK)
            if not data:
                return b""
            buffer += data
        chunk = bytes(buffer[:bufsize])
        del buffer[:bufsize]
        return chunk

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Read packets until neither the socket nor the buffer has a whole one."""
        result = super().loop_read(max_packets)
        while (
            result == MQTTErrorCode.MQTT_ERR_SUCCESS
            and self._read_buffer
            and self._sock is not None
        ):
            result = super().loop_read(max_packets)
        return result

    def ack_many(self, mids: Iterable[int]) -> None:
        """PUBACK many QoS 1 messages with one queued write (valid for MQTT 3.1.1 and 5)."""
        packet = b"".join(_PUBACK_FORMAT.pack(_PUBACK, 2, mid) for mid in mids)
        if packet:
            self._packet_queue(_PUBACK, packet, 0, 0)
