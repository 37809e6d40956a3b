"""`ioc meeting`: meetings of the video-conference network."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ioc.app import MeetingDesk


from ioc.cli._base import (
    BY_OPTION,
    EXIT_FAILED,
    cli_caller,
    demo_option,
    emit,
    main,
    parse_time,
    runtime_of,
    speech,
    store_failed,
    time_text,
)


@main.group()
def meeting() -> None:
    """Meetings of the video-conference network: plan, readiness, report (docs/reports.md)."""


@contextlib.contextmanager
def _meetings(ctx: click.Context) -> Iterator[MeetingDesk]:
    """The meeting desk, closed when the command ends."""
    from ioc.app import MeetingDesk
    from ioc.store import StoreError

    try:
        yield MeetingDesk(runtime_of(ctx))
    except StoreError as exc:
        store_failed(exc)


@meeting.command("plan")
@click.option("--title", required=True)
@click.option("--start", required=True, help="ISO 8601 time; without an offset, in IOC_TIMEZONE.")
@click.option("--duration", default="2h", show_default=True, help="90m, 2h...")
@click.option("--area", default=None, help="The points of this area's subtree.")
@click.option("--class", "device_class", default=None, help="Of this class (default: vc).")
@click.option("--points", default=None, help="Or a list: vc-1,vc-2,...")
@BY_OPTION
@click.pass_context
def meeting_plan(
    ctx: click.Context, title: str, start: str, duration: str, area: str | None,
    device_class: str | None, points: str | None, actor: str,
) -> None:  # fmt: skip
    """Plan a meeting: its readiness board opens 30 minutes before it starts."""
    from ioc.rules import parse_duration

    try:
        length_ms = round(parse_duration(duration) * 1000)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--duration") from exc
    from ioc.domain import now_ms

    chosen = None if points is None else [p.strip() for p in points.split(",") if p.strip()]
    starts = parse_time(start)
    with _meetings(ctx) as desk:
        planned = desk.plan(
            title,
            starts,
            length_ms,
            cli_caller(actor),
            area,
            device_class,
            chosen,
            now_ms=now_ms(),
        )
    said = speech().say(
        "meeting #{id} planned: {title}, {points} points ({scope}), {start} to {end}",
        id=planned.id, title=planned.title, points=len(planned.points), scope=planned.scope,
        start=time_text(planned.starts_at_ms), end=time_text(planned.ends_at_ms),
    )  # fmt: skip
    click.echo(said)


@meeting.command("list")
@click.option("--from", "start", default="now", show_default=True, help="ISO 8601 time, or now.")
@click.option("--days", type=click.IntRange(1, 366), default=7, show_default=True)
@demo_option
@click.pass_context
def meeting_list(ctx: click.Context, start: str, days: int) -> None:
    """Meetings from a moment on (those under way included)."""
    since = parse_time(start)
    with _meetings(ctx) as desk:
        found = desk.between(since, since + days * 86_400_000)
    told = speech()
    for item in found:
        when = told.say(
            "{start} to {end}", start=time_text(item.starts_at_ms), end=time_text(item.ends_at_ms)
        )
        points = told.say("{n} points", n=str(len(item.points)).rjust(4))
        click.echo(f"#{item.id:<4} {when}  {points}  {item.title}")


@meeting.command("ready")
@click.argument("meeting_id", type=int)
@demo_option
@click.pass_context
def meeting_ready(ctx: click.Context, meeting_id: int) -> None:
    """Which points are ready now, and what keeps the others from being (exit 1 if any is not)."""
    with _meetings(ctx) as desk:
        planned, points = desk.readiness(meeting_id)
    ready, told = sum(p.ready for p in points), speech()
    said = told.say(
        "meeting #{id} {title}: {ready}/{points} points ready",
        id=planned.id, title=planned.title, ready=ready, points=len(points),
    )  # fmt: skip
    click.echo(said)
    for point in points:
        if not point.ready:
            why = told.say("not ready: {reasons}", reasons=", ".join(point.reasons))
            click.echo(f"  {point.device_id:24} {why}")
    if ready < len(points):
        sys.exit(EXIT_FAILED)


@meeting.command("report")
@click.argument("meeting_id", type=int)
@click.option("--format", "output", type=click.Choice(["table", "json", "csv", "xlsx"]),
              default="table", show_default=True)  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@demo_option
@click.pass_context
def meeting_report(ctx: click.Context, meeting_id: int, output: str, out: Path | None) -> None:
    """Who was connected for how long, with drops and quality alerts."""
    if output == "xlsx" and out is None:
        raise click.UsageError("--format xlsx writes a workbook: say where with --out FILE")
    from ioc.domain import now_ms

    with _meetings(ctx) as desk:
        planned, rows = desk.report(meeting_id, now_ms())
    title = speech().say(
        "Meeting #{id} {title}, {start}",
        id=planned.id, title=planned.title, start=time_text(planned.starts_at_ms),
    )  # fmt: skip
    emit(rows, title, "meeting", output, out)


@meeting.command("cancel")
@click.argument("meeting_id", type=int)
@BY_OPTION
@click.pass_context
def meeting_cancel(ctx: click.Context, meeting_id: int, actor: str) -> None:
    """Cancel a meeting."""
    from ioc.domain import now_ms

    with _meetings(ctx) as desk:
        if not desk.cancel(meeting_id, now_ms(), cli_caller(actor)):
            said = speech().say("no meeting #{id} to cancel", id=meeting_id)
            click.echo(f"ioc: {said}", err=True)
            sys.exit(EXIT_FAILED)
    click.echo(speech().say("meeting #{id} cancelled", id=meeting_id))
