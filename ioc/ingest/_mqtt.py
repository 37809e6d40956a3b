"""The MQTT side of ingest: a persistent QoS 1 session with manual acknowledgement."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ioc.broker import log_in
from ioc.config import BrokerAddress
from ioc.ingest._paho import PUBLISH_DUP, PUBLISH_RETAIN, BufferedClient, Publish
from ioc.ingest._pipeline import Message

log = logging.getLogger("ioc.ingest.mqtt")

# The broker keeps our session (subscriptions and queued messages) this long while we are away.
SESSION_EXPIRY_S = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class MqttOptions:
    """How to reach the broker and what to subscribe to."""

    broker: BrokerAddress  # where, as whom, over TLS or not
    topic_prefix: str
    shared_group: str | None = None
    max_in_flight: int = 40000
    keepalive_s: int = 30
    # Only for brokers that deliver one unacknowledged message at a time (amqtt): acknowledge
    # on receipt, giving up store-then-acknowledge. Mosquitto never needs it.
    ack_on_receipt: bool = False
    # Resume another (dead) consumer's session by its client id and leave the group: the
    # broker delivers what that session holds and nothing new; `end_session()` then makes it
    # forget the session. One connection only: should the owner come back and take its
    # session over, the adopter gives way (`ended`) instead of reconnecting.
    adopt: bool = False

    @property
    def subscription(self) -> str:
        """The topic filter, inside a shared-subscription group when one is set."""
        topic = f"{self.topic_prefix}/+/+/+"
        return f"$share/{self.shared_group}/{topic}" if self.shared_group else topic


# Called with the messages of one read from the socket, in the order they came.
MessageHandler = Callable[[list[Message]], None]


class MqttConsumer:
    """Subscribes with QoS 1 in a persistent session and acknowledges only when told to."""

    def __init__(
        self,
        options: MqttOptions,
        on_message: MessageHandler,
        admit: Callable[[], bool] | None = None,
    ) -> None:
        """`admit`, when given, is asked at each connection: if it says no, the consumer
        disconnects at once and stops (a leader's consumer on a node that lost the lease)."""
        self._options = options
        self._handle = on_message
        self._admit = admit
        self._generation = 0
        self._connected = threading.Event()
        self._left = threading.Event()  # the broker confirmed an unsubscription
        self._stopping = False
        self.connections = 0
        self.session_present = False  # whether the broker had the session at the last connect
        self.ended = False  # no longer connecting: adopted and lost, or not admitted
        # While the handler runs: the tokens of its messages that the broker delivered before
        # (to this session, on an earlier connection) and may have been handled already.
        self.redelivered: frozenset[int] = frozenset()
        v5 = options.broker.protocol == "5"
        self._client = BufferedClient(
            on_publishes=self._on_publishes,
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=options.broker.client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else False,
            manual_ack=not options.ack_on_receipt,
        )
        self._client.max_inflight_messages_set(options.max_in_flight)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        log_in(self._client, options.broker)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_subscribe = self._on_subscribe
        self._client.on_unsubscribe = self._on_unsubscribe
        self._failing = False

    @property
    def _where(self) -> str:
        broker = self._options.broker
        return f"{'mqtts' if broker.tls else 'mqtt'}://{broker.host}:{broker.port}"

    @property
    def connected(self) -> bool:
        """Whether the session is up and subscribed now."""
        return self._connected.is_set()

    def start(self) -> None:
        """Connect in the background; reconnection is automatic."""
        properties = None
        kwargs: dict[str, Any] = {}
        if self._options.broker.protocol == "5":
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = SESSION_EXPIRY_S
            properties.ReceiveMaximum = self._options.max_in_flight
            kwargs["clean_start"] = False
        self._client.connect_async(
            self._options.broker.host,
            self._options.broker.port,
            keepalive=self._options.keepalive_s,
            properties=properties,
            **kwargs,
        )
        self._client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        """Block until the first connection is up and subscribed."""
        return self._connected.wait(timeout)

    def stop(self) -> None:
        """Disconnect cleanly, keeping the session on the broker."""
        self._disconnect(None)

    def leave_group(self, timeout_s: float) -> bool:
        """Unsubscribe: the broker gives this session nothing new, though what it already
        holds still comes; whether the broker confirmed it within the timeout."""
        self._left.clear()
        result, _mid = self._client.unsubscribe(self._options.subscription)
        return result == mqtt.MQTT_ERR_SUCCESS and self._left.wait(timeout_s)

    def end_session(self) -> None:
        """Disconnect and make the broker forget the session (MQTT 5): what it would have
        queued for this client id goes to the group's other members from now on."""
        properties = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 0
        self._disconnect(properties)

    def _disconnect(self, properties: Properties | None) -> None:
        self._stopping = True
        self._client.disconnect(properties=properties)
        # The network thread must write the queued PUBACKs and the DISCONNECT before it is
        # stopped, or the broker redelivers messages that were already stored.
        deadline = time.monotonic() + 5.0
        while self._connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        self._client.loop_stop()

    def acknowledge(self, tokens: list[int]) -> None:
        """PUBACK the messages of a stored batch, if they came on the current connection."""
        if self._options.ack_on_receipt:
            return
        # A message from an earlier connection will be redelivered; its old id is void.
        generation = self._generation << 16
        self._client.ack_many(
            token & 0xFFFF for token in tokens if token & 0xFFFF and token & ~0xFFFF == generation
        )

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            return
        if self._admit is not None and not self._admit():
            log.warning(
                "%s is not to consume any more: disconnecting", self._options.broker.client_id
            )
            self._end(client)
            return
        self._generation += 1
        self.connections += 1
        self._failing = False
        self.session_present = bool(flags.session_present)
        log.info(
            "connected to %s (session %s)",
            self._where,
            "resumed" if flags.session_present else "new",
        )
        if self._options.adopt:
            # What the session queued is delivered all the same; new messages go to the rest.
            client.unsubscribe(self._options.subscription)
            return
        client.subscribe(self._options.subscription, qos=1)

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        # Up means subscribed: a message published before the broker has the subscription
        # would not be queued for a new session.
        if any(reason.is_failure for reason in reasons):
            log.error("broker refused the subscription %s: %s", self._options.subscription, reasons)
            return
        self._connected.set()

    def _on_unsubscribe(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _mid: int,
        _reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        self._left.set()
        if self._options.adopt:
            self._connected.set()  # adopted: everything from now on is what the session held

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        if not self._failing:
            self._failing = True
            log.warning(
                "cannot connect to %s; retrying with backoff (check the address, "
                "IOC_MQTT_CA_FILE, the certificate and the credentials)",
                self._where,
            )

    def _on_disconnect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._generation += 1
        if self._options.adopt and not self._stopping:
            # Mosquitto closes a session taken over without saying so: any loss ends an
            # adoption (what was not acknowledged stays in the session for its owner).
            log.info("gave up adopting %s (%s)", self._options.broker.client_id, reason)
            self._end(client)
        if self._connected.is_set() and not self._stopping:
            log.warning("lost the broker (%s); reconnecting with backoff", reason)
        self._connected.clear()

    def _end(self, client: mqtt.Client) -> None:
        self.ended = True
        self._stopping = True
        client.disconnect()
        # From the network thread itself: it ends after this callback instead of reconnecting
        # (paho marks a lost connection for reconnection after `on_disconnect` returns).
        client.loop_stop()

    @property
    def looping(self) -> bool:
        """Whether its network thread runs (and so reconnects when the connection drops)."""
        return self._client._thread is not None  # paho's own record of its loop thread

    def _on_publishes(self, publishes: list[Publish]) -> None:
        # A token is the connection's generation and the message id (0 for QoS 0) in one int.
        generation = self._generation << 16
        # Brokers refuse topics that are not UTF-8, but a bad one must not kill the loop.
        messages = [
            (topic.decode("utf-8", "replace"), payload, bool(flags & PUBLISH_RETAIN),
             generation | mid)
            for topic, payload, flags, mid in publishes
        ]  # fmt: skip
        self.redelivered = frozenset(
            generation | mid for _topic, _payload, flags, mid in publishes if flags & PUBLISH_DUP
        )
        try:
            self._handle(messages)
        finally:
            self.redelivered = frozenset()
