"""Wire protocol v1 validation: every reject reason, and never a crash."""

from __future__ import annotations

import msgspec
import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ioc.domain import (
    DeviceEvent,
    Inventory,
    MetricSpec,
    MetricType,
    Profile,
    Reading,
    RejectReason,
    StatusChange,
)
from ioc.ingest import Decoder, DecodeResult
from tests.ingest.conftest import NOW_MS

BTS = "ioc/bts/bts-QT-00001"


def _telemetry(metrics: object, ts: object = NOW_MS, **extra: object) -> bytes:
    return orjson.dumps({"ts": ts, "metrics": metrics, **extra})


def test_valid_telemetry_becomes_a_reading(decoder: Decoder) -> None:
    result = decoder.decode(
        f"{BTS}/telemetry", _telemetry({"battery_v": 53, "mains_ok": True}, seq=4), False, NOW_MS
    )
    assert result.rejection is None
    assert result.item == Reading(
        "bts", "bts-QT-00001", NOW_MS, {"battery_v": 53.0, "mains_ok": True}, seq=4
    )
    assert type(result.item.metrics["battery_v"]) is float  # type: ignore[union-attr]


def test_rfc3339_timestamps(decoder: Decoder) -> None:
    result = decoder.decode(
        f"{BTS}/telemetry",
        _telemetry({"temp_c": 25}, ts="2026-09-22T06:13:20.5+07:00"),
        False,
        1_790_032_400_000,
    )
    assert result.item is not None and result.item.ts_ms == 1_790_032_400_500


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("other/bts/bts-QT-00001/telemetry", _telemetry({"temp_c": 1}), RejectReason.BAD_TOPIC),
        ("ioc/bts/bts-QT-00001/telemetry/x", _telemetry({"temp_c": 1}), RejectReason.BAD_TOPIC),
        ("ioc/bts/bts-QT-00001/config", _telemetry({"temp_c": 1}), RejectReason.BAD_TOPIC),
        ("ioc/bts/bad id!/telemetry", _telemetry({"temp_c": 1}), RejectReason.BAD_TOPIC),
        ("ioc/bts/" + "x" * 65 + "/telemetry", _telemetry({"temp_c": 1}), RejectReason.BAD_TOPIC),
        ("ioc/toaster/t1/telemetry", _telemetry({"temp_c": 1}), RejectReason.UNKNOWN_CLASS),
        ("ioc/vc/bts-QT-00001/telemetry", _telemetry({"mos": 4}), RejectReason.CLASS_MISMATCH),
        (f"{BTS}/telemetry", b"{not json", RejectReason.BAD_JSON),
        (f"{BTS}/telemetry", b'{"ts": NaN, "metrics": {}}', RejectReason.BAD_JSON),
        (f"{BTS}/telemetry", b"[1,2]", RejectReason.BAD_SCHEMA),
        (f"{BTS}/telemetry", b'{"metrics": {"temp_c": 1}}', RejectReason.BAD_SCHEMA),
        (f"{BTS}/telemetry", _telemetry({"temp_c": 1}, extra=1), RejectReason.BAD_SCHEMA),
        (f"{BTS}/telemetry", _telemetry({}), RejectReason.BAD_SCHEMA),
        (f"{BTS}/telemetry", _telemetry({"temp_c": 1}, seq=-1), RejectReason.BAD_SCHEMA),
        (f"{BTS}/telemetry", _telemetry({"temp_c": 1}, seq=True), RejectReason.BAD_SCHEMA),
        (f"{BTS}/telemetry", _telemetry({"temp_c": 1}, ts="yesterday"), RejectReason.BAD_TIMESTAMP),
        (
            f"{BTS}/telemetry",
            _telemetry({"temp_c": 1}, ts="2026-09-21T06:13:20"),
            RejectReason.BAD_TIMESTAMP,
        ),
        (
            f"{BTS}/telemetry",
            _telemetry({"temp_c": 1}, ts=1_790_000_000),
            RejectReason.BAD_TIMESTAMP,
        ),
        (f"{BTS}/telemetry", _telemetry({"temp_c": 1}, ts=True), RejectReason.BAD_TIMESTAMP),
        (f"{BTS}/telemetry", _telemetry({"temp_c": 1}, ts=1.5e12), RejectReason.BAD_TIMESTAMP),
        (f"{BTS}/telemetry", _telemetry({"frobnication": 1}), RejectReason.UNKNOWN_METRIC),
        (f"{BTS}/telemetry", _telemetry({"temp_c": "hot"}), RejectReason.WRONG_TYPE),
        (f"{BTS}/telemetry", _telemetry({"temp_c": True}), RejectReason.WRONG_TYPE),
        (f"{BTS}/telemetry", _telemetry({"mains_ok": 1}), RejectReason.WRONG_TYPE),
        (f"{BTS}/telemetry", _telemetry({"temp_c": [1]}), RejectReason.WRONG_TYPE),
        (f"{BTS}/telemetry", _telemetry({"battery_v": 612}), RejectReason.OUT_OF_RANGE),
        (f"{BTS}/telemetry", _telemetry({"battery_v": -0.1}), RejectReason.OUT_OF_RANGE),
        (f"{BTS}/telemetry", _telemetry({"battery_v": 1e308}), RejectReason.OUT_OF_RANGE),
        (f"{BTS}/telemetry", b"x" * 65537, RejectReason.TOO_LARGE),
        (
            f"{BTS}/event",
            orjson.dumps({"ts": NOW_MS, "type": "teleport"}),
            RejectReason.UNKNOWN_EVENT,
        ),
        (
            f"{BTS}/event",
            orjson.dumps({"ts": NOW_MS, "type": "reboot", "data": 3}),
            RejectReason.BAD_SCHEMA,
        ),
        (
            f"{BTS}/event",
            orjson.dumps({"ts": NOW_MS, "type": "reboot", "data": {"x": "y" * 5000}}),
            RejectReason.TOO_LARGE,
        ),
        (f"{BTS}/status", b"maybe", RejectReason.BAD_SCHEMA),
    ],
)
def test_rejections_say_why(
    decoder: Decoder, topic: str, payload: bytes, reason: RejectReason
) -> None:
    for _ in range(2):  # and again, once the decoder has seen the topic (routes are cached)
        result = decoder.decode(topic, payload, False, NOW_MS)
        assert result.item is None
        assert result.rejection is not None
        assert result.rejection.reason is reason
        assert result.rejection.payload == payload and result.rejection.topic == topic
        assert result.rejection.detail


