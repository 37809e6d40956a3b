"""The cluster in the state database: its nodes, and leadership by lease with fencing terms.

Each node reports itself every few seconds (`NodeRegistry`): when it started, when it was last
seen, what its ingest stored, and a clean stop.

Leases (`LeaseStore`): one row per lease, saying who holds it, until when, and its term (a
number that grows each time the lease changes hands). A node acquires a lease only when it is
free or expired, and renews it while it holds it; a node that loses it stops acting (its own
clock tells it when its lease runs out) before another can take it. Every write a leader makes
checks, in its own transaction, that the lease still names it with its term (`fence`): a stale
leader's write is refused even if it woke up late. On PostgreSQL the check locks the lease row,
so a takeover waits for a write in flight, and a write after the takeover sees the new term.

Times are the callers' (epoch ms): nodes compare them across machines, so their clocks must
agree to well within a lease (NTP).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Row,
    String,
    Table,
    case,
    delete,
    insert,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError

from ioc.domain import ClusterStatus, Conflict, NodeStatus, NotFound
from ioc.state._db import StateUnavailable, metadata, run_in

node_table = Table(
    "cluster_node",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("started_at_ms", BigInteger, nullable=False),
    Column("seen_at_ms", BigInteger, nullable=False),
    Column("stored", BigInteger, nullable=False),  # messages its ingest stored since it started
    Column("stopped_at_ms", BigInteger, nullable=True),  # a clean stop; none: running or dead
    # Whether its ingest session may still hold messages on the broker: false once the node
    # ended it at a clean stop, or the leader adopted and ended it after the node died.
    Column("session_open", Boolean, nullable=False, server_default=true()),
)

lease_table = Table(
    "cluster_lease",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("term", BigInteger, nullable=False),
    Column("acquired_at_ms", BigInteger, nullable=False),
    Column("expires_at_ms", BigInteger, nullable=False),
    Column("lease_ms", BigInteger, nullable=True),  # its length as the holder runs it
)


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease as the database has it."""

    name: str
    holder: str
    term: int
    acquired_at_ms: int
    expires_at_ms: int
    lease_ms: int | None = None  # None: written before the length was recorded

    def held_by(self, node: str, now_ms: int) -> bool:
        """Whether `node` holds it at `now_ms`."""
        return self.holder == node and self.expires_at_ms > now_ms


@dataclass(frozen=True, slots=True)
class Node:
    """A node as it last reported itself."""

    name: str
    started_at_ms: int
    seen_at_ms: int
    stored: int
    stopped_at_ms: int | None
    session_open: bool

    def alive(self, now_ms: int, lease_ms: int) -> bool:
        """Whether it reported within a lease and has not stopped."""
        return self.stopped_at_ms is None and now_ms - self.seen_at_ms < lease_ms

    def orphaned(self, now_ms: int, lease_ms: int) -> bool:
        """Whether its ingest session may hold messages nobody will take: the node is not
        running (dead, or stopped keeping its session) and nobody ended the session."""
        return self.session_open and not self.alive(now_ms, lease_ms)


LEADER_LEASE = "leader"  # the lease the rule engine's and notifier's node holds


class NodeInUse(Conflict):
    """A node cannot be forgotten: it runs, or its ingest session may hold messages."""


class Fenced(StateUnavailable):
    """A write refused: the writer no longer holds the lease with its term. Its work is kept
    and retried like work the database could not take, until the node notices it no longer
    leads (at its next lease step) and stops the leader's services; nothing for an operator."""


