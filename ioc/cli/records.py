"""`ioc notifications` and `ioc dead-letters`: what ioc sent, and what it refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    pass


from ioc.cli._base import (
    demo_option,
    main,
    parse_time,
    runtime_of,
    settings_of,
    speech,
    time_text,
)


@main.command()
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["queued", "sending", "sent", "failed", "held", "skipped"]),
    help="Only these (repeatable).",
)
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@demo_option
@click.pass_context
def notifications(ctx: click.Context, statuses: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Notifications newest first: to whom, how, why, and how delivery went."""
    import dataclasses

    import orjson

    from ioc.app import OperatorDesk
    from ioc.domain import NotificationStatus

    settings = settings_of(ctx)
    desk = OperatorDesk(runtime_of(ctx, settings))
    listed = desk.outbox.listing([NotificationStatus(s) for s in statuses], limit)
    if as_json:
        rows = [dataclasses.asdict(n) for n in listed]
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    told = speech()
    for n in listed:
        alert = f"#{n.alert_id}" if n.alert_id is not None else "-"
        error = f"  ({n.last_error})" if n.last_error else ""
        created = time_text(n.created_at_ms)
        tries = told.say("tries {n}", n=n.attempts)
        click.echo(
            f"{n.id:>6} {created} {n.status.value:8} {n.kind.value:9} {alert:>7} "
            f"{n.person_id:16} {n.channel:8} {tries}{error}"
        )


@main.command("dead-letters")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--reason", default=None, help="Only this reject reason.")
@demo_option
@click.pass_context
def dead_letters(ctx: click.Context, limit: int, reason: str | None) -> None:
    """Show the newest rejected messages with their reason and payload."""
    from ioc.app import OperatorDesk

    desk = OperatorDesk(runtime_of(ctx))
    letters = desk.dead_letters.recent(limit, reason)
    for letter in letters:
        when = time_text(letter.received_ms, seconds=True)
        payload = letter.payload[:200].decode("utf-8", errors="replace")
        click.echo(
            f"{when} {letter.reason:16} {letter.topic}\n    {letter.detail}\n    {payload!r}"
        )


@main.command("audit")
@click.option("--since", default=None, help="ISO 8601 time or date (local); default: 7 days ago.")
@click.option("--until", default=None, help="ISO 8601 time or date (local); default: now.")
@click.option("--actor", default=None, help="Only actions by someone whose name holds this.")
@click.option("--action", default=None, help="Only actions starting so (alert., token.create).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--format", "output", type=click.Choice(["table", "json", "csv"]),
              default="table", show_default=True)  # fmt: skip
@demo_option
@click.pass_context
def audit(
    ctx: click.Context, since: str | None, until: str | None, actor: str | None,
    action: str | None, limit: int, output: str,
) -> None:  # fmt: skip
    """Who did what, when, from where, and what it was before and after (newest first)."""
    import orjson

    from ioc.app import OperatorDesk
    from ioc.domain import change_text, now_ms

    start = parse_time(since) if since is not None else now_ms() - 7 * 86_400_000
    end = parse_time(until) if until is not None else None
    desk = OperatorDesk(runtime_of(ctx))
    found = desk.audit.find(start, end, actor, action, limit)
    rows: list[dict[str, object]] = [
        {
            "at": time_text(e.at_ms, seconds=True), "actor": e.actor, "origin": e.origin,
            "action": e.action, "target": e.target,
            "before": change_text(e.before), "after": change_text(e.after),
        }
        for e in found
    ]  # fmt: skip
    if output == "json":
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    if output == "csv":
        from ioc.reports import rows_csv

        click.echo(rows_csv(rows), nl=False)
        return
    for row in rows:
        change = f"{row['before'] or '-'} -> {row['after'] or '-'}"
        click.echo(
            f"{row['at']}  {row['actor']:24} {row['origin']:18} {row['action']:18} "
            f"{row['target']:22} {change}"
        )
    if not rows:
        click.echo(speech().say("no action recorded in that period"))
