"""The notification file: every mistake with its exact message; routes, rotations, recipients."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ioc.domain import Alert, AlertState, Inventory, Severity
from ioc.notify import NotifyConfig, NotifyConfigError, Router, load_notify_config
from tests.support.clock import VIETNAM

TESTDATA = Path(__file__).parent / "testdata"
RULES = ["bts.battery_low", "device.down", "netgw.wan_down"]
HCM = ZoneInfo("Asia/Ho_Chi_Minh")

BAD = {
    "references.yaml": [
        "people['an'].id: defined twice",
        "teams and rotations share the ids ['field']: keep them apart",
        "teams['field'].channels: an has no phone number for sms",
        "teams['field'].members: no person 'ghost'",
        "rotations['oncall'].team: no team 'nobody'",
        "routes['r1'].notify: no team or rotation 'nowhere'",
        "routes['r1'].escalate[1].notify: no team or rotation 'elsewhere'",
        "routes['r1'].escalate: levels must come in order of `after`",
        "routes['r1'].match.area: no area 'D9' in the inventory",
        "routes['r1'].match.class: no device class 'toaster'",
        "routes['r1'].match.rules: no rule 'no.such.rule' in force",
    ],
    "reports.yaml": [
        "reports['monthly'].id: defined twice",
        "reports['monthly'].to: binh has no e-mail address for its report",
        "reports['monthly'].to: no team or person 'nobody'",
        "reports['monthly'].area: no area 'D9' in the inventory",
        "reports['monthly'].by: cannot group by 'hamlet': choose device, area, class, tag, all, "
        "commune, district, province",
    ],
    "report_shapes.yaml": [
        "reports['monthly'].kind: Input should be 'availability', 'power' or 'links'",
        "reports['monthly'].every: Input should be 'week' or 'month'",
        "reports['monthly'].at: String should match pattern '^([01][0-9]|2[0-3]):[0-5][0-9]$'",
        "reports['monthly'].to: List should have at least 1 item after validation, not 0",
    ],
    "shapes.yaml": [
        "timezone: 'Mars/Olympus' is not a known IANA time zone (Asia/Ho_Chi_Minh, UTC)",
        "people['An'].id: String should match pattern '^[a-z0-9][a-z0-9_.-]{0,63}$'",
        "people['An'].contacts.email: 'not-an-address' is not an e-mail address",
        "people['An'].contacts.phone: '12' is not a phone number (e.g. +84901234567)",
        "people['An'].contacts.pager: Extra inputs are not permitted",
        "teams['field'].members: List should have at least 1 item after validation, not 0",
        "teams['field'].channels[0]: Input should be 'email', 'sms', 'webhook' or 'mqtt'",
        "routes['r1'].repeat: 'soon' is not a duration (try 90s, 5m, 2h)",
    ],
}


@pytest.fixture
def config(small_inventory: Inventory) -> NotifyConfig:
    return load_notify_config(TESTDATA / "notify.yaml", small_inventory, RULES, VIETNAM)


@pytest.mark.parametrize("name", sorted(BAD))
def test_every_mistake_is_named_with_its_place(name: str, small_inventory: Inventory) -> None:
    path = TESTDATA / "bad" / name
    with pytest.raises(NotifyConfigError) as caught:
        load_notify_config(path, small_inventory, RULES, VIETNAM)
    assert str(caught.value).splitlines() == [f"{path}: {line}" for line in BAD[name]]


def test_an_unreadable_file_is_one_clear_line(tmp_path: Path, small_inventory: Inventory) -> None:
    broken = tmp_path / "notify.yaml"
    broken.write_text("routes: [unclosed", encoding="utf-8")
    with pytest.raises(NotifyConfigError, match=r"notify.yaml: not valid yaml"):
        load_notify_config(broken, small_inventory, RULES, VIETNAM)
    with pytest.raises(NotifyConfigError, match=r"missing.yaml: cannot read"):
        load_notify_config(tmp_path / "missing.yaml", small_inventory, RULES, VIETNAM)


def _alert(inventory: Inventory, device: str, rule: str, severity: Severity) -> Alert:
    d = inventory.devices[device]
    return Alert(
        1, rule, device, d.device_class, d.area_id, severity, "x", "y", AlertState.FIRING,
        "", "", "", "", {}, 0, 0,
    )  # fmt: skip


def test_routes_match_area_and_severity_in_file_order(
    config: NotifyConfig, small_inventory: Inventory
) -> None:
    router = Router(config, small_inventory)
    major = _alert(small_inventory, "bts2", "bts.battery_low", Severity.MAJOR)
    assert [r.id for r in router.routes_for(major)] == ["d1-outages"]
    minor = _alert(small_inventory, "bts2", "bts.battery_low", Severity.MINOR)
    assert [r.id for r in router.routes_for(minor)] == ["everything-else"]


def test_the_rotation_hands_over_at_eight_local_time(
    config: NotifyConfig, small_inventory: Inventory
) -> None:
    router = Router(config, small_inventory)
    first_shift = datetime(2026, 11, 1, 8, 0, tzinfo=HCM)
    assert router.on_duty("d1-oncall", first_shift).id == "an"
    assert router.on_duty("d1-oncall", first_shift + timedelta(hours=23, minutes=59)).id == "an"
    assert router.on_duty("d1-oncall", first_shift + timedelta(days=1)).id == "binh"
    assert router.on_duty("d1-oncall", first_shift + timedelta(days=2)).id == "an"
    # 00:30 UTC on the 3rd is 07:30 in Ho Chi Minh City: still the 2nd's shift (binh).
    assert (
        router.on_duty("d1-oncall", datetime(2026, 11, 3, 0, 30, tzinfo=ZoneInfo("UTC"))).id
        == "binh"
    )
    # Before the rotation began, the order runs backwards.
    assert router.on_duty("d1-oncall", first_shift - timedelta(hours=1)).id == "binh"


def test_recipients_of_a_team_and_of_a_rotation(
    config: NotifyConfig, small_inventory: Inventory
) -> None:
    router = Router(config, small_inventory)
    at = datetime(2026, 11, 2, 9, 0, tzinfo=HCM)
    [on_duty] = router.recipients("d1-oncall", at)
    assert (on_duty.person.id, on_duty.via) == ("binh", "d1-oncall")
    assert [c.value for c in on_duty.channels] == ["email", "sms", "mqtt"]
    team = router.recipients("d1-field", at)
    assert [r.person.id for r in team] == ["an", "binh"]
