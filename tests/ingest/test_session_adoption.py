"""Ingest's consumer taking over a dead member's share of a shared subscription on the real
Mosquitto: resumed by client id without subscribing, drained, and ended (the broker's behaviour
itself is pinned in tests/broker/test_shared_subscriptions.py)."""

from __future__ import annotations

import socket

from ioc.broker import MosquittoProcess
from ioc.config import BrokerAddress
from ioc.ingest import Message, MqttConsumer, MqttOptions
from tests.support.mqtt import publish_all, wait_until

TOPIC = "ioc/bts/bts-QT-00001/telemetry"


class Member:
    """A consumer in the `ingest` group that keeps what it receives, acknowledging or not."""

    def __init__(
        self, port: int, client_id: str, acknowledge: bool, adopt: bool = False,
        group: str = "ingest",
    ) -> None:  # fmt: skip
        self.got: list[int] = []
        self.redelivered: list[int] = []  # what the broker marked as sent before
        options = MqttOptions(
            BrokerAddress("127.0.0.1", port, client_id), "ioc", shared_group=group, adopt=adopt
        )

        def keep(messages: list[Message]) -> None:
            self.got += [int(payload) for _topic, payload, _retained, _token in messages]
            self.redelivered += [
                int(payload)
                for _topic, payload, _retained, token in messages
                if token in self.consumer.redelivered
            ]
            if acknowledge:
                self.consumer.acknowledge([token for *_message, token in messages])

        self.consumer = MqttConsumer(options, keep)
        self.consumer.start()
        assert self.consumer.wait_connected(10)


def _send(port: int, numbers: range) -> None:
    publish_all(port, [(TOPIC, str(n).encode()) for n in numbers], client_id="producer")


def test_a_dead_members_messages_are_taken_over_and_its_session_ended(
    mosquitto: MosquittoProcess,
) -> None:
    node_a = Member(mosquitto.port, "ioc-ingest-a", acknowledge=False)
    node_b = Member(mosquitto.port, "ioc-ingest-b", acknowledge=True)
    _send(mosquitto.port, range(20))
    wait_until(lambda: len(node_a.got) + len(node_b.got) == 20, 10, "all 20 delivered")
    # node a dies holding its messages unacknowledged (its socket cut, as by SIGKILL).
    node_a.consumer._client._sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
    node_a.consumer._client.loop_stop()
    _send(mosquitto.port, range(20, 40))
    wait_until(lambda: len(node_b.got) >= 20, 10, "b's share")
    adopter = Member(mosquitto.port, "ioc-ingest-a", acknowledge=True, adopt=True)
    assert adopter.consumer.session_present
    owed = set(range(40)) - set(node_b.got)
    wait_until(lambda: set(adopter.got) >= owed, 10, "everything a's session held")
    # Adopted, the session left the group: new messages go to the living member only.
    _send(mosquitto.port, range(40, 50))
    wait_until(lambda: set(range(40, 50)) <= set(node_b.got), 10, "new messages to b")
    assert set(adopter.got) == owed
    adopter.consumer.end_session()
    _send(mosquitto.port, range(50, 60))
    wait_until(lambda: set(range(50, 60)) <= set(node_b.got), 10, "the whole load to b")
    assert set(adopter.got) | set(node_b.got) == set(range(60))
    node_b.consumer.stop()
    # Ended: adopting it again finds no session.
    again = Member(mosquitto.port, "ioc-ingest-a", acknowledge=True, adopt=True)
    assert not again.consumer.session_present
    again.consumer.end_session()


def test_an_adopter_gives_way_when_the_owner_comes_back(mosquitto: MosquittoProcess) -> None:
    node_b = Member(mosquitto.port, "ioc-ingest-b", acknowledge=True)
    adopter = Member(mosquitto.port, "ioc-ingest-a", acknowledge=True, adopt=True)
    owner = Member(mosquitto.port, "ioc-ingest-a", acknowledge=True)  # node a restarted
    wait_until(lambda: adopter.consumer.ended, 10, "the adopter giving way")
    wait_until(lambda: not adopter.consumer.looping, 10, "the adopter never to reconnect")
    assert owner.consumer.session_present  # the session the adopter had left for a
    # The adopter does not fight for it: the owner stays connected and back in the group.
    _send(mosquitto.port, range(40))
    wait_until(lambda: len(owner.got) + len(node_b.got) == 40, 10, "all 40 delivered")
    assert owner.consumer.connected and not adopter.consumer.connected
    assert owner.consumer.connections == 1  # never pushed out again
    assert owner.got and node_b.got
    adopter.consumer.stop()
    owner.consumer.end_session()
    node_b.consumer.stop()


def test_what_the_broker_sends_again_is_marked_redelivered(mosquitto: MosquittoProcess) -> None:
    """The rules judge a redelivered event only if they have not judged it yet: the consumer
    says which messages the broker sent before (the PUBLISH's DUP flag) and which are new."""
    first = Member(mosquitto.port, "ioc-redelivery", acknowledge=False, group="redelivery")
    _send(mosquitto.port, range(5))
    wait_until(lambda: len(first.got) == 5, 10, "all 5 delivered")
    assert first.redelivered == []
    first.consumer._client._sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
    first.consumer._client.loop_stop()
    _send(mosquitto.port, range(5, 8))
    again = Member(mosquitto.port, "ioc-redelivery", acknowledge=True, group="redelivery")
    wait_until(lambda: set(again.got) >= set(range(8)), 10, "all 8 delivered")
    assert sorted(again.got) == list(range(8))
    assert sorted(again.redelivered) == list(range(5))
    assert again.consumer.redelivered == frozenset()  # only while the handler runs
    again.consumer.end_session()
