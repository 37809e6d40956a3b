"""Services built as a process builds them, over a runtime."""

from __future__ import annotations

from collections.abc import Callable

from ioc.app import Catalog, NotifyService, Runtime, build_senders
from ioc.config import Settings
from ioc.domain import Clock

# The `runtimes` fixture: a runtime over these settings (and catalog), closed after the test.
MakeRuntime = Callable[[Settings, Catalog | None], Runtime]


def notifier(runtime: Runtime, clock: Clock) -> NotifyService:
    """The notifier of IOC_NOTIFY_CONFIG, sending on the channels the settings configure."""
    settings = runtime.settings
    return NotifyService(runtime, lambda config: build_senders(settings, config, None), clock)
