"""Reports from the settings: the outage rules of the rule set, the alert history and the
maintenance windows of the state database, the inventory."""

from __future__ import annotations

from ioc.app._catalog import Catalog
from ioc.app._ruleset import load_rule_set
from ioc.config import Settings
from ioc.reports import Availability, Period, Scope, availability, grouping
from ioc.state import AlertRepository, connect_state


def availability_report(
    settings: Settings, catalog: Catalog, period: Period, scope: Scope, by: str
) -> list[Availability]:
    """Availability of the devices in scope over the period, grouped `by` (ReportError for an
    unknown area or grouping)."""
    group_of = grouping(by, catalog.inventory)
    devices = scope.devices(catalog.inventory)
    outage_rules = [rule.info.id for rule in load_rule_set(settings, catalog) if rule.info.outage]
    repository = AlertRepository(connect_state(settings.resolved_state_url))
    try:
        spans = repository.spans(outage_rules, period.start_ms, period.end_ms)
        windows = repository.windows_between(period.start_ms, period.end_ms)
    finally:
        repository.close()
    return availability(devices, period, spans, windows, catalog.inventory, group_of)
