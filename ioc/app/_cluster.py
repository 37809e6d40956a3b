"""One node of a cluster: it reports itself, takes part in the leader's election, runs the
leader's services while it leads, and, as the leader, takes over what a dead node's ingest
session held.

Every node runs ingest (a member of the shared subscription) and the API; the services only
the leader runs (the rules on their own session, the notifier) are built afresh each time this
node comes to lead and stopped the moment it no longer does (`Leadership`). A node that dies
leaves its ingest session on the broker with its share of messages, queued and unacknowledged:
the leader adopts the session (`Adoption`), stores what it holds, and ends it, so the broker
gives the whole load to the living. A node that stops cleanly hands its share over itself, or
keeps its session when it is the last one running so that nothing published meanwhile is lost.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from ioc.app._ingest import IngestService
from ioc.app._leadership import Leadership
from ioc.app._supervisor import Service, ServiceError, Supervisor
from ioc.domain import Clock, IocError, now_ms
from ioc.ingest import IngestStats
from ioc.state import LeaseStore, NodeRegistry, StateError

log = logging.getLogger("ioc.cluster")

SETTLED_S = 1.0  # an adopted session that delivered nothing for this long holds nothing more


def ingest_client_id(client_id: str, node: str) -> str:
    """The client id of a node's ingest session (IOC_MQTT_CLIENT_ID and the node's name)."""
    return f"{client_id}-{node}"


class Adoption:
    """A dead node's ingest session, resumed by its client id until what it held is stored."""

    def __init__(self, node: str, seen_at_ms: int, ingest: IngestService) -> None:
        self.node = node
        self.seen_at_ms = seen_at_ms  # the dead node's last report: it may come back
        self.ingest = ingest

    def start(self) -> None:
        """Resume the session; what it holds flows into this adoption's own pipeline."""
        self.ingest.start()

    def finish(self) -> bool | None:
        """True once everything the session held is stored and the session ended; False if
        the adoption was given up (the owner came back, or the broker went away); None while
        it goes on."""
        consumer = self.ingest.consumer
        if consumer.ended:
            self.ingest.stop()
            return False
        if consumer.connected and self.ingest.settled(SETTLED_S):
            self.ingest.end_session()
            return True
        return None

    def stop(self) -> None:
        """Stop, keeping the session for the next attempt (this node is stopping, or no
        longer leads)."""
        self.ingest.stop()


