"""Leadership on a driven clock against the real lease table (SQLite): one leader at a time,
a leader that cannot renew stops at its own deadline before another may start, and a clean
stop hands over at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ioc.app._leadership import Leadership
from ioc.state import Fenced, LeaseStore, StateUnavailable, connect_state

LEASE_MS = 15_000


class Clocks:
    """Wall and monotonic time, moved by the test."""

    def __init__(self) -> None:
        self.s = 1_790_000_000.0

    def wall(self) -> int:
        return int(self.s * 1000)

    def monotonic(self) -> float:
        return self.s


class Node:
    def __init__(self, name: str, leases: LeaseStore, clocks: Clocks) -> None:
        self.events: list[str] = []
        self.leadership = Leadership(
            leases, name, LEASE_MS,
            on_lead=lambda term: self.events.append(f"lead {term}"),
            on_lose=lambda: self.events.append("lose"),
            wall=clocks.wall, monotonic=clocks.monotonic,
        )  # fmt: skip


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = connect_state(f"sqlite:///{tmp_path / 'state.db'}")
    yield engine
    engine.dispose()


def test_one_leads_and_the_other_takes_over_only_after_the_lease(engine: Engine) -> None:
    clocks = Clocks()
    a, b = Node("a", LeaseStore(engine), clocks), Node("b", LeaseStore(engine), clocks)
    a.leadership.step()
    b.leadership.step()
    assert (a.events, b.events) == (["lead 1"], [])
    for _ in range(6):  # a renews every third of a lease
        clocks.s += LEASE_MS / 3000
        a.leadership.step()
        b.leadership.step()
    assert a.leadership.leading and not b.leadership.leading
    # a freezes (no more steps); b keeps trying and takes over once the lease has run out,
    # and by then a's own deadline had passed: it never acted beside b.
    frozen_at = clocks.s
    while not b.leadership.leading:
        clocks.s += 0.25
        b.leadership.step()
        assert not (a.leadership.leading and b.leadership.leading), "two leaders"
    assert clocks.s - frozen_at >= LEASE_MS / 1000
    assert b.events == ["lead 2"]
    assert not a.leadership.leading and a.events == ["lead 1", "lose"]
    # a wakes: its renewal finds b's lease, and a write with its old term is refused.
    a.leadership.step()
    assert a.events == ["lead 1", "lose"]
    with pytest.raises(Fenced), engine.begin() as connection:
        a.leadership.guard(connection)
    with engine.begin() as connection:
        b.leadership.guard(connection)


def test_a_leader_that_cannot_reach_the_database_stops_at_its_deadline(engine: Engine) -> None:
    clocks = Clocks()
    leases = LeaseStore(engine)
    a = Node("a", leases, clocks)
    a.leadership.step()

    def unreachable(*_args: object) -> None:
        raise StateUnavailable("cannot claim the lease: connection refused")

    leases.claim = unreachable  # type: ignore[method-assign,assignment]
    clocks.s += LEASE_MS / 1000 * 0.5
    a.leadership.step()
    assert a.leadership.leading and a.leadership.acting()  # still inside its deadline
    clocks.s += LEASE_MS / 1000 * 0.3  # 0.8 of the lease since its last renewal
    # Other threads ask before they act: no longer, though only the next step tells on_lose.
    assert not a.leadership.acting() and a.events == ["lead 1"]
    a.leadership.step()
    assert not a.leadership.leading and a.events == ["lead 1", "lose"]


def test_a_leader_late_past_its_deadline_starts_afresh_even_when_it_renews(
    engine: Engine,
) -> None:
    """Frozen past 80 % of its lease but not past the lease: nobody took over and it renews
    with its term, but it did not act meanwhile (its rules refused the messages that came):
    it loses and leads again, its services restarted, rather than going on as if it had."""
    clocks = Clocks()
    a = Node("a", LeaseStore(engine), clocks)
    a.leadership.step()
    clocks.s += LEASE_MS / 1000 * 0.9
    assert not a.leadership.acting()
    a.leadership.step()
    assert a.events == ["lead 1", "lose", "lead 1"] and a.leadership.acting()


def test_a_clean_stop_hands_over_at_once(engine: Engine) -> None:
    clocks = Clocks()
    a, b = Node("a", LeaseStore(engine), clocks), Node("b", LeaseStore(engine), clocks)
    a.leadership.step()
    a.leadership.release()
    b.leadership.step()
    assert a.events == ["lead 1", "lose"] and b.events == ["lead 2"]


def test_a_standby_claims_just_after_the_leaders_lease_runs_out(engine: Engine) -> None:
    clocks = Clocks()
    a, b = Node("a", LeaseStore(engine), clocks), Node("b", LeaseStore(engine), clocks)
    a.leadership.step()
    assert a.leadership.next_step_s() == LEASE_MS / 3000  # the leader renews every third
    b.leadership.step()
    assert b.leadership.next_step_s() == LEASE_MS / 3000  # the lease ends later than that
    clocks.s += 11  # a died just after it claimed: its lease ends 4 s from now
    b.leadership.step()
    assert b.leadership.next_step_s() == pytest.approx(4.05)
    clocks.s += b.leadership.next_step_s()
    b.leadership.step()
    assert b.events == ["lead 2"]  # the lease plus 50 ms after a's last renewal


def test_a_standby_that_cannot_reach_the_database_tries_a_third_of_a_lease_on(
    engine: Engine,
) -> None:
    """Not at the expiry of the lease it read before the database went away: that is in the
    past, and the standby would try (and log) twenty times a second until it came back."""
    clocks = Clocks()
    leases = LeaseStore(engine)
    a, b = Node("a", leases, clocks), Node("b", LeaseStore(engine), clocks)
    a.leadership.step()
    b.leadership.step()
    clocks.s += LEASE_MS / 1000 + 1  # a died; its lease has run out

    def unreachable(*_args: object) -> None:
        raise StateUnavailable("cannot claim the lease: connection refused")

    b.leadership._leases.claim = unreachable  # type: ignore[method-assign,assignment]
    assert b.leadership.next_step_s() == pytest.approx(0.05)  # a's lease, as last read
    b.leadership.step()
    assert b.leadership.next_step_s() == LEASE_MS / 3000


def test_the_same_node_name_twice_never_leads_twice(engine: Engine) -> None:
    clocks = Clocks()
    first, again = Node("a", LeaseStore(engine), clocks), Node("a", LeaseStore(engine), clocks)
    first.leadership.step()
    again.leadership.step()  # a second process named `a`, or `a` restarted after a crash
    assert (first.events, again.events) == (["lead 1"], [])
    clocks.s += LEASE_MS / 1000  # the first one's lease runs out (it died)
    again.leadership.step()
    assert again.events == ["lead 2"]  # a new term: the old process's writes stay fenced
