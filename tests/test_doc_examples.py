"""Every complete example in the docs is a file under docs/examples/ that the docs show
verbatim (a marker names it) and that ioc's own checks accept: the notification file and the
rule file through `ioc check-config`, the probe and gateway files through `--check`, the
register map, the probe profile and the simulator's scenario through their loaders. A
complete file in a doc without its marker fails too, so a doc cannot drift again."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from firmware_sim.faults import read_scenario
from ioc.app._status import StatusLine
from ioc.domain import Inventory, Profile
from ioc.gateway import load_register_map
from ioc.ingest import IngestStats, LiveState
from ioc.probe._config import load_probe_profile
from tests.support.cli import invoke_ioc

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
MARKER = re.compile(
    r"^<!-- (example|part of): (\S+) \(checked by tests/test_doc_examples\.py\) -->$"
)
# The first keys of the files ioc reads: a YAML block that starts with one is a whole file.
WHOLE_FILE = re.compile(r"^(version|probe_id|gateway_id|name|rules|faults):", re.MULTILINE)
CHANNELS = {
    "IOC_SMTP_URL": "smtp://ioc@mail.example.vn:587",
    "IOC_SMS_URL": "https://sms.example.vn/send?to={phone}&text={text}",
    "IOC_NOTIFY_WEBHOOK_SECRET": "a-secret-for-the-check",
}


def _blocks() -> list[tuple[Path, str | None, str | None, str]]:
    """Every ```yaml block of the docs: (doc, marker kind, example path, text)."""
    found = []
    for doc in DOCS:
        lines = doc.read_text(encoding="utf-8").split("\n")
        for index, line in enumerate(lines):
            if line.strip() != "```yaml":
                continue
            end = lines.index("```", index + 1)
            marker = MARKER.match(lines[index - 1]) if index else None
            kind, path = (marker.group(1), marker.group(2)) if marker else (None, None)
            found.append((doc, kind, path, "\n".join(lines[index + 1 : end]) + "\n"))
    return found


def test_every_whole_file_in_the_docs_is_an_example_shown_verbatim() -> None:
    shown = set()
    for doc, kind, path, text in _blocks():
        where = f"{doc.name}: {text.splitlines()[0]}"
        if kind is None:
            assert not WHOLE_FILE.match(text), f"{where}: a whole file with no example marker"
            continue
        assert path is not None
        example = (ROOT / path).read_text(encoding="utf-8")
        if kind == "example":
            assert text == example, f"{where}: differs from {path}"
        else:
            assert text in example, f"{where}: not part of {path}"
        shown.add(ROOT / path)
    assert shown == {p for p in EXAMPLES.rglob("*.yaml")}, "an example no doc shows"


def test_the_notification_and_rule_examples_pass_check_config(tmp_path: Path) -> None:
    env = {"IOC_DATA_DIR": str(tmp_path), **CHANNELS}
    notify = invoke_ioc(
        "check-config", env={**env, "IOC_NOTIFY_CONFIG": str(EXAMPLES / "notify.yaml")}
    )
    assert notify.returncode == 0, notify.stderr
    assert "notifications: 4 people, 2 routes" in notify.stdout
    rules = invoke_ioc("check-config", env={**env, "IOC_RULES_DIR": str(EXAMPLES / "rules.yaml")})
    assert rules.returncode == 0, rules.stderr
    assert "rules: 1 from" in rules.stdout


@pytest.mark.parametrize(
    ("command", "example"),
    [(("probe",), "probe.yaml"), (("gateway", "modbus"), "gateway.yaml")],
)
def test_the_collector_examples_pass_their_check(
    tmp_path: Path, command: tuple[str, ...], example: str
) -> None:
    checked = invoke_ioc(*command, str(EXAMPLES / example), "--check",
                         env={"IOC_DATA_DIR": str(tmp_path)})  # fmt: skip
    assert checked.returncode == 0, checked.stderr


def test_the_map_profile_and_scenario_examples_load(
    profiles: dict[str, Profile], inventory: Inventory
) -> None:
    for path in (EXAMPLES / "maps").glob("*.yaml"):
        assert load_register_map(path, profiles).name == path.stem
    for path in (EXAMPLES / "probe-profiles").glob("*.yaml"):
        assert load_probe_profile(path, profiles).name == path.stem
    faults = read_scenario(EXAMPLES / "faults.yaml")
    assert faults and all(fault.device_id in inventory.devices for fault in faults)


def test_the_readme_status_line_is_the_one_ioc_prints() -> None:
    """The demo's line: ingest's status line as ioc renders it, then the demo's own counts."""
    stats = IngestStats()
    for reason in ("bad_json", "wrong_type"):
        stats.count_rejection(reason)
    rendered = StatusLine(stats, LiveState(), 2622).render(broker_connected=True)
    shape = re.sub(r"\d[\d,.]*", "N", rendered) + " | sim sent N | open alerts N"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = [re.sub(r"\d[\d,.]*", "N", line) for line in readme.splitlines()]
    assert shape in shown, f"the README's status line has drifted from: {rendered}"
