"""/api/v1/meetings: an operator plans a meeting, a viewer reads its readiness board and its
report; bad points are refused with 422, an unknown meeting is 404."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from ioc.api import ApiContext, create_app
from ioc.app import MeetingDesk, Runtime, load_catalog
from ioc.config import load_settings
from ioc.domain import Alert, AlertState, Role, Severity, TransitionKind, now_ms
from ioc.state import AlertRepository, TokenStore, connect_state

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
PLANNED_AT = 1_796_000_400_000  # 2026-11-30T08:00+07:00, the day before the meeting
AFTER_IT = 1_796_093_400_000  # 2026-12-01T09:50+07:00, 20 minutes after it ended


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
    runtime = Runtime(settings, catalog)
    desk = MeetingDesk(runtime)
    clock = [PLANNED_AT]
    context = ApiContext(
        lambda: catalog.inventory,
        catalog.profiles,
        repository,
        tokens,
        lambda: clock[0],
        meetings=desk,
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
        empty = client.post("/api/v1/meetings", json=plan | {"points": []}, headers=as_operator)
        board = client.get(f"/api/v1/meetings/{made.json()['id']}/readiness", headers=as_viewer)
        early = client.get(f"/api/v1/meetings/{made.json()['id']}/report", headers=as_viewer)
        clock[0] = AFTER_IT
        report = client.get(f"/api/v1/meetings/{made.json()['id']}/report", headers=as_viewer)
        missing = client.get("/api/v1/meetings/99/readiness", headers=as_viewer)
        past = client.post("/api/v1/meetings", json=plan | {"area": "D1"}, headers=as_operator)
    runtime.close()
    repository.close()
    assert made.status_code == 201
    assert (made.json()["points"], made.json()["created_by"]) == (["vc1", "vc2"], "lan (token #2)")
    assert bad.status_code == 422 and "vc9" in bad.text
    assert empty.status_code == 422 and "the list of points is empty" in empty.text
    assert early.status_code == 409 and "meeting #1 has not begun" in early.text
    assert past.status_code == 422 and "that meeting is over already" in past.text
    assert board.json()["ready"] == 1 and board.json()["points"] == 2
    assert board.json()["board"] == [
        {"point": "vc1", "ready": False, "reasons": ["device.down"]},
        {"point": "vc2", "ready": True, "reasons": []},
    ]
    assert [r["point"] for r in report.json()] == ["vc1", "vc2"]
    assert missing.status_code == 404 and "no meeting 99" in missing.text
