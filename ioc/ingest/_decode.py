"""Wire protocol v1: turn one MQTT message into a reading, event or status, or a rejection.

See docs/wire-protocol.md. This module is the whole of the protocol's validation; it keeps no
state between messages (duplicates are the pipeline's business).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import msgspec
import orjson
from msgspec import UNSET, Meta, UnsetType

from ioc.domain import (
    MAX_STRING_METRIC_CHARS,
    RESERVED_CLASS_NAMES,
    DeviceEvent,
    Inventory,
    MetricSpec,
    MetricType,
    MetricValue,
    Profile,
    Reading,
    Rejection,
    RejectReason,
    StatusChange,
    TelemetryItem,
    is_valid_device_id,
)

# Epoch milliseconds between 2000-01-01 and 2100-01-01: anything else is not a clock reading.
_MIN_TS_MS = 946_684_800_000
_MAX_TS_MS = 4_102_444_800_000
_MAX_EVENT_DATA_BYTES = 4096
_TELEMETRY_KEYS = frozenset({"ts", "seq", "metrics"})
_EVENT_KEYS = frozenset({"ts", "type", "data"})


class _Reject(Exception):
    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class DecodeResult(msgspec.Struct, gc=False):  # one per message: a C __init__, not tracked
    """What became of one message: an item to store, a rejection, or both (partial metrics)."""

    item: TelemetryItem | None
    rejection: Rejection | None


class Decoder:
    """Validates messages against the profiles and the inventory."""

    def __init__(
        self,
        topic_prefix: str,
        profiles: Mapping[str, Profile],
        inventory: Inventory,
        accept_unknown_devices: bool,
        max_clock_skew_ms: int,
        max_payload_bytes: int,
    ) -> None:
        self._prefix = topic_prefix + "/"
        # ioc publishes under these branches itself; `notify/person/{id}` has a device topic's
        # depth, so ingest's subscription hears it.
        self._own_topics = tuple(f"{self._prefix}{branch}/" for branch in RESERVED_CLASS_NAMES)
        self._profiles = profiles
        # A typed decoder per class validates a good message in one C call; anything it does
        # not take goes through the checks below, which give the reject reasons.
        self._fast = {name: _typed_decoder(profile) for name, profile in profiles.items()}
        self._devices = inventory.devices
        self._accept_unknown = accept_unknown_devices
        self._max_skew_ms = max_clock_skew_ms
        self._max_payload = max_payload_bytes
        self._kinds: dict[str, Callable[..., TelemetryItem]] = {
            "telemetry": self._telemetry,
            "event": self._event,
            "status": self._status,
        }
        # A device's topics are routed once: the same few topics come again and again. Only
        # good routes are kept (a refusal raises), and at most this many, least recent out.
        self._routes = functools.lru_cache(maxsize=max(4 * len(self._devices), 65536))(self._route)

    def use_inventory(self, inventory: Inventory) -> None:
        """Judge devices by a changed inventory from the next message on (a device added is
        accepted, one retired refused)."""
        self._devices = inventory.devices
        size = max(4 * len(self._devices), 65536)
        self._routes = functools.lru_cache(maxsize=size)(self._route)

    def decode(self, topic: str, payload: bytes, retained: bool, now_ms: int) -> DecodeResult:
        """Decode one message received at now_ms (epoch ms)."""
        if topic.startswith(self._own_topics):
            return DecodeResult(None, None)  # ioc's own notifications: not a device's, not bad
        try:
            if len(payload) > self._max_payload:
                raise _Reject(
                    RejectReason.TOO_LARGE,
                    f"payload is {len(payload)} bytes; the limit is {self._max_payload}",
                )
            device_class, device_id, kind, registered = self._routes(topic)
            problems: list[tuple[RejectReason, str]] = []
            item = self._kinds[kind](
                device_class, device_id, registered, payload, retained, now_ms, problems
            )
        except _Reject as reject:
            return DecodeResult(
                None, Rejection(reject.reason, reject.detail, topic, payload, now_ms)
            )
        if problems:
            detail = "; ".join(detail for _, detail in problems)
            return DecodeResult(item, Rejection(problems[0][0], detail, topic, payload, now_ms))
        return DecodeResult(item, None)

    def _route(self, topic: str) -> tuple[str, str, str, bool]:
        if not topic.startswith(self._prefix):
            raise _Reject(RejectReason.BAD_TOPIC, f"topic does not start with {self._prefix!r}")
        levels = topic[len(self._prefix) :].split("/")
        if len(levels) != 3 or levels[2] not in self._kinds:
            raise _Reject(
                RejectReason.BAD_TOPIC,
                "topic must be {prefix}/{class}/{device_id}/(telemetry|status|event)",
            )
        device_class, device_id, kind = levels
        if device_class not in self._profiles:
            raise _Reject(RejectReason.UNKNOWN_CLASS, f"no profile for class {device_class!r}")
        device = self._devices.get(device_id)
        if device is None:
            # Inventory ids were checked at load; only an unknown id needs the pattern.
            if not is_valid_device_id(device_id):
                raise _Reject(RejectReason.BAD_TOPIC, "device id must match [A-Za-z0-9_.-]{1,64}")
            if not self._accept_unknown:
                raise _Reject(
                    RejectReason.UNKNOWN_DEVICE, f"device {device_id!r} is not in the inventory"
                )
            return device_class, device_id, kind, False
        if device.device_class != device_class:
            raise _Reject(
                RejectReason.CLASS_MISMATCH,
                f"device {device_id!r} is a {device.device_class!r} in the inventory, "
                f"not a {device_class!r}",
            )
        return device_class, device_id, kind, True

    def _object(self, payload: bytes, allowed: frozenset[str]) -> dict[str, Any]:
        try:
            document = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise _Reject(RejectReason.BAD_JSON, f"not JSON: {exc}") from None
        if not isinstance(document, dict):
            raise _Reject(RejectReason.BAD_SCHEMA, "payload must be a JSON object")
        if not document.keys() <= allowed:
            extra = ", ".join(sorted(document.keys() - allowed))[:200]
            raise _Reject(RejectReason.BAD_SCHEMA, f"unknown keys: {extra}")
        return document

    def _timestamp(self, raw: object, now_ms: int) -> tuple[int, bool]:
        """The message time in epoch ms, and whether it was replaced by the receive time."""
        # Exact types (JSON gives no subclasses): a bool is no int here.
        if type(raw) is int:
            ts_ms = raw
            if not _MIN_TS_MS <= ts_ms <= _MAX_TS_MS:
                raise _Reject(
                    RejectReason.BAD_TIMESTAMP,
                    f"ts {ts_ms} is not epoch milliseconds between 2000 and 2100",
                )
        elif type(raw) is str:
            ts_ms = _parse_rfc3339(raw)
        else:
            raise _Reject(
                RejectReason.BAD_TIMESTAMP, "ts must be epoch milliseconds or an RFC 3339 string"
            )
        if abs(ts_ms - now_ms) > self._max_skew_ms:
            return now_ms, True
        return ts_ms, False

    def _telemetry(
        self,
        device_class: str,
        device_id: str,
        registered: bool,
        payload: bytes,
        retained: bool,
        now_ms: int,
        problems: list[tuple[RejectReason, str]],
    ) -> Reading:
        fast = self._fast[device_class]
        try:
            document = fast.decoder.decode(payload)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return self._checked_telemetry(
                device_class, device_id, registered, payload, now_ms, problems
            )
        metrics = msgspec.to_builtins(document.metrics)
        if not metrics or (fast.texts and not _printable(metrics, fast.texts)):
            return self._checked_telemetry(
                device_class, device_id, registered, payload, now_ms, problems
            )
        ts_ms, adjusted = self._timestamp(document.ts, now_ms)
        return Reading(device_class, device_id, ts_ms, metrics, document.seq, registered, adjusted)

    def _checked_telemetry(
        self,
        device_class: str,
        device_id: str,
        registered: bool,
        payload: bytes,
        now_ms: int,
        problems: list[tuple[RejectReason, str]],
    ) -> Reading:
        """Telemetry checked field by field: what it keeps, and why it refuses the rest."""
        document = self._object(payload, _TELEMETRY_KEYS)
        if "ts" not in document or "metrics" not in document:
            raise _Reject(RejectReason.BAD_SCHEMA, "telemetry needs 'ts' and 'metrics'")
        ts_ms, adjusted = self._timestamp(document["ts"], now_ms)
        seq = document.get("seq")
        if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or seq < 0):
            raise _Reject(RejectReason.BAD_SCHEMA, "seq must be a non-negative integer")
        raw_metrics = document["metrics"]
        if not isinstance(raw_metrics, dict) or not raw_metrics:
            raise _Reject(RejectReason.BAD_SCHEMA, "metrics must be a non-empty JSON object")
        specs = self._profiles[device_class].metrics
        metrics: dict[str, MetricValue] = {}
        for name, value in raw_metrics.items():
            spec = specs.get(name)
            if spec is None:
                problems.append(
                    (
                        RejectReason.UNKNOWN_METRIC,
                        f"metric {name[:64]!r} is not in the {device_class} profile",
                    )
                )
                continue
            problem = spec.check(value)
            if problem is not None:
                problems.append((RejectReason(problem), _describe(spec, value, problem)))
                continue
            metrics[name] = float(value) if type(value) is int else value
        if not metrics:
            if not problems:
                raise _Reject(RejectReason.NO_VALID_METRICS, "no valid metrics")
            raise _Reject(problems[0][0], "; ".join(detail for _, detail in problems))
        return Reading(device_class, device_id, ts_ms, metrics, seq, registered, adjusted)

    def _event(
        self,
        device_class: str,
        device_id: str,
        registered: bool,
        payload: bytes,
        retained: bool,
        now_ms: int,
        problems: list[tuple[RejectReason, str]],
    ) -> DeviceEvent:
        document = self._object(payload, _EVENT_KEYS)
        if "ts" not in document or "type" not in document:
            raise _Reject(RejectReason.BAD_SCHEMA, "event needs 'ts' and 'type'")
        ts_ms, adjusted = self._timestamp(document["ts"], now_ms)
        event_type = document["type"]
        if not isinstance(event_type, str):
            raise _Reject(RejectReason.BAD_SCHEMA, "event type must be a string")
        if event_type not in self._profiles[device_class].events:
            raise _Reject(
                RejectReason.UNKNOWN_EVENT,
                f"event type {event_type[:64]!r} is not in the {device_class} profile",
            )
        data = document.get("data", {})
        if not isinstance(data, dict):
            raise _Reject(RejectReason.BAD_SCHEMA, "event data must be a JSON object")
        data_json = orjson.dumps(data).decode()
        if len(data_json) > _MAX_EVENT_DATA_BYTES:
            raise _Reject(
                RejectReason.TOO_LARGE,
                f"event data is {len(data_json)} bytes; the limit is {_MAX_EVENT_DATA_BYTES}",
            )
        return DeviceEvent(
            device_class, device_id, ts_ms, event_type, data_json, registered, adjusted
        )

    def _status(
        self,
        device_class: str,
        device_id: str,
        registered: bool,
        payload: bytes,
        retained: bool,
        now_ms: int,
        problems: list[tuple[RejectReason, str]],
    ) -> StatusChange:
        if payload not in (b"online", b"offline"):
            raise _Reject(RejectReason.BAD_SCHEMA, "status must be 'online' or 'offline'")
        return StatusChange(
            device_class, device_id, now_ms, payload == b"online", retained, registered
        )


@dataclass(frozen=True, slots=True)
class _TypedDecoder:
    decoder: msgspec.json.Decoder[Any]
    texts: frozenset[str]  # string metrics: printable is checked after decoding


def _printable(metrics: dict[str, Any], texts: frozenset[str]) -> bool:
    return all(metrics[name].isprintable() for name in texts & metrics.keys())


def _typed_decoder(profile: Profile) -> _TypedDecoder:
    """A msgspec decoder of a class's valid telemetry: known keys only, each metric of its
    type and range (a JSON integer becomes a float), strings no longer than allowed."""
    fields: list[tuple[str, Any, Any]] = []
    names: dict[str, str] = {}  # attribute -> metric: any metric name, even one no identifier
    for index, spec in enumerate(profile.metrics.values()):
        kind: Any
        if spec.type is MetricType.NUMBER:
            low = spec.minimum if math.isfinite(spec.minimum) else None
            high = spec.maximum if math.isfinite(spec.maximum) else None
            kind = Annotated[float, Meta(ge=low, le=high)]
        elif spec.type is MetricType.BOOL:
            kind = bool
        else:
            kind = Annotated[str, Meta(max_length=MAX_STRING_METRIC_CHARS)]
        names[f"m{index}"] = spec.name
        fields.append((f"m{index}", kind | UnsetType, UNSET))
    # gc=False: numbers and text only, never in a reference cycle; the collector need not
    # count or visit them (two per message).
    metrics = msgspec.defstruct(
        f"{profile.device_class}_metrics",
        fields,
        forbid_unknown_fields=True,
        rename=names,
        gc=False,
    )
    telemetry = msgspec.defstruct(
        f"{profile.device_class}_telemetry",
        [("ts", int | str), ("metrics", metrics), ("seq", Annotated[int, Meta(ge=0)] | None, None)],
        forbid_unknown_fields=True,
        gc=False,
    )
    texts = frozenset(s.name for s in profile.metrics.values() if s.type is MetricType.STRING)
    return _TypedDecoder(msgspec.json.Decoder(telemetry), texts)


def _parse_rfc3339(raw: str) -> int:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise _Reject(RejectReason.BAD_TIMESTAMP, f"ts {raw[:40]!r} is not RFC 3339") from None
    if moment.tzinfo is None:
        raise _Reject(RejectReason.BAD_TIMESTAMP, f"ts {raw[:40]!r} has no time zone offset")
    ts_ms = round(moment.timestamp() * 1000)
    if not _MIN_TS_MS <= ts_ms <= _MAX_TS_MS:
        raise _Reject(RejectReason.BAD_TIMESTAMP, f"ts {raw[:40]!r} is not between 2000 and 2100")
    return ts_ms


def _describe(spec: MetricSpec, value: object, problem: str) -> str:
    shown = repr(value)[:40]
    if problem == RejectReason.WRONG_TYPE:
        return f"metric {spec.name!r} should be a {spec.type}, got {shown}"
    if isinstance(value, str):
        return f"metric {spec.name!r} is too long or has control characters"
    return (
        f"metric {spec.name!r} = {shown} is outside "
        f"{spec.minimum:g}..{spec.maximum:g} {spec.unit}".rstrip()
    )
