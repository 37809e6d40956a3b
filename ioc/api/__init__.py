"""The HTTP API (FastAPI): versioned under /api/v1, token auth with roles."""

from ioc.api._app import create_app
from ioc.api._context import ApiContext

__all__ = ["ApiContext", "create_app"]
