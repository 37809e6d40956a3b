"""Loading device profiles and inventories strictly, and generating inventories of any size."""

from ioc.inventory._bundled import bundled_inventory_path, bundled_profiles_dir
from ioc.inventory._changes import EntryChange, changes_between, lines, summary, with_changes
from ioc.inventory._errors import CatalogError
from ioc.inventory._generate import FleetShape, generate_inventory, write_inventory
from ioc.inventory._import import (
    ImportMap,
    InventoryDiff,
    ProbeTarget,
    apply,
    checked_inventory,
    diff,
    document_of,
    load_import_map,
    parse_coordinate,
    read_devices,
)
from ioc.inventory._import_areas import AreaDiff, AreaMap, apply_areas, load_area_map, read_areas
from ioc.inventory._load import load_inventory, load_profiles
from ioc.inventory._reform import Reform, load_reform, reformed
from ioc.inventory._schema import InventoryDocument, inventory_of, inventory_schema

__all__ = [
    "AreaDiff",
    "AreaMap",
    "CatalogError",
    "EntryChange",
    "FleetShape",
    "ImportMap",
    "InventoryDiff",
    "InventoryDocument",
    "ProbeTarget",
    "Reform",
    "apply",
    "apply_areas",
    "bundled_inventory_path",
    "bundled_profiles_dir",
    "changes_between",
    "checked_inventory",
    "diff",
    "document_of",
    "generate_inventory",
    "inventory_of",
    "inventory_schema",
    "lines",
    "load_area_map",
    "load_import_map",
    "load_inventory",
    "load_profiles",
    "load_reform",
    "parse_coordinate",
    "read_areas",
    "read_devices",
    "reformed",
    "summary",
    "with_changes",
    "write_inventory",
]
