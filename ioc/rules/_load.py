"""Loading rule files: strict shape, then every cross-reference checked against the catalog."""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from ioc.config.documents import explain_validation, read_document
from ioc.domain import BadFileError, Inventory, Profile, RuleInfo
from ioc.rules._spec import (
    AbsenceSpec,
    AnomalySpec,
    ChangeSpec,
    CompositeSpec,
    ConditionSpec,
    EventSpec,
    FlappingSpec,
    RuleFileSpec,
    RuleSpec,
    ThresholdSpec,
    TrendSpec,
    condition_kinds,
)
from ioc.rules._x733 import EVENT_TYPES, PROBABLE_CAUSES


class RuleError(BadFileError):
    """A rule file is unreadable or wrong; the message names the file, rule and field."""


# What a message template may name; the alert book fills them in.
TEMPLATE_FIELDS = frozenset(
    {
        "device_id",
        "device_name",
        "area_name",
        "value",
        "eta",
        "rate",
        "z",
        "silent_for",
        "reason",
        "transitions",
    }
)


@dataclass(frozen=True, slots=True)
class LoadedRule:
    """A checked rule: its spec, its file, and the devices it watches."""

    spec: RuleSpec
    info: RuleInfo
    path: Path
    devices: tuple[str, ...]

    @property
    def flapping(self) -> bool:
        """Whether it judges flapping (a `flapping` condition in it, nested or not)."""
        return "flapping" in condition_kinds(self.spec.condition)


def bundled_rules_dir() -> Path:
    """The default rule set shipped with ioc (the repository's rules/ folder)."""
    return Path(str(resources.files("ioc.bundled.rules")))


def rule_files(location: Path) -> list[Path]:
    """The rule files at a path: the file itself, or every *.yaml / *.yml in a folder."""
    if location.is_dir():
        files = sorted(p for p in location.iterdir() if p.suffix in (".yaml", ".yml"))
        if not files:
            raise RuleError(f"{location}: no rule files (*.yaml) found")
        return files
    if not location.exists():
        raise RuleError(f"{location}: no such file or folder")
    return [location]


def load_rules(
    locations: Iterable[Path], profiles: Mapping[str, Profile], inventory: Inventory
) -> list[LoadedRule]:
    """Read and check every rule file; raise RuleError listing each mistake found."""
    loaded: list[LoadedRule] = []
    seen: dict[str, Path] = {}
    problems: list[str] = []
    for location in locations:
        for path in rule_files(location):
            document = read_document(path, RuleError)
            try:
                spec = RuleFileSpec.model_validate(document)
            except ValidationError as exc:
                problems.append(explain_validation(path, exc, document))
                continue
            for rule in spec.rules:
                where = f"{path}: rules[{rule.id!r}]"
                if rule.id in seen:
                    problems.append(f"{where}.id: also defined in {seen[rule.id]}")
                    continue
                seen[rule.id] = path
                mistakes = _check_rule(rule, profiles, inventory)
                problems += [f"{where}.{mistake}" for mistake in mistakes]
                if not mistakes and rule.enabled:
                    devices = _selected_devices(rule, inventory)
                    loaded.append(LoadedRule(rule, _info(rule), path, devices))
    if problems:
        raise RuleError("\n".join(problems))
    return loaded


def reselect(
    rules: Iterable[LoadedRule], profiles: Mapping[str, Profile], inventory: Inventory
) -> list[LoadedRule]:
    """The rules in force checked against a changed inventory, each with the devices it now
    selects; RuleError listing each rule the change would break (an area, a device or a tag
    it names gone)."""
    fitted: list[LoadedRule] = []
    problems: list[str] = []
    for rule in rules:
        mistakes = _check_rule(rule.spec, profiles, inventory)
        problems += [f"{rule.path}: rules[{rule.info.id!r}].{mistake}" for mistake in mistakes]
        if not mistakes:
            devices = _selected_devices(rule.spec, inventory)
            fitted.append(LoadedRule(rule.spec, rule.info, rule.path, devices))
    if problems:
        raise RuleError("\n".join(problems))
    return fitted


def _info(rule: RuleSpec) -> RuleInfo:
    return RuleInfo(
        id=rule.id,
        title_vi=rule.title.vi,
        title_en=rule.title.en,
        message_vi=rule.message.vi,
        message_en=rule.message.en,
        severity=rule.severity,
        probable_cause=rule.probable_cause,
        event_type=rule.event_type,
        outage=rule.outage,
    )


