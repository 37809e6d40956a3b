"""The composition root: builds settings, stores and stages, and runs them together."""

from ioc.app._api import ApiServer, api_context, stage_metrics
from ioc.app._catalog import Catalog, load_catalog
from ioc.app._demo import demo_faults, run_demo
from ioc.app._gateway import describe, gateway_options, load_gateway, run_gateway
from ioc.app._ingest import IngestService
from ioc.app._notify import NotifyService, build_senders, load_notifications
from ioc.app._rules import (
    RulesService,
    pid_file,
    request_reload,
    rule_locations,
    wall_clock_ms,
)
from ioc.app._run import run_stages
from ioc.app._status import StatusLine
from ioc.app._stores import open_dead_letters, open_telemetry_store

__all__ = [
    "ApiServer",
    "Catalog",
    "IngestService",
    "NotifyService",
    "RulesService",
    "StatusLine",
    "api_context",
    "build_senders",
    "demo_faults",
    "describe",
    "gateway_options",
    "load_catalog",
    "load_gateway",
    "load_notifications",
    "open_dead_letters",
    "open_telemetry_store",
    "pid_file",
    "request_reload",
    "rule_locations",
    "run_demo",
    "run_gateway",
    "run_stages",
    "stage_metrics",
    "wall_clock_ms",
]
