"""/api/v1/inventory over a real state database: read by a viewer, edited one entry at a time
by an admin with the file's checks and the same diff, each edit a version with who and why;
the wall's picture follows without a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ioc.api import create_app
from ioc.app import Runtime, api_context
from ioc.config import load_settings
from ioc.domain import Role, now_ms
from tests.support.services import MakeRuntime

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
BTS3 = {"id": "bts3", "class": "bts", "area": "C1", "name": "BTS Ba", "lat": 16.81, "lon": 107.12}


@pytest.fixture
def served(
    tmp_path: Path, state_url: str, runtimes: MakeRuntime
) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str], Runtime]]:
    settings = load_settings(data_dir=tmp_path, inventory=SMALL_INVENTORY, state_url=state_url)
    runtime = runtimes(settings, None)
    runtime.live_inventory.start()  # as the process does (`Stages.over`)
    tokens = runtime.tokens()
    _, admin = tokens.create(Role.ADMIN, "chi", now_ms())
    _, viewer = tokens.create(Role.VIEWER, "wall", now_ms())
    context = api_context(runtime)
    with TestClient(create_app(context)) as client:
        yield (client, {"Authorization": f"Bearer {admin}"},
               {"Authorization": f"Bearer {viewer}"}, runtime)  # fmt: skip


def test_an_admin_adds_moves_and_retires_devices_each_a_version_with_who_and_why(
    served: tuple[TestClient, dict[str, str], dict[str, str], Runtime],
) -> None:
    client, admin, viewer, runtime = served
    first = client.get("/api/v1/inventory", headers=viewer).json()
    assert (first["version"], len(first["devices"]), len(first["areas"])) == (1, 6, 4)
    url = "/api/v1/inventory/devices/bts3"
    assert client.put(url, params={"why": "x"}, json=BTS3, headers=viewer).status_code == 403
    dry = client.put(url, params={"why": "new site", "dry_run": "true"}, json=BTS3, headers=admin)
    assert dry.status_code == 200, dry.text
    assert dry.json()["version"] is None and dry.json()["summary"] == "1 device added"
    added = client.put(url, params={"why": "new site"}, json=BTS3, headers=admin)
    assert added.status_code == 200, added.text
    assert added.json() == {
        "version": 2, "summary": "1 device added",
        "changes": [{"kind": "device", "id": "bts3", "verb": "added", "entry": BTS3, "was": None}],
    }  # fmt: skip
    # In force in this process at once: the device's page, and the wall's picture.
    assert client.get(url.replace("inventory/", ""), headers=viewer).status_code == 200
    deadline = time.monotonic() + 10
    while "bts3" not in client.get("/api/v1/map.geojson", headers=viewer).text:
        assert time.monotonic() < deadline, "the wall's map never showed bts3"
        time.sleep(0.1)
    moved = client.put(url, params={"why": "wrong commune"}, json=BTS3 | {"area": "C2"},
                       headers=admin)  # fmt: skip
    assert moved.json()["summary"] == "1 device moved"
    assert moved.json()["changes"][0]["was"]["area"] == "C1"
    retired = client.delete("/api/v1/inventory/devices/vc2", params={"why": "dismantled"},
                            headers=admin)  # fmt: skip
    assert retired.json()["summary"] == "1 device retired"
    history = client.get("/api/v1/inventory/versions", headers=viewer).json()
    chi = next(t.actor for t in runtime.tokens().list() if t.name == "chi")
    assert [(v["number"], v["origin"], v["recorded_by"], v["reason"]) for v in history] == [
        (4, "api", chi, "dismantled"),
        (3, "api", chi, "wrong commune"),
        (2, "api", chi, "new site"),
        (1, "start", str(SMALL_INVENTORY), "the first version"),
    ]  # fmt: skip
    detail = client.get("/api/v1/inventory/versions/4", headers=viewer).json()
    assert [(c["verb"], c["id"]) for c in detail["changes"]] == [("retired", "vc2")]
    assert runtime.inventory_versions().newest_number() == 4
    assert "vc2" not in runtime.catalog.inventory.devices


def test_every_refusal_says_why_and_records_nothing(
    served: tuple[TestClient, dict[str, str], dict[str, str], Runtime],
) -> None:
    client, admin, _viewer, runtime = served

    def put(device_id: str, body: dict[str, object]) -> tuple[int, str]:
        answer = client.put(f"/api/v1/inventory/devices/{device_id}", params={"why": "t"},
                            json=body, headers=admin)  # fmt: skip
        return answer.status_code, answer.json().get("detail", "")

    assert put("bts3", BTS3 | {"lat": 160.2})[0] == 422  # the file's schema
    assert put("bts3", BTS3 | {"area": "C9"}) == (
        422,
        "inventory version 2: device 'bts3' is in area 'C9', which does not exist",
    )
    assert put("bts9", BTS3) == (422, "the device in the body is 'bts3', not 'bts9'")
    assert put("bts3", BTS3 | {"class": "toaster"})[0] == 422
    gone = client.delete("/api/v1/inventory/devices/gw1", params={"why": "t"}, headers=admin)
    assert (gone.status_code, gone.json()["detail"]) == (
        422,
        "inventory version 2: device 'gw2' depends on 'gw1', which does not exist",
    )
    missing = client.delete("/api/v1/inventory/devices/nope", params={"why": "t"}, headers=admin)
    assert (missing.status_code, missing.json()["detail"]) == (
        404,
        "no device 'nope' in the inventory",
    )
    no_why = client.delete("/api/v1/inventory/devices/vc2", headers=admin)
    assert no_why.status_code == 422
    assert client.get("/api/v1/inventory/versions/9", headers=admin).status_code == 404
    assert runtime.inventory_versions().newest_number() == 1
