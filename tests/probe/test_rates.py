"""Counters into rates: the first value, wraps of 32- and 64-bit counters, an agent restart,
and a 64-bit counter going back far from its top (a reset: no rate, counted)."""

from __future__ import annotations

from ioc.probe._rates import COUNTER32, COUNTER64, CounterRates


def test_a_rate_needs_two_values_in_time_order() -> None:
    rates = CounterRates()
    assert rates.rate("c", 1_000, 10.0, restarted=False) is None
    assert rates.rate("c", 3_000, 12.0, restarted=False) == 1_000.0
    assert rates.rate("c", 4_000, 12.0, restarted=False) is None  # no time between


def test_counters_wrap_at_their_width() -> None:
    rates = CounterRates()
    rates.rate("hc", COUNTER64 - 100, 0.0, restarted=False)
    assert rates.rate("hc", 100, 1.0, restarted=False) == 200.0
    rates.rate("errors", COUNTER32 - 5, 0.0, restarted=False, width=COUNTER32)
    assert rates.rate("errors", 5, 10.0, restarted=False, width=COUNTER32) == 1.0
    assert rates.wraps == 2 and rates.backwards == 0


def test_a_restart_or_a_reset_gives_no_rate() -> None:
    rates = CounterRates()
    rates.rate("hc", 5_000_000, 0.0, restarted=False)
    assert rates.rate("hc", 10, 10.0, restarted=True) is None  # the agent started again
    assert rates.rate("hc", 20, 20.0, restarted=False) == 1.0
    assert rates.rate("hc", 5, 30.0, restarted=False) is None  # back, far from the top
    assert rates.backwards == 1 and rates.wraps == 0
    assert rates.rate("hc", 15, 40.0, restarted=False) == 1.0  # and on from the new value
