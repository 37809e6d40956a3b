"""Alert transitions on MQTT: `{prefix}/alerts/{class}/{device}/{rule}`, QoS 1, JSON."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ioc.alerts._json import transition_json
from ioc.broker import paho_client
from ioc.config import BrokerAddress
from ioc.domain import AlertTransition

log = logging.getLogger("ioc.alerts.mqtt")

# Transitions kept while the broker is away; beyond this they are dropped and counted (the
# alerts themselves are safe in the state database either way).
MAX_QUEUED = 100_000


def alert_topic(prefix: str, transition: AlertTransition) -> str:
    """The topic one transition is published on."""
    alert = transition.alert
    return f"{prefix}/alerts/{alert.device_class}/{alert.device_id}/{alert.rule_id}"


class MqttAlertPublisher:
    """Publishes transitions with QoS 1 from paho's own thread; never blocks the caller."""

    def __init__(self, address: BrokerAddress, topic_prefix: str) -> None:
        self._prefix = topic_prefix
        self._address = address
        self.published = 0
        self.dropped = 0
        self._connected = threading.Event()
        self._stopping = False
        self._client = paho_client(address)
        self._client.max_queued_messages_set(MAX_QUEUED)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect

    def start(self) -> None:
        """Connect in the background; reconnection is automatic."""
        self._client.connect_async(self._address.host, self._address.port, keepalive=30)
        self._client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected (tests and start-up)."""
        return self._connected.wait(timeout)

    def publish(self, transition: AlertTransition) -> None:
        """Queue one transition for the broker."""
        info = self._client.publish(
            alert_topic(self._prefix, transition),
            orjson.dumps(transition_json(transition)),
            qos=1,
        )
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            self.dropped += 1
        else:
            self.published += 1

    def publish_confirmed(
        self, topic: str, payload: bytes, correlation: bytes = b"", timeout_s: float = 5.0
    ) -> bool:
        """Publish with QoS 1 and wait for the broker's acknowledgement; whether it came. Over
        MQTT 5 the message carries `correlation` as its correlation data (a notification's key:
        a receiver drops a resend by it)."""
        if not self._connected.is_set():
            return False
        properties = None
        if correlation and self._address.protocol == "5":
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.CorrelationData = correlation
        info = self._client.publish(topic, payload, qos=1, properties=properties)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return False
        try:
            info.wait_for_publish(timeout_s)
        except (RuntimeError, ValueError):  # paho: connection lost, or queue full
            return False
        return info.is_published()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Send what is queued (for up to `timeout_s`), then disconnect."""
        deadline = time.monotonic() + timeout_s
        while self._client.want_write() and time.monotonic() < deadline:
            time.sleep(0.01)
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the alert publisher: %s", reason)
            return
        self._connected.set()

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if self._connected.is_set() and not self._stopping:
            log.warning("alert publisher lost the broker (%s); reconnecting", reason)
        self._connected.clear()
