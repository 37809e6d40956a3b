"""The live inventory: kept in the state database as versions, changed without a restart.

The file a deployment names (`IOC_INVENTORY`, or the bundled sample) is the first version.
Every change (a sheet imported, an API edit, a reform, discovery) is checked as the file is
and against the rules and notification file in force, then recorded as the next version
with who, when, why and the entries it changed; every process follows the newest version
within a second (`ReloadFollower`) and puts it in force through its runtime, which tells
every consumer (ingest's decoder, the rules, the notifier, the wall).

The file is read again at each start: changed while nothing else changed the inventory, it is
the next version; changed after other edits, it is not put in force (that would undo them
unseen) and the start says how to (`ioc inventory load`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from ioc.app._catalog import Catalog
from ioc.domain import AuditEntry, BadFileError, Caller, InventoryVersion, audited, now_ms
from ioc.inventory import (
    EntryChange,
    changes_between,
    checked_inventory,
    document_of,
    summary,
    with_changes,
)
from ioc.state import NewVersion, StaleVersion, StateError

if TYPE_CHECKING:
    from ioc.app._runtime import Runtime

log = logging.getLogger("ioc.app")

SNAPSHOT_EVERY = 32  # a whole document at least every so many versions (reading replays less)
SNAPSHOT_OVER = 1000  # and with any version changing more entries than this
ATTEMPTS = 5  # writers recording at the same time: each tries again on the newest


def digest_of(document: dict[str, Any]) -> str:
    """A document's fingerprint: equal for equal contents whatever the file's layout."""
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True, slots=True)
class Change:
    """What a change did: the version it recorded (None when it changed nothing or was a
    dry run), the entries it changed, and the catalog it makes."""

    version: InventoryVersion | None
    changes: list[EntryChange]
    catalog: Catalog

    @property
    def summary(self) -> str:
        """`2 devices added, 1 device moved`."""
        return summary(self.changes)


def document_at(runtime: Runtime, number: int) -> dict[str, Any]:
    """The document of version `number` (LookupError when there is none)."""
    snapshot, later = runtime.inventory_versions().parts(number)
    document: dict[str, Any] = snapshot
    for changes in later:
        document = with_changes(document, [EntryChange.of_json(c) for c in changes])
    return document


def catalog_at(runtime: Runtime, number: int, profiles: Catalog | None = None) -> Catalog:
    """The catalog of version `number`, checked as a file is."""
    profile_set = (profiles or runtime.catalog).profiles
    document = document_at(runtime, number)
    source = f"inventory version {number}"
    inventory = checked_inventory(document, profile_set, source, runtime.settings.zone)
    return Catalog(profile_set, inventory)


def catalog_in_force(runtime: Runtime, from_file: Catalog) -> Catalog:
    """The newest version's catalog; `from_file` itself when it is that version, before the
    first (a command reads; only a starting process records), or when the state database
    cannot be read (a collector on a machine of its own)."""
    try:
        newest = runtime.inventory_versions().newest()
    except StateError as exc:
        log.warning("the inventory file is used: the state database cannot be read (%s)", exc)
        return from_file
    if newest is None or newest.file_digest == digest_of(document_of(from_file.inventory)):
        return from_file
    return catalog_at(runtime, newest.number, from_file)


class LiveInventory:
    """This process's view of the live inventory: the version in force, starting, following
    and changing it."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._versions = runtime.inventory_versions()
        self.number = 0  # the version in force in this process

    def start(self) -> None:
        """Record the file the process started with when it is new, and put the newest
        version in force."""
        runtime = self._runtime
        from_file = runtime.file_catalog()
        document = document_of(from_file.inventory)
        digest = digest_of(document)
        for _attempt in range(ATTEMPTS):
            newest = self._versions.newest()
            if newest is not None and newest.file_digest == digest:
                self.number = newest.number  # the file is the newest: in force already
                return
            if newest is None or newest.origin == "start":
                # The first version, or the file changed while nothing else changed it.
                why = "the first version" if newest is None else "the file changed"
                # The first version is the map as it has been: in effect from the start of time
                # (reports placing devices on the map before a reform find it).
                effective = 0 if newest is None else None
                try:
                    self._record(newest, document, from_file, "start", _source(runtime), why,
                                 effective_at_ms=effective, file_digest=digest)  # fmt: skip
                except StaleVersion:
                    continue  # another process started at the same time: look again
                if from_file.inventory != runtime.catalog.inventory:
                    runtime.put_catalog(from_file)
                return
            last_file = self._versions.newest_from_file()
            if last_file is None or last_file.file_digest != digest:  # edited since: say so
                log.warning(
                    "%s is not the inventory in force (version %d, %s by %s): it stays; "
                    "`ioc inventory load FILE` puts a file in force", _source(runtime),
                    newest.number, newest.origin, newest.recorded_by,
                )  # fmt: skip
            self.follow()
            return
        raise StaleVersion("the inventory kept changing while this process started")

    def follow(self) -> bool:
        """Put a newer version in force; whether there was one. A version this process cannot
        put in force (its rule files differ from the recorder's) is logged and skipped; the
        state database failing raises StateError, and the version is tried again later."""
        newest = self._versions.newest_number()
        if newest <= self.number:
            return False
        try:
            catalog = catalog_at(self._runtime, newest)
            self._runtime.put_catalog(catalog)
        except BadFileError as exc:  # a version this process's files refuse: the old stays
            log.error("inventory version %d not put in force here: %s", newest, exc)
            self.number = newest
            return False
        self.number = newest
        log.info(
            "inventory version %d in force: %d devices in %d areas",
            newest, len(catalog.inventory.devices), len(catalog.inventory.areas),
        )  # fmt: skip
        return True

    def change(
        self,
        make: Callable[[Catalog], dict[str, Any]],
        recorded_by: str,
        reason: str,
        origin: str,
        effective_at_ms: int | None = None,
        dry_run: bool = False,
        file_digest: str | None = None,
    ) -> Change:
        """Make a new document from the catalog in force (`make`), check it as a file and
        against the rules and notification file in force, and record it as the next version
        and put it in force (unless `dry_run` or nothing changed). Two writers at once: the
        later makes its change again on the newer version."""
        runtime = self._runtime
        for _attempt in range(ATTEMPTS):
            base = self._versions.newest()
            if base is None and dry_run:
                pass  # shown against the file, and the first version left to a start
            elif self.number == 0:
                self.start()
                base = self._versions.newest()
            else:
                self.follow()
                base = self._versions.newest()
            current = runtime.catalog
            document = make(current)
            source = f"inventory version {(base.number if base else 0) + 1}"
            inventory = checked_inventory(document, current.profiles, source, runtime.settings.zone)
            catalog = Catalog(current.profiles, inventory)
            fitted = runtime.fitted(catalog)
            changes = changes_between(document_of(current.inventory), document_of(inventory))
            if dry_run or not changes:
                return Change(None, changes, catalog)
            try:
                version = self._record(base, document, catalog, origin, recorded_by, reason,
                                       changes, effective_at_ms, file_digest)  # fmt: skip
            except StaleVersion:
                continue
            runtime.put_catalog(catalog, fitted)
            runtime.audit().record(_audited(base, version))
            return Change(version, changes, catalog)
        raise StaleVersion("the inventory kept changing: try again")

    def _record(
        self,
        base: InventoryVersion | None,
        document: dict[str, Any],
        catalog: Catalog,
        origin: str,
        recorded_by: str,
        reason: str,
        changes: list[EntryChange] | None = None,
        effective_at_ms: int | None = None,
        file_digest: str | None = None,
    ) -> InventoryVersion:
        """Record `document` as the version after `base` (this process's version from now)."""
        number = base.number if base is not None else 0
        if changes is None:
            old = document_at(self._runtime, number) if base is not None else None
            changes = changes_between(old, document) if old is not None else []
        inventory = catalog.inventory
        whole = (
            base is None
            or file_digest is not None
            or len(changes) > SNAPSHOT_OVER
            or self._versions.since_snapshot(number) >= SNAPSHOT_EVERY - 1
        )
        told = (
            summary(changes) if base is not None
            else f"{len(inventory.devices):,} devices in {len(inventory.areas):,} areas"
        )  # fmt: skip
        now = now_ms()
        version = self._versions.record(
            number,
            NewVersion(
                recorded_at_ms=now,
                effective_at_ms=effective_at_ms if effective_at_ms is not None else now,
                recorded_by=recorded_by,
                origin=origin,
                reason=reason,
                summary=told,
                changes=[c.as_json() for c in changes],
                snapshot=document_of(inventory) if whole else None,
                file_digest=file_digest,
            ),
        )
        self.number = version.number
        log.info("inventory version %d recorded by %s: %s", version.number, recorded_by, told)
        return version


def _source(runtime: Runtime) -> str:
    return str(runtime.settings.inventory or "the bundled inventory")


def _audited(base: InventoryVersion | None, version: InventoryVersion) -> AuditEntry:
    """An inventory change as the audit trail keeps it: the version before and after, what
    changed and why (the whole changes are in the version's history)."""
    before = {"version": base.number if base is not None else 0}
    after = {"version": version.number, "changes": version.summary, "reason": version.reason}
    caller = Caller(version.recorded_by, version.origin)
    target = f"inventory version {version.number}"
    return audited(caller, version.recorded_at_ms, "inventory.change", target, before, after)
