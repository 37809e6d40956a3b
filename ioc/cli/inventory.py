"""`ioc inventory`: inventory tools."""

from __future__ import annotations

from pathlib import Path

import click

from ioc.cli._base import main
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
