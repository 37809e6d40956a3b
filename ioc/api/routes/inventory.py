"""The live inventory: read it and its history (viewer); add, change, move and retire devices
and areas one at a time (admin), each checked as the file is and recorded as the next version
with who and why; every process puts it in force within a second, without a restart."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi import Path as PathParam
from pydantic import BaseModel

from ioc.api._context import ApiContext, InventoryEdited, InventoryKeeper
from ioc.api.deps import Admin, Context, Viewer, problems
from ioc.domain import DEVICE_ID_PATTERN, InventoryVersion, Principal
from ioc.inventory import EntryChange
from ioc.inventory._schema import AreaEntry, DeviceEntry

router = APIRouter(prefix="/inventory", tags=["inventory"])

EntryId = Annotated[str, PathParam(pattern=f"^{DEVICE_ID_PATTERN}$", max_length=64)]
Why = Annotated[str, Query(min_length=1, max_length=500, description="Why (kept in the history).")]
DryRun = Annotated[bool, Query(description="Check and show the change; record nothing.")]


class InventoryPublic(BaseModel):
    """The inventory in force: its version, and its areas and devices as the file writes them."""

    version: int
    areas: list[dict[str, Any]]
    devices: list[dict[str, Any]]


class VersionPublic(BaseModel):
    """One version of the inventory."""

    number: int
    recorded_at_ms: int
    effective_at_ms: int
    recorded_by: str
    origin: str
    reason: str
    summary: str


class ChangePublic(BaseModel):
    """One entry a version changed: added, changed, moved or retired, with what it was."""

    kind: str
    id: str
    verb: str
    entry: dict[str, Any] | None
    was: dict[str, Any] | None


class VersionDetail(VersionPublic):
    """A version and every entry it changed."""

    changes: list[ChangePublic]


class EditPublic(BaseModel):
    """What an edit did: the version it recorded (null for a dry run or no change)."""

    version: int | None
    summary: str
    changes: list[ChangePublic]


def _desk(context: ApiContext) -> InventoryKeeper:
    if context.inventory_desk is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the live inventory is not served here")
    return context.inventory_desk


def _version(version: InventoryVersion) -> VersionPublic:
    return VersionPublic(
        number=version.number, recorded_at_ms=version.recorded_at_ms,
        effective_at_ms=version.effective_at_ms, recorded_by=version.recorded_by,
        origin=version.origin, reason=version.reason, summary=version.summary,
    )  # fmt: skip


def _change(change: EntryChange) -> ChangePublic:
    return ChangePublic(
        kind=change.kind, id=change.id, verb=change.verb, entry=change.entry, was=change.was
    )


def _edited(edited: InventoryEdited) -> EditPublic:
    number = edited.version.number if edited.version is not None else None
    return EditPublic(
        version=number, summary=edited.summary, changes=[_change(c) for c in edited.changes]
    )


@router.get("", responses=problems(404))
def inventory_in_force(context: Context, _caller: Viewer) -> InventoryPublic:
    """The inventory in force (`ioc inventory export`)."""
    number, document = _desk(context).in_force()
    return InventoryPublic(version=number, areas=document["areas"], devices=document["devices"])


@router.get("/versions", responses=problems(404))
def inventory_history(
    context: Context,
    _caller: Viewer,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> list[VersionPublic]:
    """The versions, newest first (`ioc inventory history`)."""
    return [_version(v) for v in _desk(context).history(limit, before)]


@router.get("/versions/{number}", responses=problems(404))
def inventory_version(
    number: Annotated[int, PathParam(ge=1)], context: Context, _caller: Viewer
) -> VersionDetail:
    """One version and every entry it changed."""
    version, changes = _desk(context).version(number)
    return VersionDetail(**_version(version).model_dump(), changes=[_change(c) for c in changes])


def _edit(
    context: ApiContext, caller: Principal, kind: str, entry_id: str,
    entry: dict[str, Any] | None, why: str, dry_run: bool,
) -> EditPublic:  # fmt: skip
    return _edited(_desk(context).edit(kind, entry_id, entry, caller.actor, why, dry_run))


@router.put("/devices/{device_id}", responses=problems(404, 409, 422))
def put_device(
    device_id: EntryId, body: DeviceEntry, why: Why, context: Context, caller: Admin,
    dry_run: DryRun = False,
) -> EditPublic:  # fmt: skip
    """Add a device, or change or move it (its new area): the whole entry, as the file
    writes it."""
    entry = body.model_dump(by_alias=True, exclude_defaults=True, mode="json")
    return _edit(context, caller, "device", device_id, entry, why, dry_run)


@router.delete("/devices/{device_id}", responses=problems(404, 409, 422))
def retire_device(
    device_id: EntryId, why: Why, context: Context, caller: Admin, dry_run: DryRun = False
) -> EditPublic:
    """Retire a device: it leaves the wall and its alerts clear (refused while another
    device depends on it)."""
    return _edit(context, caller, "device", device_id, None, why, dry_run)


@router.put("/areas/{area_id}", responses=problems(404, 409, 422))
def put_area(
    area_id: EntryId, body: AreaEntry, why: Why, context: Context, caller: Admin,
    dry_run: DryRun = False,
) -> EditPublic:  # fmt: skip
    """Add an area, or rename or move it (its new parent)."""
    entry = body.model_dump(exclude_none=True, mode="json")
    return _edit(context, caller, "area", area_id, entry, why, dry_run)


@router.delete("/areas/{area_id}", responses=problems(404, 409, 422))
def retire_area(
    area_id: EntryId, why: Why, context: Context, caller: Admin, dry_run: DryRun = False
) -> EditPublic:
    """Retire an area (refused while a device, an area, a rule or a route names it)."""
    return _edit(context, caller, "area", area_id, None, why, dry_run)
