"""Acknowledging from a notification's signed link, with a real rules worker carrying it out:
a GET only shows, the POST acknowledges in the engineer's name; altered, expired and unknown
links are refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ioc.api import ApiContext, create_app
from ioc.app import Catalog, RulesService, Runtime
from ioc.config import load_settings
from ioc.domain import AlertState, Inventory, Profile, Reading, now_ms
from ioc.notify import AckLinks, load_notify_config
from ioc.state import AlertRepository, TokenStore, connect_state
from tests.support.clock import VIETNAM
from tests.support.mqtt import wait_until

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
NOTIFY = Path(__file__).parents[1] / "notify" / "testdata" / "notify.yaml"
TTL_S = 3600


class Clock:
    def __init__(self) -> None:
        self.offset_ms = 0

    def __call__(self) -> int:
        return now_ms() + self.offset_ms


@pytest.fixture
def served(
    tmp_path: Path, small_inventory: Inventory, profiles: dict[str, Profile]
) -> Iterator[tuple[TestClient, RulesService, AckLinks, Clock]]:
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    settings = load_settings(data_dir=tmp_path, state_url=state_url, inventory=SMALL_INVENTORY)
    runtime = Runtime(settings, Catalog(profiles, small_inventory))
    rules = RulesService(runtime)
    rules.start()
    engine = connect_state(state_url)
    clock = Clock()
    config = load_notify_config(NOTIFY, small_inventory, ["bts.battery_low"], VIETNAM)
    links = AckLinks("link-secret", config, TTL_S, clock)
    context = ApiContext(
        lambda: small_inventory, profiles, AlertRepository(engine), TokenStore(engine), clock,
        request_wait_s=5.0, ack_links=links,
    )  # fmt: skip
    with TestClient(create_app(context)) as client:
        yield client, rules, links, clock
    rules.stop()
    runtime.close()
    engine.dispose()


def test_a_link_acknowledges_in_the_engineer_s_name_only_when_posted(
    served: tuple[TestClient, RulesService, AckLinks, Clock],
) -> None:
    client, rules, links, _clock = served
    rules.observe(Reading("bts", "bts1", now_ms(), {"battery_v": 45.0}))
    wait_until(lambda: bool(rules.repository.open_alerts()), 10, "the alert")
    [alert] = rules.repository.open_alerts()
    url = links.url(alert.id, "an")
    assert url is not None and url.startswith("http://ioc.test:8000/ack/")
    path = url.removeprefix("http://ioc.test:8000")

    page = client.get(path)  # what a chat app's link preview does
    assert page.status_code == 200 and "<form method=post>" in page.text
    assert rules.repository.get(alert.id).state is AlertState.FIRING  # type: ignore[union-attr]

    done = client.post(path)
    assert done.status_code == 200 and "Nguyễn Văn An" in done.text
    acked = rules.repository.get(alert.id)
    assert acked is not None and acked.state is AlertState.ACKNOWLEDGED
    assert acked.acknowledged_by == "Nguyễn Văn An (an, link)"
    again = client.post(path)
    assert again.status_code == 409 and "already acknowledged" in again.text
    assert "Đã được xử lý" in client.get(path).text


def test_altered_expired_and_unknown_links_are_refused(
    served: tuple[TestClient, RulesService, AckLinks, Clock],
) -> None:
    client, _rules, links, clock = served
    path = (links.url(1, "an") or "").removeprefix("http://ioc.test:8000")
    altered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    assert client.post(altered).status_code == 400
    assert "not valid" in client.get(altered).text
    clock.offset_ms = (TTL_S + 60) * 1000
    expired = client.post(path)
    assert expired.status_code == 400 and "expired" in expired.text
    clock.offset_ms = 0
    assert client.get("/ack/nonsense").status_code == 400
