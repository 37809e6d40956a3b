"""A process's runtime: one state database, holders a reload swaps whole, and reload requests
that every process sharing the state database follows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from ioc.app import Current, ReloadFollower, Runtime
from ioc.config import load_settings
from ioc.domain import now_ms
from ioc.notify import NotifyConfigError
from tests.rules.harness import RULES_DIR
from tests.support.services import MakeRuntime

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
EXTRA_RULE = """rules:
  - id: bts.reload_probe
    title: {vi: "Cửa đóng", en: "Door shut"}
    select: {class: bts}
    condition: {kind: threshold, metric: door_open, equals: false}
    severity: warning
    probable_cause: enclosureDoorOpen
    event_type: physicalViolation
    message: {vi: "{device_name}: cửa đóng", en: "{device_name}: door shut"}
"""


def test_a_holder_tells_its_subscribers_until_they_leave_and_derives_values() -> None:
    held = Current([1, 2])
    told: list[list[int]] = []
    leave = held.subscribe(told.append)
    total = held.derive(sum)
    held.replace([3, 4])
    leave()
    held.replace([5])
    assert told == [[3, 4]]
    assert (held.get(), total.get()) == ([5], 5)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the bundled rules, and a notification file routing a rule by id."""
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    notify = tmp_path / "notify.yaml"
    notify.write_text(yaml.safe_dump({
        "version": 1,
        "people": [{"id": "an", "name": "An", "contacts": {"mqtt": True}}],
        "teams": [{"id": "field", "members": ["an"], "channels": ["mqtt"]}],
        "routes": [{"id": "doors", "match": {"rules": ["bts.door_open"]}, "notify": "field"}],
    }), encoding="utf-8")  # fmt: skip
    return rules, notify


def _route(notify: Path, rule_id: str) -> None:
    document = yaml.safe_load(notify.read_text(encoding="utf-8"))
    document["routes"][0]["match"]["rules"] = ["bts.door_open", rule_id]
    notify.write_text(yaml.safe_dump(document), encoding="utf-8")


def test_one_state_database_per_process_and_a_reload_is_both_files_or_neither(
    tmp_path: Path, files: tuple[Path, Path], runtimes: MakeRuntime
) -> None:
    rules, notify = files
    settings = load_settings(
        data_dir=tmp_path, inventory=SMALL_INVENTORY, rules_dir=rules, notify_config=notify
    )
    runtime = runtimes(settings, None)
    assert runtime.state is runtime.state  # migrated once, one pool for every store
    before = len(runtime.rules.get())
    told: list[int] = []
    runtime.rules.subscribe(lambda loaded: told.append(len(loaded)))
    # A new rule, but the notification file routes one that does not exist: neither changes.
    (rules / "extra.yaml").write_text(EXTRA_RULE, encoding="utf-8")
    _route(notify, "bts.no_such_rule")
    with pytest.raises(NotifyConfigError, match=r"bts\.no_such_rule"):
        runtime.reload()
    assert (len(runtime.rules.get()), told) == (before, [])
    # Both right: both in force, and the subscribers told.
    _route(notify, "bts.reload_probe")
    assert runtime.reload() == f"{before + 1} rules and notify.yaml"
    assert told == [before + 1]
    config = runtime.notifications.get()
    assert config is not None
    assert config.spec.routes[0].match.rules == ["bts.door_open", "bts.reload_probe"]


def test_a_reload_request_reaches_every_process_of_the_state_database(
    tmp_path: Path, files: tuple[Path, Path], runtimes: MakeRuntime
) -> None:
    rules, _notify = files
    settings = load_settings(data_dir=tmp_path, inventory=SMALL_INVENTORY, rules_dir=rules)
    asking, following = runtimes(settings, None), runtimes(settings, None)
    asking.reload_requests().request(now_ms(), "before the follower started")
    follower = ReloadFollower(following, every_s=3600, pid_file=False)
    follower.start()
    try:
        before = len(following.rules.get())
        (rules / "extra.yaml").write_text(EXTRA_RULE, encoding="utf-8")
        follower.follow()  # the request from before its start is not replayed
        assert len(following.rules.get()) == before
        asking.reload_requests().request(now_ms(), "a test")
        follower.follow()
        assert len(following.rules.get()) == before + 1
        (rules / "extra.yaml").write_text("rules: [{id: broken}]\n", encoding="utf-8")
        asking.reload_requests().request(now_ms(), "a test, with a broken file")
        follower.follow()  # refused and logged; what is in force stays
        assert len(following.rules.get()) == before + 1
        assert follower.failure is None
    finally:
        follower.stop()


def test_runtime_is_built_lazily(tmp_path: Path) -> None:
    """An operator command that reads the state database never reads a rule file."""
    runtime = Runtime(load_settings(data_dir=tmp_path, rules_dir=tmp_path / "missing"))
    try:
        assert runtime.tokens().list() == []
    finally:
        runtime.close()
