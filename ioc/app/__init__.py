"""The composition root: builds settings, stores and stages, and runs them as supervised services.

Each command's process is a list of services (`_run.py`, `_demo.py`, `_gateway.py`) handed to
one `Supervisor` (`_supervisor.py`); operator commands use the same use cases as the API
(`ioc.alerts`) over the stores of an `OperatorDesk`.
"""

from ioc.app._api import ApiServer, api_context, stage_metrics
from ioc.app._catalog import Catalog, load_catalog
from ioc.app._checks import check_configuration
from ioc.app._demo import demo_faults, run_demo
from ioc.app._gateway import (
    describe,
    gateway_options,
    gateway_process,
    gateway_services,
    load_gateway,
)
from ioc.app._identities import make_identities, planned_identities
from ioc.app._ingest import IngestService
from ioc.app._logging import configure_logging
from ioc.app._meetings import MeetingDesk
from ioc.app._notify import NotifyService, build_senders, load_notifications
from ioc.app._operator import OperatorDesk, demo_state_url
from ioc.app._probe import describe_probe, load_probe, probe_options, probe_process, probe_services
from ioc.app._reports import (
    availability_and_overall,
    availability_page,
    availability_report,
    report_rows,
)
from ioc.app._rules import RulesService
from ioc.app._ruleset import (
    NoRulesProcess,
    load_rule_set,
    pid_file,
    request_reload,
    rule_locations,
)
from ioc.app._run import (
    Stages,
    add_api,
    add_ingest,
    add_rules,
    api_process,
    ingest_hearing,
    ingest_process,
    rules_process,
    run_process,
)
from ioc.app._status import StatusLine
from ioc.app._stores import open_dead_letters, open_telemetry_store
from ioc.app._supervisor import (
    Managed,
    Service,
    ServiceError,
    Supervisor,
    Worker,
    ticker,
)

__all__ = [
    "ApiServer",
    "Catalog",
    "IngestService",
    "Managed",
    "MeetingDesk",
    "NoRulesProcess",
    "NotifyService",
    "OperatorDesk",
    "RulesService",
    "Service",
    "ServiceError",
    "Stages",
    "StatusLine",
    "Supervisor",
    "Worker",
    "add_api",
    "add_ingest",
    "add_rules",
    "api_context",
    "api_process",
    "availability_and_overall",
    "availability_page",
    "availability_report",
    "build_senders",
    "check_configuration",
    "configure_logging",
    "demo_faults",
    "demo_state_url",
    "describe",
    "describe_probe",
    "gateway_options",
    "gateway_process",
    "gateway_services",
    "ingest_hearing",
    "ingest_process",
    "load_catalog",
    "load_gateway",
    "load_notifications",
    "load_probe",
    "load_rule_set",
    "make_identities",
    "open_dead_letters",
    "open_telemetry_store",
    "pid_file",
    "planned_identities",
    "probe_options",
    "probe_process",
    "probe_services",
    "report_rows",
    "request_reload",
    "rule_locations",
    "rules_process",
    "run_demo",
    "run_process",
    "stage_metrics",
    "ticker",
]
