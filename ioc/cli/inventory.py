"""`ioc inventory`: inventory tools."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ioc.cli._base import BY_OPTION, main, runtime_of, speech, time_text
from ioc.domain import NotFound, said
from ioc.inventory import (
    EntryChange,
    FleetShape,
    document_of,
    generate_inventory,
    lines,
    summary,
    write_inventory,
)

if TYPE_CHECKING:
    from ioc.app import Catalog, Runtime
    from ioc.app._inventory import Change
    from ioc.domain import InventoryVersion

WHY_OPTION = click.option("--why", default=None, help="Why (kept in the inventory's history).")


@main.group()
def inventory() -> None:
    """Inventory tools."""


@inventory.command("generate")
@click.option(
    "--devices",
    type=click.IntRange(10, 10_000_000),
    default=None,
    help="Scale a province to about this many devices.",
)
@click.option(
    "--two-level",
    is_flag=True,
    help="Province -> commune only (the post-2025 structure), no districts.",
)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Output file: .json or .yaml.",
)
def inventory_generate(devices: int | None, two_level: bool, seed: int, out: Path) -> None:
    """Generate a plausible province inventory (the bundled sample when no size is given)."""
    shape = (
        FleetShape.for_device_count(devices, not two_level)
        if devices
        else FleetShape(districts=0 if two_level else FleetShape().districts)
    )
    document = generate_inventory(shape, seed)
    write_inventory(document, out)
    click.echo(
        f"wrote {len(document['devices']):,} devices in {len(document['areas']):,} areas to {out}"
    )


@inventory.command("schema")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write it to this file instead of printing it.",
)
def inventory_schema_command(out: Path | None) -> None:
    """The inventory file's JSON Schema (docs/inventory.md), for editors and other tools."""
    import orjson

    from ioc.inventory import inventory_schema

    text = orjson.dumps(inventory_schema(), option=orjson.OPT_INDENT_2).decode() + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    click.echo(f"wrote the inventory schema to {out}", err=True)


@inventory.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--map",
    "map_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Which column is which field (docs/inventory.md).",
)
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("--retire", is_flag=True, help="Remove devices of the class the sheets lack.")
@click.option(
    "--probe",
    "probe_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Make each device with an address a target of this probe file.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the changed inventory to this file instead of putting it in force.",
)
@WHY_OPTION
@BY_OPTION
@click.pass_context
def inventory_import(
    ctx: click.Context,
    files: tuple[Path, ...],
    map_file: Path,
    dry_run: bool,
    retire: bool,
    probe_file: Path | None,
    out: Path | None,
    why: str | None,
    actor: str,
) -> None:
    """Devices from the province's sheets (XLSX, CSV): the diff against the inventory in
    force, put in force as its next version unless --dry-run; nothing written when any row is
    wrong."""
    from ioc.app import recorded_then_written, stage_targets, target_changes
    from ioc.inventory import CatalogError, apply, diff, load_import_map, read_devices

    runtime = runtime_of(ctx)
    catalog = runtime.catalog
    if _lists_areas(map_file):
        if retire or probe_file is not None:
            raise click.UsageError("--retire and --probe are for devices, not an areas sheet")
        _import_areas(runtime, files, map_file, dry_run, out, why, actor)
        return
    import_map = load_import_map(map_file)
    if import_map.class_ not in catalog.profiles:
        known = ", ".join(sorted(catalog.profiles))
        raise CatalogError(f"{map_file}: class: unknown class {import_map.class_!r} ({known})")
    if probe_file is not None and import_map.columns.address is None:
        raise click.UsageError(f"--probe: {map_file} names no address column")
    imported = read_devices(files, import_map, catalog.inventory)
    changes = diff(imported, catalog.inventory)
    summary = changes.summary(retiring=retire)
    click.echo(f"{len(imported.entries):,} {import_map.class_} devices: {summary}")
    for line in changes.lines(retiring=retire):
        click.echo(line)
    if changes.retired and not retire:
        click.echo(
            speech().say(
                "devices absent from the sheets stay in the inventory: --retire removes them"
            )
        )
    targets = target_changes(probe_file, imported.targets) if probe_file else None
    if targets is not None:
        click.echo(
            f"probe targets in {probe_file}: {len(targets.added)} added, "
            f"{len(targets.changed)} changed"
        )
    if dry_run:
        click.echo(speech().say("dry run: nothing written"))
        return

    def changed(current: Catalog) -> dict[str, Any]:
        source = ", ".join(str(f) for f in files)
        return apply(changes, current.inventory, current.profiles, retire, source)[0]

    reason = why or f"imported {', '.join(f.name for f in files)} with {map_file.name}"
    made = _put_in_force(runtime, changed, out, actor, reason, "import", dry_run=True)
    staged = None
    if probe_file is not None and targets is not None and not targets.empty:
        staged = stage_targets(
            probe_file, imported.targets, made.catalog.inventory, catalog.profiles
        )
    if made.changes:
        recorded_then_written(
            staged, lambda: _put_in_force(runtime, changed, out, actor, reason, "import")
        )
    elif staged is not None:
        staged.commit()
    if staged is not None:
        click.echo(
            speech().say(
                "wrote {n} probe targets to {file}",
                n=speech().number(len(imported.targets)),
                file=probe_file,
            )
        )
    if not made.changes and staged is None:
        click.echo(speech().say("nothing to change"))


