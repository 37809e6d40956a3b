"""The HTTP API (FastAPI): versioned under /api/v1, token auth with roles, the live stream
and the wall display."""

from ioc.api._app import create_app
from ioc.api._context import ApiContext, ProcessMetrics, RulesControl, TelemetryReader
from ioc.api._live import LiveView, StreamEvent
from ioc.api._overview import Overview, RuleRoles, compute_overview

__all__ = [
    "ApiContext",
    "LiveView",
    "Overview",
    "ProcessMetrics",
    "RuleRoles",
    "RulesControl",
    "StreamEvent",
    "TelemetryReader",
    "compute_overview",
    "create_app",
]