def test_out_of_range_detail_names_metric_range_and_unit(decoder: Decoder) -> None:
    result = decoder.decode(f"{BTS}/telemetry", _telemetry({"battery_v": 612}), False, NOW_MS)
    assert result.rejection is not None
    assert result.rejection.detail == "metric 'battery_v' = 612 is outside 0..60 V"


def test_bad_metrics_are_rejected_and_good_ones_kept(decoder: Decoder) -> None:
    result = decoder.decode(
        f"{BTS}/telemetry", _telemetry({"battery_v": 612, "temp_c": 31.5, "nope": 1}), False, NOW_MS
    )
    assert result.item is not None and result.item.metrics == {"temp_c": 31.5}  # type: ignore[union-attr]
    assert result.rejection is not None
    assert result.rejection.reason is RejectReason.OUT_OF_RANGE
    assert "nope" in result.rejection.detail


def test_far_timestamp_is_replaced_and_flagged(decoder: Decoder) -> None:
    result = decoder.decode(
        f"{BTS}/telemetry", _telemetry({"temp_c": 1}, ts=NOW_MS + 3_600_000), False, NOW_MS
    )
    assert isinstance(result.item, Reading)
    assert result.item.ts_ms == NOW_MS and result.item.ts_adjusted
    near = decoder.decode(
        f"{BTS}/telemetry", _telemetry({"temp_c": 1}, ts=NOW_MS - 599_000), False, NOW_MS
    )
    assert isinstance(near.item, Reading) and not near.item.ts_adjusted


def test_unknown_devices_accepted_and_flagged_or_rejected(
    decoder: Decoder, profiles: dict[str, Profile], inventory: Inventory
) -> None:
    topic, payload = "ioc/bts/bts-unlisted/telemetry", _telemetry({"temp_c": 1})
    accepted = decoder.decode(topic, payload, False, NOW_MS)
    assert isinstance(accepted.item, Reading) and not accepted.item.registered
    strict = Decoder(
        "ioc",
        profiles,
        inventory,
        accept_unknown_devices=False,
        max_clock_skew_ms=600_000,
        max_payload_bytes=65536,
    )
    rejected = strict.decode(topic, payload, False, NOW_MS)
    assert rejected.rejection is not None
    assert rejected.rejection.reason is RejectReason.UNKNOWN_DEVICE


