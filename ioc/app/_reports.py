"""Reports from the runtime: the rule set (which rules are outages), the alert history and
maintenance windows of the state database, the inventory."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import tzinfo
from typing import TypeVar

from ioc.app._runtime import Runtime
from ioc.domain import (
    AlertSpan,
    Device,
    Inventory,
    MaintenanceWindow,
    MetricSummary,
    Profile,
    RetryLater,
)
from ioc.i18n import Language, Speech, mark
from ioc.notify import Attachment, Message, ReportWriter, ScheduledReport
from ioc.reports import (
    XLSX_TYPE,
    Availability,
    Incidents,
    Period,
    ReportError,
    Scope,
    Watched,
    availability,
    availability_html,
    group_names,
    grouping,
    incidents,
    report_title,
    rows_text,
    rows_xlsx,
    summaries_by_group,
)
from ioc.store import StoreError

Figures = TypeVar("Figures", Availability, Incidents)

# The BTS power report: mains failures, time on battery, generator running.
POWER_COLUMNS = {
    "mains_failures": ("bts.mains_failure",),
    "on_battery": ("bts.on_battery",),
    "generator": ("bts.generator_running",),
}
# The links report: flapping episodes beside availability.
LINK_COLUMNS = {"flapping": ("netgw.link_flapping",)}
# A link's loss: the probe's ping across the path where a class has it, else its own figure.
LOSS_METRICS = ("ping_loss_pct", "loss_pct")


def availability_report(
    runtime: Runtime, period: Period, scope: Scope, by: str
) -> list[Availability]:
    """Availability of the devices in scope over the period, grouped `by` (ReportError for an
    unknown area or grouping)."""
    return _availability(runtime, period, scope, [by])[0]


def availability_page(
    runtime: Runtime, period: Period, scope: Scope, by: str, speech: Speech
) -> str:
    """The printable HTML availability report in the reader's language and zone (ReportError
    as above)."""
    grouped, overall = availability_and_overall(runtime, period, scope, by)
    return availability_html(grouped, overall, by, period, speech)


def availability_and_overall(
    runtime: Runtime, period: Period, scope: Scope, by: str
) -> tuple[list[Availability], Availability]:
    """The groups' figures and all devices' together, from one reading of the history."""
    grouped, everything = _availability(runtime, period, scope, [by, "all"])
    if not everything:
        raise ReportError("no device in scope: nothing to report")
    return grouped, everything[0]


def _availability(
    runtime: Runtime, period: Period, scope: Scope, groupings: list[str]
) -> list[list[Availability]]:
    inventory, on_map = runtime.catalog.inventory, map_of(runtime, scope)
    devices = scope.devices(inventory, on_map)
    spans, windows, watched = _history(runtime, sorted(_outage_rules(runtime)), period)
    return [
        _named(
            availability(devices, period, spans, windows, inventory, group_of, watched),
            group_names(by, inventory, on_map),
        )
        for by, group_of in ((by, grouping(by, inventory, on_map)) for by in groupings)
    ]


def _named(figures: Sequence[Figures], name_of: Callable[[str], str]) -> list[Figures]:
    """The figures with each group's name, as people call it."""
    return [dataclasses.replace(f, name=name_of(f.key)) for f in figures]


def map_of(runtime: Runtime, scope: Scope) -> Inventory | None:
    """The older map a report places devices on (the inventory version in effect at the
    scope's `map_at_ms`), or None for the inventory in force."""
    if scope.map_at_ms is None:
        return None
    from ioc.app._inventory import catalog_at

    # The first version is in effect from the start of time: none at all is the file alone,
    # the map in force.
    number = runtime.inventory_versions().effective_at(scope.map_at_ms)
    return catalog_at(runtime, number).inventory if number else None


def power_report(
    runtime: Runtime, period: Period, scope: Scope, by: str
) -> list[dict[str, object]]:
    """Mains failures, hours on battery and on generator, and the lowest battery voltage,
    per group."""
    inventory, on_map = runtime.catalog.inventory, map_of(runtime, scope)
    group_of = grouping(by, inventory, on_map)
    devices = scope.devices(inventory, on_map)
    rule_ids = sorted({rule for rules in POWER_COLUMNS.values() for rule in rules})
    spans, _windows, _watched = _history(runtime, rule_ids, period)
    lowest = _telemetry(runtime, devices, period, group_of, first_metric("battery_v"))
    found = incidents(devices, period, spans, group_of, POWER_COLUMNS)
    return [
        figures.row() | {"lowest_battery_v": _figure(lowest.get(figures.key), "minimum")}
        for figures in _named(found, group_names(by, inventory, on_map))
    ]


