"""The state database as operator commands use it: alerts, windows, tokens, notifications."""

from __future__ import annotations

from types import TracebackType

from ioc.config import Settings
from ioc.domain import ClusterStatus
from ioc.state import (
    AlertRepository,
    DeadLetterLog,
    Outbox,
    TokenStore,
    cluster_status,
    connect_state,
)


def demo_records(settings: Settings) -> Settings:
    """Settings that read what the last `ioc demo` run recorded: its state database and its
    embedded telemetry, in the demo's folder of the data dir."""
    return settings.model_copy(update={"data_dir": settings.data_dir / "demo", "state_url": None})


class OperatorDesk:
    """The stores an operator command reads and writes, open until the `with` block ends."""

    def __init__(self, settings: Settings) -> None:
        self._engine = connect_state(settings.resolved_state_url)
        self.alerts = AlertRepository(self._engine)
        self.tokens = TokenStore(self._engine)
        self.outbox = Outbox(self._engine)
        self.dead_letters = DeadLetterLog(self._engine, settings.dead_letter_limit)
        self._lease_ms = int(settings.lease_s * 1000)

    def cluster(self, now_ms: int) -> ClusterStatus:
        """The cluster as the state database has it now."""
        return cluster_status(self._engine, now_ms, self._lease_ms)

    def __enter__(self) -> OperatorDesk:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self._engine.dispose()