class LeaseStore:
    """Acquires, renews, releases and reads leases; fences writes."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def claim(self, name: str, node: str, now_ms: int, lease_ms: int) -> Lease:
        """Take the lease if it is free or expired, or renew it if `node` holds it; the lease
        as it stands afterwards (held by `node` or by another)."""
        return run_in(
            self._engine, "claim the lease", lambda c: _claim(c, name, node, now_ms, lease_ms)
        )

    def release(self, name: str, node: str, term: int) -> None:
        """Give the lease up at once (a clean stop), if `node` still holds it with `term`."""
        table = lease_table
        statement = (
            update(table)
            .where(table.c.name == name, table.c.holder == node, table.c.term == term)
            .values(expires_at_ms=0)
        )
        run_in(self._engine, "release the lease", lambda c: c.execute(statement))

    def read(self, name: str) -> Lease | None:
        """The lease, or None if nobody ever held it."""
        query = select(lease_table).where(lease_table.c.name == name)
        row = run_in(self._engine, "read the lease", lambda c: c.execute(query).first(), False)
        return None if row is None else _lease(row)


class NodeRegistry:
    """The nodes of a cluster: each reports itself every few seconds."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def report(self, node: str, started_at_ms: int, now_ms: int, stored: int) -> None:
        """Record that `node` (started at `started_at_ms`) is alive at `now_ms`."""
        table = node_table
        values = {"started_at_ms": started_at_ms, "seen_at_ms": now_ms, "stored": stored,
                  "stopped_at_ms": None, "session_open": True}  # fmt: skip

        def work(connection: Connection) -> None:
            done = connection.execute(update(table).where(table.c.name == node).values(values))
            if done.rowcount == 0:
                connection.execute(insert(table).values(name=node, **values))

        run_in(self._engine, "report the node", work)

    def stopped(self, node: str, now_ms: int, session_open: bool) -> None:
        """Record a clean stop, and whether the node kept its ingest session on the broker."""
        table = node_table
        statement = (
            update(table)
            .where(table.c.name == node)
            .values(stopped_at_ms=now_ms, session_open=session_open)
        )
        run_in(self._engine, "record the node's stop", lambda c: c.execute(statement))

    def session_ended(self, node: str, seen_at_ms: int) -> None:
        """Record that another node adopted and ended `node`'s ingest session; unless `node`
        reported itself again since `seen_at_ms` (it came back meanwhile)."""
        table = node_table
        statement = (
            update(table)
            .where(table.c.name == node, table.c.seen_at_ms == seen_at_ms)
            .values(session_open=False)
        )
        run_in(self._engine, "record an adopted session", lambda c: c.execute(statement))

    def forget(self, node: str, now_ms: int, lease_ms: int) -> None:
        """Remove `node` from the cluster's list: NotFound when it is not there, NodeInUse while
        it runs or its ingest session may still hold messages (a live node adopts it within a
        lease)."""

        def work(connection: Connection) -> None:
            row = connection.execute(
                select(node_table).where(node_table.c.name == node).with_for_update()
            ).first()
            if row is None:
                raise NotFound(f"no node {node!r} in the cluster")
            found = Node(str(row.name), int(row.started_at_ms), int(row.seen_at_ms),
                         int(row.stored), row.stopped_at_ms, bool(row.session_open))  # fmt: skip
            if found.alive(now_ms, lease_ms):
                ago = (now_ms - found.seen_at_ms) / 1000
                raise NodeInUse(f"node {node!r} is running (seen {ago:.1f} s ago): stop it first")
            if found.session_open:
                raise NodeInUse(
                    f"node {node!r} may still have messages in its ingest session on the "
                    "broker: a running node adopts it within a lease; try again then"
                )
            connection.execute(delete(node_table).where(node_table.c.name == node))

        run_in(self._engine, "forget the node", work)

    def nodes(self) -> list[Node]:
        """Every node that ever reported, by name."""
        query = select(node_table).order_by(node_table.c.name)
        rows = run_in(self._engine, "read the nodes", lambda c: list(c.execute(query)), False)
        return [
            Node(str(r.name), int(r.started_at_ms), int(r.seen_at_ms), int(r.stored),
                 None if r.stopped_at_ms is None else int(r.stopped_at_ms), bool(r.session_open))
            for r in rows
        ]  # fmt: skip


