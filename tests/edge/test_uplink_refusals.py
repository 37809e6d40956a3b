"""A collector on a locked broker: what its identity may publish goes out; what it may not is
refused by the broker (MQTT 5 PUBACK 135), counted, logged once, and not retried, so the
messages behind it are not held up."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ioc.broker import MosquittoProcess, plan_identities, read_secrets, write_identities
from ioc.config import BrokerAddress
from ioc.edge import EdgeOptions, EdgeOutbox
from tests.support.mqtt import wait_until


def test_refused_publishes_are_counted_and_do_not_block_the_rest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    identities = plan_identities("ioc", [], [("probe", "p1", [("netgw", "gw-1")])], [])
    made = write_identities(tmp_path / "ids", identities)
    broker = MosquittoProcess(
        tmp_path / "mosquitto",
        extra_config=made.mosquitto_config(),
    )
    broker.start()
    secret = read_secrets(tmp_path / "ids")["p1"]
    address = BrokerAddress("127.0.0.1", broker.port, "p1", username="p1", password=secret)
    outbox = EdgeOutbox(EdgeOptions(address, "ioc", tmp_path / "buffer.db"), "probe", "p1", 1000)
    try:
        with caplog.at_level(logging.INFO, logger="ioc.edge.mqtt"):
            outbox.start()
            for n in range(3):
                outbox.reading("netgw", "gw-1", 1_790_000_000_000 + n, {"rtt_ms": 1.0})
                outbox.reading("netgw", "gw-2", 1_790_000_000_000 + n, {"rtt_ms": 1.0})
            wait_until(lambda: outbox.uplink.published + outbox.uplink.refused == 6, 10, "acks")
            assert len(outbox.buffer) == 0  # the refused ones do not hold the rest back
    finally:
        outbox.stop([])
        broker.stop()
    assert (outbox.uplink.published, outbox.uplink.refused) == (3, 3)
    refusals = [m for m in caplog.messages if "refused a publish on ioc/netgw/gw-2" in m]
    assert len(refusals) == 1, caplog.messages  # once for the topic, not per message
    assert "Not authorized" in refusals[0]
