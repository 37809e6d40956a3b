"""The ingest service: consumer, pipeline and a supervised flusher, started and stopped as one."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from ioc.app._catalog import Catalog
from ioc.config import Settings
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


def mqtt_options(settings: Settings, client_id: str, ack_on_receipt: bool) -> MqttOptions:
    """Subscription options for one of ioc's consumers."""
    return MqttOptions(
        broker=settings.broker_address(client_id),  # the same login as every other client
        topic_prefix=settings.topic_prefix,
        shared_group=settings.mqtt_shared_group,
        max_in_flight=settings.max_in_flight,
        ack_on_receipt=ack_on_receipt,
    )


class IngestService:
    """Everything ingest needs, wired; `failure` is set if it had to stop on its own."""

    name = "ingest"

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        store: TelemetrySink,
        dead_letters: RejectionSink,
        observers: Sequence[Observer] = (),
        ack_on_receipt: bool = False,
    ) -> None:
        self.stats = IngestStats()
        self.live = LiveState()
        decoder = build_decoder(settings, catalog)
        self.max_in_flight = settings.max_in_flight
        self.pipeline = Pipeline(
            decoder,
            store,
            dead_letters,
            self.stats,
            self.live,
            batch_size=settings.batch_size,
            batch_interval_s=settings.batch_interval_s,
            max_pending=settings.max_in_flight,
            writers=settings.store_writers,
            observers=observers,
        )
        self.consumer = MqttConsumer(
            mqtt_options(settings, settings.mqtt_client_id, ack_on_receipt),
            self.pipeline.offer,
        )
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
        self._flusher.join()
        self.consumer.stop()
