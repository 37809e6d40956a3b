"""Where the profiles and sample inventory shipped inside the package live."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def bundled_profiles_dir() -> Path:
    """The device profiles shipped with ioc (the repository's devices/ folder)."""
    return Path(str(resources.files("ioc.bundled.devices")))


def bundled_inventory_path() -> Path:
    """The sample province inventory shipped with ioc."""
    return bundled_profiles_dir() / "inventory.json"
