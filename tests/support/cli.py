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


# The CLI speaks the deployment's language, Vietnamese by default; tests read it in English
# unless they set IOC_LANGUAGE themselves (tests/app/test_cli_language.py reads Vietnamese).
READ_IN_ENGLISH = {"IOC_LANGUAGE": "en"}


def invoke_ioc(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Ran:
    """Run `ioc ARGS` with only the given IOC_* settings (the test's own are unset), in
    English unless `env` names IOC_LANGUAGE; `stdin` is what it reads."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("IOC_")}
    settings = {**unset, **READ_IN_ENGLISH, **(env or {})}
    result = CliRunner().invoke(main, list(args), env=settings, input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)
