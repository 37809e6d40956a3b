"""Register maps: where a controller keeps each value, how to decode it, which metric it feeds.

A map is data (`devices/modbus/*.yaml`), checked strictly against the device profile at load:
every register names a metric of the profile, with a type that can carry it and the profile's
unit. Decoding never guesses: a sentinel raw value, a NaN or a value outside the profile's
range is refused (`RejectedValue`) rather than published.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ioc.config.documents import read_model
from ioc.domain import BadFileError, EdgeError, MetricSpec, MetricType, Profile

MAX_REGISTERS_PER_READ = 125  # the Modbus limit for functions 3 and 4
MAX_BITS_PER_READ = 2000  # ... and for functions 1 and 2


class RegisterMapError(BadFileError):
    """A register map is unreadable or wrong; the message names the file and the entry."""


class RejectedValue(EdgeError):
    """A raw value that must not be published: NaN, or outside the metric's range."""

    def __init__(self, metric: str, message: str) -> None:
        super().__init__(f"{metric}: {message}")
        self.metric = metric


class NoReading(RejectedValue):
    """The controller says it has no value (a sentinel such as 0x7FFF for a missing sensor)."""


class Function(StrEnum):
    """The Modbus table a value lives in, by its read function."""

    # In the order a poll reads them: measurements first, so a silent unit is noticed at once.
    HOLDING = "holding"  # function 3
    INPUT = "input"  # function 4
    COIL = "coil"  # function 1
    DISCRETE_INPUT = "discrete_input"  # function 2

    @property
    def is_bits(self) -> bool:
        """Coils and discrete inputs hold bits; the others hold 16-bit registers."""
        return self in (Function.COIL, Function.DISCRETE_INPUT)


class ValueType(StrEnum):
    """How raw registers encode a value."""

    BOOL = "bool"  # one coil or discrete input
    U16 = "u16"
    S16 = "s16"  # two's complement
    SM16 = "sm16"  # sign-magnitude: bit 15 is the sign, bits 0-14 the magnitude
    U32 = "u32"
    S32 = "s32"
    SM32 = "sm32"
    FLOAT32 = "float32"  # IEEE 754 single

    @property
    def width(self) -> int:
        """Registers (or bits) the value occupies."""
        return 2 if self in _THIRTY_TWO_BIT else 1


_THIRTY_TWO_BIT = frozenset({ValueType.U32, ValueType.S32, ValueType.SM32, ValueType.FLOAT32})
_SIGNED = frozenset({ValueType.S16, ValueType.S32})


class WordOrder(StrEnum):
    """Which register of a 32-bit value comes first (bytes within a register are big-endian)."""

    HIGH_FIRST = "high_first"
    LOW_FIRST = "low_first"


@dataclass(frozen=True, slots=True)
class RegisterField:
    """One value of a controller: where it is, how it is encoded and the metric it feeds."""

    metric: MetricSpec
    function: Function
    address: int
    type: ValueType
    word_order: WordOrder = WordOrder.HIGH_FIRST
    scale: float = 1.0
    offset: float = 0.0
    mask: int | None = None
    true_when: Literal["set", "clear"] = "set"
    invalid: frozenset[int] = frozenset()

    @property
    def width(self) -> int:
        """Registers or bits the field occupies."""
        return self.type.width

    def raw(self, words: Sequence[int]) -> int:
        """The field's raw integer (the 32-bit pattern for two registers) from its registers."""
        if self.type.width == 1:
            return words[0] & 0xFFFF
        high, low = (words[0], words[1])
        if self.word_order is WordOrder.LOW_FIRST:
            high, low = low, high
        return ((high & 0xFFFF) << 16) | (low & 0xFFFF)

    def decode(self, words: Sequence[int] | Sequence[bool]) -> float | bool:
        """The metric value of this field's registers or bit; raises RejectedValue."""
        if self.function.is_bits:
            return bool(words[0])
        raw = self.raw([int(word) for word in words])
        if raw in self.invalid:
            raise NoReading(self.metric.name, f"raw {raw:#x} means no reading")
        if self.mask is not None:
            any_set = raw & self.mask != 0
            return any_set if self.true_when == "set" else not any_set
        value = _number(self.type, raw)
        if not math.isfinite(value):
            raise RejectedValue(self.metric.name, f"raw {raw:#x} is not a finite number")
        scaled = round(value * self.scale + self.offset, 6)
        if not self.metric.minimum <= scaled <= self.metric.maximum:
            raise RejectedValue(
                self.metric.name,
                f"{scaled:g} (raw {raw:#x}) is outside "
                f"{self.metric.minimum:g}..{self.metric.maximum:g}",
            )
        return scaled


