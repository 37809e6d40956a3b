"""The HTTP API (FastAPI): versioned under /api/v1, token auth with roles."""

from ioc.api._app import create_app
from ioc.api._context import ApiContext, ProcessMetrics
from ioc.api._overview import RuleRoles, compute_overview

__all__ = ["ApiContext", "ProcessMetrics", "RuleRoles", "compute_overview", "create_app"]