def test_status_and_events(decoder: Decoder) -> None:
    status = decoder.decode(f"{BTS}/status", b"offline", True, NOW_MS).item
    assert status == StatusChange("bts", "bts-QT-00001", NOW_MS, online=False, retained=True)
    event = decoder.decode(
        f"{BTS}/event",
        orjson.dumps({"ts": NOW_MS, "type": "door_open", "data": {"by": "x"}}),
        False,
        NOW_MS,
    ).item
    assert event == DeviceEvent("bts", "bts-QT-00001", NOW_MS, "door_open", '{"by":"x"}')


def test_iocs_own_notification_topics_are_neither_devices_nor_rejects(decoder: Decoder) -> None:
    # `{prefix}/notify/person/{id}` has a device topic's depth: ingest hears it, and skips it.
    payload = orjson.dumps({"key": "alert1:fired", "text": "[IOC] ..."})
    assert decoder.decode("ioc/notify/person/truc-ban", payload, False, NOW_MS) == DecodeResult(
        None, None
    )
    # A device class cannot be called that.
    unknown = decoder.decode("ioc/notifyx/person/telemetry", payload, False, NOW_MS)
    assert unknown.rejection is not None


def test_multi_level_prefix(profiles: dict[str, Profile], inventory: Inventory) -> None:
    decoder = Decoder("vn/qt/ioc", profiles, inventory, True, 600_000, 65536)
    result = decoder.decode(
        "vn/qt/ioc/bts/bts-QT-00001/telemetry", _telemetry({"temp_c": 1}), False, NOW_MS
    )
    assert isinstance(result.item, Reading)


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(
    topic=st.one_of(
        st.text(max_size=80),
        st.builds(
            lambda c, d, k: f"ioc/{c}/{d}/{k}",
            st.sampled_from(["bts", "netgw", "vc", "x", ""]),
            st.sampled_from(["bts-QT-00001", "gw-QT-D01-C0001", "unknown", "", "a/b"]),
            st.sampled_from(["telemetry", "event", "status", "other"]),
        ),
    ),
    payload=st.one_of(
        st.binary(max_size=200),
        _json_values.map(orjson.dumps),
        st.fixed_dictionaries(
            {
                "ts": st.one_of(
                    st.integers(-(2**63), 2**63 - 1), st.text(max_size=30), st.just(NOW_MS)
                ),
                "metrics": st.dictionaries(
                    st.sampled_from(["battery_v", "temp_c", "mains_ok", "rtt_ms", "mos", "zz"]),
                    _json_values,
                    max_size=5,
                ),
            },
            optional={
                "seq": st.integers(-(2**63), 2**63 - 1),
                "type": st.text(max_size=10),
                "data": _json_values,
            },
        ).map(orjson.dumps),
    ),
    retained=st.booleans(),
)
def test_any_topic_and_payload_is_decoded_or_rejected_never_raises(
    decoder: Decoder, topic: str, payload: bytes, retained: bool
) -> None:
    result = decoder.decode(topic, payload, retained, NOW_MS)
    assert result.item is not None or result.rejection is not None
    if result.rejection is not None:
        assert result.rejection.reason in RejectReason


class _Refuses:
    """Stands in for a class's typed decoder and takes nothing: every message goes through the
    field-by-field checks, the reference the typed decoder must agree with."""

    texts: frozenset[str] = frozenset()

    class decoder:
        @staticmethod
        def decode(_payload: bytes) -> object:
            raise msgspec.ValidationError("refused")


# A class with every kind of metric: bounded and unbounded numbers, a flag, a text.
KIT = Profile(
    "kit", "Bộ thử", "Test kit", 30, 90,
    {
        "level": MetricSpec("level", MetricType.NUMBER, "%", 0, 10),
        "free": MetricSpec("free", MetricType.NUMBER),
        "ok": MetricSpec("ok", MetricType.BOOL),
        "label": MetricSpec("label", MetricType.STRING),
        "in-call": MetricSpec("in-call", MetricType.BOOL),  # no identifier: still decoded
    },
)  # fmt: skip


@pytest.fixture(scope="module")
def both(profiles: dict[str, Profile], inventory: Inventory) -> tuple[Decoder, Decoder]:
    """The decoder as ingest builds it, and one that only checks field by field."""
    catalog = {**profiles, "kit": KIT}
    typed = Decoder("ioc", catalog, inventory, True, 600_000, 65536)
    reference = Decoder("ioc", catalog, inventory, True, 600_000, 65536)
    reference._fast = dict.fromkeys(catalog, _Refuses())  # type: ignore[assignment]
    return typed, reference


