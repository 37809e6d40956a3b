"""The CLI in the operators' language: Vietnamese by default (IOC_LANGUAGE), English on
request: alert listings with their Vietnamese texts and words, report titles and table headers
from the catalog, groups by name, numbers as Vietnamese writes them, times in local time."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from ioc.domain import Alert, AlertState, AlertTransition, Severity, TransitionKind
from ioc.state import AlertRepository, connect_state
from tests.support.cli import invoke_ioc
from tests.support.history import SMALL_DEVICES, record_watching

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
MIN = 60_000
DAY = 24 * 60 * MIN
LOCAL_NOVEMBER = 1_793_466_000_000  # 2026-11-01 00:00+07:00


def _history(state_db: Path) -> None:
    """gw2 down at 08:00 local on 2 November for 90 minutes, acknowledged after 10."""
    repository = AlertRepository(connect_state(f"sqlite:///{state_db}"))
    opened = LOCAL_NOVEMBER + DAY + 8 * 60 * MIN
    alert = repository.create(
        Alert(0, "netgw.wan_down", "gw2", "netgw", "C2", Severity.CRITICAL, "lossOfSignal",
              "communicationsAlarm", AlertState.FIRING, "Mất đường truyền WAN", "WAN link down",
              "Cổng xã Hai mất đường truyền", "Cổng xã Hai lost its WAN link", {}, opened,
              opened),
        TransitionKind.FIRED, "rules", "",
    )  # fmt: skip
    acked = dataclasses.replace(alert, state=AlertState.ACKNOWLEDGED)
    repository.record(
        [AlertTransition(TransitionKind.ACKNOWLEDGED, acked, opened + 10 * MIN, "an")]
    )
    over = dataclasses.replace(alert, state=AlertState.RESOLVED, resolved_at_ms=opened + 90 * MIN)
    repository.record([AlertTransition(TransitionKind.RESOLVED, over, opened + 90 * MIN, "rules")])
    repository.close()
    record_watching(
        f"sqlite:///{state_db}", LOCAL_NOVEMBER - DAY, LOCAL_NOVEMBER + 40 * DAY, SMALL_DEVICES
    )


def test_the_cli_speaks_vietnamese_by_default_and_english_on_request(tmp_path: Path) -> None:
    _history(tmp_path / "state.db")
    vietnamese = {"IOC_DATA_DIR": str(tmp_path), "IOC_INVENTORY": str(SMALL_INVENTORY),
                  "IOC_LANGUAGE": "vi"}  # fmt: skip
    english = vietnamese | {"IOC_LANGUAGE": "en"}

    listed = invoke_ioc("alerts", "--state", "resolved", env=vietnamese)
    assert listed.returncode == 0, listed.stderr
    [line] = listed.stdout.splitlines()
    assert line.startswith("#1      2026-11-02 08:00:00+07:00 đã xử lý")
    assert "nghiêm trọng" in line and line.endswith("Cổng xã Hai mất đường truyền")
    shown = invoke_ioc("alerts", "show", "1", env=vietnamese).stdout.splitlines()
    assert shown[0] == (
        "#1 đã xử lý nghiêm trọng netgw.wan_down tại gw2: Cổng xã Hai mất đường truyền"
    )
    assert re.split(r"\s+", shown[2].strip()) == ["2026-11-02", "08:10+07:00", "đã", "nhận", "an"]
    nothing = invoke_ioc("alerts", "--state", "firing", env=vietnamese)
    assert nothing.stdout == "không có cảnh báo nào phù hợp\n"
    in_english = invoke_ioc("alerts", "--state", "resolved", env=english).stdout
    assert " resolved " in in_english and in_english.endswith("Cổng xã Hai lost its WAN link\n")

    table = invoke_ioc(
        "report", "availability", "--month", "2026-11", "--by", "commune", env=vietnamese
    )
    assert table.returncode == 0, table.stderr
    title, header, c1, c2 = table.stdout.splitlines()
    assert title == "Khả dụng theo xã, 2026-11-01 00:00+07:00 đến 2026-12-01 00:00+07:00"
    assert re.split(r"\s{2,}", header)[:5] == [
        "Nhóm",
        "Tên",
        "Thiết bị",
        "Khả dụng %",
        "Số lần gián đoạn",
    ]
    # C2: 3 devices for 30 days (129.600 minutes), 90 of them out; numbers as Vietnamese
    # writes them.
    assert c2.split()[:5] == ["C2", "Xã", "Hai", "3", "99,931"]
    assert "129.600" in c2 and "90" in c2.split()
    assert c1.split()[:5] == ["C1", "Xã", "Một", "3", "100"]
    same = invoke_ioc(
        "report", "availability", "--month", "2026-11", "--by", "commune", env=english
    ).stdout.splitlines()
    assert same[0] == "Availability by commune, 2026-11-01 00:00+07:00 to 2026-12-01 00:00+07:00"
    assert same[3].split()[:5] == ["C2", "Xã", "Hai", "3", "99.931"] and "129,600" in same[3]


def test_the_cli_tells_an_operators_mistakes_in_the_deployments_language(tmp_path: Path) -> None:
    env = {"IOC_DATA_DIR": str(tmp_path), "IOC_INVENTORY": str(SMALL_INVENTORY)}
    vi = {**env, "IOC_LANGUAGE": "vi"}
    missing = invoke_ioc("maintenance", "end", "999", "--by", "an", env=vi)
    assert (missing.returncode, missing.stderr) == (
        1, "ioc: không có cửa sổ bảo trì đang mở 999\n"
    )  # fmt: skip
    window = invoke_ioc("maintenance", "add", "--device", "gw9", "--duration", "1h",
                        "--reason", "x", env=vi)  # fmt: skip
    assert window.stderr == "ioc: không có thiết bị 'gw9' trong danh mục\n"
    month = invoke_ioc("report", "availability", "--month", "11/2026", env=vi)
    assert (month.returncode, month.stderr) == (
        2, "ioc: --month '11/2026' không phải một tháng dạng 2026-11\n"
    )  # fmt: skip
    # The same mistake in English when the deployment speaks English.
    english = invoke_ioc("maintenance", "end", "999", "--by", "an", env=env)
    assert english.stderr == "ioc: no open maintenance window 999\n"
