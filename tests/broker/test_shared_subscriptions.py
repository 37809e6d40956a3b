"""What Mosquitto does with a shared subscription when a member dies, measured on the real
broker; ioc's cluster is built on it (docs/operations.md, "Two nodes").

A member with a persistent session that dies keeps its share: the broker goes on handing it
every other message, queued in its offline session, and never gives its unacknowledged ones to
the others. Resuming that session under the dead member's client id (without subscribing again)
delivers all of them, and ending it (DISCONNECT with session expiry 0) returns the whole load
to the living. Nothing is lost."""

from __future__ import annotations

import socket
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ioc.broker import MosquittoProcess
from tests.support.mqtt import publish_all, wait_until

SHARED = "$share/ingest/t/#"


class Member:
    """An MQTT 5 member of the group with a persistent session; acknowledges only if told."""

    def __init__(self, port: int, client_id: str, acknowledge: bool, subscribe: bool) -> None:
        self.got: list[int] = []
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
            manual_ack=True,
        )  # fmt: skip

        def on_message(client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
            self.got.append(int(message.payload))
            if acknowledge:
                client.ack(message.mid, message.qos)

        self.client.on_message = on_message
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", port, properties=properties, clean_start=False)
        self.client.loop_start()
        if subscribe:
            # The callback first: the SUBACK can come back before subscribe() returns.
            subscribed: list[int] = []
            self.client.on_subscribe = lambda _c, _u, m, _r, _p: subscribed.append(m)
            _result, mid = self.client.subscribe(SHARED, qos=1)
            wait_until(lambda: mid in subscribed, 10, "the SUBACK")

    def die(self) -> None:
        """The socket cut, no DISCONNECT: a SIGKILL or a power cut."""
        self.client._sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
        self.client.loop_stop()

    def end_session(self) -> None:
        """DISCONNECT with session expiry 0: the broker forgets the session. Waits until the
        DISCONNECT is out: stopping the loop at once could leave it unsent on a loaded
        machine, and the session (with its share of the group) alive."""
        gone = threading.Event()
        self.client.on_disconnect = lambda *_args: gone.set()
        properties = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 0
        self.client.disconnect(properties=properties)
        assert gone.wait(10), "the DISCONNECT never went out"
        self.client.loop_stop()


def _send(port: int, numbers: range) -> None:
    publish_all(port, [("t/x", str(n).encode()) for n in numbers], client_id="producer")


def test_a_dead_members_share_waits_in_its_session_until_another_resumes_it(
    mosquitto: MosquittoProcess,
) -> None:
    broker = mosquitto
    node_a = Member(broker.port, "ingest-a", acknowledge=False, subscribe=True)
    node_b = Member(broker.port, "ingest-b", acknowledge=True, subscribe=True)
    _send(broker.port, range(20))
    wait_until(lambda: len(node_a.got) + len(node_b.got) == 20, 10, "all 20 delivered")
    unacknowledged = list(node_a.got)
    assert unacknowledged, "the group shares the load"
    node_a.die()
    _send(broker.port, range(20, 40))
    wait_until(lambda: len(node_b.got) >= 20, 10, "b's share")
    # b never gets a's unacknowledged messages nor, while a's session lives, a's share.
    assert not set(unacknowledged) & set(node_b.got)
    kept_for_a = set(range(20, 40)) - set(node_b.got)
    assert kept_for_a, "the broker keeps handing the dead member its share"
    # Another node resumes a's session under a's client id, and ends it once drained.
    adopter = Member(broker.port, "ingest-a", acknowledge=True, subscribe=False)
    wait_until(
        lambda: set(adopter.got) >= set(unacknowledged) | kept_for_a, 10, "a's session drained"
    )
    adopter.end_session()
    _send(broker.port, range(40, 60))
    wait_until(lambda: set(range(40, 60)) <= set(node_b.got), 10, "the whole load to b")
    assert set(adopter.got) | set(node_b.got) == set(range(60))  # nothing lost
    node_b.end_session()


def _plain_session(port: int, got: list[int], subscribe: bool) -> mqtt.Client:
    """An MQTT 5 persistent session with a plain subscription to t/# (made, or resumed)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="member-plain",
                         protocol=mqtt.MQTTv5)  # fmt: skip
    client.on_message = lambda _c, _u, message: got.append(int(message.payload))
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", port, properties=properties, clean_start=False)
    client.loop_start()
    if subscribe:
        subscribed: list[int] = []
        client.on_subscribe = lambda _c, _u, mid, _r, _p: subscribed.append(mid)
        _result, mid = client.subscribe("t/#", qos=1)
        wait_until(lambda: mid in subscribed, 10, "the SUBACK")
    return client


def test_a_restart_restores_a_sessions_plain_subscription_but_not_its_shared_one(
    mosquitto: MosquittoProcess,
) -> None:
    """Mosquitto 2.0 keeps both sessions across a restart (persistence) but restores only the
    plain subscription: what is published before the shared member subscribes again reaches
    nobody in the group. ioc's cluster leader keeps it (ioc/app/_keeper.py); this test says
    when a Mosquitto no longer needs that."""
    shared = Member(mosquitto.port, "member-shared", acknowledge=True, subscribe=True)
    got_plain: list[int] = []
    plain = _plain_session(mosquitto.port, got_plain, subscribe=True)
    for client in (shared.client, plain):  # both offline, their sessions kept
        client.disconnect()
        client.loop_stop()
    mosquitto.restart()
    _send(mosquitto.port, range(5))
    back_shared = Member(mosquitto.port, "member-shared", acknowledge=True, subscribe=False)
    back_plain = _plain_session(mosquitto.port, got_plain, subscribe=False)
    try:
        wait_until(lambda: len(got_plain) == 5, 10, "the plain session's five")
        assert back_shared.got == []  # the shared subscription was not restored: none of five
    finally:
        for client in (back_shared.client, back_plain):
            client.disconnect()
            client.loop_stop()