def _number(value_type: ValueType, raw: int) -> float:
    if value_type is ValueType.S16:
        return float(raw - 0x1_0000 if raw & 0x8000 else raw)
    if value_type is ValueType.SM16:
        return float(-(raw & 0x7FFF) if raw & 0x8000 else raw)
    if value_type is ValueType.S32:
        return float(raw - 0x1_0000_0000 if raw & 0x8000_0000 else raw)
    if value_type is ValueType.SM32:
        return float(-(raw & 0x7FFF_FFFF) if raw & 0x8000_0000 else raw)
    if value_type is ValueType.FLOAT32:
        single = float(struct.unpack(">f", raw.to_bytes(4, "big"))[0])
        # A single carries 7 significant digits; the rest is binary noise (89.2 -> 89.199997).
        return float(f"{single:.7g}") if math.isfinite(single) else single
    return float(raw)


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request: a run of one table that covers some fields."""

    function: Function
    address: int
    count: int
    fields: tuple[RegisterField, ...]

    def decode(
        self, values: Sequence[int] | Sequence[bool]
    ) -> tuple[dict[str, float | bool], list[RejectedValue]]:
        """Metric values from this block's reply, and the values refused (a metric the
        controller has no reading for is simply left out)."""
        metrics: dict[str, float | bool] = {}
        rejected: list[RejectedValue] = []
        for field in self.fields:
            start = field.address - self.address
            try:
                metrics[field.metric.name] = field.decode(values[start : start + field.width])
            except NoReading:
                continue
            except RejectedValue as exc:
                rejected.append(exc)
        return metrics, rejected


@dataclass(frozen=True, slots=True)
class RegisterMap:
    """A controller model's registers, and the reads that fetch them all."""

    name: str
    device_class: str
    fields: tuple[RegisterField, ...]
    blocks: tuple[ReadBlock, ...]


# -- the file format ---------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _FieldModel(_Strict):
    metric: str
    function: Function
    address: int = Field(ge=0, le=0xFFFF)
    type: ValueType = ValueType.U16
    word_order: WordOrder | None = None
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None
    mask: Annotated[int, Field(ge=1, le=0xFFFF)] | None = None
    true_when: Literal["set", "clear"] = "set"
    invalid: list[int] = []
    description: str = ""

    @field_validator("scale")
    @classmethod
    def _usable_scale(cls, scale: float) -> float:
        if scale == 0 or not math.isfinite(scale):
            raise ValueError("scale must be a finite, non-zero number")
        return scale

    @model_validator(mode="after")
    def _consistent(self) -> _FieldModel:
        if self.function.is_bits:
            if self.type is not ValueType.BOOL:
                raise ValueError(f"a {self.function} holds one bit: its type is bool")
            extras = {"word_order": self.word_order, "mask": self.mask, "invalid": self.invalid}
            used = [name for name, value in extras.items() if value]
            if used or self.scale != 1 or self.offset != 0:
                raise ValueError(f"a {self.function} takes no {', '.join(used) or 'scale/offset'}")
            return self
        if self.type is ValueType.BOOL:
            raise ValueError("a register is not a bool: read a bit with `type: u16` and `mask`")
        if self.word_order is not None and self.type.width == 1:
            raise ValueError(f"word_order applies to 32-bit types, not {self.type}")
        if self.address + self.type.width - 1 > 0xFFFF:
            raise ValueError(f"a {self.type} at {self.address} runs past register 65535")
        if self.mask is not None and self.type is not ValueType.U16:
            raise ValueError("mask applies to a u16 register")
        # Sentinels are raw register contents; a signed type's may be written signed (-1).
        bits = 16 * self.type.width
        low, high = (-(1 << (bits - 1)) if self.type in _SIGNED else 0), (1 << bits) - 1
        for raw in self.invalid:
            if not low <= raw <= high:
                raise ValueError(f"invalid value {raw} is not a raw {self.type} ({low}..{high})")
        return self


