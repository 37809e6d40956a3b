"""A token's lifetime is one rule for every maker: the CLI keeps the API's bounds (a minute to
ten years), refusing the rest in one line, exit 2."""

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
