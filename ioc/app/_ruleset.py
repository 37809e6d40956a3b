"""Where the rule files are, and reading them."""

from __future__ import annotations

from pathlib import Path

from ioc.app._catalog import Catalog
from ioc.config import Settings
from ioc.rules import LoadedRule, bundled_rules_dir, load_rules


def rule_locations(settings: Settings) -> list[Path]:
    """Where the rules are read from: IOC_RULES_DIR, else the bundled default set."""
    return [settings.rules_dir or bundled_rules_dir()]


def load_rule_set(settings: Settings, catalog: Catalog) -> list[LoadedRule]:
    """The rule files the settings name, checked against the catalog (raises RuleError)."""
    return load_rules(rule_locations(settings), catalog.profiles, catalog.inventory)