class _MapModel(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    class_: str = Field(alias="class")
    description: str = ""
    max_gap: int = Field(default=0, ge=0, le=100)
    registers: list[_FieldModel] = Field(min_length=1)


def bundled_maps_dir() -> Path:
    """The register maps shipped with ioc (the repository's devices/modbus folder)."""
    return Path(str(resources.files("ioc.bundled.devices"))) / "modbus"


def load_register_map(path: Path, profiles: dict[str, Profile]) -> RegisterMap:
    """Read and check a register map against the profiles; raise RegisterMapError."""
    model = read_model(path, _MapModel, RegisterMapError)
    profile = profiles.get(model.class_)
    if profile is None:
        known = ", ".join(sorted(profiles))
        raise RegisterMapError(f"{path}: class: unknown class {model.class_!r} (one of {known})")
    fields = tuple(
        _to_field(path, index, entry, profile) for index, entry in enumerate(model.registers)
    )
    _check_overlaps(path, fields)
    return RegisterMap(model.name, model.class_, fields, plan_reads(fields, model.max_gap))


def _to_field(path: Path, index: int, entry: _FieldModel, profile: Profile) -> RegisterField:
    where = f"{path}: registers[{index}] ({entry.metric})"
    metric = profile.metrics.get(entry.metric)
    if metric is None:
        raise RegisterMapError(f"{where}: class {profile.device_class} has no metric of that name")
    if metric.type is MetricType.STRING:
        raise RegisterMapError(f"{where}: string metrics cannot be read from registers")
    is_flag = entry.function.is_bits or entry.mask is not None
    if metric.type is MetricType.BOOL and not is_flag:
        raise RegisterMapError(f"{where}: a bool metric reads a coil, a discrete input or a mask")
    if metric.type is MetricType.NUMBER and is_flag:
        raise RegisterMapError(f"{where}: a number metric reads a register without a mask")
    if entry.unit is not None and entry.unit != metric.unit:
        raise RegisterMapError(
            f"{where}: unit {entry.unit!r} differs from the profile's {metric.unit!r}"
        )
    return RegisterField(
        metric=metric,
        function=entry.function,
        address=entry.address,
        type=entry.type,
        word_order=entry.word_order or WordOrder.HIGH_FIRST,
        scale=entry.scale,
        offset=entry.offset,
        mask=entry.mask,
        true_when=entry.true_when,
        invalid=frozenset(raw & ((1 << 16 * entry.type.width) - 1) for raw in entry.invalid),
    )


def _check_overlaps(path: Path, fields: Sequence[RegisterField]) -> None:
    seen_metrics: set[str] = set()
    owner: dict[tuple[Function, int], RegisterField] = {}
    for field in fields:
        if field.metric.name in seen_metrics:
            raise RegisterMapError(f"{path}: metric {field.metric.name!r} is read twice")
        seen_metrics.add(field.metric.name)
        if field.mask is not None:
            continue  # several flags may share one status register
        for address in range(field.address, field.address + field.width):
            other = owner.setdefault((field.function, address), field)
            if other is not field:
                raise RegisterMapError(
                    f"{path}: {field.metric.name} and {other.metric.name} both use "
                    f"{field.function} {address}"
                )


def plan_reads(fields: Sequence[RegisterField], max_gap: int = 0) -> tuple[ReadBlock, ...]:
    """Fewest reads that cover every field: runs of one table, bridging gaps up to max_gap."""
    blocks: list[ReadBlock] = []
    for function in Function:
        limit = MAX_BITS_PER_READ if function.is_bits else MAX_REGISTERS_PER_READ
        run: list[RegisterField] = []
        start = end = 0  # the run covers [start, end)
        for field in sorted((f for f in fields if f.function is function), key=lambda f: f.address):
            field_end = field.address + field.width
            if run and field.address <= end + max_gap and max(end, field_end) - start <= limit:
                run.append(field)
                end = max(end, field_end)
                continue
            if run:
                blocks.append(ReadBlock(function, start, end - start, tuple(run)))
            run, start, end = [field], field.address, field_end
        if run:
            blocks.append(ReadBlock(function, start, end - start, tuple(run)))
    return tuple(blocks)
