"""MQTT brokers ioc starts itself (a private Mosquitto for tests, bench and demo, or embedded
amqtt), and the paho client its publishers share."""

from ioc.broker._client import paho_client
from ioc.broker._embedded import EmbeddedBroker
from ioc.broker._mosquitto import (
    BrokerError,
    MosquittoProcess,
    free_port,
    mosquitto_available,
    shipped_config,
    stop_process,
    wait_for_port,
)

__all__ = [
    "BrokerError",
    "EmbeddedBroker",
    "MosquittoProcess",
    "free_port",
    "mosquitto_available",
    "paho_client",
    "shipped_config",
    "stop_process",
    "wait_for_port",
]
