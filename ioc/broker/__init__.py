"""MQTT brokers ioc starts itself (a private Mosquitto for tests, bench and demo, or embedded
amqtt), the paho client its publishers share, and the broker identities (users, secrets, ACL)
a locked broker is given."""

from ioc.broker._client import log_in, paho_client
from ioc.broker._embedded import EmbeddedBroker
from ioc.broker._identities import (
    PHONE_PREFIX,
    SERVICE_IDENTITIES,
    Identity,
    IdentityError,
    IdentityFiles,
    IdentityKind,
    Listeners,
    mosquitto_config,
    plan_identities,
    read_secrets,
    reload_broker,
    revoke,
    write_identities,
)
from ioc.broker._mosquitto import (
    BrokerError,
    MosquittoProcess,
    free_port,
    mosquitto_available,
    shipped_config,
    stop_process,
    wait_for_port,
)
from ioc.broker._tls import TlsFiles

__all__ = [
    "PHONE_PREFIX",
    "SERVICE_IDENTITIES",
    "BrokerError",
    "EmbeddedBroker",
    "Identity",
    "IdentityError",
    "IdentityFiles",
    "IdentityKind",
    "Listeners",
    "MosquittoProcess",
    "TlsFiles",
    "free_port",
    "log_in",
    "mosquitto_available",
    "mosquitto_config",
    "paho_client",
    "plan_identities",
    "read_secrets",
    "reload_broker",
    "revoke",
    "shipped_config",
    "stop_process",
    "wait_for_port",
    "write_identities",
]
