"""Every rule kind through the default rule set, with its edges, on a driven clock."""

from __future__ import annotations

from pathlib import Path

from ioc.domain import Inventory, Profile
from tests.rules.harness import RULES_DIR, Harness


def test_threshold_fires_below_not_at_the_limit_and_clears_only_past_the_hysteresis(
    harness: Harness,
) -> None:
    harness.reading("bts1", battery_v=47.0)
    assert harness.said("bts.battery_low") == []  # exactly at the limit is not below it
    harness.at(10).reading("bts1", battery_v=46.9)
    assert harness.said("bts.battery_low") == [("raise", "major")]
    for t, volts in [(20, 47.5), (30, 46.8), (40, 47.9), (50, 48.0)]:
        harness.at(t).reading("bts1", battery_v=volts)
    assert harness.said("bts.battery_low") == [("raise", "major")]  # oscillating: no churn
    harness.at(60).reading("bts1", battery_v=48.1)
    assert harness.said("bts.battery_low") == [("raise", "major"), ("clear", "major")]


def test_threshold_levels_raise_and_lower_the_severity_of_one_alert(harness: Harness) -> None:
    for t, volts in [(0, 46.0), (10, 43.9), (20, 45.0), (30, 48.5)]:
        harness.at(t).reading("bts1", battery_v=volts)
    assert harness.said("bts.battery_low") == [
        ("raise", "major"),
        ("update", "critical"),
        ("update", "major"),
        ("clear", "major"),
    ]


def test_for_duration_is_judged_by_the_clock_even_without_another_message(
    harness: Harness,
) -> None:
    harness.reading("bts1", mains_ok=False)
    harness.at(59.9)
    assert harness.said("bts.mains_failure") == []
    harness.at(60.0)
    assert harness.said("bts.mains_failure") == [("raise", "major")]
    harness.at(61).reading("bts1", mains_ok=True)
    assert harness.said("bts.mains_failure")[-1] == ("clear", "major")


def test_a_blip_shorter_than_for_raises_nothing(harness: Harness) -> None:
    harness.reading("bts1", mains_ok=False)
    harness.at(30).reading("bts1", mains_ok=True)
    harness.at(45).reading("bts1", mains_ok=False)  # the timer starts again from here
    harness.at(100)
    assert harness.said("bts.mains_failure") == []
    harness.at(105)
    assert harness.said("bts.mains_failure") == [("raise", "major")]


def test_a_missing_metric_an_old_message_and_a_duplicate_change_nothing(harness: Harness) -> None:
    harness.at(10).reading("bts1", battery_v=46.0)
    assert harness.said("bts.battery_low") == [("raise", "major")]
    harness.at(20).partial("bts1", temp_c=26.0)  # no battery_v in this one
    harness.at(30).reading("bts1", ts_s=5, battery_v=53.0)  # older than what was judged
    harness.at(31).reading("bts1", ts_s=20, battery_v=46.0)  # the same instant again
    assert harness.said("bts.battery_low") == [("raise", "major")]
    assert harness.engine.stats.stale == 2


def test_reports_count_for_registration(harness: Harness) -> None:
    harness.reading("vc1", registered=False)
    assert harness.said("vc.not_registered") == []
    harness.at(30).reading("vc1", registered=False)
    assert harness.said("vc.not_registered") == [("raise", "major")]
    harness.at(60).reading("vc1", registered=True)
    assert harness.said("vc.not_registered")[-1] == ("clear", "major")


def test_call_quality_is_judged_only_in_a_call(harness: Harness) -> None:
    harness.reading("vc1", in_call=False, mos=2.0, loss_pct=9.0)
    harness.at(120).reading("vc1", in_call=False, mos=2.0, loss_pct=9.0)
    assert harness.said("vc.poor_quality") == [] and harness.said("vc.call_loss") == []
    harness.at(130).reading("vc1", in_call=True, mos=3.2, loss_pct=6.0)
    assert harness.said("vc.call_loss") == [("raise", "critical")]
    harness.at(190).reading("vc1", in_call=True, mos=3.3, loss_pct=4.0)
    assert harness.said("vc.poor_quality") == [("raise", "major")]
    # Vendors' bands: over 5 % critical, over 1 % warning; 0.8 % is inside the hysteresis.
    assert harness.said("vc.call_loss") == [("raise", "critical"), ("update", "warning")]
    harness.at(195).reading("vc1", in_call=True, mos=3.3, loss_pct=0.8)
    assert harness.said("vc.call_loss")[-1] == ("update", "warning")
    harness.at(200).reading("vc1", in_call=False, mos=4.4, loss_pct=0.0)  # the call ends
    assert harness.said("vc.poor_quality")[-1] == ("clear", "major")
    assert harness.said("vc.call_loss")[-1] == ("clear", "warning")


