"""The YAML shape of a rule file, validated strictly (unknown keys are mistakes)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ioc.config.documents import Duration
from ioc.domain import Severity

Scalar = bool | float | str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Bilingual(_Strict):
    """A text in Vietnamese and English."""

    vi: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Selector(_Strict):
    """Which devices a rule watches; every given criterion must hold."""

    classes: list[str] | None = Field(default=None, alias="class", min_length=1)
    area: str | None = None
    devices: list[str] | None = Field(default=None, min_length=1)
    tags: list[str] | None = Field(default=None, min_length=1, description="carrying all of")

    @model_validator(mode="before")
    @classmethod
    def _class_may_be_one_name(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("class"), str):
            return {**data, "class": [data["class"]]}
        return data


class Comparison(_Strict):
    """Exactly one of above / below / equals, against one metric's value."""

    above: float | None = None
    below: float | None = None
    equals: Scalar | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Comparison:
        given = [name for name in ("above", "below", "equals") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of above, below or equals"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


class Gate(Comparison):
    """Evaluate only while another metric compares so (e.g. while on battery)."""

    metric: str


class ClearSpec(Comparison):
    """A separate clear condition (hysteresis) and how long it must hold."""

    for_: Duration = Field(default=0.0, alias="for")


class ThresholdLevel(Comparison):
    """A worse severity when a stricter comparison also holds."""

    severity: Severity


class ThresholdSpec(Comparison):
    """A metric compares past a limit, for a while; clears by its own condition."""

    kind: Literal["threshold"]
    metric: str
    for_: Duration = Field(default=0.0, alias="for")
    for_reports: int = Field(default=1, ge=1, le=1000)
    over: Duration | None = Field(default=None, description="compare the mean over this window")
    clear: ClearSpec | None = None
    levels: list[ThresholdLevel] = []
    while_: Gate | None = Field(default=None, alias="while")


class AbsenceSpec(_Strict):
    """Nothing heard for the silence window, or the device's status says offline."""

    kind: Literal["absence"]
    after: Duration | None = Field(default=None, description="default: the profile's down_after_s")
    offline_status: bool = True


class EventSpec(_Strict):
    """A discrete event the device reports; cleared by another event or after a while."""

    kind: Literal["event"]
    event: str
    clear_event: str | None = None
    auto_resolve: Duration | None = None

    @model_validator(mode="after")
    def _needs_an_end(self) -> EventSpec:
        if self.clear_event is None and self.auto_resolve is None:
            raise ValueError("an event rule needs clear_event or auto_resolve")
        return self


class ChangeSpec(_Strict):
    """A metric's value changes: to a given value, or up, or down (e.g. an uptime reset)."""

    kind: Literal["change"]
    metric: str
    to: Scalar | None = None
    decreases: bool = False
    increases: bool = False
    clear_to: Scalar | None = None
    auto_resolve: Duration | None = None

    @model_validator(mode="after")
    def _one_trigger(self) -> ChangeSpec:
        triggers = sum([self.to is not None, self.decreases, self.increases])
        if triggers != 1:
            raise ValueError("give exactly one of to, decreases: true or increases: true")
        if self.clear_to is None and self.auto_resolve is None:
            raise ValueError("a change rule needs clear_to or auto_resolve")
        return self


class FlappingSpec(_Strict):
    """At least N changes of a metric (or N of some events) within a window."""

    kind: Literal["flapping"]
    metric: str | None = None
    events: list[str] | None = Field(default=None, min_length=1)
    transitions: int = Field(ge=2, le=1000)
    within: Duration
    quiet: Duration

    @model_validator(mode="after")
    def _metric_or_events(self) -> FlappingSpec:
        if (self.metric is None) == (self.events is None):
            raise ValueError("give exactly one of metric or events")
        return self


class TrendLevel(_Strict):
    """A severity when the predicted crossing is this close."""

    within: Duration
    severity: Severity


class TrendSpec(_Strict):
    """A linear fit over a recent window: time until a limit, or a rate of change."""

    kind: Literal["trend"]
    metric: str
    window: Duration
    min_points: int = Field(default=4, ge=2, le=10_000)
    max_points: int = Field(default=120, ge=2, le=10_000)
    limit: float | None = None
    levels: list[TrendLevel] = []
    rate_above: float | None = Field(default=None, description="units per hour")
    rate_below: float | None = Field(default=None, description="units per hour")
    while_: Gate | None = Field(default=None, alias="while")

    @model_validator(mode="after")
    def _prediction_or_rate(self) -> TrendSpec:
        predicts = self.limit is not None
        rates = self.rate_above is not None or self.rate_below is not None
        if predicts == rates:
            raise ValueError("give either limit (with levels) or rate_above / rate_below")
        if predicts and not self.levels:
            raise ValueError("a prediction needs levels: [{within: 2h, severity: warning}]")
        if self.min_points > self.max_points:
            raise ValueError("min_points is larger than max_points")
        return self


class AnomalySpec(_Strict):
    """A value far from the metric's own recent baseline (robust z-score)."""

    kind: Literal["anomaly"]
    metric: str
    method: Literal["ewma", "mad"] = "ewma"
    alpha: float = Field(default=0.05, gt=0, lt=1, description="ewma smoothing")
    window: int = Field(default=60, ge=5, le=10_000, description="mad: samples in the baseline")
    z: float = Field(default=4.0, gt=0)
    clear_z: float = Field(default=2.0, ge=0)
    min_samples: int = Field(default=20, ge=2)
    for_samples: int = Field(default=3, ge=1)

    @model_validator(mode="after")
    def _clear_below_raise(self) -> AnomalySpec:
        if self.clear_z >= self.z:
            raise ValueError("clear_z must be below z (hysteresis)")
        return self


class CompositeSpec(_Strict):
    """All or any of other conditions."""

    kind: Literal["all", "any"]
    of: list[ConditionSpec] = Field(min_length=2)


ConditionSpec = Annotated[
    ThresholdSpec
    | AbsenceSpec
    | EventSpec
    | ChangeSpec
    | FlappingSpec
    | TrendSpec
    | AnomalySpec
    | CompositeSpec,
    Field(discriminator="kind"),
]
CompositeSpec.model_rebuild()


def condition_kinds(condition: ConditionSpec) -> frozenset[str]:
    """Every kind of condition in a condition, those inside `all` and `any` included."""
    if isinstance(condition, CompositeSpec):
        return frozenset({condition.kind}).union(*(condition_kinds(c) for c in condition.of))
    return frozenset({condition.kind})


class RuleSpec(_Strict):
    """One rule as written in a file."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    title: Bilingual
    select: Selector
    condition: ConditionSpec
    severity: Severity
    probable_cause: str
    event_type: str
    message: Bilingual
    outage: bool = Field(
        default=False, description="the device is unreachable: its dependants' alerts group under"
    )
    enabled: bool = True


class RuleFileSpec(_Strict):
    """A rule file: a list of rules."""

    rules: list[RuleSpec]
