"""The rules service: engine and alert book on one worker thread, fed by ingest, timed by the
worker itself on the injected clock.

Items arrive from the MQTT thread into a bounded queue (a full queue blocks the sender, which
holds back the broker: nothing is dropped). One worker thread owns the engine and the book; its
timers (ticks, state saving, silence sweeps, operator requests, heartbeats) run between items
whenever the service's clock says they are due, so no state is touched by two threads, and a
test moves time instead of waiting for it.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ioc.alerts import AlertBook, AlertError, AlertNotOpen, Publisher
from ioc.app._watching import Watching
from ioc.domain import (
    ActionOutcome,
    AlertAction,
    AlertTransition,
    Clock,
    DeviceEvent,
    Inventory,
    Reading,
    RuleSignal,
    StageBeat,
    StatusChange,
    TelemetryItem,
    now_ms,
)
from ioc.reports import ALERT_LEAD_MS, readiness_signals
from ioc.rules import HeldState, LoadedRule, OpenAlert, RuleEngine
from ioc.state import (
    AlertRequest,
    Fenced,
    Guard,
    StateError,
    StateRefused,
    StateUnavailable,
)

if TYPE_CHECKING:
    from ioc.app._runtime import Runtime

log = logging.getLogger("ioc.rules")

QUEUE_LIMIT = 100_000
TICK_MS = 1_000  # silence sweeps and `for` timers: detection within the window + ~1 s
SAVE_EVERY_MS = 5_000
SILENCES_EVERY_MS = 10_000
BEAT_EVERY_MS = 5_000  # the wall calls data stale when the beat or the data behind it is old
REQUESTS_EVERY_MS = 1_000  # acknowledge / resolve / note queued by `ioc alerts ack ...`
MEETINGS_EVERY_MS = 10_000  # points not ready for a meeting about to start


@dataclass(slots=True)
class RulesStats:
    """Counters for the status line and /metrics."""

    queue_waits: int = 0
    item_errors: int = 0
    store_retries: int = 0
    reloads: int = 0
    blind_spells: int = 0
    refused_by_state: int = 0  # work the state database refused (integrity): dropped, reported
    last_refusal: str | None = None


@dataclass(slots=True)
class _Judged:
    """Messages judged: their tokens, and each device's newest reading and event among them."""

    tokens: list[int] = field(default_factory=list)
    readings: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)

    def add(self, item: TelemetryItem, token: int) -> None:
        self.tokens.append(token)
        kind = type(item)
        if kind is Reading or kind is DeviceEvent:
            through = self.readings if kind is Reading else self.events
            through[item.device_id] = max(through.get(item.device_id, 0), item.ts_ms)

    def take(self, other: _Judged) -> None:
        """Move `other`'s into this."""
        self.tokens += other.tokens
        for mine, theirs in ((self.readings, other.readings), (self.events, other.events)):
            for device_id, ts_ms in theirs.items():
                mine[device_id] = max(mine.get(device_id, 0), ts_ms)
        other.tokens, other.readings, other.events = [], {}, {}


@dataclass(slots=True)
class _Timer:
    """A job the worker runs every `every_ms` of its clock."""

    every_ms: int
    job: Callable[[], None]
    due_ms: int = 0


