"""Finding devices and areas by name as an operator types it: without Vietnamese marks, in any
case, a word or a few; best first, with where each sits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ioc.api import ApiContext, create_app
from ioc.domain import Inventory, Profile, Role, now_ms
from ioc.state import AlertRepository, TokenStore, connect_state


@pytest.fixture
def search(
    tmp_path: Path, small_inventory: Inventory, profiles: dict[str, Profile]
) -> Iterator[TestClient]:
    engine = connect_state(f"sqlite:///{tmp_path / 'state.db'}")
    tokens = TokenStore(engine)
    _, viewer = tokens.create(Role.VIEWER, "wall", now_ms())
    context = ApiContext(lambda: small_inventory, profiles, AlertRepository(engine), tokens, now_ms)
    with TestClient(create_app(context), headers={"Authorization": f"Bearer {viewer}"}) as client:
        yield client
    engine.dispose()


def _found(client: TestClient, query: str, **params: object) -> tuple[list[str], list[str]]:
    answer = client.get("/api/v1/search", params={"q": query, **params})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return [d["id"] for d in body["devices"]], [a["id"] for a in body["areas"]]


def test_names_are_found_as_typed_without_marks(search: TestClient) -> None:
    assert _found(search, "diem cau") == (["vc2", "vc1"], [])  # đ as d, no tones; a-z on a tie
    assert _found(search, "CỔNG XÃ hai") == (["gw2"], [])  # any case, marks or not
    assert _found(search, "mot") == (["bts1", "gw1", "vc1"], ["C1", "D1"])
    assert _found(search, "bts") == (["bts2", "bts1"], [])  # by name and id
    assert _found(search, "GW1") == (["gw1"], [])  # by id alone
    assert _found(search, "xa mot") == (["gw1", "vc1"], ["C1"])  # every word, anywhere
    assert _found(search, "nowhere") == ([], [])
    assert _found(search, "mot", limit=1) == (["bts1"], ["C1"])  # the shortest names first


def test_each_found_says_where_it_sits(search: TestClient) -> None:
    body = search.get("/api/v1/search", params={"q": "bts mot"}).json()
    assert body["devices"] == [
        {"id": "bts1", "name": "BTS Một", "device_class": "bts", "area_id": "C1",
         "path": ["Tỉnh Thử", "Huyện Một", "Xã Một"]},
    ]  # fmt: skip
    body = search.get("/api/v1/search", params={"q": "xa mot"}).json()
    assert body["areas"] == [
        {"id": "C1", "name": "Xã Một", "kind": "commune", "path": ["Tỉnh Thử", "Huyện Một"]}
    ]


def test_a_query_must_say_something(search: TestClient) -> None:
    assert search.get("/api/v1/search", params={"q": ""}).status_code == 422
    assert search.get("/api/v1/search", params={"q": "x" * 101}).status_code == 422
    assert search.get("/api/v1/search", params={"q": "   "}).json() == {"devices": [], "areas": []}
