"""A property test of the API against its own OpenAPI document (schemathesis): generated
requests, valid and not, to every operation of a real server; each response must match what the
document promises (status, content type, schema) and none may be a server error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from ioc.api import ApiContext, RulesControl
from ioc.app import ApiOptions, ApiServer, InventoryDesk, Runtime
from ioc.broker import free_port
from ioc.config import load_settings
from ioc.domain import Inventory, Profile, Role, now_ms
from ioc.state import AlertRepository, Outbox, TokenStore, connect_state
from ioc.store import SqliteStore

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
    small_inventory: Inventory,
    profiles: dict[str, Profile],
) -> Iterator[tuple[str, str]]:
    folder = tmp_path_factory.mktemp("openapi")
    state_url = f"sqlite:///{folder / 'state.db'}"
    engine = connect_state(state_url)
    tokens = TokenStore(engine)
    _, admin = tokens.create(Role.ADMIN, "fuzzer", 0)
    telemetry = SqliteStore(folder / "telemetry.db")
    settings_ = load_settings(
        data_dir=folder, state_url=state_url, api_port=free_port(), inventory=SMALL_INVENTORY
    )
    runtime = Runtime(settings_)  # the live inventory's edits, fuzzed too
    runtime.live_inventory.start()
    context = ApiContext(
        lambda: small_inventory, profiles, AlertRepository(engine), tokens, now_ms,
        rules=lambda: RulesControl(ids=frozenset({"bts.battery_low"})), telemetry=telemetry,
        request_wait_s=0.2, outbox=Outbox(engine), inventory_desk=InventoryDesk(runtime),
    )  # fmt: skip
    server = ApiServer(context, ApiOptions.of(settings_))
    server.start()
    yield server.url, admin
    server.stop()
    runtime.close()
    telemetry.close()
    engine.dispose()


# The stream never ends (tested on its own); revoking would revoke the fuzzer's own token.
EXCLUDED = ("/api/v1/stream", "/revoke")


def test_every_operation_keeps_its_openapi_promises(served: tuple[str, str]) -> None:
    url, admin = served
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    checked = []
    for operation in operations:
        if operation.path.endswith(EXCLUDED):
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def keeps_its_promises(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {admin}"},
                # A schema-valid request may still name no such area, device or rule: a 422
                # the document cannot foresee. Every other check applies.
                excluded_checks=[schemathesis.checks.positive_data_acceptance],
            )

        keeps_its_promises()
        checked.append(operation.label)
    assert len(checked) >= 20, checked  # the document lists every resource
