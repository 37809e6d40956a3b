"""Edits of one entry at a time (the API): add, change, move or retire a device or an area,
checked and recorded as the live inventory's next version like any other change."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ioc.app._catalog import Catalog
from ioc.domain import BadInput, InventoryVersion, NotFound
from ioc.inventory import EntryChange, document_of

if TYPE_CHECKING:
    from ioc.app._inventory import Change
    from ioc.app._runtime import Runtime

_LISTS = {"device": "devices", "area": "areas"}


class InventoryDesk:
    """The live inventory as the API reads and edits it."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def in_force(self) -> tuple[int, dict[str, Any]]:
        """The version in force in this process, and its document."""
        live = self._runtime.live_inventory
        live.follow()  # an edit made elsewhere a moment ago is shown
        return live.number, document_of(self._runtime.catalog.inventory)

    def history(self, limit: int, before: int | None = None) -> list[InventoryVersion]:
        """The newest versions, newest first."""
        return self._runtime.inventory_versions().history(limit, before)

    def version(self, number: int) -> tuple[InventoryVersion, list[EntryChange]]:
        """A version's record and the entries it changed (NotFound when there is none)."""
        versions = self._runtime.inventory_versions()
        found = versions.version(number)
        if found is None:
            raise NotFound(f"no inventory version {number}")
        return found, [EntryChange.of_json(c) for c in versions.changes(number)]

    def edit(
        self,
        kind: str,
        entry_id: str,
        entry: dict[str, Any] | None,
        recorded_by: str,
        reason: str,
        dry_run: bool = False,
    ) -> Change:
        """Put `entry` (added, changed or moved), or retire the `kind`'s entry `entry_id`
        (`entry` None: NotFound when there is none); checked as every change is (BadInput,
        and Conflict when others kept changing it)."""
        if entry is not None and entry.get("id") != entry_id:
            raise BadInput(f"the {kind} in the body is {entry.get('id')!r}, not {entry_id!r}")
        plural = _LISTS[kind]

        def changed(catalog: Catalog) -> dict[str, Any]:
            document = document_of(catalog.inventory)
            entries = {e["id"]: e for e in document[plural]}
            if entry is None:
                if entries.pop(entry_id, None) is None:
                    raise NotFound(f"no {kind} {entry_id!r} in the inventory")
            else:
                entries[entry_id] = entry
            document[plural] = list(entries.values())
            return document

        origin = "api"
        return self._runtime.live_inventory.change(
            changed, recorded_by, reason, origin, dry_run=dry_run
        )
