"""The supervisor: start order, a refused start cleans up, a failing service ends the run with
its reason, stop order; with services that record what happened to them."""

from __future__ import annotations

import logging
import threading

import pytest

from ioc.app import Managed, ServiceError, Supervisor, ticker
from ioc.config import ConfigError


class Recorded:
    """A service that writes its start and stop into a shared journal."""

    def __init__(self, name: str, journal: list[str], refuse: BaseException | None = None) -> None:
        self.name = name
        self.failure: BaseException | None = None
        self._journal = journal
        self._refuse = refuse

    def start(self) -> None:
        if self._refuse is not None:
            raise self._refuse
        self._journal.append(f"start {self.name}")

    def stop(self) -> None:
        self._journal.append(f"stop {self.name}")


def test_services_start_in_order_and_stop_in_reverse() -> None:
    journal: list[str] = []
    services = [Recorded(name, journal) for name in ("store", "rules", "ingest", "api")]
    asked = iter([False, False, True])
    assert Supervisor(services, watch_every_s=0).run(lambda: next(asked)) == 0
    assert journal == [
        "start store",
        "start rules",
        "start ingest",
        "start api",
        "stop api",
        "stop ingest",
        "stop rules",
        "stop store",
    ]


def test_a_service_that_cannot_start_stops_those_already_started() -> None:
    journal: list[str] = []
    services = [
        Recorded("broker", journal),
        Recorded("ingest", journal),
        Recorded("api", journal, refuse=OSError("address already in use")),
        Recorded("status", journal),
    ]
    with pytest.raises(ServiceError, match="api could not start: address already in use"):
        Supervisor(services).run(lambda: False)
    assert journal == ["start broker", "start ingest", "stop ingest", "stop broker"]


def test_an_ioc_error_at_start_keeps_its_type() -> None:
    journal: list[str] = []
    refused = ConfigError("IOC_API_PORT: not a port")
    supervisor = Supervisor([Recorded("a", journal), Recorded("b", journal, refuse=refused)])
    with pytest.raises(ConfigError) as caught:
        supervisor.start()
    assert caught.value is refused  # a bad file stays a bad file: the CLI exits 2 for it
    assert journal == ["start a", "stop a"]


def test_a_service_failing_on_its_own_ends_the_run_with_its_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal: list[str] = []
    ingest = Recorded("ingest", journal)
    services = [Recorded("store", journal), ingest, Recorded("api", journal)]
    supervisor = Supervisor(services, watch_every_s=0)
    checks = 0

    def should_stop() -> bool:
        nonlocal checks
        checks += 1
        if checks == 3:  # it fails while running; nobody asked to stop
            ingest.failure = RuntimeError("the store needs an operator: bucket 'ioc' not found")
        return False

    with caplog.at_level(logging.ERROR, logger="ioc.app"):
        assert supervisor.run(should_stop) == 1
    assert journal[-3:] == ["stop api", "stop ingest", "stop store"]
    assert supervisor.failures() == [
        "ingest stopped: the store needs an operator: bucket 'ioc' not found"
    ]
    assert caplog.messages == supervisor.failures()


def test_a_service_failing_to_stop_does_not_keep_the_others_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal: list[str] = []

    def refuse() -> None:
        raise RuntimeError("stuck")

    services = [
        Recorded("store", journal),
        Managed("publisher", None, refuse),
        Recorded("api", journal),
    ]
    with caplog.at_level(logging.ERROR, logger="ioc.app"):
        assert Supervisor(services).run(lambda: True) == 0
    assert journal == ["start store", "start api", "stop api", "stop store"]
    assert caplog.messages == ["publisher did not stop cleanly"]


def test_a_ticker_runs_its_action_and_reports_its_failure() -> None:
    ran = threading.Event()
    calls = 0

    def action() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            ran.set()
            raise ValueError("status line broke")

    supervisor = Supervisor([ticker("status", 0.001, action, 0)], watch_every_s=0.001)
    assert supervisor.run(lambda: False) == 1  # ends on the failure, not on a stop request
    assert ran.is_set() and calls == 3
    assert supervisor.failures() == ["status stopped: status line broke"]
