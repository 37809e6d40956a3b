"""The FastAPI application: versioned routers, CORS closed unless configured."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from ioc.api._context import ApiContext
from ioc.api.routes import alerts, devices, health, maintenance, metrics, overview, tokens


def create_app(context: ApiContext, cors_origins: Sequence[str] = ()) -> FastAPI:
    """The API over the given resources."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, ApiContext]]:
        yield {"context": context}

    app = FastAPI(
        title="ioc",
        summary="Municipal IoT operations centre: devices, alerts, the wall",
        version="1",
        lifespan=lifespan,
    )
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )
    app.include_router(health.router)
    app.include_router(metrics.router)
    v1 = APIRouter(prefix="/api/v1")
    v1.include_router(overview.router)
    v1.include_router(devices.router)
    v1.include_router(alerts.router)
    v1.include_router(maintenance.router)
    v1.include_router(tokens.router)
    app.include_router(v1)
    return app
