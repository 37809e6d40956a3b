# What ioc.app exports, for type checkers and for lazy_loader (see __init__.py).

from ._api import ApiOptions, ApiServer, api_context, stage_metrics
from ._catalog import Catalog, load_catalog
from ._checks import check_configuration
from ._demo import demo_faults, run_demo
from ._gateway import (
    describe,
    gateway_options,
    gateway_process,
    gateway_services,
    load_gateway,
)
from ._identities import make_identities, planned_identities
from ._ingest import IngestOptions, IngestService, build_decoder, ingest_options
from ._inventory import Change, LiveInventory, catalog_at, digest_of
from ._inventory_desk import InventoryDesk
from ._logging import configure_logging
from ._meetings import MeetingDesk
from ._notify import NotifyService, build_senders, load_notifications
from ._onboarding import TargetChanges, recorded_then_written, stage_targets, target_changes
from ._operator import OperatorDesk, demo_records
from ._probe import describe_probe, load_probe, probe_options, probe_process, probe_services
from ._reloading import NoRulesProcess, ReloadFollower, pid_path, request_reload
from ._reports import (
    availability_and_overall,
    availability_page,
    availability_report,
    report_rows,
)
from ._rules import RulesService
from ._ruleset import load_rule_set, rule_locations
from ._run import (
    Stages,
    add_api,
    add_ingest,
    add_reload_follower,
    add_rules,
    api_process,
    cluster_process,
    ingest_hearing,
    ingest_process,
    rules_process,
    run_process,
)
from ._runtime import Current, Runtime
from ._status import StatusLine
from ._supervisor import (
    Managed,
    Service,
    ServiceError,
    Supervisor,
    Worker,
    ticker,
)

__all__ = [
    "ApiOptions",
    "ApiServer",
    "Catalog",
    "Change",
    "Current",
    "IngestOptions",
    "IngestService",
    "InventoryDesk",
    "LiveInventory",
    "Managed",
    "MeetingDesk",
    "NoRulesProcess",
    "NotifyService",
    "OperatorDesk",
    "ReloadFollower",
    "RulesService",
    "Runtime",
    "Service",
    "ServiceError",
    "Stages",
    "StatusLine",
    "Supervisor",
    "TargetChanges",
    "Worker",
    "add_api",
    "add_ingest",
    "add_reload_follower",
    "add_rules",
    "api_context",
    "api_process",
    "availability_and_overall",
    "availability_page",
    "availability_report",
    "build_decoder",
    "build_senders",
    "catalog_at",
    "check_configuration",
    "cluster_process",
    "configure_logging",
    "demo_faults",
    "demo_records",
    "describe",
    "describe_probe",
    "digest_of",
    "gateway_options",
    "gateway_process",
    "gateway_services",
    "ingest_hearing",
    "ingest_options",
    "ingest_process",
    "load_catalog",
    "load_gateway",
    "load_notifications",
    "load_probe",
    "load_rule_set",
    "make_identities",
    "pid_path",
    "planned_identities",
    "probe_options",
    "probe_process",
    "probe_services",
    "recorded_then_written",
    "report_rows",
    "request_reload",
    "rule_locations",
    "rules_process",
    "run_demo",
    "run_process",
    "stage_metrics",
    "stage_targets",
    "target_changes",
    "ticker",
]
