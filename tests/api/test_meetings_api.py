"""/api/v1/meetings: an operator plans a meeting, a viewer reads its readiness board and its
report; bad points are refused with 422, an unknown meeting is 404."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from ioc.api import ApiContext, create_app
from ioc.app import MeetingDesk, load_catalog
from ioc.config import load_settings
from ioc.domain import Alert, AlertState, Role, Severity, TransitionKind, now_ms
from ioc.state import AlertRepository, TokenStore, connect_state

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"


def test_plan_a_meeting_and_read_its_board(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, inventory=SMALL_INVENTORY)
    catalog = load_catalog(settings)
    engine = connect_state(settings.resolved_state_url)
    repository = AlertRepository(engine)
    tokens = TokenStore(engine)
    _, viewer = tokens.create(Role.VIEWER, "wall", now_ms())
    _, operator = tokens.create(Role.OPERATOR, "lan", now_ms())
    at = now_ms()
    repository.create(
        Alert(0, "device.down", "vc1", "vc", "C1", Severity.CRITICAL, "x", "y",
              AlertState.FIRING, "", "", "", "", {}, at, at),
        TransitionKind.FIRED, "rules", "",
    )  # fmt: skip
    desk = MeetingDesk(settings, catalog)
    context = ApiContext(
        catalog.inventory, catalog.profiles, repository, tokens, now_ms, meetings=desk
    )
    as_viewer = {"Authorization": f"Bearer {viewer}"}
    as_operator = {"Authorization": f"Bearer {operator}"}
    plan = {"title": "Giao ban", "starts_at": "2026-12-01T08:00:00+07:00", "duration_min": 90}
    with TestClient(create_app(context)) as client:
        assert client.post("/api/v1/meetings", json=plan, headers=as_viewer).status_code == 403
        made = client.post("/api/v1/meetings", json=plan | {"area": "D1"}, headers=as_operator)
        bad = client.post(
            "/api/v1/meetings", json=plan | {"points": ["vc1", "vc9"]}, headers=as_operator
        )
        board = client.get(f"/api/v1/meetings/{made.json()['id']}/readiness", headers=as_viewer)
        report = client.get(f"/api/v1/meetings/{made.json()['id']}/report", headers=as_viewer)
        missing = client.get("/api/v1/meetings/99/readiness", headers=as_viewer)
    desk.close()
    repository.close()
    assert made.status_code == 201
    assert (made.json()["points"], made.json()["created_by"]) == (["vc1", "vc2"], "lan (api)")
    assert bad.status_code == 422 and "vc9" in bad.text
    assert board.json()["ready"] == 1 and board.json()["points"] == 2
    assert board.json()["board"] == [
        {"point": "vc1", "ready": False, "reasons": ["device.down"]},
        {"point": "vc2", "ready": True, "reasons": []},
    ]
    assert [r["point"] for r in report.json()] == ["vc1", "vc2"]
    assert missing.status_code == 404 and "no meeting 99" in missing.text
