"""The FastAPI application: versioned routers, the live view's follower, the wall's files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from ioc.api._context import ApiContext
from ioc.api._follow import Changes, follow
from ioc.api._live import LiveView
from ioc.api._security import SecurityHeaders
from ioc.api.deps import problems, told_to
from ioc.api.routes import (
    ack,
    alerts,
    areas,
    audit,
    cluster,
    devices,
    health,
    inventory,
    maintenance,
    me,
    meetings,
    metrics,
    notifications,
    overview,
    reports,
    rules,
    search,
    session,
    stream,
    texts,
    tokens,
)
from ioc.domain import BadInput, Conflict, DeliveryError, IocError, NotFound, now_ms

WALL_DIR = Path(__file__).parent / "wall"
# Every error a route lets through, by its kind (the first that fits): the one place where an
# error becomes a status. A route documents the statuses it may give (`problems`), the v1
# router 422 and 503 for all; tests/api/test_error_kinds.py holds the two together.
STATUS_BY_KIND: tuple[tuple[type[IocError], int], ...] = (
    (NotFound, 404),
    (Conflict, 409),
    (BadInput, 422),
    (DeliveryError, 503),  # a store or the state database away, or in need of an operator
)
DOCS_ASSETS = "/docs-assets"  # Swagger UI's and ReDoc's scripts and styles, from the package


def create_app(context: ApiContext, cors_origins: Sequence[str] = ()) -> FastAPI:
    """The API over the given resources."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, object]]:
        # Heartbeats are judged on the wall clock; alerts keep the context's (a demo's).
        live = LiveView(
            context.inventory, context.rule_roles, context.alerts, now_ms, context.heartbeats,
            alerts_clock=context.clock,
        )  # fmt: skip
        changes = Changes()
        # Read the open alerts before serving: a wall must not start on an all-green lie.
        await anyio.to_thread.run_sync(live.poll)
        follower = asyncio.create_task(follow(live, changes, context.poll_every_s))
        try:
            yield {"context": context, "live": live, "changes": changes}
        finally:
            follower.cancel()
            with suppress(asyncio.CancelledError):
                await follower

    # /docs and /redoc serve their viewers from the package, not from a CDN: an operations
    # centre's network is often cut off from the internet.
    app = FastAPIOffline(
        title="ioc",
        summary="Municipal IoT operations centre: devices, alerts, the wall",
        version="1",
        lifespan=lifespan,
        static_url=DOCS_ASSETS,
    )
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID", "X-CSRF-Token"],
        )
    # The map's GeoJSON of 100,000 devices is ~20 MB plain, ~1 MB compressed.
    app.add_middleware(GZipMiddleware, minimum_size=4096)
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(IocError, _problem)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(ack.router)
    v1 = APIRouter(prefix="/api/v1", responses=problems(401, 403, 422, 429, 503))
    routers = (
        overview, areas, devices, alerts, maintenance, notifications, rules, tokens, stream,
        cluster, reports, meetings, inventory, search, me, texts, audit, session,
    )  # fmt: skip
    for resource in routers:
        v1.include_router(resource.router)
    app.include_router(v1)
    app.mount("/wall", StaticFiles(directory=WALL_DIR, html=True), name="wall")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/wall/")

    return app


def status_of(error: IocError) -> int:
    """The HTTP status of an error that reached the edge (500: one no kind explains)."""
    return next((code for kind, code in STATUS_BY_KIND if isinstance(error, kind)), 500)


async def _problem(request: Request, error: Exception) -> JSONResponse:
    """The error as `{"detail": ...}`: in the language the request asks for (`?lang=` or
    Accept-Language, as the wall sends its own) when it was said from a marked template; as
    written (English) for a client that asks for none, as scripts do."""
    assert isinstance(error, IocError)
    return JSONResponse({"detail": told_to(request, error)}, status_code=status_of(error))
