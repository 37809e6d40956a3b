"""One lifecycle for every long-running part of a process: start in order, watch, stop in reverse.

Every command that runs until stopped (`ioc run`, `ioc ingest`, `ioc rules`, `ioc api`,
`ioc demo`, `ioc gateway modbus`) hands a `Supervisor` its list of services. Adding a stage is
adding a service to that list: the supervisor starts them in list order, stops those already
started if one refuses to start, ends the run when one fails on its own, and stops them all in
reverse order (so a stage always stops before what it depends on).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from ioc.domain import IocError

log = logging.getLogger("ioc.app")


class ServiceError(IocError):
    """A service could not start, or stopped on its own; the message says which and why."""


class Service(Protocol):
    """A long-running part of a process."""

    @property
    def name(self) -> str:
        """What the logs call it."""
        ...

    @property
    def failure(self) -> BaseException | None:
        """Why it stopped on its own; None while it runs well (or was stopped)."""
        ...

    def start(self) -> None:
        """Start, or raise: a service that cannot start raises before it returns."""
        ...

    def stop(self) -> None:
        """Stop; finish or hand over what is in flight."""
        ...


class Supervisor:
    """Starts services in order, watches them, stops them in reverse order."""

    def __init__(self, services: Sequence[Service], watch_every_s: float = 0.2) -> None:
        self.services = list(services)
        self._started: list[Service] = []
        self._watch_every_s = watch_every_s
        self._wake = threading.Event()

    def run(self, should_stop: Callable[[], bool]) -> int:
        """Start everything, wait until `should_stop()` or a failure, stop; 1 if one failed."""
        self.start()
        try:
            self.wait(should_stop)
        finally:
            self.stop()
        for failure in self.failures():
            log.error("%s", failure)
        return 1 if self.failures() else 0

    def start(self) -> None:
        """Start each service in turn; if one cannot, stop the started ones and raise.

        An ioc error keeps its type (a bad file stays a bad file); anything else becomes a
        ServiceError naming the service.
        """
        for service in self.services:
            try:
                service.start()
            except BaseException as exc:
                self.stop()
                if isinstance(exc, IocError):
                    raise
                if isinstance(exc, Exception):
                    raise ServiceError(f"{service.name} could not start: {exc}") from exc
                raise
            self._started.append(service)

    def wait(self, should_stop: Callable[[], bool]) -> None:
        """Return when `should_stop()` says so or a service has failed."""
        while not should_stop() and not self.failures():
            self._wake.wait(self._watch_every_s)

    def failures(self) -> list[str]:
        """One line per service that stopped on its own: its name and why."""
        return [
            f"{service.name} stopped: {service.failure}"
            for service in self.services
            if service.failure is not None
        ]

    def stop(self) -> None:
        """Stop the started services, the last started first (each once)."""
        while self._started:
            service = self._started.pop()
            try:
                service.stop()
            except Exception:  # one service failing to stop must not leave the rest running
                log.exception("%s did not stop cleanly", service.name)


class Managed:
    """A service made of two calls, for parts with no life of their own to watch."""

    failure: BaseException | None = None

    def __init__(
        self, name: str, start: Callable[[], object] | None, stop: Callable[[], object] | None
    ) -> None:
        self.name = name
        self._start = start
        self._stop = stop

    def start(self) -> None:
        """Run the start call, if any."""
        if self._start is not None:
            self._start()

    def stop(self) -> None:
        """Run the stop call, if any."""
        if self._stop is not None:
            self._stop()


class Worker:
    """A service that is one function on a thread of its own: `run(stopping)` returns once the
    event is set; if it raises, that is the service's failure."""

    def __init__(self, name: str, run: Callable[[threading.Event], object]) -> None:
        self.name = name
        self.failure: BaseException | None = None
        self._run = run
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the function to return, and wait for it."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def _main(self) -> None:
        try:
            self._run(self._stopping)
        except BaseException as exc:  # supervised: the supervisor reports it and stops
            self.failure = exc


def ticker(
    name: str, every_s: float, action: Callable[[], None], first_after_s: float | None = None
) -> Worker:
    """A worker that calls `action` every `every_s` seconds (status lines, health reports)."""

    def run(stopping: threading.Event) -> None:
        delay = every_s if first_after_s is None else first_after_s
        while not stopping.wait(delay):
            action()
            delay = every_s

    return Worker(name, run)