def test_windowed_mean_ignores_one_bad_sample_but_not_a_sustained_one(harness: Harness) -> None:
    for t in range(0, 300, 30):
        harness.at(t).reading("gw1", loss_pct=40.0 if t == 60 else 0.0)
    assert harness.said("netgw.degraded") == []  # 40 % once: the 5-minute mean stays <= 5 %
    t = 300
    while not harness.said("netgw.degraded"):
        harness.at(t).reading("gw1", loss_pct=9.0)
        t += 30
    assert harness.said("netgw.degraded") == [("raise", "minor")]
    while harness.said("netgw.degraded")[-1][0] != "clear":
        harness.at(t).reading("gw1", loss_pct=0.0)
        t += 30
    assert t - 300 < 1200  # it did clear, within the window and the hysteresis


def test_wan_down_is_immediate(harness: Harness) -> None:
    harness.reading("gw1", wan_up=False)
    assert harness.said("netgw.wan_down") == [("raise", "critical")]


def test_flapping_needs_n_transitions_in_the_window_and_stays_until_quiet(
    harness: Harness,
) -> None:
    states = [True, False, True]  # two transitions: not yet flapping
    for i, up in enumerate(states):
        harness.at(i * 60).reading("gw1", wan_up=up)
    assert harness.said("netgw.link_flapping") == []
    harness.at(180).reading("gw1", wan_up=False)  # the third transition within 15 min
    assert harness.said("netgw.link_flapping") == [("raise", "major")]
    harness.at(240).reading("gw1", wan_up=True)
    harness.at(240 + 899)
    assert harness.said("netgw.link_flapping") == [("raise", "major")]
    harness.at(240 + 900)  # quiet for 15 min
    assert harness.said("netgw.link_flapping") == [("raise", "major"), ("clear", "major")]


def test_slow_transitions_are_not_flapping(harness: Harness) -> None:
    for i, up in enumerate([True, False, True, False]):
        harness.at(i * 600).reading("gw1", wan_up=up)  # 3 transitions over 30 min
    assert harness.said("netgw.link_flapping") == []


def test_uptime_reset_is_a_reboot_that_resolves_itself(harness: Harness) -> None:
    harness.reading("gw1", uptime_s=5000.0)
    harness.at(30).reading("gw1", uptime_s=5030.0)
    harness.at(60).reading("gw1", uptime_s=25.0)
    assert harness.said("netgw.reboot") == [("raise", "warning")]
    harness.at(60 + 900)
    assert harness.said("netgw.reboot") == [("raise", "warning"), ("clear", "warning")]


def test_link_traps_flap_and_a_cold_start_trap_is_a_reboot(harness: Harness) -> None:
    """The probe's trap events feed the same rules as the polled metrics."""
    for i, event in enumerate(["link_down", "link_up"]):
        harness.at(i * 60).event("gw1", event)
    assert harness.said("netgw.link_flapping") == []
    harness.at(120).event("gw1", "link_down")
    assert harness.said("netgw.link_flapping") == [("raise", "major")]
    harness.at(130).event("gw1", "reboot")
    assert harness.said("netgw.reboot") == [("raise", "warning")]
    harness.at(130 + 900)
    assert harness.said("netgw.reboot")[-1] == ("clear", "warning")


