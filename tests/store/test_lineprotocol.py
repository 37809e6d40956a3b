"""Line protocol encoding, checked against influxdb-client's own encoder."""

from __future__ import annotations

from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision

from ioc.domain import DeviceEvent, Reading, StatusChange
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
    assert _encoder(tags).reading(reading) == point.to_line_protocol()


def test_unregistered_device_is_tagged_and_has_no_area() -> None:
    reading = Reading("bts", "ghost", 1, {"temp_c": 20.0}, registered=False)
    line = _encoder({"province": "QT"}).reading(reading)
    assert line == "bts,device_id=ghost,registered=false temp_c=20.0 1"


def test_adjusted_timestamp_is_flagged_as_a_field() -> None:
    reading = Reading("bts", "b", 5, {"temp_c": 20.0}, ts_adjusted=True)
    assert _encoder(None).reading(reading).endswith("temp_c=20.0,ts_adjusted=true 5")


def test_events_and_status_have_their_own_measurements() -> None:
    encoder = _encoder({"province": "QT"})
    event = DeviceEvent("bts", "b1", 7, "door_open", '{"by":"x \\"y\\""}')
    assert encoder.event(event) == (
        "event,device_id=b1,province=QT,class=bts,type=door_open "
        'data="{\\"by\\":\\"x \\\\\\"y\\\\\\"\\"}" 7'
    )
    status = StatusChange("vc", "v1", 9, online=False, retained=False)
    assert encoder.status(status) == "status,device_id=v1,province=QT,class=vc online=false 9"


def test_newlines_in_tags_cannot_split_a_line() -> None:
    line = _encoder({"commune": "evil\nbts,device_id=x f=1 1"}).reading(
        Reading("bts", "b", 1, {"temp_c": 1.0})
    )
    assert "\n" not in line
    assert line.startswith("bts,commune=evil\\ bts\\,device_id\\=x\\ f\\=1\\ 1,device_id=b ")
