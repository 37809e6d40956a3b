"""Properties over random telemetry: no churn, hysteresis respected, and late or repeated
messages change nothing."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from ioc.domain import Inventory, Profile, Reading
from tests.rules.harness import T0, Harness

# (seconds since the previous report, battery voltage or None when the metric is missing)
REPORTS = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=120),
        st.one_of(st.none(), st.floats(min_value=40.0, max_value=56.0, allow_nan=False)),
    ),
    min_size=1,
    max_size=60,
)


def _signals(harness: Harness) -> list[tuple[str, str, float]]:
    return [
        (s.kind.value, s.severity.value, s.at_ms)
        for s in harness.signals
        if s.rule.id == "bts.battery_low"
    ]


@settings(max_examples=150, deadline=None)
@given(reports=REPORTS)
def test_battery_alerts_alternate_and_respect_the_hysteresis(
    reports: list[tuple[int, float | None]],
    small_inventory: Inventory,
    profiles: dict[str, Profile],
) -> None:
    harness = Harness.default_rules(small_inventory, profiles)
    t = 0.0
    values_at: dict[int, float] = {}
    for gap, volts in reports:
        t += gap
        harness.at(t)
        if volts is None:
            harness.partial("bts1", temp_c=25.0)
        else:
            harness.reading("bts1", battery_v=volts)
            values_at[harness.now] = volts
    holding = False
    for kind, severity, at in _signals(harness):
        volts = values_at[at]
        if kind == "raise":
            assert not holding and volts < 47.0
            holding = True
        elif kind == "clear":
            assert holding and volts > 48.0
            holding = False
        else:
            assert holding
        if kind != "clear":
            assert severity == ("critical" if volts < 44.0 else "major")


@settings(max_examples=100, deadline=None)
@given(reports=REPORTS, seed=st.integers(0, 2**32 - 1))
def test_late_and_repeated_messages_change_nothing(
    reports: list[tuple[int, float | None]],
    seed: int,
    small_inventory: Inventory,
    profiles: dict[str, Profile],
) -> None:
    clean = Harness.default_rules(small_inventory, profiles)
    noisy = Harness.default_rules(small_inventory, profiles)
    rng = random.Random(seed)
    sent: list[Reading] = []
    t = 0.0
    for gap, volts in reports:
        t += gap
        metrics = {"battery_v": 50.0 if volts is None else volts}
        for harness in (clean, noisy):
            harness.at(t)
        clean.reading("bts1", **metrics)
        noisy.reading("bts1", **metrics)
        sent.append(
            Reading("bts", "bts1", T0 + round(t * 1000), {"battery_v": metrics["battery_v"]})
        )
        # The broker redelivers, or an old message arrives late: both must be ignored.
        for _ in range(rng.randint(0, 2)):
            late = rng.choice(sent)
            noisy.signals += noisy.engine.apply(late, noisy.now)
    assert _signals(noisy) == _signals(clean)
