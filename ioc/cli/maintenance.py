"""`ioc maintenance`: maintenance windows."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    pass


from ioc.cli._base import (
    BY_OPTION,
    cli_caller,
    main,
    parse_time,
    runtime_of,
    speech,
    time_text,
)
from ioc.i18n import SCOPE_WORDS


@main.group()
def maintenance() -> None:
    """Maintenance windows: alerts inside are recorded, marked silenced, not notified."""


@maintenance.command("add")
@click.option("--device", default=None, help="A device (and everything that depends on it).")
@click.option("--area", default=None, help="Every device in an area's subtree.")
@click.option("--rule", default=None, help="Every alert of one rule.")
# --from/--to as every period the CLI asks for; --start/--end as they were first named.
@click.option("--from", "--start", "start", default="now", show_default=True,
              help="ISO 8601 time, or now.")  # fmt: skip
@click.option("--to", "--end", "end", default=None, help="ISO 8601 time.")
@click.option("--duration", default=None, help="Instead of --to: 90m, 4h, 1d...")
@click.option("--reason", required=True, help="Why (shown with every silenced alert).")
@click.option("--by", "created_by", default=lambda: os.environ.get("USER", "operator"))
@click.pass_context
def maintenance_add(
    ctx: click.Context,
    device: str | None,
    area: str | None,
    rule: str | None,
    start: str,
    end: str | None,
    duration: str | None,
    reason: str,
    created_by: str,
) -> None:
    """Plan a maintenance window (the running ioc applies it within 10 s)."""
    from ioc.app import OperatorDesk
    from ioc.domain import MaintenanceWindow, WindowScope, now_ms
    from ioc.rules import parse_duration

    scopes = [(WindowScope.DEVICE, device), (WindowScope.AREA, area), (WindowScope.RULE, rule)]
    given = [(scope, target) for scope, target in scopes if target is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --device, --area or --rule")
    if (end is None) == (duration is None):
        raise click.UsageError("give exactly one of --to (--end) or --duration")
    starts = parse_time(start)
    if end is not None:
        ends = parse_time(end)
    else:
        try:
            ends = starts + round(parse_duration(duration) * 1000)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--duration") from exc
    scope, target = given[0]
    window = MaintenanceWindow(0, scope, target, starts, ends, reason, created_by)
    saved = OperatorDesk(runtime_of(ctx)).plan_window(window, now_ms(), cli_caller(created_by))
    said = speech().say(
        "window #{id}: {scope} {target} until {end}",
        id=saved.id, scope=speech().say(SCOPE_WORDS[scope.value]), target=target,
        end=time_text(ends),
    )  # fmt: skip
    click.echo(said)


@maintenance.command("list")
@click.pass_context
def maintenance_list(ctx: click.Context) -> None:
    """Windows in force or planned."""
    from ioc.app import OperatorDesk
    from ioc.domain import now_ms

    desk, told = OperatorDesk(runtime_of(ctx)), speech()
    windows = desk.alerts.current_windows(now_ms())
    for window in windows:
        click.echo(
            f"#{window.id:<5} {told.say(SCOPE_WORDS[window.scope.value]):9} {window.target:24} "
            f"{time_text(window.starts_at_ms)} -> {time_text(window.ends_at_ms)}  "
            f"{window.reason} ({window.created_by})"
        )
    if not windows:
        click.echo(told.say("no maintenance windows"))


@maintenance.command("end")
@click.argument("window_id", type=int)
@BY_OPTION
@click.pass_context
def maintenance_end(ctx: click.Context, window_id: int, actor: str) -> None:
    """End a window now."""
    from ioc.alerts import end_window
    from ioc.app import OperatorDesk
    from ioc.domain import now_ms

    desk = OperatorDesk(runtime_of(ctx))
    end_window(desk.alerts, window_id, now_ms(), cli_caller(actor), desk.audit)
    click.echo(speech().say("window #{id} ended", id=window_id))
