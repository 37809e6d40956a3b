"""Line protocol encoding, checked against influxdb-client's own encoder."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st
from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision

from ioc.domain import DeviceEvent, MetricValue, Reading, StatusChange
from ioc.store import LineEncoder

HOSTILE = 'a b,c=d"e'


def _encoder(tags: dict[str, str] | None) -> LineEncoder:
    return LineEncoder(lambda _device_id: tags)


def test_reading_matches_influxdb_client_encoding() -> None:
    tags = {"province": "QT", "commune": HOSTILE}
    reading = Reading(
        "bts",
        "bts-1",
        1_700_000_000_123,
        {"battery_v": 53.25, "mains_ok": True, "note": 'say "hi"\\'},
    )
    point = (
        Point("bts")
        .tag("commune", HOSTILE)
        .tag("device_id", "bts-1")
        .tag("province", "QT")
        .field("battery_v", 53.25)
        .field("mains_ok", True)
        .field("note", 'say "hi"\\')
        .time(1_700_000_000_123, WritePrecision.MS)
    )
    assert _encoder(tags).reading(reading).decode() == point.to_line_protocol()


def test_unregistered_device_is_tagged_and_has_no_area() -> None:
    reading = Reading("bts", "ghost", 1, {"temp_c": 20.0}, registered=False)
    line = _encoder({"province": "QT"}).reading(reading)
    assert line == b"bts,device_id=ghost,registered=false temp_c=20.0 1"


def test_adjusted_timestamp_is_flagged_as_a_field() -> None:
    reading = Reading("bts", "b", 5, {"temp_c": 20.0}, ts_adjusted=True)
    assert _encoder(None).reading(reading).endswith(b"temp_c=20.0,ts_adjusted=true 5")


def test_events_and_status_have_their_own_measurements() -> None:
    encoder = _encoder({"province": "QT"})
    event = DeviceEvent("bts", "b1", 7, "door_open", '{"by":"x \\"y\\""}')
    assert encoder.event(event).decode() == (
        "event,device_id=b1,province=QT,class=bts,type=door_open "
        'data="{\\"by\\":\\"x \\\\\\"y\\\\\\"\\"}" 7'
    )
    status = StatusChange("vc", "v1", 9, online=False, retained=False)
    assert encoder.status(status) == b"status,device_id=v1,province=QT,class=vc online=false 9"


def test_newlines_in_tags_cannot_split_a_line() -> None:
    line = (
        _encoder({"commune": "evil\nbts,device_id=x f=1 1"})
        .reading(Reading("bts", "b", 1, {"temp_c": 1.0}))
        .decode()
    )
    assert "\n" not in line
    assert line.startswith("bts,commune=evil\\ bts\\,device_id\\=x\\ f\\=1\\ 1,device_id=b ")


_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)
_VALUES = st.one_of(st.booleans(), st.floats(allow_nan=False, allow_infinity=False))


def _parsed_fields(line: str) -> dict[str, float | bool]:
    """A line's fields read back the way InfluxDB reads them (plain names, no text values)."""
    fields = line.split(" ")[1]
    values: dict[str, float | bool] = {}
    for field in fields.split(","):
        name, raw = field.split("=")
        values[name] = True if raw == "true" else False if raw == "false" else float(raw)
    return values


@settings(max_examples=300, deadline=None)
@given(metrics=st.dictionaries(_NAMES, _VALUES, min_size=1, max_size=12))
@example(metrics={"a": 1e20, "b": -0.0, "c": 5e-324, "d": True, "e": 71.0})
def test_numbers_and_flags_read_back_as_influxdb_clients_line_does(
    metrics: dict[str, MetricValue],
) -> None:
    """The JSON-encoder path for plain fields gives InfluxDB the very values influxdb-client's
    own encoder gives it (which sorts the fields; numbers may be spelt differently: 1e20,
    1e+20); ours keep the message's order."""
    reading = Reading("bts", "bts-1", 1_700_000_000_123, metrics)
    ours = _encoder(None).reading(reading).decode()
    point = Point("bts").tag("device_id", "bts-1").time(1_700_000_000_123, WritePrecision.MS)
    for name, value in metrics.items():
        point.field(name, value)
    theirs = point.to_line_protocol()
    assert ours.split(" ")[0] == theirs.split(" ")[0]
    assert ours.split(" ")[2] == theirs.split(" ")[2]
    typed = [(name, type(value), value) for name, value in metrics.items()]
    assert [(n, type(v), v) for n, v in _parsed_fields(ours).items()] == typed
    assert sorted(_parsed_fields(theirs).items()) == sorted(metrics.items())


def test_a_text_or_an_unusual_name_takes_the_escaping_path() -> None:
    encoder = _encoder(None)
    text = Reading("vc", "v", 1, {"sip_state": 'in "call"', "mos": 4.0})
    assert encoder.reading(text) == b'vc,device_id=v sip_state="in \\"call\\"",mos=4.0 1'
    odd = Reading("vc", "v", 1, {"in call": True, "mos": 4.0})
    assert encoder.reading(odd) == b"vc,device_id=v in\\ call=true,mos=4.0 1"


def test_a_batch_is_its_lines_in_order() -> None:
    encoder = _encoder(None)
    plain = Reading("bts", "b", 1, {"temp_c": 20.0})
    items = [
        plain,
        Reading("vc", "v", 2, {"sip_state": "idle"}),  # a text value
        Reading("bts", "b", 3, {"temp_c": 21.0}, ts_adjusted=True),
        StatusChange("vc", "v", 4, online=True, retained=False),
        plain,
    ]
    assert encoder.encode(items) == b"\n".join(
        [
            b"bts,device_id=b temp_c=20.0 1",
            b'vc,device_id=v sip_state="idle" 2',
            b"bts,device_id=b temp_c=21.0,ts_adjusted=true 3",
            b"status,device_id=v,class=vc online=true 4",
            b"bts,device_id=b temp_c=20.0 1",
        ]
    )
