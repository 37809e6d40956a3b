"""The area tree with each area's rolled-up device counts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel

from ioc.api._overview import AreaCounts
from ioc.api.deps import Context, Live, Viewer, problems

router = APIRouter(tags=["areas"])


class AreaNode(BaseModel):
    """An area, its devices below it (total, down, alerting), and its child areas."""

    id: str
    name: str
    kind: str
    total: int
    down: int
    alerting: int
    children: list[AreaNode]


@router.get("/areas", responses=problems(404))
def area_tree(
    context: Context,
    live: Live,
    _caller: Viewer,
    root: Annotated[str | None, Query(max_length=64)] = None,
    depth: Annotated[int, Query(ge=1, le=16)] = 16,
) -> list[AreaNode]:
    """The tree from the roots (or from `root`), `depth` levels deep; areas without devices
    are left out."""
    if root is not None and root not in context.inventory().areas:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no area {root!r}")
    counted = live.areas()
    children: dict[str | None, list[AreaCounts]] = {}
    for area in counted:
        children.setdefault(area.parent_id, []).append(area)

    def node(area: AreaCounts, level: int) -> AreaNode:
        below = children.get(area.id, []) if level < depth else []
        return AreaNode(
            id=area.id,
            name=area.name,
            kind=area.kind,
            total=area.total,
            down=area.down,
            alerting=area.alerting,
            children=[node(child, level + 1) for child in below],
        )

    tops = [a for a in counted if a.id == root] if root is not None else children.get(None, [])
    return [node(area, 1) for area in tops]
