"""Where the rule files are, and asking a running rules process to read them again."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from ioc.app._catalog import Catalog
from ioc.app._supervisor import ServiceError
from ioc.config import Settings
from ioc.domain import Conflict
from ioc.rules import LoadedRule, bundled_rules_dir, load_rules


class NoRulesProcess(ServiceError, Conflict):
    """Nothing to ask: no rules process runs here."""


def rule_locations(settings: Settings) -> list[Path]:
    """Where the rules are read from: IOC_RULES_DIR, else the bundled default set."""
    return [settings.rules_dir or bundled_rules_dir()]


def load_rule_set(settings: Settings, catalog: Catalog) -> list[LoadedRule]:
    """The rule files the settings name, checked against the catalog (raises RuleError)."""
    return load_rules(rule_locations(settings), catalog.profiles, catalog.inventory)


def pid_file(settings: Settings) -> Path:
    """Where a running rules process writes its pid (`ioc rules reload` signals it)."""
    return settings.data_dir / "ioc-rules.pid"


def request_reload(settings: Settings, catalog: Catalog) -> str:
    """Check the rule files, then ask the running rules process to reload them.

    Raises RuleError for bad files and NoRulesProcess when no rules process runs.
    """
    loaded = load_rule_set(settings, catalog)
    path = pid_file(settings)
    try:
        pid = int(path.read_text(encoding="ascii").strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as exc:
        raise NoRulesProcess(
            f"no running rules process to reload ({path}: {exc}); the files are valid"
        ) from exc
    return f"asked process {pid} to reload {len(loaded)} rules"
