"""Which node leads: the lease claimed and renewed in the state database, and acted on only
inside this node's own deadline.

`step()` runs every third of a lease (and a standby's just after the leader's lease runs out).
A claim that succeeds sets the deadline to the moment the claim began plus the lease less a
safety margin, on this node's monotonic clock: the database records the lease as running from
a later moment, so this node stops acting before any other node may take over, even if it
cannot reach the database to hear about it. Losing the lease (another holds it, or the deadline
passed without a renewal) stops everything acting at once and calls `on_lose`, whose services
may still write under the old term while they stop; gaining it calls `on_lead` with the new
term, which the leader's writes carry (`guard`).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable

from sqlalchemy import Connection

from ioc.domain import Clock, now_ms
from ioc.state import LEADER_LEASE, LeaseStore, StateError, fence

log = logging.getLogger("ioc.cluster")

SAFETY = 0.2  # of the lease: clock drift between nodes and the claim's own round trip
EXPIRY_MARGIN_S = 0.05  # a standby claims this long after the leader's lease ran out


class Leadership:
    """This node's view of the leader's lease."""

    def __init__(
        self,
        leases: LeaseStore,
        node: str,
        lease_ms: int,
        on_lead: Callable[[int], None],
        on_lose: Callable[[], None],
        wall: Clock = now_ms,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._leases = leases
        self.node = node
        # The lease names this process, not only its node: a node restarted after a crash
        # waits for its old lease like anyone else (and its old term stays fenced), and two
        # processes given the same node name by mistake never both lead.
        self.holder = f"{node}:{secrets.token_hex(4)}"
        self.lease_ms = lease_ms
        self._on_lead = on_lead
        self._on_lose = on_lose
        self._wall = wall
        self._monotonic = monotonic
        self.term: int | None = None  # while leading
        self._deadline = 0.0
        self._others_expires_at_ms: int | None = None  # another's lease, as last seen
        self._renewed_at = 0.0

    @property
    def leading(self) -> bool:
        """Whether this node leads now (its deadline has not passed)."""
        self._stop_at_deadline()
        return self.term is not None

    def acting(self) -> bool:
        """Whether this node may act as the leader at this moment (for other threads: it
        changes nothing; the next `step` calls `on_lose` once the deadline has passed)."""
        return self.term is not None and self._monotonic() < self._deadline

    def step(self) -> None:
        """Claim or renew the lease, and act on the answer. A leader whose deadline passed
        before this step (frozen, or starved of CPU) stopped acting meanwhile, and its services
        refused what came in that while: it loses first, and leads afresh if it renews, so its
        services start again and the broker delivers what they refused."""
        self._stop_at_deadline()
        began = self._monotonic()
        try:
            lease = self._leases.claim(LEADER_LEASE, self.holder, self._wall(), self.lease_ms)
        except StateError as exc:
            log.warning("cannot renew the leader's lease: %s", exc)
            # The next try a third of a lease on, not at the expiry of a lease read before the
            # database went away (a standby would try, and log, twenty times a second).
            self._others_expires_at_ms = None
            self._stop_at_deadline()  # lead on until the deadline, not a moment longer
            return
        mine = lease.holder == self.holder
        self._others_expires_at_ms = None if mine else lease.expires_at_ms
        if not mine:
            if self.term is not None:
                self._lose(f"{lease.holder} holds the lease (term {lease.term})")
            return
        if self.term is not None and lease.term != self.term:
            self._lose(f"the lease changed hands meanwhile (term {lease.term})")
        self._deadline = began + self.lease_ms / 1000 * (1 - SAFETY)
        self._renewed_at = began
        if self.term is None:
            self.term = lease.term
            log.info("%s leads (term %d)", self.node, lease.term)
            self._on_lead(lease.term)

    def lease_age_s(self) -> float | None:
        """Seconds since this node last renewed the lease, while it leads (it stops acting at
        80 % of the lease)."""
        return self._monotonic() - self._renewed_at if self.term is not None else None

    def next_step_s(self) -> float:
        """When to step next: every third of a lease, or for a standby, just after the
        leader's lease runs out if that comes sooner (a takeover then takes at most the lease
        from the leader's last renewal, not a step more)."""
        every = self.lease_ms / 3000
        if self._others_expires_at_ms is None:
            return every
        until = (self._others_expires_at_ms - self._wall()) / 1000 + EXPIRY_MARGIN_S
        return min(every, max(until, EXPIRY_MARGIN_S))

    def release(self) -> None:
        """A clean stop: stop acting, then give the lease up so another takes over at once."""
        term = self.term
        if term is None:
            return
        self._lose("it is stopping")
        try:
            self._leases.release(LEADER_LEASE, self.holder, term)
        except StateError as exc:
            log.warning("cannot release the leader's lease (it will expire): %s", exc)

    def guard(self, connection: Connection) -> None:
        """For the leader's writes: refuse unless this node still leads with its term."""
        fence(connection, LEADER_LEASE, self.holder, self.term or 0, self._wall())

    def _stop_at_deadline(self) -> None:
        if self.term is not None and self._monotonic() >= self._deadline:
            self._lose("its lease ran out before it could renew it")

    def _lose(self, why: str) -> None:
        log.warning("%s no longer leads (term %s): %s", self.node, self.term, why)
        self._deadline = 0.0  # from now nothing acts (`acting`)...
        try:
            self._on_lose()  # ...while the services stop, their last writes under the term
        finally:
            self.term = None
