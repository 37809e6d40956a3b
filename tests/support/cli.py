"""`ioc` commands run in this process (click's runner): the same parsing, settings, output
and exit codes as a user's shell gets, without starting an interpreter for each."""

from __future__ import annotations

import os
from dataclasses import dataclass

from click.testing import CliRunner

from ioc.cli import main


@dataclass(frozen=True)
class Ran:
    """What a command printed and how it ended."""

    returncode: int
    stdout: str
    stderr: str


def invoke_ioc(*args: str, env: dict[str, str] | None = None) -> Ran:
    """Run `ioc ARGS` with only the given IOC_* settings (the test's own are unset)."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("IOC_")}
    result = CliRunner().invoke(main, list(args), env={**unset, **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)
