"""The cluster: its nodes, which leads and since when, each node's share of ingest."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from ioc.api.deps import Context, Viewer, problems
from ioc.domain import ClusterStatus

router = APIRouter(prefix="/cluster", tags=["cluster"])


@router.get("", responses=problems(404))
def cluster(context: Context, _caller: Viewer) -> ClusterStatus:
    """The nodes as they last reported, the leader, its term, when it came to lead and how
    long ago it renewed its lease; 404 on a single node (the embedded state)."""
    if context.cluster is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "no cluster: the embedded state database serves one node"
        )
    return context.cluster()
