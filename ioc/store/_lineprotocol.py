"""InfluxDB line protocol, with the per-device tag set escaped once and cached.

A reading whose metrics are all numbers and flags under plain names (the usual case) has its
fields written by orjson's encoder in one C call: `{"temp_c":25.5,"door_open":false}`
is `temp_c=25.5,door_open=false` once the braces, quotes and colons go. JSON numbers and
booleans are line protocol's float and boolean field values; a plain name needs escaping in
neither. Anything else (text, a name with spaces...) takes the field-by-field path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import orjson

from ioc.domain import DeviceEvent, MetricValue, Reading, StatusChange, TelemetryItem

# Commas, equals signs and spaces are escaped; every InfluxDB version unescapes them alike.
# Control characters cannot be represented in a tag by every version (1.x has no \n escape),
# so they become (escaped) spaces; backslashes are literal in tags for every version.
_CONTROL = {"\n": r"\ ", "\r": r"\ ", "\t": r"\ "}
_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", **_CONTROL})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", **_CONTROL})
_STRING_FIELD_ESCAPES = str.maketrans({'"': r"\"", "\\": "\\\\"})


def escape_tag(text: str) -> str:
    """Escape a tag key or value (also used for field keys)."""
    return text.translate(_TAG_ESCAPES)


def escape_measurement(text: str) -> str:
    """Escape a measurement name."""
    return text.translate(_MEASUREMENT_ESCAPES)


def _field_value(value: MetricValue) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return repr(value)
    return '"' + str(value).translate(_STRING_FIELD_ESCAPES) + '"'


_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_json = orjson.dumps  # a third faster than msgspec's encoder on these dicts
# With the quotes and braces deleted, `"name":value` is `name=value`.
_JSON_TO_FIELDS = bytes.maketrans(b":", b"=")


class _FieldKeys(dict[str, str]):
    """`name=` escaped, made on first use of a name."""

    def __missing__(self, name: str) -> str:
        key = self[name] = escape_tag(name) + "="
        return key


class _PlainNames(set[str]):
    """Metric names that JSON and line protocol both write as they are, learnt on sight."""

    def cover(self, names: Iterable[str]) -> bool:
        if self.issuperset(names):
            return True
        unseen = set(names) - self
        if all(_PLAIN_NAME.fullmatch(name) for name in unseen):
            self |= unseen
            return True
        return False


# (measurement, device id, registered): a reading's measurement is its device class.
_SeriesId = tuple[str, str, bool]


class _SeriesKeys(dict[_SeriesId, bytes]):
    """Measurement and tag set of a series, escaped, made on first use."""

    def __init__(self, area_tags: Callable[[str], dict[str, str] | None]) -> None:
        super().__init__()
        self._area_tags = area_tags

    def __missing__(self, series: _SeriesId) -> bytes:
        measurement, device_id, registered = series
        tags = dict(self._area_tags(device_id) or {}) if registered else {}
        tags["device_id"] = device_id
        if not registered:
            tags["registered"] = "false"
        encoded = escape_measurement(measurement) + "".join(
            f",{escape_tag(name)}={escape_tag(value)}" for name, value in sorted(tags.items())
        )
        key = self[series] = encoded.encode()
        return key


class LineEncoder:
    """Encodes readings, events and status changes; one cached series key per device."""

    def __init__(self, area_tags: Callable[[str], dict[str, str] | None]) -> None:
        """area_tags(device_id) gives the area tags of a registered device, or None."""
        self._series_keys = _SeriesKeys(area_tags)
        self._field_keys = _FieldKeys()
        self._plain_names = _PlainNames()

    def _fields(self, metrics: dict[str, MetricValue]) -> bytes:
        if self._plain_names.cover(metrics):
            encoded = _json(metrics)
            # Only the names are quoted when no value is text.
            if encoded.count(b'"') == 2 * len(metrics):
                return encoded.translate(_JSON_TO_FIELDS, b'"{}')
        keys = self._field_keys
        return ",".join(
            [keys[name] + _field_value(value) for name, value in metrics.items()]
        ).encode()

    def reading(self, reading: Reading) -> bytes:
        """One line for a reading: measurement = the device class, fields = the metrics."""
        fields = self._fields(reading.metrics)
        if reading.ts_adjusted:
            fields += b",ts_adjusted=true"
        key = self._series_keys[reading.device_class, reading.device_id, reading.registered]
        return b"%s %s %d" % (key, fields, reading.ts_ms)

    def event(self, event: DeviceEvent) -> bytes:
        """One line in measurement `event`, tagged with the device's class and the event type."""
        key = self._series_keys["event", event.device_id, event.registered]
        rest = (
            f",class={escape_tag(event.device_class)},type={escape_tag(event.type)} "
            f"data={_field_value(event.data_json)} {event.ts_ms}"
        )
        return key + rest.encode()

    def status(self, change: StatusChange) -> bytes:
        """One line in measurement `status` with the boolean field `online`."""
        key = self._series_keys["status", change.device_id, change.registered]
        rest = (
            f",class={escape_tag(change.device_class)} "
            f"online={_field_value(change.online)} {change.ts_ms}"
        )
        return key + rest.encode()

    def encode(self, items: Iterable[TelemetryItem]) -> bytes:
        """A batch's request body: its lines in order."""
        lines = []
        for item in items:
            if type(item) is Reading:
                lines.append(self.reading(item))
            elif type(item) is DeviceEvent:
                lines.append(self.event(item))
            elif type(item) is StatusChange:
                lines.append(self.status(item))
        return b"\n".join(lines)
