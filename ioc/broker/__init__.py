"""MQTT brokers ioc starts itself: a private Mosquitto (tests, bench, demo) or embedded amqtt."""

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
    "shipped_config",
    "stop_process",
    "wait_for_port",
]