class ClusterNode:
    """This node in the cluster, as one supervised service."""

    name = "cluster"

    def __init__(
        self,
        engine: Engine,
        node: str,
        lease_ms: int,
        ingest: IngestService,
        leader_services: Callable[[Leadership], Sequence[Service]],
        adopt: Callable[[str], IngestService],
        clock: Clock = now_ms,
    ) -> None:
        """`leader_services` builds, each time this node comes to lead, what only the leader
        runs; `adopt` builds the ingest that resumes a dead node's session by its name."""
        self.node = node
        self.lease_ms = lease_ms
        self.registry = NodeRegistry(engine)
        self.leases = LeaseStore(engine)
        self.leadership = Leadership(
            self.leases, node, lease_ms, self._lead, self._step_down, wall=clock
        )
        self._ingest = ingest
        self._leader_services = leader_services
        self._adopt = adopt
        self._clock = clock
        self._leader: Supervisor | None = None
        self._adoptions: dict[str, Adoption] = {}
        self.adopted = 0  # sessions of dead nodes taken over and ended
        self._adoption_stats: list[IngestStats] = []  # every adoption's, for the node's share
        self.started_at_ms = 0
        self._failure: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cluster")

    @property
    def failure(self) -> BaseException | None:
        """Why this node stopped on its own: a leader's service failed (another node takes
        over once this process ends), or it could not lead for a reason no retry helps."""
        if self._failure is None and self._leader is not None and self._leader.failures():
            self._failure = ServiceError("; ".join(self._leader.failures()))
        return self._failure

    @property
    def leader_services(self) -> list[Service]:
        """The leader's services while this node leads (empty otherwise)."""
        return list(self._leader.services) if self._leader is not None else []

    def start(self) -> None:
        """Report this node and stand for election at once (a lone node leads from its start)."""
        self.started_at_ms = self._clock()
        self._report()
        self.leadership.step()
        self._thread.start()

    def stop(self) -> None:
        """Stop adopting and leading (the lease handed over at once), then hand this node's
        share of ingest to the others, or keep its session when none is left running."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        for adoption in self._adoptions.values():
            adoption.stop()
        self._adoptions.clear()
        self.leadership.release()
        now = self._clock()
        try:
            others = [
                n.name
                for n in self.registry.nodes()
                if n.name != self.node and n.alive(now, self.lease_ms)
            ]
        except StateError as exc:
            log.warning("cannot see the other nodes; keeping this node's session: %s", exc)
            return
        handed_over = bool(others) and self._ingest.hand_over()
        if handed_over:
            log.info("%s handed its share of ingest to %s", self.node, ", ".join(others))
        try:
            self.registry.stopped(self.node, self._clock(), session_open=not handed_over)
        except StateError as exc:
            log.warning("cannot record this node's stop: %s", exc)

    def step(self) -> None:
        """One beat: renew or claim the lease, report, and (leading) adopt dead nodes."""
        self.leadership.step()
        self._report()
        self._follow_adoptions()
        if self.leadership.leading:
            self._adopt_orphans()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.leadership.next_step_s()):
                self.step()
        except BaseException as exc:  # supervised: recorded, logged once, and the process ends
            self._failure = exc
            log.exception("the cluster node stopped")

    def _report(self) -> None:
        try:
            adopted = sum(stats.stored for stats in self._adoption_stats)
            stored = self._ingest.stats.stored + adopted
            self.registry.report(self.node, self.started_at_ms, self._clock(), stored)
        except StateError as exc:
            log.warning("cannot report this node: %s", exc)

    def _lead(self, term: int) -> None:
        services = self._leader_services(self.leadership)
        supervisor = Supervisor(services)
        try:
            supervisor.start()
        except StateError as exc:  # the database went away meanwhile: try again next step
            log.error("could not start the leader's services (term %d): %s", term, exc)
            self.leadership.release()
            return
        except IocError as exc:  # a bad rule or notification file: no retry helps
            self._failure = exc
            self.leadership.release()
            return
        self._leader = supervisor
        log.info("%s runs the rules and the notifier (term %d)", self.node, term)

    def _step_down(self) -> None:
        leader, self._leader = self._leader, None
        if leader is not None:
            leader.stop()
        for adoption in self._adoptions.values():
            adoption.stop()
        self._adoptions.clear()

    def _adopt_orphans(self) -> None:
        now = self._clock()
        try:
            nodes = self.registry.nodes()
        except StateError as exc:
            log.warning("cannot read the nodes: %s", exc)
            return
        for node in nodes:
            if node.name in self._adoptions or node.name == self.node:
                continue
            if not node.orphaned(now, self.lease_ms):
                continue
            log.warning(
                "%s is gone (last seen %.1f s ago): adopting its ingest session",
                node.name,
                (now - node.seen_at_ms) / 1000,
            )
            adoption = Adoption(node.name, node.seen_at_ms, self._adopt(node.name))
            adoption.start()
            self._adoptions[node.name] = adoption
            self._adoption_stats.append(adoption.ingest.stats)

    def _follow_adoptions(self) -> None:
        for name, adoption in list(self._adoptions.items()):
            done = adoption.finish()
            if done is None:
                continue
            del self._adoptions[name]
            if not done:
                log.info("adoption of %s's session given up (it will be tried again)", name)
                continue
            stored = adoption.ingest.stats.stored
            try:
                self.registry.session_ended(name, adoption.seen_at_ms)
            except StateError as exc:
                log.warning("cannot record that %s's session ended: %s", name, exc)
            self.adopted += 1
            log.info("%s's session adopted: %d items stored, session ended", name, stored)


class EmbeddedStateLock:
    """One `ioc run` per embedded (SQLite) state database: a second is refused at its start,
    saying which process holds it and what to do instead. The operating system lets go of
    the lock when the holder ends, however it ends."""

    name = "embedded state lock"
    failure: BaseException | None = None

    def __init__(self, state_url: str) -> None:
        database = make_url(state_url).database
        self._database = database
        self._path = None if database in (None, "", ":memory:") else Path(f"{database}.lock")
        self._held: IO[str] | None = None

    def start(self) -> None:
        """Take the lock, or raise ServiceError if another process has it."""
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._path.open("a+", encoding="ascii")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise ServiceError(
                f"another `ioc run` (pid {holder}) uses the embedded state database "
                f"{self._database}, which serves one node: stop that one, or run several "
                "nodes against PostgreSQL (IOC_STATE_URL=postgresql://...; docs/operations.md)"
            ) from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._held = handle

    def stop(self) -> None:
        """Let go (the file stays: removing it would race a process starting now)."""
        if self._held is not None:
            fcntl.flock(self._held, fcntl.LOCK_UN)
            self._held.close()
            self._held = None
