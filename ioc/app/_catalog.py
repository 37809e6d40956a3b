"""Profiles and inventory as the settings name them (bundled ones by default)."""

from __future__ import annotations

from dataclasses import dataclass

from ioc.config import Settings
from ioc.domain import Inventory, Profile
from ioc.inventory import (
    bundled_inventory_path,
    bundled_profiles_dir,
    load_inventory,
    load_profiles,
)


@dataclass(frozen=True, slots=True)
class Catalog:
    """What devices exist and what they report."""

    profiles: dict[str, Profile]
    inventory: Inventory


def load_catalog(settings: Settings) -> Catalog:
    """Load and cross-check profiles and inventory; raises CatalogError."""
    profiles = load_profiles(settings.profiles_dir or bundled_profiles_dir())
    inventory = load_inventory(
        settings.inventory or bundled_inventory_path(), profiles, settings.zone
    )
    return Catalog(profiles, inventory)
