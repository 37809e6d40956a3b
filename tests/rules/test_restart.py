"""Pending timers, flapping windows and predictions survive a restart; nothing fires twice."""

from __future__ import annotations

from pathlib import Path

import orjson

from ioc.domain import Inventory, Profile, SignalKind
from ioc.rules import HeldState, OpenAlert, RuleEngine, load_rules
from tests.rules.harness import RULES_DIR, Harness


def _restart(before: Harness, profiles: dict[str, Profile], full: bool = True) -> Harness:
    """A new engine that reads back what the old one saved (through JSON, as the database does)."""
    held = before.engine.take_all() if full else []
    saved = [HeldState(h.rule_id, h.device_id, orjson.loads(orjson.dumps(h.data))) for h in held]
    open_alerts: dict[tuple[str, str], OpenAlert] = {}
    for signal in before.signals:
        key = (signal.rule.id, signal.device_id)
        if signal.kind is SignalKind.CLEAR:
            open_alerts.pop(key, None)
        elif key not in open_alerts:
            open_alerts[key] = OpenAlert(*key, signal.severity, signal.facts, signal.at_ms)
    loaded = load_rules([RULES_DIR], profiles, before.inventory)
    after = Harness(RuleEngine(loaded, before.inventory, profiles, before.now), before.inventory)
    after.now_s = before.now_s
    after.engine.restore(saved, open_alerts.values())
    return after


def test_a_pending_for_timer_fires_on_time_after_a_restart(
    harness: Harness, profiles: dict[str, Profile]
) -> None:
    harness.reading("bts1", mains_ok=False)
    harness.at(30)
    after = _restart(harness, profiles)
    after.at(59)
    assert after.said("bts.mains_failure") == []
    after.at(60)
    assert after.said("bts.mains_failure") == [("raise", "major")]


def test_an_open_alert_is_neither_raised_again_nor_cleared_by_a_restart(
    harness: Harness, profiles: dict[str, Profile]
) -> None:
    harness.reading("bts1", battery_v=46.0)
    for full in (True, False):  # with its saved state, and with that state lost
        after = _restart(harness, profiles, full=full)
        after.at(10).reading("bts1", battery_v=47.5)  # inside the hysteresis band
        assert after.said("bts.battery_low") == []
        after.at(20).reading("bts1", battery_v=48.5)
        assert after.said("bts.battery_low") == [("clear", "major")]


def test_a_flapping_window_survives_a_restart(
    harness: Harness, profiles: dict[str, Profile]
) -> None:
    harness.reading("gw1", wan_up=True)
    harness.at(60).reading("gw1", wan_up=False)
    harness.at(120).reading("gw1", wan_up=True)
    after = _restart(harness, profiles)
    after.at(180).reading("gw1", wan_up=False)
    assert after.said("netgw.link_flapping") == [("raise", "major")]


def test_a_prediction_survives_a_restart(harness: Harness, profiles: dict[str, Profile]) -> None:
    volts = 45.5  # falling 1.2 V/h: the 43.2 V disconnect is about 1.6 h away
    for minute in range(0, 25, 5):
        harness.at(minute * 60).reading("bts1", mains_ok=False, battery_v=round(volts, 2))
        volts -= 0.1
    assert harness.said("bts.battery_runtime") == [("raise", "warning")]
    after = _restart(harness, profiles)
    after.at(25 * 60).reading("bts1", mains_ok=False, battery_v=volts)
    # The fit continues over the saved points: no second raise, the estimate moves on.
    assert [kind for kind, _ in after.said("bts.battery_runtime")] in ([], ["update"])


def test_silence_after_a_restart_counts_from_the_restart(
    harness: Harness, profiles: dict[str, Profile]
) -> None:
    harness.keep_alive(until_s=10)
    harness.at(50)
    after = _restart(harness, profiles)
    after.at(50 + 89)
    assert after.said("device.down") == []
    after.at(50 + 90)
    assert {s.device_id for s in after.signals} == {"gw1", "gw2", "vc1", "vc2"}


def test_reload_keeps_unchanged_rules_and_clears_what_removed_rules_held(
    harness: Harness, profiles: dict[str, Profile], tmp_path: Path, small_inventory: Inventory
) -> None:
    harness.reading("bts1", battery_v=46.0, door_open=True)
    harness.reading("gw1", wan_up=False)
    for path in RULES_DIR.glob("*.yaml"):
        if path.name != "netgw.yaml":
            (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "bts.yaml").write_text(
        (RULES_DIR / "bts.yaml").read_text(encoding="utf-8").replace("below: 47", "below: 46.5"),
        encoding="utf-8",
    )
    signals = harness.engine.replace_rules(
        load_rules([tmp_path], profiles, small_inventory), harness.now
    )
    assert [(s.kind.value, s.rule.id, s.device_id) for s in signals] == [
        ("clear", "netgw.wan_down", "gw1")
    ]
    harness.at(10).reading("bts1", battery_v=46.2, door_open=True)
    assert harness.said("bts.battery_low") == [("raise", "major")]  # changed rule, alert kept
    harness.at(20).reading("bts1", battery_v=48.5, door_open=False)
    assert harness.said("bts.battery_low")[-1] == ("clear", "major")
    assert harness.said("bts.door_open")[-1] == ("clear", "major")
