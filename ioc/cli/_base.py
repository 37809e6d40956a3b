"""What every command shares: the group, errors by kind as exit codes, settings (and
`--demo`), signals, times as the CLI reads and prints them, rows as tables or files."""

from __future__ import annotations

import gc
import os
import signal
import socket
import sys
from collections.abc import Callable
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from ioc.config import ConfigError, Settings, load_settings
from ioc.domain import (
    ActionOutcome,
    BadInput,
    Caller,
    Conflict,
    IocError,
    NeedsOperator,
    NotFound,
    RetryLater,
    said,
)
from ioc.i18n import Speech

if TYPE_CHECKING:
    from ioc.app import Catalog, Runtime, Supervisor


# Exit codes: 0 done, 1 failed (a server away, a service stopped), 2 a mistake in the input
# (a file, a setting, an argument); an action on an alert has its own, by outcome.
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
ACTION_EXIT = {
    ActionOutcome.DONE: 0,
    ActionOutcome.QUEUED: 3,
    ActionOutcome.UNKNOWN_ALERT: 4,
    ActionOutcome.NOT_OPEN: 5,
    ActionOutcome.REFUSED: 5,
}


class BadArgument(BadInput):
    """An argument the command cannot take (the message says which and why)."""


# Every error by its kind, the first that fits: what was asked is wrong (2), or it could not be
# done as things stand, nothing by that id, a server away (1). One table for every command.
EXIT_BY_KIND: tuple[tuple[type[IocError], int], ...] = (
    (BadInput, EXIT_BAD_INPUT),
    (NotFound, EXIT_FAILED),
    (Conflict, EXIT_FAILED),
    (RetryLater, EXIT_FAILED),
    (NeedsOperator, EXIT_FAILED),
)


def exit_code(error: IocError) -> int:
    """The exit code of a command that ended with `error`."""
    return next((code for kind, code in EXIT_BY_KIND if isinstance(error, kind)), EXIT_FAILED)


class _IocGroup(click.Group):
    """Every command's IocError ends it here: its message, and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(f"ioc: configuration is wrong:\n{exc}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except IocError as exc:
            click.echo(f"ioc: {_told(ctx, exc)}", err=True)
            sys.exit(exit_code(exc))
        except BrokenPipeError:
            _reader_gone()
        except OSError as exc:  # the machine said no: a folder not writable, a disk full
            click.echo(f"ioc: {exc}", err=True)
            sys.exit(EXIT_FAILED)


def _told(ctx: click.Context, error: IocError) -> str:
    """An error in the deployment's language once the settings were read (an error in them
    is told as written)."""
    known = ctx.find_root().obj or {}
    settings = known.get("settings")
    if settings is None:
        return str(error)
    return Speech(settings.language, settings.zone).tell(error)


# The shell's status of a command killed by SIGPIPE (128 + 13): what `set -o pipefail` sees of
# any Unix tool whose reader went away.
EXIT_READER_GONE = 141


def _reader_gone() -> NoReturn:
    """Standard output's reader went away (`ioc alerts | head -2`): stop quietly, as a Unix
    tool does. Output still buffered goes nowhere, so the interpreter's last flush cannot fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_READER_GONE)


def settings_of(ctx: click.Context) -> Settings:
    """The settings, checked once, with `--demo` applied; logging set up from them."""
    from ioc.app import configure_logging, demo_records

    known = ctx.find_root().obj
    if "settings" not in known:
        settings = load_settings(known["config"])
        if known.get("demo"):
            settings = demo_records(settings)
        configure_logging(settings.log_level)
        known["settings"] = settings
    return known["settings"]  # type: ignore[no-any-return]


def runtime_of(ctx: click.Context, settings: Settings | None = None) -> Runtime:
    """The command's runtime over `settings` (by default `settings_of`), closed when the
    command ends."""
    from ioc.app import Runtime

    runtime = Runtime(settings if settings is not None else settings_of(ctx))
    ctx.call_on_close(runtime.close)
    return runtime


