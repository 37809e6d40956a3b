"""Serving prepared JSON: the live view's snapshots, gzipped once rather than per request."""

from __future__ import annotations

from fastapi import Request, Response

from ioc.api._live import Snapshot


def snapshot_response(request: Request, snapshot: Snapshot, media_type: str) -> Response:
    """The snapshot, gzip-encoded when the client accepts it (every browser does)."""
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(
            snapshot.gzipped,
            media_type=media_type,
            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
        )
    return Response(snapshot.body, media_type=media_type)
