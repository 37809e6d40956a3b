"""A cluster of ioc nodes as operators see it (`ioc status`, /api/v1/cluster)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """One node as `ioc status` and /api/v1/cluster show it."""

    name: str
    alive: bool
    leader: bool
    started_at_ms: int
    seen_at_ms: int
    stopped_at_ms: int | None
    stored: int  # messages its ingest stored since it started (adopted sessions included)
    share: float | None  # of what the running nodes stored since they started; None if not running
    session_open: bool


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    """The nodes, which leads and since when, and how fresh its lease is."""

    now_ms: int
    lease_ms: int
    leader: str | None  # None: nobody holds an unexpired lease (a takeover is under way)
    term: int | None
    leading_since_ms: int | None
    renewed_ms_ago: int | None  # the lease's age since the leader last renewed it
    nodes: list[NodeStatus]
