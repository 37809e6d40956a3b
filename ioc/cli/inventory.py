"""`ioc inventory`: inventory tools."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ioc.cli._base import main, settings_of

if TYPE_CHECKING:
    from ioc.app import Catalog
from ioc.inventory import FleetShape, generate_inventory, write_inventory


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
    help="Where to write the inventory (default: IOC_INVENTORY, rewritten).",
)
@click.pass_context
def inventory_import(
    ctx: click.Context,
    files: tuple[Path, ...],
    map_file: Path,
    dry_run: bool,
    retire: bool,
    probe_file: Path | None,
    out: Path | None,
) -> None:
    """Devices from the province's sheets (XLSX, CSV): the diff against the inventory, applied
    unless --dry-run; nothing written when any row is wrong."""
    from ioc.app import load_catalog, target_changes, write_targets
    from ioc.inventory import (
        CatalogError,
        apply,
        diff,
        load_import_map,
        read_devices,
    )

    settings = settings_of(ctx)
    catalog = load_catalog(settings)
    if _lists_areas(map_file):
        if retire or probe_file is not None:
            raise click.UsageError("--retire and --probe are for devices, not an areas sheet")
        _import_areas(settings.inventory, catalog, files, map_file, dry_run, out)
        return
    import_map = load_import_map(map_file)
    if import_map.class_ not in catalog.profiles:
        known = ", ".join(sorted(catalog.profiles))
        raise CatalogError(f"{map_file}: class: unknown class {import_map.class_!r} ({known})")
    if probe_file is not None and import_map.columns.address is None:
        raise click.UsageError(f"--probe: {map_file} names no address column")
    imported = read_devices(files, import_map, catalog.inventory)
    changes = diff(imported, catalog.inventory)
    click.echo(f"{len(imported.entries):,} {import_map.class_} devices: {changes.summary()}")
    for line in changes.lines():
        click.echo(line)
    if changes.retired and not retire:
        click.echo("retired devices stay in the inventory: --retire removes them")
    targets = target_changes(probe_file, imported.targets) if probe_file else None
    if targets is not None:
        click.echo(
            f"probe targets in {probe_file}: {len(targets.added)} added, "
            f"{len(targets.changed)} changed"
        )
    if dry_run:
        click.echo("dry run: nothing written")
        return
    inventory_changes = not changes.empty or (retire and bool(changes.retired))
    if not inventory_changes and (targets is None or targets.empty):
        click.echo("nothing to change")
        return
    target = _written_to(out, settings.inventory)
    document, inventory = apply(changes, catalog.inventory, catalog.profiles, retire, str(target))
    if probe_file is not None and targets is not None and not targets.empty:
        write_targets(probe_file, imported.targets, inventory, catalog.profiles)
        click.echo(f"wrote {len(imported.targets):,} probe targets to {probe_file}")
    if inventory_changes:
        write_inventory(document, target)
        click.echo(f"wrote {len(document['devices']):,} devices to {target}")


@inventory.command("export")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write it to this file (.json or .yaml) instead of printing it as YAML.",
)
@click.pass_context
def inventory_export(ctx: click.Context, out: Path | None) -> None:
    """The inventory in force as a file (the bundled sample's when IOC_INVENTORY is unset): a
    start for a province's own."""
    import yaml

    from ioc.app import load_catalog
    from ioc.inventory import document_of

    document = document_of(load_catalog(settings_of(ctx)).inventory)
    if out is None:
        click.echo(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), nl=False)
        return
    write_inventory(document, out)
    click.echo(f"wrote {len(document['devices']):,} devices in {len(document['areas']):,} "
               f"areas to {out}", err=True)  # fmt: skip


def _written_to(out: Path | None, inventory_file: Path | None) -> Path:
    """Where an import writes: --out, else the inventory file in force (not the bundled one)."""
    target = out or inventory_file
    if target is None:
        raise click.UsageError("say where to write the inventory: --out FILE (or IOC_INVENTORY)")
    return target


def _lists_areas(map_file: Path) -> bool:
    """Whether a map describes an areas sheet (its `areas:` key) rather than a devices one."""
    from ioc.config.documents import read_document
    from ioc.inventory import CatalogError

    document = read_document(map_file, CatalogError)
    return isinstance(document, dict) and "areas" in document


def _import_areas(
    inventory_file: Path | None,
    catalog: Catalog,
    files: tuple[Path, ...],
    map_file: Path,
    dry_run: bool,
    out: Path | None,
) -> None:
    from ioc.inventory import apply_areas, load_area_map, read_areas

    area_map = load_area_map(map_file)
    changes = read_areas(files, area_map, catalog.inventory)
    click.echo(f"{area_map.areas} areas: {changes.summary()}")
    for line in changes.lines():
        click.echo(line)
    if dry_run:
        click.echo("dry run: nothing written")
        return
    if changes.empty:
        click.echo("nothing to change")
        return
    target = _written_to(out, inventory_file)
    document, _inventory = apply_areas(changes, catalog.inventory, catalog.profiles, str(target))
    write_inventory(document, target)
    click.echo(f"wrote {len(document['areas']):,} areas to {target}")