class RulesService:
    """Rules and alerts as one supervised worker; `failure` is set if it had to stop."""

    name = "rules"

    def __init__(
        self,
        runtime: Runtime,
        publisher: Publisher | None = None,
        clock: Clock = now_ms,
        leader_guard: Guard | None = None,
    ) -> None:
        """`leader_guard` fences the engine's writes on a cluster (`ioc.state.fence`); the
        rules follow the runtime's rule set from start to stop."""
        self._rule_set = runtime.rules
        self._catalogs = runtime.catalogs
        self._cancel: Callable[[], None] | None = None
        self._clock = clock
        # Whether devices can reach ioc now (set by whoever wires the broker side); while it
        # says no, nobody is judged silent.
        self.hearing: Callable[[], bool] | None = None
        # Acknowledges messages to the broker (set by whoever wires the broker side): called
        # with the tokens of items judged, once what their judgement wrote is stored and how
        # far each device was judged is saved (a new leader skips what was judged already).
        self.acknowledge: Callable[[list[int]], None] | None = None
        self._held = _Judged()  # judged, their alerts not all stored yet
        self._releasable = _Judged()  # judged and stored: to save and acknowledge
        catalog = runtime.catalog
        self.repository = runtime.alerts(leader_guard)
        self._heartbeats = runtime.heartbeats()
        self._watching = Watching(runtime.watch_log())
        self._meetings = runtime.meetings()
        self._zone = runtime.settings.zone
        self._last_item_ms: int | None = None
        rules = self._rule_set.get()
        self.engine = RuleEngine(rules, catalog.inventory, catalog.profiles, clock())
        self.book = AlertBook(self.repository, catalog.inventory, publisher, clock)
        self.stats = RulesStats()
        self.failure: BaseException | None = None
        # Items with the time they arrived, their message's token (None: nothing to
        # acknowledge) and whether it was redelivered; None only wakes the worker for a command.
        self._queue: queue.Queue[tuple[TelemetryItem, int, int | None, bool] | None] = queue.Queue(
            QUEUE_LIMIT
        )
        self._commands: deque[Callable[[], None]] = deque()
        self._unsaved: list[RuleSignal] = []
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._run, name="rules")
        self._timers: list[_Timer] = []
        self._blind = False
        self._store_failing = False

    # -- life ------------------------------------------------------------------------------

    def start(self) -> None:
        """Read back open alerts and saved state, then start the worker and the schedule."""
        now = self._clock()
        open_alerts = self.book.load(now)
        self._watching.start()
        self.book.declare_outage_rules(rule.id for rule in self.engine.rules if rule.outage)
        self.engine.judged_through(*self.repository.judged_through())
        self.engine.restore(
            [HeldState(*saved) for saved in self.repository.rule_states()],
            [
                OpenAlert(a.rule_id, a.device_id, a.severity, a.facts, a.opened_at_ms)
                for a in open_alerts
            ],
        )
        if open_alerts:
            log.info("%d open alerts carried over", len(open_alerts))
        now = self._clock()
        jobs = [
            (self._beat, BEAT_EVERY_MS),
            (self._tick, TICK_MS),
            (self._save_dirty, SAVE_EVERY_MS),
            (self._refresh_silences, SILENCES_EVERY_MS),
            (self._serve_requests, REQUESTS_EVERY_MS),
            (self._check_meetings, MEETINGS_EVERY_MS),
        ]
        if self.hearing is not None:
            jobs.append((self._check_hearing, TICK_MS))
        # The heartbeat at once (the wall waits for it); the rest after their first interval.
        self._timers = [_Timer(every, job, now + every) for job, every in jobs]
        self._timers[0].due_ms = now
        self._cancel = self._rule_set.subscribe(self._on_reload)
        self._worker.start()

    def stop(self) -> None:
        """Judge what is queued, save every state, and stop (once; later calls do nothing)."""
        if self._stopping.is_set():
            return
        if self._cancel is not None:
            self._cancel()
        self._stopping.set()
        self._worker.join()
        self._watching.end(self._clock())
        try:
            saved = self.engine.take_all()
            self.repository.save_rule_states((h.rule_id, h.device_id, h.data) for h in saved)
        except Fenced as exc:  # the new leader goes on from the state it finds
            log.warning("rule state not saved at stop: %s", exc)
        except StateError as exc:
            log.error("could not save the rule state at stop: %s", exc)

    def sync(self, timeout_s: float = 10.0) -> None:
        """Wait until the worker has judged what is queued and run the timers due by the clock
        now (tests move the clock, then sync)."""
        done = threading.Event()

        def mark() -> None:
            self._drain(self._queue.qsize())
            self._run_due_timers()
            self._release()
            done.set()

        self._command(mark)
        if not done.wait(timeout_s):
            raise TimeoutError(f"the rules worker did not answer within {timeout_s:g} s")

    @property
    def backlog(self) -> int:
        """Items waiting for the engine."""
        return self._queue.qsize()

    # -- the ingest side -------------------------------------------------------------------

    def observe(
        self, item: TelemetryItem, token: int | None = None, redelivered: bool = False
    ) -> None:
        """Take one accepted item (from the MQTT thread); blocks while the queue is full. A
        `token` is handed to `acknowledge` once the item is judged and what the judgement wrote
        is stored (a leader dying before that leaves the message to the next); `redelivered`:
        the broker sent its message before, so it may have been judged already."""
        if self._stopping.is_set():
            return  # stopped before ingest: what arrives now is stored, not judged
        # Judged as of its arrival, not of when the worker gets to it.
        entry = (item, self._clock(), token, redelivered)
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            self.stats.queue_waits += 1
            self._queue.put(entry)

    # -- requests from people and processes ------------------------------------------------

    def _resolve_now(self, alert_id: int, actor: str, note: str) -> list[AlertTransition]:
        transitions = self.book.resolve(alert_id, actor, note)
        resolved = transitions[0].alert
        self.engine.forget(resolved.rule_id, resolved.device_id)
        return transitions

    def _on_reload(self, rules: list[LoadedRule]) -> None:
        """A new rule set is in force (a reload, or the rules selecting in a changed
        inventory, in force already): the worker takes both between items."""
        inventory, now = self._catalogs.get().inventory, self._clock()
        self._command(lambda: self._replace_rules(rules, inventory, now))

    def _command(self, command: Callable[[], None]) -> None:
        """Run `command` on the worker as soon as it is between items."""
        self._commands.append(command)
        with contextlib.suppress(queue.Full):  # a full queue: the worker is busy, and looks
            self._queue.put_nowait(None)  # at its commands every 1000 items anyway

    # -- the worker ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                while self._commands:
                    self._commands.popleft()()
                self._run_due_timers()
                self._release()
                if self._stopping.is_set() and self._queue.empty():
                    break
                try:
                    entry = self._queue.get(timeout=0.05)
                except queue.Empty:
                    continue
                if entry is not None:
                    self._judge(*entry)
                self._drain(1000)  # a burst at once, but never starving the commands for long
                self._release()
        except BaseException as exc:  # supervised: recorded, logged once, and the service stops
            self.failure = exc
            log.exception("the rules worker stopped")

    def _run_due_timers(self) -> None:
        now = self._clock()
        for timer in self._timers:
            if now >= timer.due_ms:
                # From now, not from when it was due: a clock that jumps runs a job once.
                timer.due_ms = now + timer.every_ms
                timer.job()

    def _drain(self, limit: int) -> None:
        for _ in range(limit):
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                return
            if entry is not None:
                self._judge(*entry)

    def _release(self) -> None:
        """Acknowledge the judged messages whose alerts are stored (while the state database
        refuses, they wait with the alerts), once how far each device was judged is saved."""
        if not self._unsaved:
            self._releasable.take(self._held)
        if not self._releasable.tokens or self.acknowledge is None:
            return
        try:
            self.repository.save_judged_through(self._releasable.readings, self._releasable.events)
        except StateUnavailable:
            return  # tried again at the next pass; the messages wait unacknowledged
        except StateRefused as exc:
            self._refused("save how far the rules judged", exc)
        self.acknowledge(self._releasable.tokens)
        self._releasable = _Judged()

    def _judge(
        self,
        item: TelemetryItem,
        received_ms: int,
        token: int | None = None,
        redelivered: bool = False,
    ) -> None:
        if token is not None:
            self._held.add(item, token)
            if not self._unsaved:
                self._releasable.take(self._held)
        self._last_item_ms = now_ms()  # the heartbeat is on the wall clock, always
        # A device is heard by what it says; an offline status may be the broker's last will.
        if item.registered and not (type(item) is StatusChange and not item.online):
            self._watching.heard(item.device_id, received_ms)
        try:
            signals = self.engine.apply(item, received_ms, redelivered)
        except Exception:  # one bad rule or item must not stop alerting for everyone
            self.stats.item_errors += 1
            if self.stats.item_errors == 1 or self.stats.item_errors % 1000 == 0:
                log.exception("rule evaluation failed (%d so far)", self.stats.item_errors)
            return
        if signals or self._unsaved:
            self._apply(signals)

    def _apply(self, signals: list[RuleSignal]) -> None:
        """Hand signals to the book; if the state database is away, keep them and retry; if it
        refuses one, report it for an operator and go on with the rest."""
        pending = self._unsaved + signals
        self._unsaved = []
        while pending:
            try:
                self.book.apply(pending[:1])
            except StateUnavailable as exc:
                self._unsaved = pending
                self.stats.store_retries += 1
                if not self._store_failing:
                    self._store_failing = True
                    log.error("cannot store alerts, will retry: %s", exc)
                return
            except StateRefused as exc:
                signal = pending[0]
                self._refused(f"store {signal.kind} of {signal.rule.id} on {signal.device_id}", exc)
            pending = pending[1:]
        if self._store_failing:
            self._store_failing = False
            log.info("storing alerts again")

    def _tick(self) -> None:
        # Everything that arrived before now is judged first: a device whose report is still
        # queued must not be called silent.
        self._drain(self._queue.qsize())
        signals = self.engine.tick(self._clock())
        if signals or self._unsaved:
            self._apply(signals)

    def _save_dirty(self) -> None:
        held = self.engine.take_dirty()
        try:
            self.repository.save_rule_states((h.rule_id, h.device_id, h.data) for h in held)
        except StateUnavailable as exc:
            log.warning("could not save rule state (kept for the next try): %s", exc)
            self.engine.mark_dirty(held)
        except StateRefused as exc:
            self._refused(f"save the state of {len(held)} rule timers", exc)

    def _refresh_silences(self) -> None:
        try:
            self.book.refresh_silences(self._clock())
        except StateError as exc:
            log.warning("could not update silences: %s", exc)

    def _beat(self) -> None:
        self._watching.beat(self._clock(), hearing=not self._blind)
        beat = StageBeat("rules", now_ms(), self._last_item_ms, not self._blind)
        try:
            self._heartbeats.beat(beat)
        except StateError as exc:
            log.warning("could not record the heartbeat: %s", exc)

    def _serve_requests(self) -> None:
        try:
            requests = self.repository.pending_requests()
        except StateError as exc:
            log.warning("could not read operator requests: %s", exc)
            return
        for request in requests:
            outcome, detail = self._carry_out(request)
            try:
                self.repository.finish_request(request.id, outcome, detail, self._clock())
            except StateRefused as exc:
                self._refused(f"record the outcome of request #{request.id}", exc)

    def _check_meetings(self) -> None:
        now = self._clock()
        try:
            # [start, end) overlaps: a meeting starting exactly ALERT_LEAD_MS from now counts.
            meetings = self._meetings.between(now, now + ALERT_LEAD_MS + 1)
        except StateError as exc:
            log.warning("could not read the meetings: %s", exc)
            return
        outage_rules = {rule.id for rule in self.engine.rules if rule.outage}
        signals = readiness_signals(meetings, self.book.open_alerts, outage_rules, now, self._zone)
        if signals or self._unsaved:
            self._apply(signals)

    def _carry_out(self, request: AlertRequest) -> tuple[ActionOutcome, str]:
        """Do what an operator asked; what came of it, and why when it was not done."""
        try:
            if request.action is AlertAction.ACKNOWLEDGE:
                self.book.acknowledge(request.alert_id, request.actor, request.note)
            elif request.action is AlertAction.RESOLVE:
                self._resolve_now(request.alert_id, request.actor, request.note)
            else:
                self.book.add_note(request.alert_id, request.actor, request.note)
        except AlertNotOpen as exc:
            if self.repository.get(request.alert_id) is None:
                return ActionOutcome.UNKNOWN_ALERT, f"no alert {request.alert_id}"
            return ActionOutcome.NOT_OPEN, str(exc)
        except AlertError as exc:  # refused as the alert stands (already acknowledged...)
            return ActionOutcome.REFUSED, str(exc)
        return ActionOutcome.DONE, ""

    def _refused(self, what: str, exc: StateRefused) -> None:
        """Work the state database refused: never retried, logged with what it was, counted
        (/metrics) and kept for /readyz until an operator restarts the process."""
        self.stats.refused_by_state += 1
        self.stats.last_refusal = f"could not {what}: {exc}"
        log.error("needs an operator: could not %s (not retried): %s", what, exc)

    def _check_hearing(self) -> None:
        assert self.hearing is not None
        # A queue pushing back on the MQTT thread leaves reports waiting in the broker.
        pushing_back = self._queue.qsize() >= QUEUE_LIMIT // 2
        hearing = self.hearing() and not pushing_back
        if hearing and self._blind:
            self._blind = False
            self.engine.resume_absence(self._clock())
            self._watching.beat(self._clock(), hearing=True)
            log.warning("hearing devices again: silence is judged afresh from now")
        elif not hearing and not self._blind:
            self._blind = True
            self.stats.blind_spells += 1
            self.engine.pause_absence()
            self._watching.end(self._clock())
            log.warning(
                "blind (broker lost, or ingest or rules falling behind): no device is judged silent"
            )

    def _replace_rules(self, rules: list[LoadedRule], inventory: Inventory, now: int) -> None:
        self.book.use_inventory(inventory)
        signals = self.engine.replace_rules(rules, now, inventory)
        self.book.declare_outage_rules(rule.id for rule in self.engine.rules if rule.outage)
        self._apply(signals)
        self.stats.reloads += 1
        log.info(
            "rules reloaded: %d rules in force over %d devices",
            len(self.engine.rules), len(inventory.devices),
        )  # fmt: skip
