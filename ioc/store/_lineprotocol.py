"""InfluxDB line protocol, with the per-device tag set escaped once and cached."""

from __future__ import annotations

from collections.abc import Callable, Iterable

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


class _FieldKeys(dict[str, str]):
    """`name=` escaped, made on first use of a name."""

    def __missing__(self, name: str) -> str:
        key = self[name] = escape_tag(name) + "="
        return key


class LineEncoder:
    """Encodes readings, events and status changes; one cached series key per device."""

    def __init__(self, area_tags: Callable[[str], dict[str, str] | None]) -> None:
        """area_tags(device_id) gives the area tags of a registered device, or None."""
        self._area_tags = area_tags
        self._series_keys: dict[tuple[str, str, bool], str] = {}
        self._field_keys = _FieldKeys()

    def _series_key(self, measurement: str, device_id: str, registered: bool) -> str:
        key = (measurement, device_id, registered)
        cached = self._series_keys.get(key)
        if cached is not None:
            return cached
        tags = dict(self._area_tags(device_id) or {}) if registered else {}
        tags["device_id"] = device_id
        if not registered:
            tags["registered"] = "false"
        encoded = escape_measurement(measurement) + "".join(
            f",{escape_tag(name)}={escape_tag(value)}" for name, value in sorted(tags.items())
        )
        self._series_keys[key] = encoded
        return encoded

    def reading(self, reading: Reading) -> str:
        """One line for a reading: measurement = the device class, fields = the metrics."""
        keys = self._field_keys
        fields = ",".join(
            [
                keys[name] + (repr(value) if type(value) is float else _field_value(value))
                for name, value in reading.metrics.items()
            ]
        )
        if reading.ts_adjusted:
            fields += ",ts_adjusted=true"
        key = self._series_key(reading.device_class, reading.device_id, reading.registered)
        return f"{key} {fields} {reading.ts_ms}"

    def event(self, event: DeviceEvent) -> str:
        """One line in measurement `event`, tagged with the device's class and the event type."""
        key = self._series_key("event", event.device_id, event.registered)
        return (
            f"{key},class={escape_tag(event.device_class)},type={escape_tag(event.type)} "
            f"data={_field_value(event.data_json)} {event.ts_ms}"
        )

    def status(self, change: StatusChange) -> str:
        """One line in measurement `status` with the boolean field `online`."""
        key = self._series_key("status", change.device_id, change.registered)
        return (
            f"{key},class={escape_tag(change.device_class)} "
            f"online={_field_value(change.online)} {change.ts_ms}"
        )

    def encode(self, items: Iterable[TelemetryItem]) -> list[str]:
        """Encode a batch in order."""
        lines = []
        for item in items:
            if type(item) is Reading:
                lines.append(self.reading(item))
            elif type(item) is DeviceEvent:
                lines.append(self.event(item))
            elif type(item) is StatusChange:
                lines.append(self.status(item))
        return lines