def fence(connection: Connection, name: str, node: str, term: int, now_ms: int) -> None:
    """Refuse the transaction on `connection` unless `node` holds lease `name` with `term`
    at `now_ms`; on PostgreSQL the lease row stays locked until the transaction ends."""
    query = select(lease_table).where(lease_table.c.name == name)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    row = connection.execute(query).first()
    if row is None or row.holder != node or row.term != term or row.expires_at_ms <= now_ms:
        held = "nobody" if row is None else f"{row.holder} (term {row.term})"
        raise Fenced(f"{node} (term {term}) no longer leads: the lease {name!r} is {held}'s")


def _claim(connection: Connection, name: str, node: str, now_ms: int, lease_ms: int) -> Lease:
    if connection.dialect.name == "postgresql":
        # A write in flight holds the lease row (its fence): wait for it, but not past a
        # step; a holder that never lets go is then reported at every step, not silently.
        connection.execute(text(f"SET LOCAL lock_timeout = {max(1, lease_ms // 3)}"))
    table = lease_table
    mine = table.c.holder == node
    statement = (
        update(table)
        .where(table.c.name == name, or_(mine, table.c.expires_at_ms <= now_ms))
        .values(
            holder=node,
            term=table.c.term + case((mine, 0), else_=1),  # a new holder, a new term
            acquired_at_ms=case((mine, table.c.acquired_at_ms), else_=now_ms),
            expires_at_ms=now_ms + lease_ms,
            lease_ms=lease_ms,
        )
    )
    if connection.execute(statement).rowcount == 0:
        first = {"name": name, "holder": node, "term": 1, "acquired_at_ms": now_ms,
                 "expires_at_ms": now_ms + lease_ms, "lease_ms": lease_ms}  # fmt: skip
        try:
            with connection.begin_nested():
                connection.execute(insert(table).values(first))
        except IntegrityError:
            pass  # it exists and another holds it
    return _lease(connection.execute(select(table).where(table.c.name == name)).one())


def _lease(row: Row[Any]) -> Lease:
    return Lease(
        str(row.name), str(row.holder), int(row.term), int(row.acquired_at_ms),
        int(row.expires_at_ms), None if row.lease_ms is None else int(row.lease_ms),
    )  # fmt: skip


def cluster_status(
    engine: Engine, now_ms: int, lease_ms: int, forget_after_ms: int | None = None
) -> ClusterStatus:
    """The cluster as the state database has it at `now_ms`: judged by the lease length its
    leader runs (`lease_ms`, the reader's own setting, only where no leader ever recorded it);
    a node gone longer than `forget_after_ms` (not running, its session ended) left out."""
    lease = LeaseStore(engine).read(LEADER_LEASE)
    if lease is not None and lease.lease_ms is not None:
        lease_ms = lease.lease_ms
    leading = lease is not None and lease.expires_at_ms > now_ms
    # A holder is `<node>:<process>` (one process of a node holds it, not the node's name).
    leader = lease.holder.partition(":")[0] if lease is not None and leading else None
    nodes = [
        n
        for n in NodeRegistry(engine).nodes()
        if forget_after_ms is None
        or n.alive(now_ms, lease_ms)
        or n.session_open
        or now_ms - n.seen_at_ms <= forget_after_ms
    ]
    running = [n for n in nodes if n.alive(now_ms, lease_ms)]
    total = sum(n.stored for n in running)
    return ClusterStatus(
        now_ms=now_ms,
        lease_ms=lease_ms,
        leader=leader,
        term=lease.term if lease is not None and leading else None,
        leading_since_ms=lease.acquired_at_ms if lease is not None and leading else None,
        renewed_ms_ago=(
            now_ms - (lease.expires_at_ms - lease_ms) if lease is not None and leading else None
        ),
        nodes=[
            NodeStatus(
                name=n.name,
                alive=n in running,
                leader=n.name == leader,
                started_at_ms=n.started_at_ms,
                seen_at_ms=n.seen_at_ms,
                stopped_at_ms=n.stopped_at_ms,
                stored=n.stored,
                share=(n.stored / total if total else 0.0) if n in running else None,
                session_open=n.session_open,
            )
            for n in nodes
        ],
    )
