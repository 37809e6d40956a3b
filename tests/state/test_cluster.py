"""The leader's lease on SQLite and PostgreSQL: taken when free or expired, renewed by its
holder only, a new term for each new holder, and writes fenced by the term."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import SQLAlchemyError

from ioc.domain import (
    Alert,
    AlertAction,
    AlertState,
    AlertTransition,
    ClusterStatus,
    NotFound,
    Severity,
    TransitionKind,
)
from ioc.state import (
    LEADER_LEASE,
    AlertRepository,
    Fenced,
    LeaseStore,
    NodeInUse,
    NodeRegistry,
    StateUnavailable,
    cluster_status,
    connect_state,
    fence,
)

LEASE_MS = 15_000


@pytest.fixture
def engine(state_url: str) -> Iterator[Engine]:
    engine = connect_state(state_url)
    yield engine
    engine.dispose()


def test_one_holder_at_a_time_and_a_new_term_for_each(engine: Engine) -> None:
    leases = LeaseStore(engine)
    assert leases.read("leader") is None
    first = leases.claim("leader", "node-a", 1_000, LEASE_MS)
    assert (first.holder, first.term, first.expires_at_ms) == ("node-a", 1, 16_000)
    # Another node finds it held; the holder renews it (same term, same start).
    assert leases.claim("leader", "node-b", 5_000, LEASE_MS) == first
    renewed = leases.claim("leader", "node-a", 6_000, LEASE_MS)
    assert (renewed.term, renewed.acquired_at_ms, renewed.expires_at_ms) == (1, 1_000, 21_000)
    assert not leases.claim("leader", "node-b", 20_999, LEASE_MS).held_by("node-b", 20_999)
    # Expired: the next claimant takes it with a new term.
    taken = leases.claim("leader", "node-b", 21_000, LEASE_MS)
    assert (taken.holder, taken.term, taken.acquired_at_ms) == ("node-b", 2, 21_000)
    assert leases.claim("leader", "node-a", 22_000, LEASE_MS).holder == "node-b"
    # A clean stop gives it up at once.
    leases.release("leader", "node-b", 2)
    back = leases.claim("leader", "node-a", 23_000, LEASE_MS)
    assert (back.holder, back.term) == ("node-a", 3)
    leases.release("leader", "node-b", 2)  # not its lease any more: nothing happens
    assert leases.read("leader") == back


def test_a_stale_leader_cannot_write(engine: Engine) -> None:
    leases = LeaseStore(engine)
    leases.claim("leader", "node-a", 0, LEASE_MS)
    with engine.begin() as connection:
        fence(connection, "leader", "node-a", 1, 1_000)  # it leads: the write goes on
    with pytest.raises(Fenced, match=r"node-a \(term 1\) no longer leads"), engine.begin() as c:
        fence(c, "leader", "node-a", 1, LEASE_MS)  # its own lease ran out
    leases.claim("leader", "node-b", LEASE_MS, LEASE_MS)
    with pytest.raises(Fenced, match=r"is node-b \(term 2\)'s"), engine.begin() as c:
        fence(c, "leader", "node-a", 1, LEASE_MS + 1)  # woke up after the takeover
    with pytest.raises(Fenced), engine.begin() as c:
        fence(c, "leader", "node-a", 2, LEASE_MS + 1)  # nor with a borrowed term
    with pytest.raises(Fenced, match="is nobody's"), engine.begin() as c:
        fence(c, "other", "node-a", 1, 0)


def test_a_takeover_waits_for_the_write_in_flight(postgres_url: str) -> None:
    """PostgreSQL (SQLite has one node): the fence locks the lease row, so the new leader's
    term begins after the old leader's last write commits, never in the middle of it."""
    engine = connect_state(postgres_url)
    leases = LeaseStore(engine)
    name = f"leader-{uuid.uuid4().hex[:8]}"  # the session's database is shared
    leases.claim(name, "node-a", 0, LEASE_MS)
    order: list[str] = []
    with engine.begin() as connection:
        fence(connection, name, "node-a", 1, 1_000)
        claimant = threading.Thread(
            target=lambda: order.append(
                f"claimed term {leases.claim(name, 'node-b', LEASE_MS, LEASE_MS).term}"
            )
        )
        claimant.start()
        claimant.join(0.5)
        assert claimant.is_alive(), "the claim waits for the write's transaction"
        connection.execute(text("SELECT 1"))
        order.append("write committed")
    claimant.join(10)
    engine.dispose()
    assert order == ["write committed", "claimed term 2"]


