"""Ingest: MQTT messages in, validated and deduplicated telemetry out to the store."""

from ioc.ingest._decode import Decoder, DecodeResult
from ioc.ingest._live import LiveState
from ioc.ingest._mqtt import MqttConsumer, MqttOptions
from ioc.ingest._pipeline import Message, Observer, Pipeline, RejectionSink, TelemetrySink
from ioc.ingest._stats import IngestStats

__all__ = [
    "DecodeResult",
    "Decoder",
    "IngestStats",
    "LiveState",
    "Message",
    "MqttConsumer",
    "MqttOptions",
    "Observer",
    "Pipeline",
    "RejectionSink",
    "TelemetrySink",
]
