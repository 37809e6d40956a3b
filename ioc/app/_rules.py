"""The rules service: engine and alert book on one thread, fed by ingest, timed by apscheduler.

Items arrive from the MQTT thread into a bounded queue (a full queue blocks the sender, which
holds back the broker: nothing is dropped). One worker thread owns the engine and the book;
scheduled jobs and operator requests are commands that the worker runs between items, so no
state is ever touched by two threads.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]

from ioc.alerts import AlertBook, AlertError, Publisher
from ioc.app._catalog import Catalog
from ioc.config import Settings
from ioc.domain import AlertTransition, DeviceEvent, Reading, RuleSignal, StatusChange
from ioc.rules import HeldState, OpenAlert, RuleEngine, RuleError, bundled_rules_dir, load_rules
from ioc.state import AlertRepository, HeartbeatStore, StageBeat, StateError, connect_state

log = logging.getLogger("ioc.rules")

Item = Reading | DeviceEvent | StatusChange

QUEUE_LIMIT = 100_000
TICK_S = 1.0  # silence sweeps and `for` timers: detection within the window + ~1 s
SAVE_EVERY_S = 5.0
SILENCES_EVERY_S = 10.0
BEAT_EVERY_S = 5.0  # the wall calls data stale when the beat or the data behind it is old
REQUESTS_EVERY_S = 1.0  # acknowledge / resolve / note queued by `ioc alerts ack ...`


def wall_clock_ms() -> int:
    """Milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class RulesStats:
    """Counters for the status line."""

    queue_waits: int = 0
    item_errors: int = 0
    store_retries: int = 0
    reloads: int = 0
    blind_spells: int = 0


def rule_locations(settings: Settings) -> list[Path]:
    """Where the rules are read from: IOC_RULES_DIR, else the bundled default set."""
    return [settings.rules_dir or bundled_rules_dir()]


def pid_file(settings: Settings) -> Path:
    """Where a running rules process writes its pid (`ioc rules reload` signals it)."""
    return settings.data_dir / "ioc-rules.pid"