def test_a_claim_waits_for_a_write_in_flight_at_most_a_third_of_a_lease(
    postgres_url: str,
) -> None:
    """A holder that does not let go (whatever keeps it) makes each claim fail with a reason
    after a step's time, instead of a standby's step hanging without a word."""
    engine = connect_state(postgres_url)
    leases = LeaseStore(engine)
    name = f"leader-{uuid.uuid4().hex[:8]}"
    leases.claim(name, "node-a", 0, 900)
    with engine.begin() as connection:
        fence(connection, name, "node-a", 1, 100)
        began = time.monotonic()
        with pytest.raises(StateUnavailable, match="lock"):
            leases.claim(name, "node-b", 900, 900)
        assert time.monotonic() - began < 5
    assert leases.claim(name, "node-b", 900, 900).term == 2  # let go: claimed at once
    engine.dispose()


def test_a_writer_frozen_inside_its_transaction_does_not_hold_the_lease_for_ever(
    postgres_url: str,
) -> None:
    """A leader stopped mid-write (SIGSTOP) keeps its connection open: the server ends the
    session once it sits in its transaction past the limit, and the lease row is free."""
    frozen = connect_state(postgres_url, idle_in_transaction_ms=500)
    engine = connect_state(postgres_url)
    leases = LeaseStore(engine)
    name = f"leader-{uuid.uuid4().hex[:8]}"
    leases.claim(name, "node-a", 0, LEASE_MS)
    connection = frozen.connect()
    transaction = connection.begin()
    fence(connection, name, "node-a", 1, 1_000)  # and then nothing more: frozen
    claimed: list[int] = []
    claimant = threading.Thread(
        target=lambda: claimed.append(leases.claim(name, "node-b", LEASE_MS, LEASE_MS).term)
    )
    claimant.start()
    claimant.join(10)
    assert claimed == [2]
    with pytest.raises(SQLAlchemyError):  # what the frozen node wrote is never committed
        connection.execute(text("SELECT 1"))
        transaction.commit()
    connection.close()
    frozen.dispose()
    engine.dispose()


def test_a_session_frozen_inside_a_pipeline_is_never_timed_out(postgres_url: str) -> None:
    """Why the leader's writes send no executemany: psycopg sends one as a pipeline, and until
    the pipeline's Sync the server waits for the rest ('active', ClientRead), where its
    idle-in-transaction limit does not apply: a node frozen there would hold its locks, the
    lease row among them, for ever. Checked on the real server, then on the writes."""
    holder = psycopg.connect(
        postgres_url.replace("postgresql+psycopg", "postgresql"),
        options="-c idle_in_transaction_session_timeout=300",
    )
    watcher = connect_state(postgres_url)
    try:
        with holder.pipeline():
            holder.execute("SELECT 1")  # sent, but not synced: frozen here
            time.sleep(1)  # three times the limit
            with watcher.connect() as connection:
                state = connection.execute(
                    text("SELECT state, wait_event FROM pg_stat_activity WHERE pid = :pid"),
                    {"pid": holder.info.backend_pid},
                ).one()
            assert tuple(state) == ("active", "ClientRead")
    finally:
        holder.close()
        watcher.dispose()


@pytest.mark.parametrize("state_url", ["postgresql"], indirect=True)
def test_the_leaders_writes_send_no_pipeline(engine: Engine) -> None:
    many: list[str] = []

    def record(_c: object, _cursor: object, statement: str, _p: object, _x: object,
               executemany: bool) -> None:  # fmt: skip
        if executemany:
            many.append(statement.split("(")[0])

    event.listen(engine, "before_cursor_execute", record)
    repository = AlertRepository(engine)
    first = repository.create(_alert(0), TransitionKind.FIRED, "rules", "")
    second_alert = dataclasses.replace(_alert(1), device_id="bts-2")
    second = repository.create(second_alert, TransitionKind.FIRED, "rules", "")
    repository.record(
        [AlertTransition(TransitionKind.RESOLVED, a, 5, "rules", "") for a in (first, second)]
    )
    repository.save_rule_states([("bts.door_open", f"bts-{n}", {"n": n}) for n in range(3)])
    repository.save_judged_through({"bts-1": 5, "bts-2": 6}, {"bts-1": 4, "bts-3": 7})
    assert many == []


