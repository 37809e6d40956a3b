"""`ioc alerts`: list, show, and act on an alert (through the running rules process)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from ioc.domain import (
    ActionOutcome,
    AlertAction,
)
from ioc.i18n import SEVERITY_WORDS, STATE_WORDS, TRANSITION_WORDS, Speech, mark

if TYPE_CHECKING:
    from ioc.domain import Alert


from ioc.cli._base import (
    ACTION_EXIT,
    BY_OPTION,
    WAIT_OPTION,
    cli_caller,
    demo_option,
    main,
    runtime_of,
    speech,
    time_text,
)


@main.group(invoke_without_command=True)
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(["firing", "acknowledged", "resolved", "open"]),
    help="Only these states (repeatable); 'open' is firing or acknowledged.",
)
@click.option(
    "--severity",
    "severities",
    multiple=True,
    type=click.Choice(["critical", "major", "minor", "warning"]),
    help="Only these severities (repeatable).",
)
@click.option("--area", default=None, help="Only devices in this area's subtree.")
@click.option("--device", default=None, help="Only this device's alerts (its history).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@demo_option
@click.pass_context
def alerts(
    ctx: click.Context,
    states: tuple[str, ...],
    severities: tuple[str, ...],
    area: str | None,
    device: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List alerts, newest first; `ack`, `resolve`, `note` and `show` act on one."""
    if ctx.invoked_subcommand is not None:
        return
    import orjson

    from ioc.alerts import AlertFilter, alert_json, find_alerts, states_named
    from ioc.app import OperatorDesk
    from ioc.domain import Severity

    query = AlertFilter(
        states_named(states), frozenset(map(Severity, severities)), area, limit, device=device
    )
    runtime = runtime_of(ctx)
    inventory = runtime.catalog.inventory if area is not None else None
    found = find_alerts(OperatorDesk(runtime).alerts, inventory, query)
    if as_json:
        click.echo(
            orjson.dumps([alert_json(a) for a in found], option=orjson.OPT_INDENT_2).decode()
        )
        return
    told = speech()
    for alert in found:
        opened = time_text(alert.opened_at_ms, seconds=True)
        root = " " + told.say("(caused by #{id})", id=alert.root_id) if alert.root_id else ""
        silenced = " [" + told.say("silenced") + "]" if alert.silenced else ""
        state = told.say(STATE_WORDS[alert.state.value])
        severity = told.say(SEVERITY_WORDS[alert.severity.value])
        click.echo(
            f"#{alert.id:<6} {opened} {state:12} {severity:12} {alert.rule_id:22} "
            f"{alert.device_id:14} {_message(alert, told)}{root}{silenced}"
        )
    if not found:
        click.echo(told.say("no alerts match"))


def _act(
    ctx: click.Context,
    alert_id: int,
    action: AlertAction,
    actor: str,
    note: str,
    wait: float,
) -> None:
    """Have the running rules process do it; the exit code says what came of it."""
    from ioc.alerts import act_on_alert
    from ioc.app import OperatorDesk
    from ioc.domain import now_ms

    desk = OperatorDesk(runtime_of(ctx))
    caller = cli_caller(actor)
    result = act_on_alert(desk.alerts, action, alert_id, caller, note, now_ms(), wait, desk.audit)
    told = speech()
    if result.outcome is ActionOutcome.DONE:
        done = told.say(_ACTIONS[action.value])
        click.echo(
            told.say("alert #{id}: {action} by {actor}", id=alert_id, action=done, actor=actor)
        )
    elif result.outcome is ActionOutcome.QUEUED:
        seconds = format(wait, "g")
        queued = told.say(
            "request #{id} is queued, but no running `ioc run` / `ioc rules` took it within "
            "{wait} s; it will be applied when one runs",
            id=result.request_id, wait=seconds,
        )  # fmt: skip
        click.echo(f"ioc: {queued}", err=True)
    else:
        click.echo(f"ioc: {result.detail}", err=True)
    sys.exit(ACTION_EXIT[result.outcome])


@alerts.command("ack")
@click.argument("alert_id", type=int)
@click.option("--note", default="", help="What you are doing about it.")
@BY_OPTION
@WAIT_OPTION
@click.pass_context
def alerts_ack(ctx: click.Context, alert_id: int, note: str, actor: str, wait: float) -> None:
    """Acknowledge an alert (you have taken it on)."""
    _act(ctx, alert_id, AlertAction.ACKNOWLEDGE, actor, note, wait)


@alerts.command("resolve")
@click.argument("alert_id", type=int)
@click.option("--note", default="", help="What fixed it.")
@BY_OPTION
@WAIT_OPTION
@click.pass_context
def alerts_resolve(ctx: click.Context, alert_id: int, note: str, actor: str, wait: float) -> None:
    """Resolve an alert by hand (raised anew if its condition still holds)."""
    _act(ctx, alert_id, AlertAction.RESOLVE, actor, note, wait)


@alerts.command("note")
@click.argument("alert_id", type=int)
@click.argument("text")
@BY_OPTION
@WAIT_OPTION
@click.pass_context
def alerts_note(ctx: click.Context, alert_id: int, text: str, actor: str, wait: float) -> None:
    """Add a note to an alert's history."""
    _act(ctx, alert_id, AlertAction.NOTE, actor, text, wait)


@alerts.command("show")
@click.argument("alert_id", type=int)
@click.option(
    "--json", "as_json", is_flag=True, help="As JSON, with every time to the millisecond."
)
@demo_option
@click.pass_context
def alerts_show(ctx: click.Context, alert_id: int, as_json: bool) -> None:
    """One alert with its history and the alerts grouped under it."""
    from ioc.alerts import alert_detail, detail_json
    from ioc.app import OperatorDesk

    desk = OperatorDesk(runtime_of(ctx))
    detail = alert_detail(desk.alerts, alert_id)
    if detail is None:
        click.echo("ioc: " + speech().say("no alert {id}", id=alert_id), err=True)
        sys.exit(ACTION_EXIT[ActionOutcome.UNKNOWN_ALERT])
    if as_json:
        import orjson

        click.echo(orjson.dumps(detail_json(detail), option=orjson.OPT_INDENT_2).decode())
        return
    alert, told = detail.alert, speech()
    where = told.say("{rule} on {device}", rule=alert.rule_id, device=alert.device_id)
    click.echo(
        f"#{alert.id} {told.say(STATE_WORDS[alert.state.value])} "
        f"{told.say(SEVERITY_WORDS[alert.severity.value])} {where}: {_message(alert, told)}"
        + (" " + told.say("(caused by #{id})", id=alert.root_id) if alert.root_id else "")
    )
    for transition in detail.history:
        note = f" - {transition.note}" if transition.note else ""
        kind = told.say(TRANSITION_WORDS[transition.kind.value])
        click.echo(f"  {time_text(transition.at_ms)} {kind:12} {transition.actor}{note}")
    affected = told.say("affected")
    for child in detail.children:
        state = told.say(STATE_WORDS[child.state.value])
        click.echo(f"  {affected}: #{child.id} {state} {child.rule_id} {child.device_id}")


# What an operator's action did, as the CLI says it.
_ACTIONS = {
    "ack": mark("acknowledged"), "resolve": mark("resolved"), "note": mark("noted"),
}  # fmt: skip


def _message(alert: Alert, told: Speech) -> str:
    """The alert's message in the reader's language."""
    return alert.message_vi if told.language == "vi" else alert.message_en
