"""The live stream over a real uvicorn server: events in order, resuming with Last-Event-ID,
a reset when the id is unusable, and tokens checked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3

from ioc.api import ApiContext
from ioc.app import ApiOptions, ApiServer, Catalog, RulesService, Runtime
from ioc.broker import free_port
from ioc.config import load_settings
from ioc.domain import Inventory, Profile, Reading, Role, now_ms
from ioc.state import AlertRepository, HeartbeatStore, TokenStore, connect_state
from tests.support.mqtt import wait_until
from tests.support.sse import Stream

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"


@pytest.fixture
def served(
    tmp_path: Path, small_inventory: Inventory, profiles: dict[str, Profile]
) -> Iterator[tuple[str, str, RulesService]]:
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    settings = load_settings(
        data_dir=tmp_path, state_url=state_url, inventory=SMALL_INVENTORY, api_port=free_port()
    )
    runtime = Runtime(settings, Catalog(profiles, small_inventory))
    rules = RulesService(runtime)
    rules.start()
    engine = connect_state(state_url)
    tokens = TokenStore(engine)
    _, viewer = tokens.create(Role.VIEWER, "wall", 0)
    context = ApiContext(
        lambda: small_inventory, profiles, AlertRepository(engine), tokens, now_ms,
        heartbeats=HeartbeatStore(engine).beats, poll_every_s=0.05, beat_every_s=0.5,
    )  # fmt: skip
    server = ApiServer(context, ApiOptions.of(settings))
    server.start()
    yield f"{server.url}/api/v1/stream", viewer, rules
    server.stop()
    rules.stop()
    runtime.close()
    engine.dispose()


def test_events_arrive_in_order_and_a_client_resumes_where_it_left(
    served: tuple[str, str, RulesService],
) -> None:
    url, viewer, rules = served
    first = Stream(f"{url}?token={viewer}")
    opening = first.until("figures")
    assert [e.kind for e in opening] == ["heartbeat", "figures"]
    assert opening[1].data["figures"]["bts_power"]["on_mains"] == 2  # type: ignore[index]

    rules.observe(Reading("bts", "bts1", now_ms(), {"battery_v": 45.0}))
    seen = first.until("transition")
    kinds = [e.kind for e in seen if e.kind != "heartbeat"]
    assert kinds == ["device", "figures", "transition"]
    device = next(e for e in seen if e.kind == "device")
    assert device.data == {"id": "bts1", "class": "bts", "state": "up", "worst_severity": "major"}
    fired = seen[-1]
    assert fired.data["event"] == "fired" and fired.id is not None
    assert fired.data["event_id"] == int(fired.id)
    first.close()

    # While nobody listens, the battery recovers.
    rules.observe(Reading("bts", "bts1", now_ms(), {"battery_v": 52.0}))
    last_seen = int(fired.id)
    wait_until(lambda: rules.repository.last_event_id() > last_seen, 10, "the resolve")

    resumed = Stream(url, {"Authorization": f"Bearer {viewer}", "Last-Event-ID": fired.id})
    caught_up = [e for e in resumed.until("transition") if e.kind != "heartbeat"]
    # No fresh snapshot: only what was missed, the standing first.
    assert [e.kind for e in caught_up] == ["device", "figures", "transition"]
    assert caught_up[0].data["worst_severity"] is None
    assert caught_up[-1].data["event"] == "resolved"
    assert int(caught_up[-1].id or 0) > int(fired.id)
    resumed.close()


def test_an_unusable_id_gets_a_reset_and_tokens_are_checked(
    served: tuple[str, str, RulesService],
) -> None:
    url, viewer, rules = served
    rules.observe(Reading("bts", "bts1", now_ms(), {"battery_v": 52.0}))
    stream = Stream(f"{url}?token={viewer}&last_event_id=999999")
    assert [e.kind for e in stream.until("reset")] == ["heartbeat", "reset"]
    stream.close()
    stream = Stream(url, {"Authorization": f"Bearer {viewer}", "Last-Event-ID": "not-a-number"})
    assert [e.kind for e in stream.until("figures")] == ["heartbeat", "reset", "figures"]
    # Heartbeats keep coming while nothing happens, and say the data is fresh.
    wait_until(lambda: stream.until("heartbeat")[-1].data["stale"] is False, 15, "fresh data")
    stream.close()
    assert urllib3.request("GET", url).status == 401
    assert urllib3.request("GET", f"{url}?token=ioc_nope").status == 401
