"""Rules: YAML rule files checked at load, and the engine that turns device state into signals.

Exceptions::

    RuleError     a rule file is unreadable or wrong (file, rule and field named)
"""

from ioc.config.documents import parse_duration
from ioc.rules._engine import EngineStats, HeldState, OpenAlert, RuleEngine
from ioc.rules._load import (
    TEMPLATE_FIELDS,
    LoadedRule,
    RuleError,
    bundled_rules_dir,
    load_rules,
    reselect,
    rule_files,
)
from ioc.rules._x733 import EVENT_TYPES, PROBABLE_CAUSES

__all__ = [
    "EVENT_TYPES",
    "PROBABLE_CAUSES",
    "TEMPLATE_FIELDS",
    "EngineStats",
    "HeldState",
    "LoadedRule",
    "OpenAlert",
    "RuleEngine",
    "RuleError",
    "bundled_rules_dir",
    "load_rules",
    "parse_duration",
    "reselect",
    "rule_files",
]
