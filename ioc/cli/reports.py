"""`ioc report`: availability, online at a moment, BTS power, links."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ioc.domain import said

if TYPE_CHECKING:
    from ioc.app import Runtime
    from ioc.i18n import Language
    from ioc.reports import Period, Scope

from ioc.cli._base import (
    BadArgument,
    demo_option,
    deployment_zone,
    emit,
    main,
    parse_time,
    runtime_of,
    speech,
    store_failed,
)
from ioc.i18n import Speech


@main.group()
def report() -> None:
    """Reports from what ioc recorded (docs/reports.md)."""


def _report_options(command: Callable[..., None]) -> Callable[..., None]:
    """What every report takes: grouping, scope (given to the command as `scope`), format and
    where to write."""

    @functools.wraps(command)
    def scoped(*args: Any, area: str | None, device_class: str | None, tag: str | None,
               map_at: str | None, **kwargs: Any) -> None:  # fmt: skip
        from ioc.reports import Scope

        at = parse_time(map_at) if map_at is not None else None
        command(*args, scope=Scope(area, device_class, tag, at), **kwargs)

    options = [
        click.option("--by", default="area", show_default=True,
                     help="device, area, class, tag, all, or an area kind (commune, district...)."),
        click.option("--area", default=None, help="Only devices in this area's subtree."),
        click.option("--class", "device_class", default=None, help="Only devices of this class."),
        click.option("--tag", default=None, help="Only devices with this tag (a programme group)."),
        click.option("--map-at", default=None,
                     help="Place devices by area on the map in effect then (before a reform)."),
        click.option("--format", "output", type=click.Choice(["table", "json", "csv", "xlsx"]),
                     default="table", show_default=True),
        click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Write to this file (needed for xlsx)."),
    ]  # fmt: skip
    for option in reversed(options):
        scoped = option(scoped)
    return demo_option(scoped)


def _period_options(command: Callable[..., None]) -> Callable[..., None]:
    """The period a report covers: --from and --to, or --month."""
    options = [
        click.option("--from", "start", default=None,
                     help="ISO 8601 time; a date is its midnight in IOC_TIMEZONE."),
        click.option("--to", "end", default="now", show_default=True,
                     help="ISO 8601 time, or now."),
        click.option("--month", default=None,
                     help="A month, 2026-11: from its first midnight to the next "
                          "month's, in IOC_TIMEZONE."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


@report.command("availability")
@_period_options
@click.option(
    "--html",
    "page",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the printable report (HTML, charts included) to this file.",
)
@click.option(
    "--lang",
    type=click.Choice(["vi", "en"]),
    default=None,
    help="The printable report's language (default: IOC_LANGUAGE).",
)
@_report_options
@click.pass_context
def report_availability(
    ctx: click.Context, start: str | None, end: str, month: str | None, page: Path | None,
    lang: Language | None, by: str, scope: Scope, output: str, out: Path | None,
) -> None:  # fmt: skip
    """Availability, outages, maintenance, MTTA and MTTR per group over a period."""
    from ioc.app import availability_and_overall, availability_report
    from ioc.reports import availability_html

    period = _period(start, end, month)

    def make(runtime: Runtime, scope: Scope) -> list[dict[str, object]]:
        if page is None:
            grouped = availability_report(runtime, period, scope, by)
        else:  # the printable report from the same figures
            grouped, overall = availability_and_overall(runtime, period, scope, by)
            reader = speech() if lang is None else Speech(lang, deployment_zone())
            html = availability_html(grouped, overall, by, period, reader)
            page.write_text(html, encoding="utf-8")
            click.echo(speech().say("printable report written to {file}", file=page), err=True)
        return [figures.row() for figures in grouped]

    rows = _report(ctx, make, scope, output, out)
    emit(rows, _title("availability", by, period), "availability", output, out)


@report.command("online")
@click.option("--at", "moment", default="now", show_default=True, help="ISO 8601 time, or now.")
@_report_options
@click.pass_context
def report_online(
    ctx: click.Context, moment: str, by: str, scope: Scope, output: str, out: Path | None,
) -> None:  # fmt: skip
    """How many points were online at a moment, per group ("235/241 at 08:00")."""
    from ioc.app import availability_report
    from ioc.domain import now_ms
    from ioc.reports import Period, ReportError

    at = parse_time(moment)
    if at > now_ms():
        raise ReportError(
            said(
                "--at {moment} is in the future: nobody knows yet who will be online", moment=moment
            )
        )
    instant = Period(at, at + 1)

    def make(runtime: Runtime, scope: Scope) -> list[dict[str, object]]:
        found = availability_report(runtime, instant, scope, by)
        return [figures.moment_row() for figures in found]

    rows = _report(ctx, make, scope, output, out)
    emit(rows, _title("online", by, instant), "online", output, out)


@report.command("power")
@_period_options
@_report_options
@click.pass_context
def report_power(
    ctx: click.Context, start: str | None, end: str, month: str | None, by: str, scope: Scope,
    output: str,
    out: Path | None,
) -> None:  # fmt: skip
    """BTS power per group: mains failures, hours on battery, generator hours."""
    from ioc.app import report_rows

    period = _period(start, end, month)

    def make(runtime: Runtime, scope: Scope) -> list[dict[str, object]]:
        return report_rows(runtime, "power", period, scope, by)

    rows = _report(ctx, make, scope, output, out)
    emit(rows, _title("power", by, period), "power", output, out)


@report.command("links")
@_period_options
@click.option("--top", type=click.IntRange(1), default=None, help="Only the N that drop most.")
@_report_options
@click.pass_context
def report_links(
    ctx: click.Context, start: str | None, end: str, month: str | None, top: int | None,
    by: str, scope: Scope,
    output: str, out: Path | None,
) -> None:  # fmt: skip
    """Links per group, those that drop most often first: outages, flapping episodes,
    availability."""
    from ioc.app import report_rows

    period = _period(start, end, month)

    def make(runtime: Runtime, scope: Scope) -> list[dict[str, object]]:
        return report_rows(runtime, "links", period, scope, by)[:top]

    rows = _report(ctx, make, scope, output, out)
    emit(rows, _title("links", by, period), "links", output, out)


def _title(kind: str, by: str, period: Period) -> str:
    """The report's title in the deployment's language and zone."""
    from ioc.reports import report_title

    return report_title(kind, by, period, speech())


def _period(start: str | None, end: str, month: str | None) -> Period:
    """The period asked for, as it can be counted now (cut at now, and said so on stderr)."""
    from ioc.domain import month_bounds, now_ms
    from ioc.reports import Period, ReportError

    if (start is None) == (month is None):
        raise BadArgument(said("say which period: --from (and --to), or --month 2026-11"))
    if month is not None:
        if end != "now":
            raise BadArgument(said("--month is a whole period: leave --to out"))
        try:
            begin, finish = month_bounds(month, deployment_zone())
        except ValueError as exc:
            raise BadArgument(
                said("--month {month!r} is not a month like 2026-11", month=month)
            ) from exc
    else:
        assert start is not None
        begin, finish = parse_time(start), parse_time(end)
        if finish <= begin:
            raise ReportError(
                f"--to {end} is not after --from {start}: a period ends after it starts"
            )
    counted = Period(begin, finish).up_to(now_ms(), deployment_zone())
    if counted.asked_end_ms is not None:
        from ioc.reports import period_text

        told = speech().say("counted up to now: {period}", period=period_text(counted, speech()))
        click.echo(f"ioc: {told}", err=True)
    return counted


def _report(
    ctx: click.Context,
    make: Callable[[Runtime, Scope], list[dict[str, object]]],
    scope: Scope,
    output: str,
    out: Path | None,
) -> list[dict[str, object]]:
    """The rows a report command asks for."""
    from ioc.store import StoreError

    if output == "xlsx" and out is None:
        raise click.UsageError("--format xlsx writes a workbook: say where with --out FILE")
    try:
        return make(runtime_of(ctx), scope)
    except StoreError as exc:
        store_failed(exc)
