"""The paho client every ioc client starts from: protocol, credentials, TLS, reconnect pace."""

from __future__ import annotations

import ssl

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ioc.config import BrokerAddress


def paho_client(address: BrokerAddress) -> mqtt.Client:
    """A paho client for this address (not connected), reconnecting between 1 and 30 s."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=address.client_id,
        protocol=mqtt.MQTTv5 if address.protocol == "5" else mqtt.MQTTv311,
    )
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    log_in(client, address)
    return client


def log_in(client: mqtt.Client, address: BrokerAddress) -> None:
    """Give a client its credentials and, for mqtts://, its TLS: the server verified against
    the CA file (or the system's CAs) and, when the address has one, a client certificate."""
    if address.username:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set(
            ca_certs=address.ca_file,
            certfile=address.cert_file,
            keyfile=address.key_file,
            cert_reqs=ssl.CERT_REQUIRED,
        )
