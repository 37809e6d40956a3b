"""Rule files: the bundled set loads; every mistake is named with file, rule and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ioc.domain import Inventory, Profile
from ioc.rules import RuleError, load_rules, parse_duration
from tests.rules.harness import RULES_DIR

BAD = Path(__file__).parent / "testdata" / "bad"

EXPECTED = {
    "unknown_key.yaml": ["rules['bts.hot'].condition.fro: Extra inputs are not permitted"],
    "wrong_metric.yaml": [
        "rules['bts.hot'].condition.metric: class 'bts' has no metric 'temperature'",
        "rules['gw.mixed'].condition.of[0].event: class 'netgw' reports no event 'door_open'",
        "rules['gw.mixed'].condition.of[1].metric: 'wan_up' is a bool, this needs a number",
    ],
    "bad_vocabulary.yaml": [
        "rules['bts.hot'].select.class: unknown class 'shelter'",
        "rules['bts.hot'].select.area: no area 'nowhere' in the inventory",
        "rules['bts.hot'].probable_cause: 'itIsHot' is not an IANA ITU probable cause this "
        "version knows (docs/rules.md lists them)",
        "rules['bts.hot'].event_type: 'heatAlarm' is not an X.733 event type "
        "(communicationsAlarm, environmentalAlarm, equipmentAlarm, integrityViolation, "
        "operationalViolation, physicalViolation, processingErrorAlarm, qualityOfServiceAlarm, "
        "securityServiceOrMechanismViolation, timeDomainViolation)",
        "rules['bts.hot'].message.vi: unknown field {temperature} (known: area_name, device_id, "
        "device_name, eta, rate, reason, silent_for, transitions, value, z)",
    ],
    "bad_values.yaml": [
        "rules['Bad Id'].id: String should match pattern '^[a-z0-9][a-z0-9_.-]{0,63}$'",
        "rules['Bad Id'].condition.for: 'soon' is not a duration (try 90s, 5m, 2h)",
        "rules['Bad Id'].severity: Input should be 'warning', 'minor', 'major' or 'critical'",
        "rules['gw.flap'].condition.transitions: Input should be greater than or equal to 2",
    ],
}


def test_the_bundled_rules_load(small_inventory: Inventory, profiles: dict[str, Profile]) -> None:
    rules = load_rules([RULES_DIR], profiles, small_inventory)
    assert len(rules) == 24
    by_id = {rule.info.id: rule for rule in rules}
    assert by_id["device.down"].devices == tuple(small_inventory.devices)
    assert by_id["bts.battery_low"].devices == ("bts1", "bts2")
    assert by_id["netgw.wan_down"].info.outage and not by_id["bts.door_open"].info.outage


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_mistake_is_named(
    name: str, small_inventory: Inventory, profiles: dict[str, Profile]
) -> None:
    with pytest.raises(RuleError) as caught:
        load_rules([BAD / name], profiles, small_inventory)
    assert str(caught.value).splitlines() == [f"{BAD / name}: {line}" for line in EXPECTED[name]]


def test_a_rule_id_defined_twice_is_refused(
    tmp_path: Path, small_inventory: Inventory, profiles: dict[str, Profile]
) -> None:
    text = (RULES_DIR / "vc.yaml").read_text(encoding="utf-8")
    (tmp_path / "a.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(RuleError, match=r"b.yaml: rules\['vc.not_registered'\].id: also defined"):
        load_rules([tmp_path], profiles, small_inventory)


def test_a_selector_narrows_to_an_area_subtree_and_device_ids(
    tmp_path: Path, small_inventory: Inventory, profiles: dict[str, Profile]
) -> None:
    text = (RULES_DIR / "vc.yaml").read_text(encoding="utf-8")
    (tmp_path / "c2.yaml").write_text(
        text.replace("select: {class: vc}", "select: {class: vc, area: C2}"), encoding="utf-8"
    )
    assert {rule.devices for rule in load_rules([tmp_path], profiles, small_inventory)} == {
        ("vc2",)
    }
    (tmp_path / "c2.yaml").write_text(
        text.replace("select: {class: vc}", "select: {devices: [vc1, gw1]}"), encoding="utf-8"
    )
    with pytest.raises(RuleError, match="class 'netgw' has no metric 'registered'"):
        load_rules([tmp_path], profiles, small_inventory)


def test_missing_rules_folder_and_bad_yaml(
    tmp_path: Path, small_inventory: Inventory, profiles: dict[str, Profile]
) -> None:
    with pytest.raises(RuleError, match="no such file or folder"):
        load_rules([tmp_path / "nope"], profiles, small_inventory)
    with pytest.raises(RuleError, match=r"no rule files \(\*.yaml\) found"):
        load_rules([tmp_path], profiles, small_inventory)
    (tmp_path / "x.yaml").write_text("rules: [\n", encoding="utf-8")
    with pytest.raises(RuleError, match=r"x\.yaml: not valid yaml"):
        load_rules([tmp_path], profiles, small_inventory)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90.0), ("90s", 90.0), ("5m", 300.0), ("2h", 7200.0), ("1d", 86400.0), ("250ms", 0.25)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["-5s", "soon", True, "5 minutes"])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_a_selector_by_tags(
    tmp_path: Path, small_inventory: Inventory, profiles: dict[str, Profile]
) -> None:
    text = (RULES_DIR / "netgw.yaml").read_text(encoding="utf-8")
    (tmp_path / "hub.yaml").write_text(
        text.replace("select: {class: netgw}", "select: {class: netgw, tags: [hub]}"),
        encoding="utf-8",
    )
    assert {rule.devices for rule in load_rules([tmp_path], profiles, small_inventory)} == {
        ("gw1",)
    }
    (tmp_path / "hub.yaml").write_text(
        text.replace("select: {class: netgw}", "select: {tags: [hbu]}"), encoding="utf-8"
    )
    with pytest.raises(
        RuleError, match=r"select\.tags: no device in the inventory carries tag 'hbu'"
    ):
        load_rules([tmp_path], profiles, small_inventory)