def request_reload(settings: Settings, catalog: Catalog) -> str:
    """Check the rule files, then ask the running rules process to reload them.

    Raises RuleError for bad files and ProcessLookupError when no rules process runs.
    """
    loaded = load_rules(rule_locations(settings), catalog.profiles, catalog.inventory)
    path = pid_file(settings)
    try:
        pid = int(path.read_text(encoding="ascii").strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as exc:
        raise ProcessLookupError(
            f"no running rules process to reload ({path}: {exc}); the files are valid"
        ) from exc
    return f"asked process {pid} to reload {len(loaded)} rules"


class RulesService:
    """Rules and alerts as one supervised worker; `failure` is set if it had to stop."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        publisher: Publisher | None = None,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self._settings = settings
        self._catalog = catalog
        self._clock = clock
        # Whether devices can reach ioc now (set by whoever wires the broker side); while it
        # says no, nobody is judged silent.
        self.hearing: Callable[[], bool] | None = None
        self._locations = rule_locations(settings)
        rules = load_rules(self._locations, catalog.profiles, catalog.inventory)
        state = connect_state(settings.resolved_state_url)
        self.repository = AlertRepository(state)
        self._heartbeats = HeartbeatStore(state)
        self._last_item_ms: int | None = None
        self.engine = RuleEngine(rules, catalog.inventory, catalog.profiles, clock())
        self.book = AlertBook(self.repository, catalog.inventory, publisher, clock)
        self.stats = RulesStats()
        self.failure: BaseException | None = None
        self._queue: queue.Queue[tuple[Item, int]] = queue.Queue(QUEUE_LIMIT)
        self._commands: deque[Callable[[], None]] = deque()
        self._unsaved: list[RuleSignal] = []
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._run, name="rules")
        self._scheduler = BackgroundScheduler(timezone="UTC")
        self._blind = False
        self._store_failing = False

    # -- life ------------------------------------------------------------------------------

    def start(self) -> None:
        """Read back open alerts and saved state, then start the worker and the schedule."""
        now = self._clock()
        open_alerts = self.book.load(now)
        self.book.declare_outage_rules(rule.id for rule in self.engine.rules if rule.outage)
        self.engine.restore(
            [HeldState(*saved) for saved in self.repository.rule_states()],
            [
                OpenAlert(a.rule_id, a.device_id, a.severity, a.facts, a.opened_at_ms)
                for a in open_alerts
            ],
        )
        if open_alerts:
            log.info("%d open alerts carried over", len(open_alerts))
        self._worker.start()
        self._commands.append(self._beat)
        jobs: list[tuple[Callable[[], None], float]] = [
            (self._tick, TICK_S),
            (self._save_dirty, SAVE_EVERY_S),
            (self._refresh_silences, SILENCES_EVERY_S),
            (self._serve_requests, REQUESTS_EVERY_S),
            (self._beat, BEAT_EVERY_S),
        ]
        if self.hearing is not None:
            jobs.append((self._check_hearing, TICK_S))
        for job, every_s in jobs:
            self._scheduler.add_job(
                self._commands.append,
                "interval",
                seconds=every_s,
                args=[job],
                max_instances=1,
                coalesce=True,
            )
        self._scheduler.start()

    def stop(self) -> None:
        """Judge what is queued, save every state, and stop (once; later calls do nothing)."""
        if self._stopping.is_set():
            return
        self._scheduler.shutdown(wait=False)
        self._stopping.set()
        self._worker.join()
        try:
            saved = self.engine.take_all()
            self.repository.save_rule_states((h.rule_id, h.device_id, h.data) for h in saved)
        except StateError as exc:
            log.error("could not save the rule state at stop: %s", exc)
        self.repository.close()

    @property
    def backlog(self) -> int:
        """Items waiting for the engine."""
        return self._queue.qsize()

    # -- the ingest side -------------------------------------------------------------------

    def observe(self, item: Item) -> None:
        """Take one accepted item (from the MQTT thread); blocks while the queue is full."""
        if self._stopping.is_set():
            return  # stopped before ingest: what arrives now is stored, not judged
        # Judged as of its arrival, not of when the worker gets to it.
        entry = (item, self._clock())
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

    def reload(self) -> None:
        """Read the rule files again; a bad set is refused and the running rules stay."""
        self._commands.append(self._reload)

    # -- the worker ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                while self._commands:
                    self._commands.popleft()()
                if self._stopping.is_set() and self._queue.empty():
                    break
                try:
                    entry = self._queue.get(timeout=0.05)
                except queue.Empty:
                    continue
                self._judge(*entry)
                self._drain(1000)  # a burst at once, but never starving the commands for long
        except BaseException as exc:  # supervised: recorded, logged once, and the service stops
            self.failure = exc
            log.exception("the rules worker stopped")

    def _drain(self, limit: int) -> None:
        for _ in range(limit):
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                return
            self._judge(*entry)

    def _judge(self, item: Item, received_ms: int) -> None:
        self._last_item_ms = wall_clock_ms()  # the heartbeat is on the wall clock, always
        try:
            signals = self.engine.apply(item, received_ms)
        except Exception:  # one bad rule or item must not stop alerting for everyone
            self.stats.item_errors += 1
            if self.stats.item_errors == 1 or self.stats.item_errors % 1000 == 0:
                log.exception("rule evaluation failed (%d so far)", self.stats.item_errors)
            return
        if signals or self._unsaved:
            self._act(signals)

    def _act(self, signals: list[RuleSignal]) -> None:
        """Hand signals to the book; if the state database is away, keep them and retry."""
        pending = self._unsaved + signals
        self._unsaved = []
        while pending:
            try:
                self.book.apply(pending[:1])
            except StateError as exc:
                self._unsaved = pending
                self.stats.store_retries += 1
                if not self._store_failing:
                    self._store_failing = True
                    log.error("cannot store alerts, will retry: %s", exc)
                return
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
            self._act(signals)

    def _save_dirty(self) -> None:
        held = self.engine.take_dirty()
        try:
            self.repository.save_rule_states((h.rule_id, h.device_id, h.data) for h in held)
        except StateError as exc:
            log.warning("could not save rule state (kept for the next try): %s", exc)
            self.engine.mark_dirty(held)

    def _refresh_silences(self) -> None:
        try:
            self.book.refresh_silences(self._clock())
        except StateError as exc:
            log.warning("could not update silences: %s", exc)

    def _beat(self) -> None:
        beat = StageBeat("rules", wall_clock_ms(), self._last_item_ms, not self._blind)
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
            try:
                if request.action == "ack":
                    self.book.acknowledge(request.alert_id, request.actor, request.note)
                elif request.action == "resolve":
                    self._resolve_now(request.alert_id, request.actor, request.note)
                elif request.action == "note":
                    self.book.add_note(request.alert_id, request.actor, request.note)
                else:
                    raise AlertError(f"unknown action {request.action!r}")
                result = "ok"
            except AlertError as exc:
                result = str(exc)
            self.repository.finish_request(request.id, result, self._clock())

    def _check_hearing(self) -> None:
        assert self.hearing is not None
        # A queue pushing back on the MQTT thread leaves reports waiting in the broker.
        pushing_back = self._queue.qsize() >= QUEUE_LIMIT // 2
        hearing = self.hearing() and not pushing_back
        if hearing and self._blind:
            self._blind = False
            self.engine.resume_absence(self._clock())
            log.warning("hearing devices again: silence is judged afresh from now")
        elif not hearing and not self._blind:
            self._blind = True
            self.stats.blind_spells += 1
            self.engine.pause_absence()
            log.warning(
                "blind (broker lost, or ingest or rules falling behind): no device is judged silent"
            )

    def _reload(self) -> None:
        try:
            rules = load_rules(self._locations, self._catalog.profiles, self._catalog.inventory)
        except RuleError as exc:
            log.error("rule reload refused, the running rules stay:\n%s", exc)
            return
        signals = self.engine.replace_rules(rules, self._clock())
        self.book.declare_outage_rules(rule.id for rule in self.engine.rules if rule.outage)
        self._act(signals)
        self.stats.reloads += 1
        log.info("rules reloaded: %d rules in force", len(self.engine.rules))