_metric_values = st.one_of(
    st.booleans(),
    st.none(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.sampled_from([0, 0.0, -0.0, 60, 60.0, 60.000001, 300, 300.5, -1, 1e308]),
    st.text(max_size=300),
    st.sampled_from(["ok", "a\x00b", "x" * 256, "x" * 257]),
    st.lists(st.integers(-9, 9), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(-9, 9), max_size=2),
)
_metric_names = st.sampled_from(
    ["battery_v", "mains_ok", "door_open", "mos", "level", "free", "ok", "label", "in-call", "zz"]
)
_members = st.one_of(
    st.tuples(
        st.just("ts"),
        st.one_of(
            st.just(NOW_MS), st.integers(-(2**64), 2**64), st.booleans(), st.none(),
            st.sampled_from(["2026-11-30T08:00:00Z", "2026-11-30T08:00:00", "x"]),
        ),
    ),
    st.tuples(st.just("seq"), st.one_of(st.integers(-5, 2**64), st.booleans(), st.none())),
    st.tuples(
        st.just("metrics"),
        # A list of pairs is written as an object whose keys may repeat.
        st.one_of(st.lists(st.tuples(_metric_names, _metric_values), max_size=6), _metric_values),
    ),
    st.tuples(st.sampled_from(["extra", "type"]), _metric_values),
)  # fmt: skip


# Messages that are nearly right, where the two paths are most likely to part.
_nearly_right = st.lists(
    st.tuples(
        st.sampled_from(["level", "free", "ok", "label", "in-call", "battery_v", "zz"]),
        st.one_of(
            st.integers(-2, 12), st.floats(-1, 61), st.booleans(),
            st.sampled_from(["ok", "a\x00b", "x" * 256, "x" * 257, "ạ"]),
        ),
    ),
    min_size=1,
    max_size=5,
).map(lambda metrics: [("ts", NOW_MS), ("seq", 3), ("metrics", metrics)])  # fmt: skip


def _json(value: object) -> str:
    """JSON as a device might write it: integers of any size, keys repeated if listed so."""
    if isinstance(value, list) and value and all(isinstance(m, tuple) for m in value):
        return "{" + ",".join(f"{_json(k)}:{_json(v)}" for k, v in value) + "}"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return orjson.dumps(value).decode()


@settings(max_examples=400)
@given(
    device=st.sampled_from(
        [("bts", "bts-QT-00001"), ("vc", "vc-QT-S01"), ("bts", "bts-new"), ("kit", "kit-1")]
    ),
    members=st.one_of(st.lists(_members, max_size=5), _nearly_right),
)
@example(  # a text the typed decoder takes but the checks do not (not printable)
    device=("kit", "kit-1"),
    members=[("ts", NOW_MS), ("metrics", [("label", "a\x00b"), ("ok", True)])],
)
@example(  # a repeated key: the last one counts, on both paths
    device=("kit", "kit-1"), members=[("ts", NOW_MS), ("metrics", [("level", 99), ("level", 5)])]
)
def test_the_typed_decoder_agrees_with_the_checks_on_any_telemetry(
    both: tuple[Decoder, Decoder], device: tuple[str, str], members: list[tuple[str, object]]
) -> None:
    """Same reading, same rejection, same detail, whichever path a message takes."""
    typed, reference = both
    payload = _json(members).encode() if members else b"{}"
    topic = f"ioc/{device[0]}/{device[1]}/telemetry"
    assert typed.decode(topic, payload, False, NOW_MS) == reference.decode(
        topic, payload, False, NOW_MS
    )


def test_the_typed_decoder_takes_a_good_message_itself(both: tuple[Decoder, Decoder]) -> None:
    typed, _reference = both
    metrics = b'{"level": 10, "free": 1e300, "ok": true, "label": "A b", "in-call": false}'
    payload = b'{"ts": %d, "seq": 1, "metrics": %s}' % (NOW_MS, metrics)
    document = typed._fast["kit"].decoder.decode(payload)
    assert msgspec.to_builtins(document.metrics) == {
        "level": 10.0, "free": 1e300, "ok": True, "label": "A b", "in-call": False
    }  # fmt: skip
    result = typed.decode("ioc/kit/kit-1/telemetry", payload, False, NOW_MS)
    assert result.item == Reading(
        "kit", "kit-1", NOW_MS,
        {"level": 10.0, "free": 1e300, "ok": True, "label": "A b", "in-call": False}, 1,
        registered=False,
    )  # fmt: skip
