"""What reports read from the state database, on SQLite and PostgreSQL: the outage alerts open
at some moment of a period with their first acknowledgement, and the windows in force."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from ioc.domain import (
    Alert,
    AlertSpan,
    AlertState,
    AlertTransition,
    MaintenanceWindow,
    Severity,
    TransitionKind,
    WindowScope,
)
from ioc.state import AlertRepository, connect_state

HOUR = 3_600_000
T0 = 1_793_491_200_000  # 2026-11-01T00:00Z


@pytest.fixture
def repository(state_url: str) -> Iterator[AlertRepository]:
    repository = AlertRepository(connect_state(state_url))
    yield repository
    repository.close()


def _alert(rule: str, device: str, opened: int) -> Alert:
    return Alert(
        0, rule, device, "netgw", "C1", Severity.CRITICAL, "lossOfSignal", "communicationsAlarm",
        AlertState.FIRING, "", "", "", "", {}, opened, opened,
    )  # fmt: skip


def _life(
    repository: AlertRepository,
    rule: str,
    device: str,
    opened: int,
    resolved: int | None,
    acks: tuple[int, ...] = (),
) -> int:
    alert = repository.create(_alert(rule, device, opened), TransitionKind.FIRED, "rules", "")
    for at in acks:
        acked = dataclasses.replace(alert, state=AlertState.ACKNOWLEDGED, acknowledged_by="an")
        repository.record([AlertTransition(TransitionKind.ACKNOWLEDGED, acked, at, "an")])
    if resolved is not None:
        done = dataclasses.replace(alert, state=AlertState.RESOLVED, resolved_at_ms=resolved)
        repository.record([AlertTransition(TransitionKind.RESOLVED, done, resolved, "rules")])
    return alert.id


def test_spans_are_the_outage_alerts_open_during_the_period(repository: AlertRepository) -> None:
    before = _life(repository, "device.down", "gw1", T0 - 5 * HOUR, T0 - HOUR)  # over before
    across = _life(repository, "device.down", "gw1", T0 - HOUR, T0 + HOUR, acks=(T0, T0 + 60))
    inside = _life(repository, "netgw.wan_down", "gw2", T0 + 2 * HOUR, T0 + 3 * HOUR)
    still = _life(repository, "device.down", "bts1", T0 + 4 * HOUR, None)
    _life(repository, "bts.door_open", "bts1", T0 + HOUR, None)  # not an outage rule
    after = _life(repository, "device.down", "vc1", T0 + 30 * HOUR, None)  # after the period
    spans = repository.spans(["device.down", "netgw.wan_down"], T0, T0 + 24 * HOUR)
    assert spans == [
        AlertSpan(across, "device.down", "gw1", T0 - HOUR, T0 + HOUR, T0),  # first ack
        AlertSpan(inside, "netgw.wan_down", "gw2", T0 + 2 * HOUR, T0 + 3 * HOUR, None),
        AlertSpan(still, "device.down", "bts1", T0 + 4 * HOUR, None, None),
    ]
    assert before not in {s.id for s in spans} and after not in {s.id for s in spans}


def test_windows_in_force_during_the_period(repository: AlertRepository) -> None:
    def add(starts: int, ends: int) -> MaintenanceWindow:
        window = MaintenanceWindow(0, WindowScope.DEVICE, "gw1", starts, ends, "work", "an")
        return repository.add_window(window)

    add(T0 - 5 * HOUR, T0 - HOUR)  # over before
    overlapping = add(T0 - HOUR, T0 + HOUR)
    ended_early = add(T0 - 3 * HOUR, T0 + 5 * HOUR)
    repository.end_window(ended_early.id, T0 - 2 * HOUR)  # ended before the period began
    cut_short = add(T0 + 6 * HOUR, T0 + 9 * HOUR)
    repository.end_window(cut_short.id, T0 + 7 * HOUR)
    add(T0 + 30 * HOUR, T0 + 31 * HOUR)  # after
    found = repository.windows_between(T0, T0 + 24 * HOUR)
    assert [w.id for w in found] == [overlapping.id, cut_short.id]
    assert found[1].ended_at_ms == T0 + 7 * HOUR
