"""The API's resources from the settings, and a server that runs beside the other stages."""

from __future__ import annotations

import logging
import threading

import uvicorn

from ioc.api import ApiContext, RuleRoles, create_app
from ioc.app._catalog import Catalog
from ioc.app._rules import rule_locations, wall_clock_ms
from ioc.config import Settings
from ioc.rules import load_rules
from ioc.state import AlertRepository, TokenStore, connect_state

log = logging.getLogger("ioc.api")


def api_context(settings: Settings, catalog: Catalog) -> ApiContext:
    """The stores the API reads and writes, from the settings."""
    engine = connect_state(settings.resolved_state_url)
    rules = load_rules(rule_locations(settings), catalog.profiles, catalog.inventory)
    absence = {r.info.id for r in rules if r.spec.condition.kind == "absence"}
    roles = RuleRoles(
        down=frozenset(absence),
        power=frozenset(
            r.info.id for r in rules if r.info.probable_cause == "commercialPowerFailure"
        ),
        link=frozenset(r.info.id for r in rules if r.info.outage and r.info.id not in absence),
    )
    return ApiContext(
        inventory=catalog.inventory,
        profiles=catalog.profiles,
        alerts=AlertRepository(engine),
        tokens=TokenStore(engine),
        clock=wall_clock_ms,
        rule_roles=roles,
    )


class ApiServer:
    """uvicorn in a thread, stopped like Ctrl-C stops it."""

    def __init__(self, settings: Settings, context: ApiContext) -> None:
        config = uvicorn.Config(
            create_app(context, settings.api_cors_origins),
            host=settings.api_host,
            port=settings.api_port,
            log_level="warning",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="api")
        self.url = f"http://{settings.api_host}:{settings.api_port}"

    def start(self) -> None:
        """Serve in the background."""
        self._thread.start()

    @property
    def started(self) -> bool:
        """Whether it listens."""
        return self._server.started

    def stop(self) -> None:
        """Finish the requests in flight and stop."""
        self._server.should_exit = True
        self._thread.join(timeout=30)
