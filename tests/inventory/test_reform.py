"""The 2025 reform as ioc takes it: communes merged and the districts dissolved in one step
from a date; the devices move, the alert history keeps the areas alerts happened in, and a
report over a period across the date counts each device once, on the new map or the old."""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

import orjson
import pytest
import yaml

from ioc.domain import Alert, AlertState, AlertTransition, Severity, TransitionKind
from ioc.inventory import CatalogError, load_reform, reformed
from ioc.state import AlertRepository, connect_state
from tests.support.cli import invoke_ioc
from tests.support.clock import VIETNAM
from tests.support.history import SMALL_DEVICES, record_watching

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
MIN = 60_000
DAY = 24 * 60 * MIN
T0 = 1_793_491_200_000  # 2026-11-01T00:00Z
REFORM = """\
version: 1
name: Nghị quyết sắp xếp đơn vị hành chính cấp xã (thử)
effective: 2026-11-16
dissolve: [district]          # the province -> commune map: districts leave it
merges:
  - into: {id: C12, name: Xã Một Hai, kind: commune, parent: P}
    from: [C1, C2]
"""


def _reform(tmp_path: Path, text: str = REFORM) -> Path:
    path = tmp_path / "reform.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_merged_communes_take_their_devices_and_the_district_leaves_the_map(
    tmp_path: Path,
) -> None:
    document = yaml.safe_load(SMALL_INVENTORY.read_text(encoding="utf-8"))
    reform = load_reform(_reform(tmp_path))
    after = reformed(document, reform, "reform.yaml")
    assert [(a["id"], a.get("parent")) for a in after["areas"]] == [("P", None), ("C12", "P")]
    assert {d["area"] for d in after["devices"]} == {"C12"}
    assert [d["id"] for d in after["devices"]] == [d["id"] for d in document["devices"]]
    assert reform.effective_ms(VIETNAM) == T0 + 15 * DAY - 7 * 3_600_000  # local midnight
    wrong = REFORM.replace("from: [C1, C2]", "from: [C1, C9, C1]") + "  - into: {id: C3, " \
        "name: Xã Ba, kind: commune, parent: P}\n    from: [C2]\n"  # fmt: skip
    with pytest.raises(CatalogError) as refused:
        reformed(document, load_reform(_reform(tmp_path, wrong.replace("[district]", "[ward]"))),
                 "reform.yaml")  # fmt: skip
    assert str(refused.value).splitlines() == [
        "the reform does not fit the map:",
        "reform.yaml: merges[0].from: no area 'C9' on the map",
        "reform.yaml: merges[0].from: area 'C1' is merged twice",
        "reform.yaml: dissolve: no area of kind 'ward' on the map",
    ]


def test_a_report_across_the_reform_counts_each_device_once_on_either_map(
    tmp_path: Path,
) -> None:
    env = {"IOC_DATA_DIR": str(tmp_path), "IOC_INVENTORY": str(SMALL_INVENTORY)}
    state = f"sqlite:///{tmp_path / 'state.db'}"
    repository = AlertRepository(connect_state(state))
    # bts2 (in commune C2 then) out for 2 hours on 3 November.
    opened = T0 + 2 * DAY
    alert = repository.create(
        Alert(0, "device.down", "bts2", "bts", "C2", Severity.CRITICAL, "lossOfSignal",
              "communicationsAlarm", AlertState.FIRING, "", "", "", "", {}, opened, opened),
        TransitionKind.FIRED, "rules", "",
    )  # fmt: skip
    resolved = dataclasses.replace(
        alert, state=AlertState.RESOLVED, resolved_at_ms=opened + 120 * MIN
    )
    repository.record(
        [AlertTransition(TransitionKind.RESOLVED, resolved, opened + 120 * MIN, "rules")]
    )
    repository.close()
    record_watching(state, T0 - DAY, T0 + 31 * DAY, SMALL_DEVICES)

    dry = invoke_ioc("inventory", "reform", str(_reform(tmp_path)), "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "6 devices moved, 1 area added, 3 areas retired",
        "  added    area C12",
        "  retired  area D1",
        "  retired  area C1",
        "  retired  area C2",
        "  moved    device gw1 (C1 -> C12)",
        "  moved    device gw2 (C2 -> C12)",
        "  moved    device bts1 (C1 -> C12)",
        "  moved    device bts2 (C2 -> C12)",
        "  moved    device vc1 (C1 -> C12)",
        "  moved    device vc2 (C2 -> C12)",
        "dry run: nothing written",
    ]
    done = invoke_ioc("inventory", "reform", str(_reform(tmp_path)), "--by", "chi", env=env)
    assert done.returncode == 0, done.stderr
    assert "inventory version 2 in force, in effect from 2026-11-16 00:00+07:00" in done.stdout
    history = invoke_ioc("inventory", "history", env=env).stdout.splitlines()
    assert "(in effect from 2026-11-16 00:00+07:00)  reform   chi: 6 devices moved" in history[0]
    assert history[0].endswith("- Nghị quyết sắp xếp đơn vị hành chính cấp xã (thử)")

    def report(*args: str) -> dict[str, dict[str, str]]:
        listed = invoke_ioc("report", "availability", "--from", "2026-11-01", "--to",
                            "2026-12-01", "--format", "csv", *args, env=env)  # fmt: skip
        assert listed.returncode == 0, listed.stderr
        return {row["group"]: row for row in csv.DictReader(io.StringIO(listed.stdout))}

    month = 30 * 24 * 60 * 6  # device-minutes counted in November
    new = report("--by", "commune")
    assert {g: (r["devices"], r["outage_min"]) for g, r in new.items()} == {"C12": ("6", "120.0")}
    old = report("--by", "commune", "--map-at", "2026-11-15")
    assert {g: (r["devices"], r["outage_min"]) for g, r in old.items()} == {
        "C1": ("3", "0.0"), "C2": ("3", "120.0"),
    }  # fmt: skip
    counted = [float(r["counted_min"]) for r in old.values()]
    assert sum(counted) == float(new["C12"]["counted_min"]) == month  # each device once
    districts = report("--by", "district", "--map-at", "2026-11-15")
    assert set(districts) == {"D1"} and districts["D1"]["devices"] == "6"
    refused = invoke_ioc("report", "availability", "--from", "2026-11-01", "--by", "district",
                         env=env)  # fmt: skip
    assert refused.returncode == 2 and "cannot group by 'district'" in refused.stderr
    # The alert keeps the commune it happened in, and is found by it.
    listed = invoke_ioc("alerts", "--area", "C2", "--state", "resolved", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [(a["device_id"], a["area_id"]) for a in orjson.loads(listed.stdout)] == [("bts2", "C2")]
    nowhere = invoke_ioc("alerts", "--area", "C9", env=env)
    assert nowhere.returncode == 2
    assert "no area 'C9' in the inventory, nor any alert in it" in nowhere.stderr


def test_the_docs_reform_fits_the_bundled_province_and_a_dry_run_records_nothing(
    tmp_path: Path,
) -> None:
    example = Path(__file__).parents[2] / "docs" / "examples" / "reform.yaml"
    env = {"IOC_DATA_DIR": str(tmp_path)}
    dry = invoke_ioc("inventory", "reform", str(example), "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[0] == (
        "40 devices moved, 1 area added, 238 areas moved, 21 areas retired"
    )
    assert dry.stdout.splitlines()[-1] == "dry run: nothing written"
    history = invoke_ioc("inventory", "history", env=env)
    assert (
        history.stdout == "no inventory version yet: the first process to start records its file\n"
    )