def _selected_devices(rule: RuleSpec, inventory: Inventory) -> tuple[str, ...]:
    select = rule.select
    classes = set(select.classes) if select.classes else None
    wanted = set(select.devices) if select.devices else None
    tags = frozenset(select.tags or ())
    areas = inventory.subtree(select.area) if select.area is not None else None
    selected = []
    for device in inventory.devices.values():
        if classes is not None and device.device_class not in classes:
            continue
        if wanted is not None and device.id not in wanted:
            continue
        if not tags <= device.tags:
            continue
        if areas is not None and device.area_id not in areas:
            continue
        selected.append(device.id)
    return tuple(selected)


def _check_rule(rule: RuleSpec, profiles: Mapping[str, Profile], inventory: Inventory) -> list[str]:
    mistakes: list[str] = []
    select = rule.select
    for device_class in select.classes or ():
        if device_class not in profiles:
            mistakes.append(f"select.class: unknown class {device_class!r}")
    if select.area is not None and select.area not in inventory.areas:
        mistakes.append(f"select.area: no area {select.area!r} in the inventory")
    for device_id in select.devices or ():
        if device_id not in inventory.devices:
            mistakes.append(f"select.devices: no device {device_id!r} in the inventory")
    known_tags = (
        {tag for device in inventory.devices.values() for tag in device.tags}
        if select.tags
        else set()
    )
    for tag in select.tags or ():
        if tag not in known_tags:
            mistakes.append(f"select.tags: no device in the inventory carries tag {tag!r}")
    if rule.probable_cause not in PROBABLE_CAUSES:
        mistakes.append(
            f"probable_cause: {rule.probable_cause!r} is not an IANA ITU probable cause "
            "this version knows (docs/rules.md lists them)"
        )
    if rule.event_type not in EVENT_TYPES:
        mistakes.append(
            f"event_type: {rule.event_type!r} is not an X.733 event type "
            f"({', '.join(sorted(EVENT_TYPES))})"
        )
    for language in ("vi", "en"):
        mistakes += _check_template(f"message.{language}", getattr(rule.message, language))
    if mistakes:
        return mistakes
    classes = select.classes or sorted(
        {inventory.devices[d].device_class for d in select.devices or ()} or profiles
    )
    mistakes += _check_condition("condition", rule.condition, [profiles[c] for c in classes])
    return mistakes


def _check_template(where: str, template: str) -> list[str]:
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        return [f"{where}: {exc}"]
    return [
        f"{where}: unknown field {{{name}}} (known: {', '.join(sorted(TEMPLATE_FIELDS))})"
        for name in fields
        if name not in TEMPLATE_FIELDS
    ]


def _check_condition(where: str, condition: ConditionSpec, targets: list[Profile]) -> list[str]:
    mistakes: list[str] = []
    if isinstance(condition, CompositeSpec):
        for index, part in enumerate(condition.of):
            mistakes += _check_condition(f"{where}.of[{index}]", part, targets)
        return mistakes
    metrics: list[tuple[str, str]] = []
    events: list[tuple[str, str]] = []
    if isinstance(condition, ThresholdSpec | ChangeSpec | TrendSpec | AnomalySpec):
        metrics.append(("metric", condition.metric))
    if isinstance(condition, ThresholdSpec | TrendSpec) and condition.while_ is not None:
        metrics.append(("while.metric", condition.while_.metric))
    if isinstance(condition, FlappingSpec):
        if condition.metric is not None:
            metrics.append(("metric", condition.metric))
        events += [("events", event) for event in condition.events or ()]
    if isinstance(condition, EventSpec):
        events.append(("event", condition.event))
        if condition.clear_event is not None:
            events.append(("clear_event", condition.clear_event))
    for field, metric in metrics:
        for profile in targets:
            spec = profile.metrics.get(metric)
            if spec is None:
                mistakes.append(
                    f"{where}.{field}: class {profile.device_class!r} has no metric {metric!r}"
                )
            elif (
                isinstance(condition, ThresholdSpec | TrendSpec | AnomalySpec)
                and field == "metric"
                and _needs_number(condition)
                and spec.type.value != "number"
            ):
                mistakes.append(
                    f"{where}.{field}: {metric!r} is a {spec.type.value}, this needs a number"
                )
    for field, event in events:
        for profile in targets:
            if event not in profile.events:
                mistakes.append(
                    f"{where}.{field}: class {profile.device_class!r} reports no event {event!r}"
                )
    if isinstance(condition, AbsenceSpec) and condition.after is not None and condition.after <= 0:
        mistakes.append(f"{where}.after: must be more than 0")
    return mistakes


def _needs_number(condition: ThresholdSpec | TrendSpec | AnomalySpec) -> bool:
    if isinstance(condition, ThresholdSpec):
        return condition.equals is None or condition.over is not None
    return True
