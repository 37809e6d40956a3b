"""The live inventory: the file as the first version, changes recorded as versions (who, when,
why, what), checked before they are recorded, and followed by every process without a restart:
the rules judge a device added from when it was added and stop alerting on one retired.

Over real SQLite and PostgreSQL state databases; the rules on a manual clock."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ioc.app import Catalog, RulesService, Runtime
from ioc.config import Settings, load_settings
from ioc.domain import Reading
from ioc.inventory import CatalogError
from ioc.rules import RuleError
from ioc.state import AlertRepository
from tests.rules.harness import NORMAL, fast_rules
from tests.support.clock import ManualClock
from tests.support.services import MakeRuntime

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
T0 = 1_795_000_000_000
CLASS_OF = {"gw1": "netgw", "gw2": "netgw", "bts1": "bts", "bts2": "bts", "vc1": "vc", "vc2": "vc"}
AREA_RULE = """rules:
  - id: c2.bts_door
    title: {vi: "Cửa mở (xã Hai)", en: "Door open (commune Two)"}
    select: {class: bts, area: C2}
    condition: {kind: threshold, metric: door_open, equals: true}
    severity: warning
    probable_cause: enclosureDoorOpen
    event_type: physicalViolation
    message: {vi: "{device_name}: cửa mở", en: "{device_name}: door open"}
