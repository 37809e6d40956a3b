"""The live stream (Server-Sent Events): device state changes, figure updates and alert
transitions as they happen, a heartbeat that says how fresh the data is, resumable with
Last-Event-ID."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent

from ioc.api._live import LiveView, StreamEvent
from ioc.api.deps import Context, Live, LiveChanges, Viewer

router = APIRouter(tags=["stream"])

RETRY_MS = 3000  # how soon a browser reconnects after losing the stream
STOP_CHECK_S = 1.0  # how soon a stream notices the server stopping


def _sse(event: StreamEvent) -> ServerSentEvent:
    event_id = str(event.event_id) if event.event_id is not None else None
    return ServerSentEvent(event=event.kind, raw_data=event.data, id=event_id)


def _heartbeat(live: LiveView) -> ServerSentEvent:
    return ServerSentEvent(event="heartbeat", raw_data=orjson.dumps(live.health()).decode())


def _reset(live: LiveView, reason: str = "missed events are gone: reload") -> ServerSentEvent:
    data = {"event_id": live.last_event_id, "reason": reason}
    return ServerSentEvent(event="reset", raw_data=orjson.dumps(data).decode())


@router.get("/stream", response_class=EventSourceResponse)
async def stream(
    context: Context,
    live: Live,
    changes: LiveChanges,
    _caller: Viewer,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id: Annotated[str | None, Query(max_length=20)] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Events: `device` (a device's standing), `figures` (the overview's figures and class
    counts), `transition` (an alert transition, with its id), `heartbeat` (every few seconds:
    how fresh the data is, `stale` and why), `reset` (missed events are gone, or the inventory
    changed: reload the snapshots). Resume with the Last-Event-ID header, or `last_event_id`
    from a snapshot."""
    resume = last_event_id_header or last_event_id
    cursor: int | None = int(resume) if resume and resume.isdigit() else None
    yield ServerSentEvent(retry=RETRY_MS, comment="ioc live stream")
    yield _heartbeat(live)
    if resume is not None and cursor is None:
        yield _reset(live)
    if cursor is None:
        cursor = live.last_event_id
        yield ServerSentEvent(event="figures", raw_data=live.figures().decode())
    next_beat = time.monotonic() + context.beat_every_s
    inventory_changes = live.inventory_changes
    while not context.stopping.is_set():
        if live.inventory_changes != inventory_changes:
            inventory_changes = live.inventory_changes
            yield _reset(live, "the inventory changed: reload")
            cursor = live.last_event_id
            continue
        missed = live.since(cursor)
        if missed is None:
            yield _reset(live)
            cursor = live.last_event_id
            continue
        for event in missed:
            yield _sse(event)
            if event.event_id is not None:
                cursor = event.event_id
        if time.monotonic() >= next_beat:
            yield _heartbeat(live)
            next_beat = time.monotonic() + context.beat_every_s
        await changes.wait(min(STOP_CHECK_S, max(0.0, next_beat - time.monotonic())))
