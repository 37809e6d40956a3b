"""Device down: silence windows, last wills, and never a false outage from ioc's own blindness."""

from __future__ import annotations

from tests.rules.harness import Harness

# The profiles' silence windows: bts 180 s, netgw and vc 90 s.


def _down(harness: Harness) -> dict[str, str]:
    """Device -> the last thing device.down said about it."""
    return {s.device_id: s.kind.value for s in harness.signals if s.rule.id == "device.down"}


def test_silence_is_detected_at_the_window_by_the_sweep(harness: Harness) -> None:
    harness.keep_alive(until_s=60)
    harness.at(60 + 89)
    assert _down(harness) == {}
    harness.at(60 + 90)
    assert _down(harness) == {"gw1": "raise", "gw2": "raise", "vc1": "raise", "vc2": "raise"}
    harness.at(60 + 180)
    assert _down(harness)["bts1"] == "raise"
    harness.at(300).reading("bts1")
    assert _down(harness)["bts1"] == "clear"


def test_a_last_will_is_down_at_once_and_a_report_brings_it_back(harness: Harness) -> None:
    harness.reading("bts1")
    harness.at(1).status("bts1", online=False)
    assert harness.said("device.down", "bts1") == [("raise", "critical")]
    assert harness.signals[-1].facts["reason"] == "offline"
    harness.at(2).status("bts1", online=True)
    assert harness.said("device.down", "bts1") == [("raise", "critical"), ("clear", "critical")]


def test_devices_never_heard_get_a_full_window_from_start(harness: Harness) -> None:
    harness.at(89)
    assert _down(harness) == {}  # a restart does not make the whole fleet look down
    harness.at(90)
    assert set(_down(harness)) == {"gw1", "gw2", "vc1", "vc2"}


def test_blind_spell_pauses_silence_and_gives_a_grace_window(harness: Harness) -> None:
    harness.keep_alive(until_s=50)
    harness.engine.pause_absence()  # the broker went away at 50 s
    harness.at(1000)
    assert _down(harness) == {}
    harness.engine.resume_absence(harness.now)  # back at 1000 s: everyone gets 90 / 180 s more
    harness.at(1000 + 89)
    assert _down(harness) == {}
    harness.at(1000 + 90)
    assert set(_down(harness)) == {"gw1", "gw2", "vc1", "vc2"}  # still silent after the grace
    harness.at(1000 + 179)
    assert "bts1" not in _down(harness)
    harness.at(1000 + 180)
    assert _down(harness)["bts1"] == "raise"


def test_an_event_or_a_status_counts_as_heard(harness: Harness) -> None:
    harness.keep_alive(until_s=0)
    harness.at(80).event("gw1", "link_up")
    harness.at(100)
    assert "gw1" not in _down(harness)


def test_a_device_whose_clock_is_set_back_is_still_heard(harness: Harness) -> None:
    for t in range(0, 100, 10):
        harness.at(t).reading("bts1")
    # NTP corrects the device's clock five minutes back: its readings are now "older" than
    # the last judged one. They move no rule state, but they prove the device alive.
    for t in range(100, 600, 10):
        harness.at(t).reading("bts1", ts_s=t - 300)
    assert "bts1" not in _down(harness)
    assert harness.engine.stats.stale > 0