"""


def _settings(tmp_path: Path, state_url: str, inventory: Path = SMALL_INVENTORY) -> Settings:
    rules = tmp_path / "rules"
    if not rules.exists():
        fast_rules(rules, "3s", "60s")
    return load_settings(
        data_dir=tmp_path / "data", inventory=inventory, rules_dir=rules, state_url=state_url
    )


def _adding(device: dict[str, Any]) -> Callable[[Catalog], dict[str, Any]]:
    from ioc.inventory import document_of

    def make(catalog: Catalog) -> dict[str, Any]:
        document = document_of(catalog.inventory)
        document["devices"].append(device)
        return document

    return make


def _retiring(device_id: str) -> Callable[[Catalog], dict[str, Any]]:
    from ioc.inventory import document_of

    def make(catalog: Catalog) -> dict[str, Any]:
        document = document_of(catalog.inventory)
        document["devices"] = [d for d in document["devices"] if d["id"] != device_id]
        return document

    return make


BTS3 = {"id": "bts3", "class": "bts", "area": "C1", "name": "BTS Ba", "depends_on": ["gw1"]}


class Node:
    """A rules process over the state database, on a manual clock, following the inventory."""

    def __init__(self, settings: Settings) -> None:
        self.clock = ManualClock(T0)
        self.runtime = Runtime(settings)
        self.runtime.live_inventory.start()
        self.rules = RulesService(self.runtime, None, self.clock)
        self.rules.hearing = lambda: True
        self.repository = AlertRepository(self.runtime.state)
        self.rules.start()

    def report(self, *devices: str) -> None:
        for device in devices:
            device_class = self.runtime.catalog.inventory.devices[device].device_class
            values = NORMAL[device_class]
            self.rules.observe(Reading(device_class, device, self.clock.now, values))

    def after(self, ms: int) -> None:
        self.clock.now += ms
        self.rules.sync()

    def open_alerts(self) -> set[tuple[str, str]]:
        return {(a.rule_id, a.device_id) for a in self.repository.list_alerts() if a.is_open}

    def close(self) -> None:
        self.rules.stop()
        self.runtime.close()


@pytest.fixture
def node(tmp_path: Path, state_url: str) -> Iterator[Node]:
    made = Node(_settings(tmp_path, state_url))
    yield made
    made.close()


def test_a_device_added_elsewhere_is_judged_from_when_it_was_added_and_a_retired_one_clears(
    node: Node, tmp_path: Path, state_url: str, runtimes: MakeRuntime
) -> None:
    editor = runtimes(_settings(tmp_path, state_url), None)  # `ioc inventory` or the API
    node.report(*CLASS_OF)
    node.after(2_000)
    added = editor.live_inventory.change(_adding(BTS3), "an", "new site", "api")
    assert added.version is not None and added.summary == "1 device added"
    assert node.runtime.live_inventory.follow()  # what the reload follower does every second
    assert "bts3" in node.runtime.catalog.inventory.devices
    node.report(*CLASS_OF)
    node.after(2_500)  # 4.5 s from start, 2.5 s since bts3 was added: within its window
    node.report(*CLASS_OF)
    node.after(0)
    assert node.open_alerts() == set()
    node.after(1_000)  # 3.5 s since bts3 was added, and never heard
    assert node.open_alerts() == {("device.down", "bts3")}
    node.report("bts3")
    node.after(0)
    # vc2 goes silent; retired, its alert is cleared and it is judged no more.
    node.report(*(d for d in CLASS_OF if d != "vc2"))
    node.after(3_500)
    assert ("device.down", "vc2") in node.open_alerts()
    editor.live_inventory.change(_retiring("vc2"), "an", "dismantled", "api")
    node.runtime.live_inventory.follow()
    node.after(0)
    node.report("gw1", "gw2", "bts1", "bts2", "vc1", "bts3")
    node.after(0)
    assert node.open_alerts() == set()
    node.after(10_000)
    assert ("device.down", "vc2") not in node.open_alerts()


def test_a_change_the_rules_or_the_file_rules_refuse_records_nothing(
    tmp_path: Path, state_url: str, runtimes: MakeRuntime
) -> None:
    settings = _settings(tmp_path, state_url)
    (settings.rules_dir or tmp_path).joinpath("c2.yaml").write_text(AREA_RULE, encoding="utf-8")
    editor = runtimes(settings, None)
    editor.live_inventory.start()
    refusal = "inventory version 2: device 'gw2' depends on 'gw1', which does not exist"
    with pytest.raises(CatalogError, match=refusal):
        editor.live_inventory.change(_retiring("gw1"), "an", "gw2 depends on it", "api")

    def without_c2(catalog: Catalog) -> dict[str, Any]:
        document = _retiring("bts2")(catalog)
        document["devices"] = [d for d in document["devices"] if d["area"] != "C2"]
        document["areas"] = [a for a in document["areas"] if a["id"] != "C2"]
        return document

    with pytest.raises(RuleError, match=r"c2\.bts_door.*select\.area: no area 'C2'"):
        editor.live_inventory.change(without_c2, "an", "C2 merged away", "api")
    assert editor.inventory_versions().newest_number() == 1  # the first version only
    assert "C2" in editor.catalog.inventory.areas


def test_the_file_is_the_first_version_and_a_later_edit_of_it_counts_only_alone(
    tmp_path: Path, state_url: str, runtimes: MakeRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    inventory = tmp_path / "inventory.yaml"
    shutil.copy(SMALL_INVENTORY, inventory)
    settings = _settings(tmp_path, state_url, inventory)
    reader = runtimes(settings, None)  # a command before any process started: the file
    assert "bts3" not in reader.catalog.inventory.devices
    assert reader.inventory_versions().newest() is None
    for _process in range(2):  # two processes start with the same file: one version
        runtimes(settings, None).live_inventory.start()
    first = reader.inventory_versions().newest()
    assert first is not None and (first.number, first.origin) == (1, "start")
    assert first.summary == "6 devices in 4 areas" and first.reason == "the first version"
    # The file edited while nothing else changed the inventory: the next start records it.
    text = inventory.read_text(encoding="utf-8")
    inventory.write_text(text.replace('name: "BTS Một"', 'name: "BTS Một (mới)"'), "utf-8")
    restarted = runtimes(settings, None)
    restarted.live_inventory.start()
    second = reader.inventory_versions().newest()
    assert second is not None and (second.number, second.origin) == (2, "start")
    assert (second.summary, second.reason) == ("1 device changed", "the file changed")
    assert restarted.catalog.inventory.devices["bts1"].name == "BTS Một (mới)"
    # Changed by other means: a start with the same file keeps the newest, and says nothing.
    restarted.live_inventory.change(_adding(BTS3), "an", "new site", "api")
    with caplog.at_level(logging.WARNING, "ioc.app"):
        runtimes(settings, None).live_inventory.start()
    assert caplog.text == ""
    # The file edited again after that: the start keeps the newest, and says so.
    inventory.write_text(text, "utf-8")
    with caplog.at_level(logging.WARNING, "ioc.app"):
        later = runtimes(settings, None)
        later.live_inventory.start()
    assert "is not the inventory in force (version 3, api by an)" in caplog.text
    assert "`ioc inventory load FILE` puts a file in force" in caplog.text
    assert "bts3" in later.catalog.inventory.devices
    assert reader.inventory_versions().newest_number() == 3
    assert "bts3" in runtimes(settings, None).catalog.inventory.devices  # a command reads it


def test_two_writers_at_once_the_later_makes_its_change_again_on_the_newer_version(
    tmp_path: Path, state_url: str, runtimes: MakeRuntime
) -> None:
    settings = _settings(tmp_path, state_url)
    first, second = runtimes(settings, None), runtimes(settings, None)
    first.live_inventory.start()
    second.live_inventory.start()
    tries: list[int] = []

    def racing(catalog: Catalog) -> dict[str, Any]:
        tries.append(len(catalog.inventory.devices))
        if len(tries) == 1:  # the other writer records between this one's read and write
            first.live_inventory.change(_adding(BTS3), "an", "bts3", "api")
        return _adding({**BTS3, "id": "bts4", "name": "BTS Bốn"})(catalog)

    made = second.live_inventory.change(racing, "binh", "bts4", "api")
    assert tries == [6, 7]  # made again on the version with bts3
    assert made.version is not None and made.version.number == 3
    assert {"bts3", "bts4"} <= set(second.catalog.inventory.devices)
    history = second.inventory_versions().history(5)
    assert [(v.number, v.recorded_by, v.summary) for v in history] == [
        (3, "binh", "1 device added"), (2, "an", "1 device added"),
        (1, str(SMALL_INVENTORY), "6 devices in 4 areas"),
    ]  # fmt: skip


def test_a_version_is_read_back_from_its_snapshot_and_the_changes_after(
    tmp_path: Path, state_url: str, runtimes: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ioc.app import _inventory

    monkeypatch.setattr(_inventory, "SNAPSHOT_EVERY", 3)
    settings = _settings(tmp_path, state_url)
    editor = runtimes(settings, None)
    editor.live_inventory.start()
    for n in range(5):
        device = {**BTS3, "id": f"bts-new-{n}", "name": f"BTS {n}"}
        editor.live_inventory.change(_adding(device), "an", f"site {n}", "api")
    versions = editor.inventory_versions()
    assert [versions.since_snapshot(n) for n in range(1, 7)] == [0, 1, 2, 0, 1, 2]
    fresh = runtimes(settings, None)  # reads version 6: the snapshot of 4, then 5 and 6
    assert {f"bts-new-{n}" for n in range(5)} <= set(fresh.catalog.inventory.devices)
    assert fresh.catalog.inventory == editor.catalog.inventory


def test_a_version_the_state_database_failed_to_give_is_taken_up_when_it_answers(
    tmp_path: Path, postgres_url: str, runtimes: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server goes away between the follower seeing a new version and reading it."""

    from ioc.state import InventoryVersions, StateUnavailable, connect_state
    from tests.support.relay import relayed_database

    engine = connect_state(postgres_url)  # emptied: this test's versions only
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM inventory_version")
    engine.dispose()
    relay, relayed = relayed_database(postgres_url)
    try:
        follower = runtimes(_settings(tmp_path, relayed), None)
        follower.live_inventory.start()
        editor = runtimes(_settings(tmp_path, postgres_url), None)
        editor.live_inventory.change(_adding(BTS3), "an", "new site", "api")
        reading = InventoryVersions.parts

        def cut_first(versions: InventoryVersions, number: int) -> object:
            relay.cut()
            return reading(versions, number)

        monkeypatch.setattr(InventoryVersions, "parts", cut_first)
        with pytest.raises(StateUnavailable):
            follower.live_inventory.follow()
        monkeypatch.setattr(InventoryVersions, "parts", reading)
        relay.restore()
        assert follower.live_inventory.follow()  # not skipped: in force now
        assert "bts3" in follower.catalog.inventory.devices
    finally:
        relay.close()