def test_nodes_report_themselves_and_a_clean_stop(engine: Engine) -> None:
    registry = NodeRegistry(engine)
    registry.report("node-b", 1_000, 1_000, 0)
    registry.report("node-a", 2_000, 2_000, 0)
    registry.report("node-a", 2_000, 7_000, 1_234)
    registry.stopped("node-b", 8_000, session_open=False)
    a, b = registry.nodes()
    assert (a.name, a.seen_at_ms, a.stored, a.alive(8_000, LEASE_MS)) == (
        "node-a",
        7_000,
        1_234,
        True,
    )
    assert not a.alive(7_000 + LEASE_MS, LEASE_MS)  # silent for a lease: dead
    assert (b.name, b.stopped_at_ms, b.alive(8_000, LEASE_MS)) == ("node-b", 8_000, False)
    registry.report("node-b", 9_000, 9_000, 0)  # started again
    assert registry.nodes()[1].alive(9_000, LEASE_MS)


def test_a_node_gone_with_its_session_is_orphaned_until_its_session_ends(engine: Engine) -> None:
    registry = NodeRegistry(engine)
    registry.report("node-a", 1_000, 1_000, 10)
    registry.report("node-b", 1_000, 1_000, 10)
    registry.stopped("node-b", 2_000, session_open=False)  # handed its share over
    registry.report("node-c", 1_000, 1_000, 10)
    registry.stopped("node-c", 2_000, session_open=True)  # the last one: kept its session
    later = 1_000 + LEASE_MS
    a, b, c = registry.nodes()
    assert not a.alive(later, LEASE_MS) and a.orphaned(later, LEASE_MS)  # died
    assert not b.orphaned(later, LEASE_MS)
    assert c.orphaned(later, LEASE_MS)
    assert not a.orphaned(1_500, LEASE_MS)  # alive: nothing to adopt
    registry.session_ended("node-a", seen_at_ms=1_000)
    assert not registry.nodes()[0].orphaned(later, LEASE_MS)
    # The end of an adoption is not recorded over a node that came back meanwhile.
    registry.report("node-c", 20_000, 20_000, 0)
    registry.session_ended("node-c", seen_at_ms=1_000)
    assert registry.nodes()[2].session_open


def test_the_cluster_as_operators_see_it(engine: Engine) -> None:
    registry, leases = NodeRegistry(engine), LeaseStore(engine)
    assert cluster_status(engine, 1_000, LEASE_MS) == ClusterStatus(
        1_000, LEASE_MS, None, None, None, None, []
    )
    registry.report("node-a", 1_000, 5_000, 300)
    registry.report("node-b", 2_000, 5_000, 100)
    registry.report("node-c", 500, 600, 999)  # long gone
    leases.claim(LEADER_LEASE, "node-a", 1_000, LEASE_MS)
    leases.claim(LEADER_LEASE, "node-a", 4_000, LEASE_MS)
    status = cluster_status(engine, 16_000, LEASE_MS)
    assert (status.leader, status.term, status.leading_since_ms, status.renewed_ms_ago) == (
        "node-a", 1, 1_000, 12_000,
    )  # fmt: skip
    a, b, c = status.nodes
    assert (a.leader, a.alive, a.share) == (True, True, 0.75)
    assert (b.leader, b.alive, b.share) == (False, True, 0.25)
    assert (c.alive, c.share, c.session_open) == (False, None, True)
    assert cluster_status(engine, 4_000 + LEASE_MS, LEASE_MS).leader is None  # expired


