"""The docs name what the code has: every default rule, every probable cause, every command."""

from __future__ import annotations

import re
from pathlib import Path

from ioc.domain import Inventory, Profile
from ioc.rules import PROBABLE_CAUSES, load_rules
from tests.rules.harness import RULES_DIR

ROOT = Path(__file__).resolve().parents[1]
RULES_DOC = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")


def test_every_default_rule_is_documented_with_its_severity_and_cause(
    inventory: Inventory, profiles: dict[str, Profile]
) -> None:
    section = RULES_DOC.split("## The default rule set", 1)[1].split("\n## ", 1)[0]
    rows = {
        match.group(1): match.group(0)
        for match in re.finditer(r"^\| `([a-z0-9_.]+)` \|.*$", section, re.MULTILINE)
    }
    rules = load_rules([RULES_DIR], profiles, inventory)
    assert set(rows) == {rule.info.id for rule in rules}
    for rule in rules:
        row = rows[rule.info.id]
        assert rule.info.severity.value in row, row
        assert rule.info.probable_cause in row, row


def test_the_probable_cause_list_is_the_one_the_loader_accepts() -> None:
    section = RULES_DOC.split("spelling as in the MIB):", 1)[1]
    listed = set(re.findall(r"\b([a-z][A-Za-z]+)\b[,.]", section))
    assert listed == PROBABLE_CAUSES
