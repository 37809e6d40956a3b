"""Register maps: decoding edge cases, read planning, and bad maps with their exact messages."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest

from ioc.domain import MetricSpec, MetricType, Profile
from ioc.gateway import (
    Function,
    NoReading,
    ReadBlock,
    RegisterField,
    RegisterMapError,
    RejectedValue,
    ValueType,
    WordOrder,
    bundled_maps_dir,
    load_register_map,
    plan_reads,
)

DATA = Path(__file__).parent / "testdata"
CURRENT = MetricSpec("battery_a", MetricType.NUMBER, "A", -500, 500)
ENERGY = MetricSpec("energy", MetricType.NUMBER, "kWh", -3e9, 3e9)
FLAG = MetricSpec("mains_ok", MetricType.BOOL)


def field(metric: MetricSpec = ENERGY, **kwargs: object) -> RegisterField:
    values: dict[str, object] = {"function": Function.HOLDING, "address": 0, "type": ValueType.U16}
    values.update(kwargs)
    return RegisterField(metric=metric, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(0x0000, 0.0), (0x007B, 12.3), (0x807B, -12.3), (0xFFFF, -3276.7), (0x8000, 0.0)],
)
def test_sign_magnitude_16_keeps_the_sign_apart_from_the_magnitude(
    raw: int, expected: float
) -> None:
    unbounded = MetricSpec("battery_a", MetricType.NUMBER, "A")
    assert field(unbounded, type=ValueType.SM16, scale=0.1).decode([raw]) == expected


def test_sign_magnitude_is_not_twos_complement() -> None:
    # The same bits read as s16 mean something else: -32645 * 0.1, outside the current's range.
    assert field(ENERGY, type=ValueType.S16).decode([0x807B]) == -32645
    assert field(CURRENT, type=ValueType.SM16, scale=0.1).decode([0x807B]) == -12.3


@pytest.mark.parametrize(
    ("value_type", "order", "words", "expected"),
    [
        (ValueType.U32, WordOrder.HIGH_FIRST, [0x0001, 0x0002], 65538),
        (ValueType.U32, WordOrder.LOW_FIRST, [0x0002, 0x0001], 65538),
        (ValueType.U32, WordOrder.HIGH_FIRST, [0xFFFF, 0xFFFF], 4294967295),
        (ValueType.S32, WordOrder.HIGH_FIRST, [0xFFFF, 0xFFFE], -2),
        (ValueType.S32, WordOrder.LOW_FIRST, [0xFFFE, 0xFFFF], -2),
        (ValueType.SM32, WordOrder.HIGH_FIRST, [0x8000, 0x0005], -5),
        (ValueType.SM32, WordOrder.LOW_FIRST, [0x0005, 0x8000], -5),
    ],
)
def test_32_bit_integers_in_both_word_orders(
    value_type: ValueType, order: WordOrder, words: list[int], expected: int
) -> None:
    big = MetricSpec("big", MetricType.NUMBER)
    assert field(big, type=value_type, word_order=order).decode(words) == expected


def test_float32_word_order_and_its_noise() -> None:
    high, low = struct.unpack(">HH", struct.pack(">f", 89.2))
    fuel = MetricSpec("fuel_pct", MetricType.NUMBER, "%", 0, 100)
    assert field(fuel, type=ValueType.FLOAT32).decode([high, low]) == 89.2
    assert field(fuel, type=ValueType.FLOAT32, word_order=WordOrder.LOW_FIRST).decode(
        [low, high]
    ) == pytest.approx(89.2)
    # Read in the wrong order the same words are another number entirely; here an absurd one,
    # so a map with the wrong word order is refused rather than believed.
    unbounded = MetricSpec("fuel_pct", MetricType.NUMBER, "%")
    assert field(unbounded, type=ValueType.FLOAT32).decode([low, high]) == 2.718437e23
    with pytest.raises(RejectedValue, match=r"outside 0\.\.100"):
        field(fuel, type=ValueType.FLOAT32).decode([low, high])


def test_nan_and_infinity_are_refused_not_published() -> None:
    fuel = MetricSpec("fuel_pct", MetricType.NUMBER, "%", 0, 100)
    nan = struct.unpack(">HH", struct.pack(">f", math.nan))
    inf = struct.unpack(">HH", struct.pack(">f", math.inf))
    for words in (nan, inf):
        with pytest.raises(RejectedValue, match="not a finite number"):
            field(fuel, type=ValueType.FLOAT32).decode(list(words))


def test_raw_values_outside_the_profile_range_are_refused() -> None:
    volts = MetricSpec("battery_v", MetricType.NUMBER, "V", 0, 60)
    assert field(volts, scale=0.01).decode([5400]) == 54.0
    with pytest.raises(RejectedValue, match=r"battery_v: 655.35 \(raw 0xffff\) is outside 0..60"):
        field(volts, scale=0.01).decode([0xFFFF])
    temp = MetricSpec("temp_c", MetricType.NUMBER, "°C", -40, 90)
    with pytest.raises(RejectedValue, match=r"outside -40\.\.90"):
        field(temp, type=ValueType.S16, scale=0.1).decode([0xF000])  # -409.6 °C


def test_sentinels_mean_no_reading_rather_than_a_value() -> None:
    temp = MetricSpec("temp_c", MetricType.NUMBER, "°C", -40, 90)
    sensor = field(temp, type=ValueType.S16, scale=0.1, invalid=frozenset({0x7FFF, 0x8000}))
    assert sensor.decode([0xFF9C]) == -10.0
    for raw in (0x7FFF, 0x8000):
        with pytest.raises(NoReading):
            sensor.decode([raw])


def test_offset_applies_after_scale() -> None:
    temp = MetricSpec("temp_c", MetricType.NUMBER, "°C", -40, 90)
    assert field(temp, scale=0.1, offset=-40).decode([650]) == 25.0


def test_masks_and_bits_become_booleans() -> None:
    healthy = field(FLAG, mask=0x0006, true_when="clear")
    assert healthy.decode([0x0000]) is True
    assert healthy.decode([0x0001]) is True  # a bit outside the mask
    assert healthy.decode([0x0004]) is False
    alarm = field(FLAG, mask=0x0001)
    assert alarm.decode([0x0001]) is True
    contact = field(FLAG, function=Function.DISCRETE_INPUT, type=ValueType.BOOL)
    assert contact.decode([True]) is True
    assert contact.decode([False]) is False


def test_a_block_decodes_what_it_can_and_names_what_it_refused() -> None:
    volts = MetricSpec("battery_v", MetricType.NUMBER, "V", 0, 60)
    temp = MetricSpec("temp_c", MetricType.NUMBER, "°C", -40, 90)
    fields = (
        field(volts, address=0, scale=0.01),
        field(CURRENT, address=1, type=ValueType.SM16, scale=0.1),
        field(temp, address=2, type=ValueType.S16, scale=0.1, invalid=frozenset({0x7FFF})),
    )
    block = ReadBlock(Function.HOLDING, 0, 3, fields)
    metrics, rejected = block.decode([0xFFFF, 0x8010, 0x7FFF])
    assert metrics == {"battery_a": -1.6}  # temp_c has no sensor: left out, not refused
    assert [problem.metric for problem in rejected] == ["battery_v"]


def test_reads_are_planned_per_table_bridging_only_allowed_gaps() -> None:
    fields = [
        field(MetricSpec(f"m{address}", MetricType.NUMBER), address=address, type=value_type)
        for address, value_type in [(0, ValueType.U16), (1, ValueType.U32), (10, ValueType.U16)]
    ]
    fields.append(field(FLAG, function=Function.COIL, type=ValueType.BOOL, address=3))
    tight = plan_reads(fields)
    assert [(b.function, b.address, b.count) for b in tight] == [
        (Function.HOLDING, 0, 3),
        (Function.HOLDING, 10, 1),
        (Function.COIL, 3, 1),
    ]
    loose = plan_reads(fields, max_gap=7)
    assert [(b.function, b.address, b.count) for b in loose] == [
        (Function.HOLDING, 0, 11),
        (Function.COIL, 3, 1),
    ]


def test_a_read_never_exceeds_the_modbus_limit_of_125_registers() -> None:
    fields = [
        field(MetricSpec(f"m{i}", MetricType.NUMBER), address=i, type=ValueType.U16)
        for i in range(300)
    ]
    blocks = plan_reads(fields)
    assert [b.count for b in blocks] == [125, 125, 50]
    assert sum(len(b.fields) for b in blocks) == 300


def test_the_shipped_site_controller_map_loads_in_four_reads(
    profiles: dict[str, Profile],
) -> None:
    register_map = load_register_map(bundled_maps_dir() / "site-controller-48v.yaml", profiles)
    assert register_map.device_class == "bts"
    assert [(b.function, b.address, b.count) for b in register_map.blocks] == [
        (Function.HOLDING, 0, 12),
        (Function.INPUT, 0, 1),
        (Function.COIL, 0, 1),
        (Function.DISCRETE_INPUT, 0, 2),
    ]
    fed = {f.metric.name for f in register_map.fields}
    assert fed == set(profiles["bts"].metrics)  # every bts metric has a register


def test_a_gapped_map_reads_separate_blocks(profiles: dict[str, Profile]) -> None:
    register_map = load_register_map(DATA / "good-gapped.yaml", profiles)
    assert [(b.function, b.address, b.count) for b in register_map.blocks] == [
        (Function.HOLDING, 0, 4),
        (Function.HOLDING, 20, 1),
        (Function.INPUT, 0, 1),
    ]


BAD_MAPS = {
    "bool-from-register": "registers[0] (door_open): a bool metric reads a coil, a discrete "
    "input or a mask",
    "coil-with-scale": "registers[0]: a coil takes no scale/offset",
    "number-from-bit": "registers[0] (battery_v): a number metric reads a register without a mask",
    "overlap": "load_a and battery_v both use holding 1",
    "past-the-end": "registers[0]: a float32 at 65535 runs past register 65535",
    "sentinel-out-of-range": "registers[0]: invalid value 70000 is not a raw s16 (-32768..65535)",
    "twice": "metric 'battery_v' is read twice",
    "unit-mismatch": "registers[0] (battery_v): unit 'mV' differs from the profile's 'V'",
    "unknown-key": "registers[0].endian: Extra inputs are not permitted",
    "unknown-metric": "registers[0] (frobnication): class bts has no metric of that name",
    "word-order-on-u16": "registers[0]: word_order applies to 32-bit types, not u16",
    "wrong-class": "class: unknown class 'toaster' (one of bts, netgw, probe, serialgw, vc)",
    "zero-scale": "registers[0].scale: scale must be a finite, non-zero number",
}


@pytest.mark.parametrize("name", sorted(BAD_MAPS))
def test_bad_maps_fail_with_file_entry_and_reason(name: str, profiles: dict[str, Profile]) -> None:
    path = DATA / "maps" / f"{name}.yaml"
    with pytest.raises(RegisterMapError) as caught:
        load_register_map(path, profiles)
    assert str(caught.value) == f"{path}: {BAD_MAPS[name]}"


def test_every_bad_map_in_testdata_has_its_expected_message() -> None:
    assert {p.stem for p in (DATA / "maps").glob("*.yaml")} == set(BAD_MAPS)