@inventory.command("load")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--dry-run", is_flag=True, help="Show what would change; record nothing.")
@WHY_OPTION
@BY_OPTION
@click.pass_context
def inventory_load(
    ctx: click.Context, file: Path, dry_run: bool, why: str | None, actor: str
) -> None:
    """Put a whole inventory file in force as the next version (devices and areas it lacks
    are retired): after editing the file a process started with, once other changes were
    recorded."""
    from ioc.app import digest_of
    from ioc.inventory import load_inventory

    runtime = runtime_of(ctx)
    profiles = runtime.catalog.profiles
    document = document_of(load_inventory(file, profiles, runtime.settings.zone))
    made = _put_in_force(
        runtime, lambda _current: document, None, actor, why or f"loaded {file.name}", "load",
        dry_run=dry_run, file_digest=digest_of(document),
    )  # fmt: skip
    if dry_run:
        _show(made.changes)
        click.echo(speech().say("dry run: nothing written"))


@inventory.command("reform")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--dry-run", is_flag=True, help="Show what would change; record nothing.")
@WHY_OPTION
@BY_OPTION
@click.pass_context
def inventory_reform(
    ctx: click.Context, file: Path, dry_run: bool, why: str | None, actor: str
) -> None:
    """Reform the map in one step (communes merged, districts dissolved) from its date: the
    devices move, alerts keep the areas they happened in, reports can use the old map."""
    from ioc.inventory import load_reform, reformed

    runtime = runtime_of(ctx)
    reform = load_reform(file)
    effective_ms = reform.effective_ms(runtime.settings.zone)

    def changed(current: Catalog) -> dict[str, Any]:
        return reformed(document_of(current.inventory), reform, str(file))

    made = runtime.live_inventory.change(
        changed, actor, why or reform.name, "reform", effective_ms, dry_run
    )
    _show(made.changes)
    if dry_run:
        click.echo(speech().say("dry run: nothing written"))
    elif made.version is not None:
        click.echo(
            speech().say(
                "inventory version {number} in force, in effect from {start}: reports place "
                "devices on the old map with --map-at {day}",
                number=made.version.number,
                start=time_text(effective_ms),
                day=time_text(effective_ms - 1)[:10],
            )
        )


@inventory.command("history")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option(
    "--show", "number", type=click.IntRange(1), default=None, help="One version's changes."
)
@click.pass_context
def inventory_history(ctx: click.Context, limit: int, number: int | None) -> None:
    """The inventory's versions, newest first: when, by whom, why and what changed."""
    versions = runtime_of(ctx).inventory_versions()
    if number is not None:
        version = versions.version(number)
        if version is None:
            raise NotFound(said("no inventory version {number}", number=number))
        click.echo(_version_line(version))
        for line in lines([EntryChange.of_json(c) for c in versions.changes(number)], limit):
            click.echo(line)
        return
    history = versions.history(limit)
    if not history:
        click.echo(
            speech().say("no inventory version yet: the first process to start records its file")
        )
    for version in history:
        click.echo(_version_line(version))