def links_report(
    runtime: Runtime, period: Period, scope: Scope, by: str
) -> list[dict[str, object]]:
    """Link availability with flapping episodes and mean loss, the groups that drop most
    often first (one reading of the history for both)."""
    inventory, on_map = runtime.catalog.inventory, map_of(runtime, scope)
    group_of = grouping(by, inventory, on_map)
    devices = scope.devices(inventory, on_map)
    outage_rules = _outage_rules(runtime)
    flapping_rules = {rule for rules in LINK_COLUMNS.values() for rule in rules}
    spans, windows, watched = _history(runtime, sorted(outage_rules | flapping_rules), period)
    outages = [span for span in spans if span.rule_id in outage_rules]
    found = _named(
        availability(devices, period, outages, windows, inventory, group_of, watched),
        group_names(by, inventory, on_map),
    )
    flapping = {
        i.key: i.opened["flapping"]
        for i in incidents(devices, period, spans, group_of, LINK_COLUMNS)
    }
    loss = _telemetry(runtime, devices, period, group_of, first_metric(*LOSS_METRICS))
    ranked = sorted(found, key=lambda figures: (-figures.outages, figures.key))
    return [
        f.row()
        | {
            "flapping_episodes": flapping.get(f.key, 0),
            "mean_loss_pct": _figure(loss.get(f.key), "mean"),
        }
        for f in ranked
    ]


def first_metric(*names: str) -> Callable[[Profile], str | None]:
    """The first of `names` a class reports, if any."""
    return lambda profile: next((name for name in names if name in profile.metrics), None)


def _telemetry(
    runtime: Runtime,
    devices: Sequence[Device],
    period: Period,
    group_of: Callable[[Device], list[str]],
    metric_of: Callable[[Profile], str | None],
) -> dict[str, MetricSummary]:
    """A metric's readings over the period per group (StoreError as `metric_readings`)."""
    readings = metric_readings(runtime, devices, period, metric_of)
    return summaries_by_group(devices, readings, group_of)


def metric_readings(
    runtime: Runtime,
    devices: Sequence[Device],
    period: Period,
    metric_of: Callable[[Profile], str | None],
) -> dict[str, MetricSummary]:
    """A metric's readings over the period per device, one query per class (StoreError when
    the telemetry store cannot answer)."""
    store = runtime.telemetry
    found: dict[str, MetricSummary] = {}
    for device_class in sorted({device.device_class for device in devices}):
        profile = runtime.catalog.profiles.get(device_class)
        metric = metric_of(profile) if profile is not None else None
        if metric is not None:
            found |= store.summaries(device_class, metric, period.start_ms, period.end_ms)
    return found


def _figure(summary: MetricSummary | None, which: str) -> float | None:
    return None if summary is None else round(getattr(summary, which), 2)


def _outage_rules(runtime: Runtime) -> set[str]:
    return {rule.info.id for rule in runtime.rules.get() if rule.info.outage}


def _history(
    runtime: Runtime, rule_ids: list[str], period: Period
) -> tuple[list[AlertSpan], list[MaintenanceWindow], Watched]:
    """The rules' alerts over the period, the maintenance windows, and what ioc watched."""
    repository = runtime.alerts()
    spans = repository.spans(rule_ids, period.start_ms, period.end_ms)
    windows = repository.windows_between(period.start_ms, period.end_ms)
    return spans, windows, watched_during(runtime, period)


def watched_during(runtime: Runtime, period: Period) -> Watched:
    """What ioc watched in the period, as the rules recorded it."""
    log = runtime.watch_log()
    return Watched(log.spells(period.start_ms, period.end_ms), log.first_heard())


_ATTACHED = mark("Every figure is in the attached workbook.")
_SHOWN = 15  # groups in the message's text; the workbook has them all


def report_rows(
    runtime: Runtime, kind: str, period: Period, scope: Scope, by: str
) -> list[dict[str, object]]:
    """The rows of a report of `kind` (availability, power, links)."""
    if kind == "power":
        power = dataclasses.replace(scope, device_class=scope.device_class or "bts")
        return power_report(runtime, period, power, by)
    if kind == "links":
        links = dataclasses.replace(scope, device_class=scope.device_class or "netgw")
        return links_report(runtime, period, links, by)
    return [a.row() for a in availability_report(runtime, period, scope, by)]


def report_writer(runtime: Runtime, zone: tzinfo) -> ReportWriter:
    """Writes a scheduled report's message in its reader's language: the figures of the first
    groups in its text, the whole table as an XLSX workbook attached; times in the
    notification file's zone."""

    def write(report: ScheduledReport, period: Period, language: Language) -> Message:
        speech = Speech(language, zone)
        scope = Scope(report.area, report.classes, report.tag)
        try:
            rows = report_rows(runtime, report.kind, period, scope, report.by)
        except StoreError as exc:  # its telemetry figures: written when the store is back
            raise RetryLater(f"the telemetry store cannot answer: {exc}") from exc
        title = report_title(report.kind, report.by, period, speech)
        shown = rows_text(rows[:_SHOWN], speech)
        more = f"... (+{len(rows) - _SHOWN})\n" if len(rows) > _SHOWN else ""
        workbook = Attachment(
            f"{report.id}-{period.bounds(zone)[0][:10]}.xlsx",
            XLSX_TYPE,
            rows_xlsx(rows, title, speech, report.kind),
        )
        return Message(
            subject=title,
            text=f"{title}\n\n{shown}{more}\n{speech.say(_ATTACHED)}\n",
            short=title,
            link=None,
            data={"report": report.id, "start_ms": period.start_ms, "end_ms": period.end_ms},
            attachments=(workbook,),
        )

    return write