def test_call_jitter_over_30_ms_for_30_s(harness: Harness) -> None:
    harness.reading("vc1", in_call=True, jitter_ms=45.0)
    harness.at(29).reading("vc1", in_call=True, jitter_ms=45.0)
    assert harness.said("vc.call_jitter") == []
    harness.at(31).reading("vc1", in_call=True, jitter_ms=40.0)
    assert harness.said("vc.call_jitter") == [("raise", "warning")]
    harness.at(60).reading("vc1", in_call=True, jitter_ms=25.0)  # inside the hysteresis
    assert harness.said("vc.call_jitter") == [("raise", "warning")]
    harness.at(90).reading("vc1", in_call=True, jitter_ms=12.0)
    assert harness.said("vc.call_jitter")[-1] == ("clear", "warning")


def test_composite_any_of_a_metric_and_an_event(harness: Harness) -> None:
    harness.event("bts1", "smoke_alarm")
    assert harness.said("bts.smoke") == [("raise", "critical")]
    harness.at(600)
    assert harness.said("bts.smoke")[-1] == ("clear", "critical")  # the event part auto-resolves
    harness.at(700).reading("bts1", smoke=True)
    harness.at(1400)
    # The metric part holds as long as smoke is reported.
    assert harness.said("bts.smoke") == [
        ("raise", "critical"),
        ("clear", "critical"),
        ("raise", "critical"),
    ]


def test_battery_runtime_prediction_tracks_the_discharge(harness: Harness) -> None:
    # Discharging 2 V/h from 50 V: the 43.2 V disconnect is 3.4 h away, then closer.
    volts = 50.0
    etas = []
    for minute in range(0, 150, 5):
        harness.at(minute * 60).reading("bts1", mains_ok=False, battery_v=round(volts, 3))
        volts -= 2.0 / 12
        said = harness.said("bts.battery_runtime")
        if said and harness.signals[-1].rule.id == "bts.battery_runtime":
            etas.append(harness.signals[-1].facts["eta"])
    said = harness.said("bts.battery_runtime")
    assert said[0] == ("raise", "warning")
    assert ("update", "critical") in said
    assert len(etas) > 5  # the estimate is kept current, not frozen at the first value
    harness.at(150 * 60).reading("bts1", mains_ok=True, battery_v=53.0)
    assert harness.said("bts.battery_runtime")[-1][0] == "clear"


def test_a_charging_battery_has_no_runtime_alert(harness: Harness) -> None:
    for minute in range(0, 60, 5):
        harness.at(minute * 60).reading("bts1", mains_ok=False, battery_v=47.0 + minute / 60)
    assert harness.said("bts.battery_runtime") == []


def test_rtt_anomaly_against_its_own_baseline(harness: Harness) -> None:
    t = 0.0
    for i in range(40):
        harness.at(t).reading("gw1", rtt_ms=20.0 + (i % 5) * 0.5)
        t += 30
    assert harness.said("netgw.rtt_anomaly") == []
    for _ in range(2):
        harness.at(t).reading("gw1", rtt_ms=90.0)
        t += 30
    assert harness.said("netgw.rtt_anomaly") == []  # two samples: not yet sustained
    harness.at(t).reading("gw1", rtt_ms=90.0)
    t += 30
    assert harness.said("netgw.rtt_anomaly") == [("raise", "warning")]
    harness.at(t).reading("gw1", rtt_ms=21.0)
    assert harness.said("netgw.rtt_anomaly")[-1] == ("clear", "warning")


def test_mad_anomaly_is_robust_to_the_spike_it_judges(
    tmp_path: Path, small_inventory: Inventory, profiles: dict[str, Profile]
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "mad.yaml").write_text(
        (RULES_DIR / "netgw.yaml")
        .read_text(encoding="utf-8")
        .replace("method: ewma, alpha: 0.05", "method: mad, window: 30"),
        encoding="utf-8",
    )
    harness = Harness.default_rules(small_inventory, profiles, rules)
    t = 0.0
    for i in range(30):
        harness.at(t).reading("gw1", rtt_ms=20.0 + (i % 5) * 0.5)
        t += 30
    for _ in range(3):  # three spikes in a row: the median and MAD barely move
        harness.at(t).reading("gw1", rtt_ms=60.0)
        t += 30
    assert harness.said("netgw.rtt_anomaly") == [("raise", "warning")]
    harness.at(t).reading("gw1", rtt_ms=21.0)
    assert harness.said("netgw.rtt_anomaly")[-1] == ("clear", "warning")