def test_a_node_is_forgotten_only_when_gone_and_drops_off_the_list_with_age(
    engine: Engine,
) -> None:
    registry = NodeRegistry(engine)
    registry.report("node-a", 1_000, 1_000, 10)
    registry.report("node-b", 1_000, 1_000, 10)
    with pytest.raises(NodeInUse, match=r"node 'node-a' is running \(seen 0\.5 s ago\)"):
        registry.forget("node-a", 1_500, LEASE_MS)
    later = 1_000 + LEASE_MS
    with pytest.raises(NodeInUse, match="may still have messages in its ingest session"):
        registry.forget("node-a", later, LEASE_MS)  # dead, its session not adopted yet
    registry.session_ended("node-a", seen_at_ms=1_000)
    registry.forget("node-a", later, LEASE_MS)
    with pytest.raises(NotFound, match="no node 'node-a' in the cluster"):
        registry.forget("node-a", later, LEASE_MS)
    assert [n.name for n in registry.nodes()] == ["node-b"]
    # Gone, its session ended, a week ago: out of the status, though still recorded.
    registry.session_ended("node-b", seen_at_ms=1_000)
    week = 7 * 86_400_000
    listed = cluster_status(engine, 1_000 + week, LEASE_MS, week).nodes
    assert [n.name for n in listed] == ["node-b"]
    assert cluster_status(engine, 1_001 + week, LEASE_MS, week).nodes == []
    assert [n.name for n in registry.nodes()] == ["node-b"]


def _alert(opened_at_ms: int) -> Alert:
    return Alert(
        0, "bts.door_open", "bts-1", "bts", "d1", Severity.MAJOR, "enclosureDoorOpen",
        "physicalViolation", AlertState.FIRING, "", "", "", "", {}, opened_at_ms, opened_at_ms,
    )  # fmt: skip


def test_the_rule_engines_writes_carry_the_leaders_term(engine: Engine) -> None:
    """A deposed leader's alert is refused whole; an operator's request from any node is not."""
    leases = LeaseStore(engine)
    clock = [0]
    term = leases.claim("leader", "node-a", clock[0], LEASE_MS).term
    as_a = AlertRepository(
        engine, leader_guard=lambda c: fence(c, "leader", "node-a", term, clock[0])
    )
    saved = as_a.create(_alert(clock[0]), TransitionKind.FIRED, "rules", "")
    clock[0] = LEASE_MS  # node-a froze past its lease; node-b took over
    leases.claim("leader", "node-b", clock[0], LEASE_MS)
    with pytest.raises(Fenced):
        as_a.create(_alert(clock[0]), TransitionKind.FIRED, "rules", "")
    with pytest.raises(Fenced):
        as_a.save_rule_states([("bts.door_open", "bts-1", {"since": 1})])
    reader = AlertRepository(engine)
    assert [a.id for a in reader.open_alerts()] == [saved.id]  # nothing half-written
    assert reader.rule_states() == []
    request = as_a.request(saved.id, AlertAction.ACKNOWLEDGE, "an (token #1)", "", clock[0])
    assert [r.id for r in reader.pending_requests()] == [request]


def test_the_status_judges_by_the_lease_the_leader_runs(engine: Engine) -> None:
    """`ioc status` run without the nodes' IOC_LEASE_S (the reader's default is 15 s): the
    leader's own 5 s lease decides what is renewed how long ago and which node is alive."""
    registry, leases = NodeRegistry(engine), LeaseStore(engine)
    registry.report("node-a", 0, 10_000, 10)
    registry.report("node-b", 0, 2_000, 10)  # killed 8 s ago
    leases.claim(LEADER_LEASE, "node-a", 10_000, 5_000)
    status = cluster_status(engine, 10_018, lease_ms=15_000)
    assert (status.lease_ms, status.renewed_ms_ago) == (5_000, 18)
    a, b = status.nodes
    assert (a.alive, b.alive) == (True, False)


def test_how_far_the_rules_judged_only_moves_forward(engine: Engine) -> None:
    repository = AlertRepository(engine)
    repository.save_judged_through({"bts-1": 5_000, "bts-2": 3_000}, {"bts-2": 2_500})
    # Older ones are kept as they were; a device's events and readings move apart.
    repository.save_judged_through({"bts-1": 4_000, "bts-3": 1_000}, {"bts-2": 2_000, "d": 7})
    assert repository.judged_through() == (
        {"bts-1": 5_000, "bts-2": 3_000, "bts-3": 1_000},
        {"bts-2": 2_500, "d": 7},
    )