@inventory.command("export")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write it to this file (.json or .yaml) instead of printing it as YAML.",
)
@click.option("--version", "number", type=click.IntRange(1), default=None, help="An older version.")
@click.pass_context
def inventory_export(ctx: click.Context, out: Path | None, number: int | None) -> None:
    """The inventory in force as a file (its newest version; the settings' file, or the
    bundled sample's, before the first): a start for a province's own, or a copy."""
    import yaml

    from ioc.app import catalog_at

    runtime = runtime_of(ctx)
    catalog = runtime.catalog if number is None else _version_catalog(runtime, number, catalog_at)
    document = document_of(catalog.inventory)
    if out is None:
        click.echo(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), nl=False)
        return
    write_inventory(document, out)
    click.echo(f"wrote {len(document['devices']):,} devices in {len(document['areas']):,} "
               f"areas to {out}", err=True)  # fmt: skip


def _version_catalog(
    runtime: Runtime, number: int, catalog_at: Callable[[Runtime, int], Catalog]
) -> Catalog:
    try:
        return catalog_at(runtime, number)
    except LookupError as exc:
        raise NotFound(str(exc)) from exc


def _version_line(version: InventoryVersion) -> str:
    when = time_text(version.recorded_at_ms)
    effective = ""
    if version.effective_at_ms != version.recorded_at_ms and version.effective_at_ms > 0:
        effective = f" (in effect from {time_text(version.effective_at_ms)})"
    return (
        f"{version.number:>5}  {when}{effective}  {version.origin:8} {version.recorded_by}: "
        f"{version.summary} - {version.reason}"
    )


def _put_in_force(
    runtime: Runtime,
    make: Callable[[Catalog], dict[str, Any]],
    out: Path | None,
    actor: str,
    reason: str,
    origin: str,
    dry_run: bool = False,
    file_digest: str | None = None,
) -> Change:
    """Record the change as the next version and say so; to `out` instead, written as a file."""
    live = runtime.live_inventory
    made = live.change(make, actor, reason, origin, dry_run=dry_run or out is not None,
                       file_digest=file_digest)  # fmt: skip
    if dry_run:
        return made
    if out is not None:
        document = document_of(made.catalog.inventory)
        write_inventory(document, out)
        click.echo(f"wrote {len(document['devices']):,} devices in {len(document['areas']):,} "
                   f"areas to {out}")  # fmt: skip
    elif made.version is None:
        click.echo(speech().say("nothing to change: the inventory in force is the same"))
    else:
        click.echo(
            speech().say(
                "inventory version {number} in force: {summary}",
                number=made.version.number,
                summary=made.summary,
            )
        )
    return made


def _show(changes: list[EntryChange]) -> None:
    click.echo(summary(changes))
    for line in lines(changes):
        click.echo(line)


def _lists_areas(map_file: Path) -> bool:
    """Whether a map describes an areas sheet (its `areas:` key) rather than a devices one."""
    from ioc.config.documents import read_document
    from ioc.inventory import CatalogError

    document = read_document(map_file, CatalogError)
    return isinstance(document, dict) and "areas" in document


def _import_areas(
    runtime: Runtime,
    files: tuple[Path, ...],
    map_file: Path,
    dry_run: bool,
    out: Path | None,
    why: str | None,
    actor: str,
) -> None:
    from ioc.inventory import apply_areas, load_area_map, read_areas

    area_map = load_area_map(map_file)
    changes = read_areas(files, area_map, runtime.catalog.inventory)
    click.echo(f"{area_map.areas} areas: {changes.summary()}")
    for line in changes.lines():
        click.echo(line)
    if dry_run:
        click.echo(speech().say("dry run: nothing written"))
        return

    def changed(current: Catalog) -> dict[str, Any]:
        source = ", ".join(str(f) for f in files)
        return apply_areas(changes, current.inventory, current.profiles, source)[0]

    reason = why or f"imported {', '.join(f.name for f in files)} with {map_file.name}"
    _put_in_force(runtime, changed, out, actor, reason, "import")
