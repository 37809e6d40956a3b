"""`ioc audit` as an admin reads it: each action of the commands run before it, with who and
from where, filtered by actor and action, as a table, CSV and JSON."""

from __future__ import annotations

import csv
import io
import socket
from pathlib import Path

import orjson

from tests.support.cli import invoke_ioc

SMALL_INVENTORY = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"


def test_the_audit_trail_lists_each_action_with_its_author(tmp_path: Path) -> None:
    env = {"IOC_DATA_DIR": str(tmp_path), "IOC_INVENTORY": str(SMALL_INVENTORY)}
    steps = [
        ("maintenance", "add", "--device", "gw1", "--duration", "2h", "--reason", "fibre work",
         "--by", "lan"),
        ("token", "create", "--role", "viewer", "--name", "wall", "--by", "chi"),
        ("token", "revoke", "1", "--by", "chi"),
        ("maintenance", "end", "1", "--by", "lan"),
    ]  # fmt: skip
    for step in steps:
        done = invoke_ioc(*step, env=env)
        assert done.returncode == 0, (step, done.stderr)
    # A reload asked with no rules process here: recorded for every process, and so audited.
    reloaded = invoke_ioc("rules", "reload", "--by", "chi", env=env)
    assert reloaded.returncode == 1 and "no running rules process" in reloaded.stderr

    listed = invoke_ioc("audit", "--format", "csv", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = list(csv.DictReader(io.StringIO(listed.stdout)))
    here = f"cli {socket.gethostname()}"
    assert [(r["actor"], r["origin"], r["action"], r["target"]) for r in rows] == [
        ("chi", here, "rules.reload", "the rule set"),
        ("lan", here, "window.end", "window #1"),
        ("chi", here, "token.revoke", "token #1"),
        ("chi", here, "token.create", "token #1"),
        ("lan", here, "window.plan", "window #1"),
    ]
    assert orjson.loads(rows[0]["after"])["request"] == 1
    created = orjson.loads(rows[3]["after"])
    assert created == {"role": "viewer", "name": "wall", "expires_at": None}  # no secret
    assert orjson.loads(rows[4]["after"])["reason"] == "fibre work"
    assert rows[0]["at"].endswith("+07:00")  # local time, as every time the CLI prints

    by_lan = orjson.loads(invoke_ioc("audit", "--actor", "LAN", "--format", "json", env=env).stdout)
    assert [r["action"] for r in by_lan] == ["window.end", "window.plan"]
    tokens = invoke_ioc("audit", "--action", "token.", env=env).stdout.splitlines()
    assert len(tokens) == 2 and all("token." in line and "chi" in line for line in tokens)
    later = invoke_ioc("audit", "--since", "2099-01-01", env=env)
    assert later.stdout == "no action recorded in that period\n"
