"""The `ioc` command line: a thin face over `ioc.app` (processes, operator desk) and the use
cases of `ioc.alerts`; it parses arguments, prints, and maps errors and outcomes to exit codes.
One module per command group; `_base` holds what they share."""

from ioc.cli import (  # noqa: F401  (each registers its commands on `main`)
    alerts,
    discover,
    identities,
    inventory,
    maintenance,
    meetings,
    processes,
    records,
    reports,
    tokens,
    users,
)
from ioc.cli._base import EXIT_BY_KIND, BadArgument, exit_code, main

__all__ = ["EXIT_BY_KIND", "BadArgument", "exit_code", "main"]
