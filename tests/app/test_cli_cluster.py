"""`ioc cluster forget` as an operator runs it: a gone node leaves the list, a running one
is refused, and off a cluster the command says there is none."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from ioc.domain import now_ms
from ioc.state import NodeRegistry, connect_state
from tests.support.cli import invoke_ioc


@pytest.mark.parametrize("state_url", ["postgresql"], indirect=True)
def test_a_gone_node_is_forgotten_and_a_running_one_is_not(state_url: str, tmp_path: Path) -> None:
    env = {"IOC_STATE_URL": state_url, "IOC_DATA_DIR": str(tmp_path)}
    engine = connect_state(state_url)
    registry = NodeRegistry(engine)
    now = now_ms()
    registry.report("node-a", now, now, 10)
    registry.report("node-b", now - 3_600_000, now - 3_600_000, 10)
    registry.session_ended("node-b", seen_at_ms=now - 3_600_000)
    engine.dispose()
    refused = invoke_ioc("cluster", "forget", "node-a", env=env)
    assert refused.returncode == 1
    assert "node 'node-a' is running" in refused.stderr and "stop it first" in refused.stderr
    forgotten = invoke_ioc("cluster", "forget", "node-b", "--by", "chi", env=env)
    assert forgotten.returncode == 0, forgotten.stderr
    assert forgotten.stdout == "node node-b forgotten\n"
    audited = invoke_ioc("audit", "--action", "node.", "--format", "json", env=env).stdout
    [entry] = orjson.loads(audited)  # the refused attempt is not an action: only this one
    assert (entry["actor"], entry["action"], entry["target"]) == (
        "chi",
        "node.forget",
        "node node-b",
    )
    listed = invoke_ioc("status", env=env)
    assert "node-a" in listed.stdout and "node-b" not in listed.stdout
    unknown = invoke_ioc("cluster", "forget", "node-z", env=env)
    assert unknown.returncode == 1 and "no node 'node-z' in the cluster" in unknown.stderr
    alone = invoke_ioc("cluster", "forget", "node-a", env={"IOC_DATA_DIR": str(tmp_path)})
    assert alone.returncode == 2 and "there is no cluster" in alone.stderr
