"""Polling the controllers of one port on their schedules, one request at a time.

RS-485 is a shared half-duplex bus: one thread per port owns it. Each controller is polled every
`interval`; a poll reads the map's blocks in turn and gives up on the rest when the first gets
no answer. After `offline_after` failed polls in a row the controller is reported offline, and
from then on it is polled with exponential backoff (up to the port's `max_backoff`), so a dead
unit does not eat the bus time of the live ones with its time-outs. Every failure is counted by
kind; the log gets one line when a controller goes offline and one when it comes back.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from ioc.domain import Clock, now_ms
from ioc.gateway._config import ControllerConfig, PortConfig
from ioc.gateway._line import ExceptionReply, LineError, PortError, SerialLine
from ioc.gateway._regmap import RejectedValue

log = logging.getLogger("ioc.gateway.modbus")

# What a port counts; all present from the start, so other threads can read them safely.
COUNTER_NAMES = (
    "polls_ok",
    "polls_failed",
    "timeouts",
    "crc_errors",
    "bad_frames",
    "wrong_unit",
    "exception_replies",
    "port_errors",
    "rejected_values",
)


class ReadingSink(Protocol):
    """Where the poller hands what it learns (the uplink, in the service)."""

    def reading(self, controller: ControllerConfig, ts_ms: int, metrics: dict[str, object]) -> None:
        """A poll's decoded metrics."""

    def status(self, controller: ControllerConfig, online: bool) -> None:
        """A controller's availability changed."""


@dataclass
class ControllerState:
    """What the poller knows about one controller."""

    config: ControllerConfig
    online: bool | None = None  # None until the first poll decides
    failures: int = 0
    last_error: str = ""
    offline_since: float = 0.0
    rejected: set[str] = field(default_factory=set)
    refused_blocks: set[int] = field(default_factory=set)


class PortPoller:
    """Owns one serial port and polls its controllers until stopped."""

    def __init__(
        self,
        config: PortConfig,
        sink: ReadingSink,
        *,
        wall_clock_ms: Clock = now_ms,
    ) -> None:
        self.config = config
        self.line = SerialLine(config)
        self.sink = sink
        self.counters: Counter[str] = Counter(dict.fromkeys(COUNTER_NAMES, 0))
        self.states = {c.unit: ControllerState(c) for c in config.controllers}
        self._wall_clock_ms = wall_clock_ms
        self._stop = threading.Event()
        self._port_ok: bool | None = None
        self.thread = threading.Thread(target=self.run, name=f"modbus {config.url}", daemon=True)

    @property
    def online_count(self) -> int:
        """Controllers currently answering."""
        return sum(1 for state in self.states.values() if state.online)

    def start(self) -> None:
        """Poll in the port's own thread."""
        self.thread.start()

    @property
    def died(self) -> bool:
        """Whether the thread ended without being asked to (a bug)."""
        started = self.thread.ident is not None
        return started and not self.thread.is_alive() and not self._stop.is_set()

    def stop(self) -> None:
        """Stop after the request in flight; close the port."""
        self._stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=self.config.timeout_s * (self.config.retries + 2) + 5)

    def run(self) -> None:
        """The schedule: always poll the controller that is due first."""
        start = time.monotonic()
        # Spread first polls over a second so controllers on one bus do not all start at once.
        spread = 1.0 / max(1, len(self.states))
        schedule = [(start + i * spread, unit) for i, unit in enumerate(self.states)]
        heapq.heapify(schedule)
        try:
            while not self._stop.is_set():
                due, unit = schedule[0]
                if self._stop.wait(max(0.0, due - time.monotonic())):
                    break
                heapq.heappop(schedule)
                state = self.states[unit]
                self.poll(state)
                heapq.heappush(schedule, (max(due, time.monotonic()) + self._delay(state), unit))
        finally:
            self.line.close()

    def _delay(self, state: ControllerState) -> float:
        interval = state.config.interval_s
        if state.online is not False:
            return interval
        doublings = min(20, state.failures - state.config.offline_after + 1)
        return float(min(interval * 2**doublings, self.config.max_backoff_s))

    def poll(self, state: ControllerState) -> None:
        """Read every block of one controller; publish what decodes, account for the rest."""
        controller = state.config
        ts_ms = self._wall_clock_ms()
        metrics: dict[str, object] = {}
        answered = False
        error: LineError | None = None
        for index, block in enumerate(controller.register_map.blocks):
            try:
                values = self.line.read(controller.unit, block)
            except ExceptionReply as exc:
                answered = True
                self.counters[exc.kind] += 1
                if index not in state.refused_blocks:
                    state.refused_blocks.add(index)
                    log.error("%s: %s (check the register map)", controller.device_id, exc)
                continue
            except LineError as exc:
                self.counters[exc.kind] += 1
                self._port_state(not isinstance(exc, PortError), exc)
                error = exc
                if answered:
                    continue
                break  # the unit is not answering: spare the bus the other blocks' time-outs
            self._port_state(True, None)
            answered = True
            state.refused_blocks.discard(index)
            decoded, rejected = block.decode(values)
            metrics.update(decoded)
            self._note_rejections(state, decoded, rejected)
        if answered:
            self.counters["polls_ok"] += 1
            self._answered(state)
            if metrics:
                self.sink.reading(controller, ts_ms, metrics)
        else:
            self.counters["polls_failed"] += 1
            self._failed(state, error)

    def _answered(self, state: ControllerState) -> None:
        controller = state.config
        if state.online is False:
            log.warning(
                "%s (unit %d on %s) answers again after %.0f s offline",
                controller.device_id,
                controller.unit,
                self.config.url,
                time.monotonic() - state.offline_since,
            )
        if state.online is not True:
            state.online = True
            self.sink.status(controller, True)
        state.failures = 0

    def _failed(self, state: ControllerState, error: LineError | None) -> None:
        controller = state.config
        state.failures += 1
        state.last_error = str(error) if error else "no answer"
        if state.online is not False and state.failures >= controller.offline_after:
            state.online = False
            state.offline_since = time.monotonic()
            log.warning(
                "%s (unit %d on %s) offline after %d failed polls: %s",
                controller.device_id,
                controller.unit,
                self.config.url,
                state.failures,
                state.last_error,
            )
            self.sink.status(controller, False)

    def _note_rejections(
        self,
        state: ControllerState,
        decoded: dict[str, float | bool],
        rejected: list[RejectedValue],
    ) -> None:
        for problem in rejected:
            self.counters["rejected_values"] += 1
            if problem.metric not in state.rejected:
                state.rejected.add(problem.metric)
                log.warning("%s: refused a value: %s", state.config.device_id, problem)
        for metric in state.rejected & decoded.keys():
            state.rejected.discard(metric)
            log.info("%s: %s reads plausibly again", state.config.device_id, metric)

    def _port_state(self, ok: bool, error: LineError | None) -> None:
        if ok == self._port_ok:
            return
        if not ok:
            log.error("serial port %s unavailable: %s", self.config.url, error)
        elif self._port_ok is False:
            log.warning("serial port %s works again", self.config.url)
        self._port_ok = ok