def demo_option(command: Callable[..., None]) -> Callable[..., None]:
    """`--demo` on a reading command: what the last `ioc demo` run recorded, instead of the
    configured state database and telemetry. Given anywhere on the command line of a reading
    command (`ioc alerts --demo show 5` and `ioc alerts show 5 --demo` alike)."""

    def remember(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.find_root().obj["demo"] = True

    return click.option(
        "--demo",
        is_flag=True,
        expose_value=False,
        callback=remember,
        help="Read what the last `ioc demo` run recorded.",
    )(command)


class StopFlag:
    """Set by SIGINT/SIGTERM so long commands end cleanly."""

    def __init__(self) -> None:
        self.stop = False
        signal.signal(signal.SIGINT, self._set)
        signal.signal(signal.SIGTERM, self._set)

    def _set(self, _signum: int, _frame: Any) -> None:
        self.stop = True

    def __call__(self) -> bool:
        return self.stop


@click.group(cls=_IocGroup)
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="TOML settings file; IOC_* variables override it.",
)
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """ioc: monitoring backend of a municipal IoT operations centre."""
    ctx.obj = {"config": config}


STATUS_EVERY = click.option(
    "--status-every",
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds between status lines.",
)


def supervise(ctx: click.Context, build: Callable[[Settings, Catalog], Supervisor]) -> None:
    """Build a process's services from the settings and run them until stopped."""
    from ioc.app import load_catalog

    settings = settings_of(ctx)
    supervisor = build(settings, load_catalog(settings))
    # What is loaded now (the inventory, profiles, rules: large in a national fleet) lives as
    # long as the process: out of the collector's sight, full collections stop walking it.
    gc.freeze()
    sys.exit(supervisor.run(StopFlag()))


def cli_caller(actor: str) -> Caller:
    """Who acts from the command line (`--by`, the login name by default), and on which host:
    the audit trail's actor and origin."""
    return Caller(actor, f"cli {socket.gethostname()}")


BY_OPTION = click.option(
    "--by", "actor", default=lambda: os.environ.get("USER", "operator"), help="Who (audit)."
)


WAIT_OPTION = click.option(
    "--wait", type=float, default=10.0, show_default=True, help="Seconds to wait for ioc."
)


def parse_time(text: str) -> int:
    """Epoch ms from an ISO 8601 time or date, or 'now'; a time without an offset, or a date
    (its midnight), is in the deployment's zone (IOC_TIMEZONE)."""
    import datetime as dt

    from ioc.domain import epoch_ms_of, now_ms

    if text == "now":
        return now_ms()
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadArgument(
            said("{text!r} is not an ISO 8601 time (2026-11-22T08:00+07:00)", text=text)
        ) from exc
    return epoch_ms_of(moment, deployment_zone())


def deployment_zone() -> tzinfo:
    """The deployment's zone, in which the CLI reads and prints every time."""
    return settings_of(click.get_current_context()).zone


def speech() -> Speech:
    """How the CLI speaks: the deployment's language (IOC_LANGUAGE) and zone (IOC_TIMEZONE)."""
    settings = settings_of(click.get_current_context())
    return Speech(settings.language, settings.zone)


def emit(
    rows: list[dict[str, object]], title: str, sheet: str, output: str, out: Path | None
) -> None:
    """Rows as a table on the terminal, or as JSON, CSV or XLSX to standard output or `out`."""
    if output == "table":
        from ioc.reports import rows_text

        click.echo(f"{title}\n{rows_text(rows, speech())}", nl=False)
        return
    import orjson

    from ioc.reports import rows_csv, rows_xlsx

    data = {
        "json": lambda: orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n",
        "csv": lambda: rows_csv(rows).encode(),
        "xlsx": lambda: rows_xlsx(rows, title, speech(), sheet),
    }[output]()
    if out is None:
        sys.stdout.buffer.write(data)
    else:
        out.write_bytes(data)
        click.echo(speech().say("{n} rows written to {file}", n=len(rows), file=out), err=True)


def store_failed(exc: Exception) -> NoReturn:
    """A report with figures from telemetry, and the telemetry store did not answer."""
    said = speech().say(
        "the report reads telemetry, and the store did not answer: {error}", error=exc
    )
    click.echo(f"ioc: {said}", err=True)
    sys.exit(EXIT_FAILED)


def time_text(ms: int, seconds: bool = False) -> str:
    """The one way the CLI prints a time: in the deployment's zone with its offset,
    2026-11-01 08:00+07:00 (with `seconds`, 08:00:00+07:00)."""
    from ioc.domain import local_text

    return local_text(ms, deployment_zone(), seconds)
