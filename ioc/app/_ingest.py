"""The ingest service: consumer, pipeline and a supervised flusher, started and stopped as one."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ioc.app._catalog import Catalog
from ioc.config import Settings
from ioc.domain import Clock, now_ms
from ioc.ingest import (
    Decoder,
    IngestStats,
    LiveState,
    MqttConsumer,
    MqttOptions,
    Observer,
    Pipeline,
    RejectionSink,
    TelemetrySink,
)

log = logging.getLogger("ioc.app")


def build_decoder(settings: Settings, catalog: Catalog) -> Decoder:
    """The wire-protocol decoder the settings and catalog describe."""
    return Decoder(
        topic_prefix=settings.topic_prefix,
        profiles=catalog.profiles,
        inventory=catalog.inventory,
        accept_unknown_devices=settings.unknown_devices.value == "accept",
        max_clock_skew_ms=int(settings.max_clock_skew_s * 1000),
        max_payload_bytes=settings.max_payload_bytes,
    )


def mqtt_options(
    settings: Settings,
    client_id: str,
    ack_on_receipt: bool,
    shared_group: str | None,
    adopt: bool = False,
) -> MqttOptions:
    """Subscription options for one of ioc's consumers."""
    return MqttOptions(
        broker=settings.broker_address(client_id),  # the same login as every other client
        topic_prefix=settings.topic_prefix,
        shared_group=shared_group,
        max_in_flight=settings.max_in_flight,
        keepalive_s=settings.mqtt_keepalive_s,
        ack_on_receipt=ack_on_receipt,
        adopt=adopt,
    )


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """How ingest takes messages and batches them for the store."""

    mqtt: MqttOptions  # the session, and how many messages may be unacknowledged at once
    batch_size: int
    batch_interval_s: float
    writers: int  # batches written to the store at once


def ingest_options(
    settings: Settings, mqtt: MqttOptions | None = None, ack_on_receipt: bool = False
) -> IngestOptions:
    """Ingest's options from the settings; `mqtt` names another session than
    IOC_MQTT_CLIENT_ID's (a cluster node's, an adopted one)."""
    session = mqtt or mqtt_options(
        settings, settings.mqtt_client_id, ack_on_receipt, settings.mqtt_shared_group
    )
    return IngestOptions(
        session, settings.batch_size, settings.batch_interval_s, settings.store_writers
    )


class IngestService:
    """Everything ingest needs, wired; `failure` is set if it had to stop on its own."""

    name = "ingest"

    def __init__(
        self,
        decoder: Decoder,
        store: TelemetrySink,
        dead_letters: RejectionSink,
        options: IngestOptions,
        observers: Sequence[Observer] = (),
        clock: Clock = now_ms,
    ) -> None:
        """`clock` is what a device's time is checked against and what the observers' items
        arrive at."""
        self.stats = IngestStats()
        self.live = LiveState()
        self.max_in_flight = options.mqtt.max_in_flight
        self.pipeline = Pipeline(
            decoder,
            store,
            dead_letters,
            self.stats,
            self.live,
            batch_size=options.batch_size,
            batch_interval_s=options.batch_interval_s,
            max_pending=options.mqtt.max_in_flight,
            writers=options.writers,
            now_ms=clock,
            observers=observers,
        )
        self.consumer = MqttConsumer(options.mqtt, self.pipeline.offer_many)
        self._seen_received = 0
        self._settled_since = time.monotonic()
        self.failure: BaseException | None = None
        self.stopped = threading.Event()
        self._stop_flusher = threading.Event()
        self._flusher = threading.Thread(target=self._run_flusher, name="ingest-flusher")

    def start(self) -> None:
        """Start flushing and connect to the broker."""
        self._flusher.start()
        self.consumer.start()

    def _run_flusher(self) -> None:
        try:
            self.pipeline.run_flusher(self.consumer.acknowledge, self._stop_flusher)
        except BaseException as exc:  # supervised: recorded, logged once, and the service stops
            self.failure = exc
            log.error("ingest stopped: %s", exc)
        finally:
            self.stopped.set()

    def stop(self) -> None:
        """Store and acknowledge what is buffered, then disconnect (the session stays)."""
        self._stop_flusher.set()
        if self._flusher.is_alive():
            self._flusher.join()
        self.consumer.stop()

    def settled(self, quiet_s: float) -> bool:
        """Whether nothing came for `quiet_s` and all that came is stored and acknowledged
        (polled: each call looks at what changed since the last)."""
        received, now = self.stats.received, time.monotonic()
        if received != self._seen_received or self.pipeline.pending:
            self._seen_received, self._settled_since = received, now
            return False
        return now - self._settled_since >= quiet_s

    def hand_over(self, quiet_s: float = 1.0, timeout_s: float = 30.0) -> bool:
        """Leave the shared group, store and acknowledge what the session still delivers, and
        end the session: the group's other members take the whole load. False (the session
        kept) if the broker did not confirm or the session did not settle in time."""
        if not self.consumer.leave_group(timeout_s=5.0):
            return False
        deadline = time.monotonic() + timeout_s
        while not self.settled(quiet_s):
            if time.monotonic() > deadline or self.stopped.is_set():
                return False
            time.sleep(0.05)
        self.end_session()
        return True

    def end_session(self) -> None:
        """Store and acknowledge what is buffered, then make the broker forget the session
        (what it holds unacknowledged at that moment is lost: settle first)."""
        self._stop_flusher.set()
        if self._flusher.is_alive():
            self._flusher.join()
        self.consumer.end_session()
