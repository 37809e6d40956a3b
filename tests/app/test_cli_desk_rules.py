"""One rule for every face: a token's lifetime as the API keeps it (a minute to ten years,
the rest refused in one line, exit 2), and a window's period named `--from/--to` as every
period the CLI asks for (the first names `--start/--end` still work)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ioc.domain import BadInput, token_expiry
from tests.support.cli import invoke_ioc


def test_the_bounds_are_one_rule() -> None:
    assert token_expiry(1_000, None) is None
    assert token_expiry(1_000, 60) == 61_000
    for wrong in (59, 10 * 365 * 86_400 + 1):
        with pytest.raises(BadInput, match="a token lives from 1 minute to 10 years"):
            token_expiry(1_000, wrong)


def test_the_cli_keeps_the_api_s_bounds(tmp_path: Path) -> None:
    env = {"IOC_DATA_DIR": str(tmp_path)}
    made = invoke_ioc("token", "create", "--role", "viewer", "--expires", "30d", env=env)
    assert made.returncode == 0, made.stderr
    assert ", until " in made.stdout  # it expires
    for too in ("30s", "4000d"):
        refused = invoke_ioc("token", "create", "--role", "viewer", "--expires", too, env=env)
        assert refused.returncode == 2 and refused.stderr.startswith(
            "ioc: a token lives from 1 minute to 10 years"
        ), refused.stderr


def test_a_window_takes_from_and_to_as_every_period_does(tmp_path: Path) -> None:
    inventory = Path(__file__).parents[1] / "rules" / "testdata" / "inventory.yaml"
    env = {"IOC_DATA_DIR": str(tmp_path), "IOC_INVENTORY": str(inventory)}
    for start, end in (("--from", "--to"), ("--start", "--end")):
        made = invoke_ioc(
            "maintenance", "add", "--device", "gw1", start, "2099-01-01T08:00+07:00", end,
            "2099-01-01T10:00+07:00", "--reason", "fibre work", env=env,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        assert made.stdout.endswith("until 2099-01-01 10:00+07:00\n"), made.stdout
