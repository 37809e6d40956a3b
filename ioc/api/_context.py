"""What the API reads and writes, handed to it by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ioc.api._overview import RuleRoles
from ioc.domain import Inventory, Profile
from ioc.state import AlertRepository, TokenStore


@dataclass(frozen=True, slots=True)
class ApiContext:
    """The API's resources; built in `ioc/app`, kept in the app's lifespan state."""

    inventory: Inventory
    profiles: dict[str, Profile]
    alerts: AlertRepository
    tokens: TokenStore
    clock: Callable[[], int]
    rule_roles: RuleRoles = field(default_factory=RuleRoles)
    rule_ids: frozenset[str] | None = None  # the rules in force, when known
    # How long an acknowledge / resolve waits for the rules process to carry it out.
    request_wait_s: float = 10.0
    # When ingest and rules run in this process: their figures for /metrics.
    process_metrics: Callable[[], ProcessMetrics] | None = None


@dataclass(frozen=True, slots=True)
class ProcessMetrics:
    """Figures of the stages running beside the API: name -> (value, help)."""

    counters: dict[str, tuple[float, str]] = field(default_factory=dict)
    gauges: dict[str, tuple[float, str]] = field(default_factory=dict)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
