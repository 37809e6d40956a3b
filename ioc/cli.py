"""The `ioc` command line: a thin face over `ioc.app` (processes, operator desk) and the use
cases of `ioc.alerts`; it parses arguments, prints, and maps errors and outcomes to exit codes."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from ioc.config import ConfigError, Settings, load_settings
from ioc.domain import (
    ActionOutcome,
    AlertAction,
    BadInput,
    ClusterStatus,
    Conflict,
    IocError,
    NeedsOperator,
    NotFound,
    RetryLater,
)
from ioc.inventory import FleetShape, generate_inventory, write_inventory

if TYPE_CHECKING:
    from ioc.app import Catalog, MeetingDesk, Supervisor
    from ioc.reports import Period, Scope

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
            click.echo(f"ioc: {exc}", err=True)
            sys.exit(exit_code(exc))
        except BrokenPipeError:
            _reader_gone()
        except OSError as exc:  # the machine said no: a folder not writable, a disk full
            click.echo(f"ioc: {exc}", err=True)
            sys.exit(EXIT_FAILED)


# The shell's status of a command killed by SIGPIPE (128 + 13): what `set -o pipefail` sees of
# any Unix tool whose reader went away.
EXIT_READER_GONE = 141


def _reader_gone() -> NoReturn:
    """Standard output's reader went away (`ioc alerts | head -2`): stop quietly, as a Unix
    tool does. Output still buffered goes nowhere, so the interpreter's last flush cannot fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_READER_GONE)


def _settings(ctx: click.Context) -> Settings:
    from ioc.app import configure_logging, demo_records

    settings = load_settings(ctx.find_root().obj["config"])
    if ctx.find_root().obj.get("demo"):
        settings = demo_records(settings)
    configure_logging(settings.log_level)
    return settings


def _demo_option(command: Callable[..., None]) -> Callable[..., None]:
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


class _StopFlag:
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


@main.command("check-config")
@click.pass_context
def check_config(ctx: click.Context) -> None:
    """Check settings, profiles, inventory, rules and the notification file (with its
    channels); exit 2 on any mistake."""
    from ioc.app import check_configuration

    click.echo(check_configuration(_settings(ctx)))


_STATUS_EVERY = click.option(
    "--status-every",
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds between status lines.",
)


def _supervise(ctx: click.Context, build: Callable[[Settings, Catalog], Supervisor]) -> None:
    """Build a process's services from the settings and run them until stopped."""
    from ioc.app import load_catalog

    settings = _settings(ctx)
    supervisor = build(settings, load_catalog(settings))
    # What is loaded now (the inventory, profiles, rules: large in a national fleet) lives as
    # long as the process: out of the collector's sight, full collections stop walking it.
    gc.freeze()
    sys.exit(supervisor.run(_StopFlag()))


@main.command()
@_STATUS_EVERY
@click.pass_context
def ingest(ctx: click.Context, status_every: float) -> None:
    """Run the ingestor against the configured broker and store."""
    from ioc.app import ingest_process

    _supervise(ctx, lambda settings, catalog: ingest_process(settings, catalog, status_every))


@main.command()
@_STATUS_EVERY
@click.pass_context
def run(ctx: click.Context, status_every: float) -> None:
    """Run ingest, the rule engine, the notifier and the API together in one process."""
    from ioc.app import run_process

    _supervise(ctx, lambda settings, catalog: run_process(settings, catalog, status_every))


@main.group(invoke_without_command=True)
@_STATUS_EVERY
@click.pass_context
def rules(ctx: click.Context, status_every: float) -> None:
    """Run the rule engine alone (its own subscription); see also `reload` and `list`."""
    from ioc.app import rules_process

    if ctx.invoked_subcommand is None:
        _supervise(ctx, lambda settings, catalog: rules_process(settings, catalog, status_every))


@rules.command("list")
@click.pass_context
def rules_list(ctx: click.Context) -> None:
    """Check the rule files and list the rules with how many devices each watches."""
    from ioc.app import load_catalog, load_rule_set

    settings = _settings(ctx)
    loaded = load_rule_set(settings, load_catalog(settings))
    for rule in loaded:
        spec = rule.spec
        click.echo(
            f"{spec.id:24} {spec.severity.value:8} {spec.condition.kind:9} "
            f"{len(rule.devices):>7,} devices  {spec.title.en}"
        )


@rules.command("reload")
@click.pass_context
def rules_reload(ctx: click.Context) -> None:
    """Check the rule files, then tell the running `ioc rules` / `ioc run` to reload them."""
    from ioc.app import load_catalog, request_reload

    settings = _settings(ctx)
    click.echo(request_reload(settings, load_catalog(settings)))


@main.group()
def gateway() -> None:
    """Site gateways that speak for devices without MQTT."""


@gateway.command("modbus")
@click.argument("gateway_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--check", is_flag=True, help="Check the file and its maps, print the plan, exit.")
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve Prometheus metrics on this port.",
)
@click.option("--metrics-host", default="127.0.0.1", show_default=True)
@click.pass_context
def gateway_modbus(
    ctx: click.Context, gateway_file: Path, check: bool, metrics_port: int | None, metrics_host: str
) -> None:
    """Poll Modbus RTU controllers on serial ports and publish them over MQTT.

    GATEWAY_FILE names the ports (device paths or pyserial URLs), the controllers' unit ids,
    the devices they are and their register maps; see docs/gateway.md.
    """
    from ioc.app import describe, gateway_process, load_catalog, load_gateway

    settings = _settings(ctx)
    config, warnings = load_gateway(load_catalog(settings), gateway_file)
    for warning in warnings:
        click.echo(f"ioc: warning: {warning}", err=True)
    click.echo(describe(config), err=True)
    if check:
        return
    sys.exit(gateway_process(settings, config, metrics_port, metrics_host).run(_StopFlag()))


@main.command("probe")
@click.argument("probe_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--check", is_flag=True, help="Check the file and its profiles, print the plan, exit."
)
@click.pass_context
def probe(ctx: click.Context, probe_file: Path, check: bool) -> None:
    """Watch routers, power systems and VC endpoints (ICMP, SNMP, SIP); publish over MQTT.

    PROBE_FILE lists the targets by inventory device id with their addresses and probe
    profiles; see docs/probe.md.
    """
    from ioc.app import describe_probe, load_catalog, load_probe, probe_process

    settings = _settings(ctx)
    config = load_probe(load_catalog(settings), probe_file)
    click.echo(describe_probe(config), err=True)
    if check:
        return
    sys.exit(probe_process(settings, config).run(_StopFlag()))


@main.group()
def identities() -> None:
    """Broker identities: a user, a secret and topic grants for every device and process."""


def _identity_files(command: Callable[..., None]) -> Callable[..., None]:
    """The options `identities make` and `revoke` share: where, which collectors, reload."""
    options = [
        click.option("--out", "directory", type=click.Path(path_type=Path, file_okay=False),
                     required=True, help="Folder of the secrets and the broker's files."),
        click.option("--gateway", "gateway_files", multiple=True,
                     type=click.Path(path_type=Path, dir_okay=False),
                     help="A gateway file: it publishes for its controllers (repeatable)."),
        click.option("--probe", "probe_files", multiple=True,
                     type=click.Path(path_type=Path, dir_okay=False),
                     help="A probe file: it publishes for its targets (repeatable)."),
        click.option("--reload", "pid_file", type=click.Path(path_type=Path, dir_okay=False),
                     default=None, help="Then SIGHUP the Mosquitto whose pid file this is."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


@identities.command("make")
@_identity_files
@click.option("--tls-host", "tls_hosts", multiple=True,
              help="A name or address clients reach the broker by (repeatable): makes a private "
                   "CA, the broker's certificate and one client certificate per identity; once "
                   "made, later runs keep TLS up to date.")  # fmt: skip
@click.option("--broker-owner", default=None, metavar="USER[:GROUP]",
              help="Give the broker's files to the user Mosquitto runs as (it reads them "
                   "after dropping root): 'mosquitto' on Debian, 1883:1883 in its "
                   "container.")  # fmt: skip
@click.option(
    "--ioc-listener",
    default="127.0.0.1:1883",
    show_default=True,
    metavar="HOST:PORT",
    help="Where ioc's own processes connect (mosquitto/ioc.conf).",
)
@click.option(
    "--device-listener",
    default=None,
    metavar="HOST:PORT",
    help="Where devices, collectors and phones connect; their client id is their "
    "identity [default: 0.0.0.0:8883 with TLS, 0.0.0.0:1884 without].",
)
@click.pass_context
def identities_make(
    ctx: click.Context,
    directory: Path,
    gateway_files: tuple[Path, ...],
    probe_files: tuple[Path, ...],
    pid_file: Path | None,
    tls_hosts: tuple[str, ...],
    broker_owner: str | None,
    ioc_listener: str,
    device_listener: str | None,
) -> None:
    """Write every identity of the inventory, the collectors' files and the notification file:
    secrets (existing ones kept), Mosquitto's password file and ACL, TLS certificates; see
    docs/security.md."""
    from ioc.app import load_catalog, make_identities
    from ioc.broker import Listeners, reload_broker

    settings = _settings(ctx)
    listeners = Listeners(
        _host_port(ioc_listener, "--ioc-listener"),
        None if device_listener is None else _host_port(device_listener, "--device-listener"),
    )
    made = make_identities(
        settings, load_catalog(settings), directory, gateway_files, probe_files, tls_hosts,
        broker_owner, listeners,
    )  # fmt: skip
    unplanned = (
        f"; {len(made.unplanned)} not in this plan and left out of the broker's files "
        f"(give the same --gateway/--probe files as before): {', '.join(made.unplanned[:5])}"
        if made.unplanned
        else ""
    )
    click.echo(
        f"identities: {len(made.added)} added, {made.kept} kept, {len(made.revoked)} revoked "
        f"({directory / 'identities.csv'}){unplanned}"
    )
    for warning in made.warnings:
        click.echo(f"ioc: warning: {warning}", err=True)
    if made.tls is not None:
        click.echo(
            f"tls: {made.tls.issued} client certificates issued ({made.tls.clients}); "
            f"clients trust {made.tls.ca_cert}; the broker's certificate names "
            f"{', '.join(made.tls.hosts)}"
        )
    click.echo(
        f"broker: {made.broker_conf} holds ioc's limits, these files and the listeners; "
        f"Debian: ln -sf {made.broker_conf} /etc/mosquitto/conf.d/ioc.conf, then restart "
        "mosquitto (docs/security.md)"
    )
    if pid_file is not None:
        click.echo(f"broker: told to reload (pid {reload_broker(pid_file)})")


def _host_port(text: str, option: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadArgument(f"{option} {text!r} is not HOST:PORT (127.0.0.1:1883)")
    return host.strip("[]"), int(port)


@identities.command("revoke")
@click.argument("name")
@_identity_files
@click.pass_context
def identities_revoke(
    ctx: click.Context,
    name: str,
    directory: Path,
    gateway_files: tuple[Path, ...],
    probe_files: tuple[Path, ...],
    pid_file: Path | None,
) -> None:
    """Take NAME's access away: rewrite the broker's files without it (and reload it)."""
    from ioc.app import load_catalog, make_identities
    from ioc.broker import reload_broker, revoke

    settings = _settings(ctx)
    revoke(directory, name)
    make_identities(settings, load_catalog(settings), directory, gateway_files, probe_files)
    click.echo(f"identities: {name} revoked")
    if pid_file is not None:
        click.echo(f"broker: told to reload (pid {reload_broker(pid_file)})")


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
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@_demo_option
@click.pass_context
def alerts(
    ctx: click.Context,
    states: tuple[str, ...],
    severities: tuple[str, ...],
    area: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List alerts, newest first; `ack`, `resolve`, `note` and `show` act on one."""
    if ctx.invoked_subcommand is not None:
        return
    import orjson

    from ioc.alerts import AlertFilter, alert_json, find_alerts, states_named
    from ioc.app import OperatorDesk, load_catalog
    from ioc.domain import Severity

    settings = _settings(ctx)
    query = AlertFilter(states_named(states), frozenset(map(Severity, severities)), area, limit)
    inventory = load_catalog(settings).inventory if area is not None else None
    with OperatorDesk(settings) as desk:
        found = find_alerts(desk.alerts, inventory, query)
    if as_json:
        click.echo(
            orjson.dumps([alert_json(a) for a in found], option=orjson.OPT_INDENT_2).decode()
        )
        return
    for alert in found:
        opened = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(alert.opened_at_ms / 1000))
        root = f" (caused by #{alert.root_id})" if alert.root_id else ""
        silenced = " [silenced]" if alert.silenced else ""
        click.echo(
            f"#{alert.id:<6} {opened}Z {alert.state.value:12} {alert.severity.value:8} "
            f"{alert.rule_id:22} {alert.device_id:14} {alert.message_en}{root}{silenced}"
        )
    if not found:
        click.echo("no alerts match")


_BY = click.option(
    "--by", "actor", default=lambda: os.environ.get("USER", "operator"), help="Who (audit)."
)
_WAIT = click.option(
    "--wait", type=float, default=10.0, show_default=True, help="Seconds to wait for ioc."
)


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

    with OperatorDesk(_settings(ctx)) as desk:
        result = act_on_alert(desk.alerts, action, alert_id, actor, note, now_ms(), wait)
    if result.outcome is ActionOutcome.DONE:
        click.echo(f"alert #{alert_id}: {action.value} done by {actor}")
    elif result.outcome is ActionOutcome.QUEUED:
        click.echo(
            f"ioc: request #{result.request_id} is queued, but no running `ioc run` / "
            f"`ioc rules` took it within {wait:g} s; it will be applied when one runs",
            err=True,
        )
    else:
        click.echo(f"ioc: {result.detail}", err=True)
    sys.exit(ACTION_EXIT[result.outcome])


@alerts.command("ack")
@click.argument("alert_id", type=int)
@click.option("--note", default="", help="What you are doing about it.")
@_BY
@_WAIT
@click.pass_context
def alerts_ack(ctx: click.Context, alert_id: int, note: str, actor: str, wait: float) -> None:
    """Acknowledge an alert (you have taken it on)."""
    _act(ctx, alert_id, AlertAction.ACKNOWLEDGE, actor, note, wait)


@alerts.command("resolve")
@click.argument("alert_id", type=int)
@click.option("--note", default="", help="What fixed it.")
@_BY
@_WAIT
@click.pass_context
def alerts_resolve(ctx: click.Context, alert_id: int, note: str, actor: str, wait: float) -> None:
    """Resolve an alert by hand (raised anew if its condition still holds)."""
    _act(ctx, alert_id, AlertAction.RESOLVE, actor, note, wait)


@alerts.command("note")
@click.argument("alert_id", type=int)
@click.argument("text")
@_BY
@_WAIT
@click.pass_context
def alerts_note(ctx: click.Context, alert_id: int, text: str, actor: str, wait: float) -> None:
    """Add a note to an alert's history."""
    _act(ctx, alert_id, AlertAction.NOTE, actor, text, wait)


@alerts.command("show")
@click.argument("alert_id", type=int)
@click.option(
    "--json", "as_json", is_flag=True, help="As JSON, with every time to the millisecond."
)
@_demo_option
@click.pass_context
def alerts_show(ctx: click.Context, alert_id: int, as_json: bool) -> None:
    """One alert with its history and the alerts grouped under it."""
    from ioc.alerts import alert_detail, detail_json
    from ioc.app import OperatorDesk

    with OperatorDesk(_settings(ctx)) as desk:
        detail = alert_detail(desk.alerts, alert_id)
    if detail is None:
        click.echo(f"ioc: no alert {alert_id}", err=True)
        sys.exit(ACTION_EXIT[ActionOutcome.UNKNOWN_ALERT])
    if as_json:
        import orjson

        click.echo(orjson.dumps(detail_json(detail), option=orjson.OPT_INDENT_2).decode())
        return
    alert = detail.alert
    click.echo(
        f"#{alert.id} {alert.state.value} {alert.severity.value} {alert.rule_id} on "
        f"{alert.device_id}: {alert.message_en}"
        + (f" (caused by #{alert.root_id})" if alert.root_id else "")
    )
    for transition in detail.history:
        note = f" - {transition.note}" if transition.note else ""
        click.echo(
            f"  {_when(transition.at_ms)} {transition.kind.value:12} {transition.actor}{note}"
        )
    for child in detail.children:
        click.echo(f"  affected: #{child.id} {child.state.value} {child.rule_id} {child.device_id}")


@main.command()
@click.pass_context
def api(ctx: click.Context) -> None:
    """Serve the HTTP API and the wall alone on IOC_API_HOST:IOC_API_PORT (`ioc run` serves
    them too)."""
    from ioc.app import api_process

    def announce(url: str) -> None:
        click.echo(f"ioc api: the wall at {url}/wall/, the API at {url}/docs", err=True)

    _supervise(ctx, lambda settings, catalog: api_process(settings, catalog, announce))


@main.group()
def token() -> None:
    """API tokens (stored hashed; the secret is shown once)."""


@token.command("create")
@click.option(
    "--role",
    type=click.Choice(["viewer", "operator", "admin"]),
    required=True,
    help="viewer: read-only (the wall); operator: act on alerts; admin: everything.",
)
@click.option("--name", default=None, help="Who or what holds it (recorded as the actor).")
@click.option(
    "--expires", default=None, help="Valid for this long (90m, 12h, 30d); default: until revoked."
)
@_BY
@click.pass_context
def token_create(
    ctx: click.Context, role: str, name: str | None, expires: str | None, actor: str
) -> None:
    """Create a token; the secret is printed alone on the last line."""
    from ioc.app import OperatorDesk
    from ioc.config.documents import parse_duration
    from ioc.domain import Role, now_ms

    lifetime_ms = None
    if expires is not None:
        try:
            lifetime_ms = round(parse_duration(expires) * 1000)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--expires") from None
        if lifetime_ms < 60_000:
            raise click.BadParameter("at least 1m", param_hint="--expires")
    now = now_ms()
    with OperatorDesk(_settings(ctx)) as desk:
        record, secret = desk.tokens.create(
            Role(role), name or f"{role}-token", now, now + lifetime_ms if lifetime_ms else None,
            f"{actor} (cli)",
        )  # fmt: skip
    until = f", until {_when(record.expires_at_ms)}" if record.expires_at_ms else ""
    click.echo(f"token #{record.id} ({record.role.value}, {record.name}{until}); keep it secret:")
    click.echo(secret)


@token.command("list")
@click.pass_context
def token_list(ctx: click.Context) -> None:
    """Tokens (never their secrets)."""
    from ioc.app import OperatorDesk

    with OperatorDesk(_settings(ctx)) as desk:
        records = desk.tokens.list()
    for record in records:
        revoked = (
            f" revoked {_when(record.revoked_at_ms)} by {record.revoked_by or '?'}"
            if record.revoked_at_ms
            else ""
        )
        expires = f" expires {_when(record.expires_at_ms)}" if record.expires_at_ms else ""
        click.echo(
            f"#{record.id:<4} {record.role.value:8} {record.name:24} "
            f"created {_when(record.created_at_ms)} by {record.created_by or '?'}"
            f"{expires}{revoked}"
        )


@token.command("revoke")
@click.argument("token_id", type=int)
@_BY
@click.pass_context
def token_revoke(ctx: click.Context, token_id: int, actor: str) -> None:
    """Revoke a token at once."""
    from ioc.app import OperatorDesk
    from ioc.domain import now_ms

    with OperatorDesk(_settings(ctx)) as desk:
        revoked = desk.tokens.revoke(token_id, now_ms(), f"{actor} (cli)")
    if not revoked:
        click.echo(f"ioc: no live token #{token_id}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(f"token #{token_id} revoked")


@main.group()
def maintenance() -> None:
    """Maintenance windows: alerts inside are recorded, marked silenced, not notified."""


def _parse_time(text: str) -> int:
    """Epoch ms from an ISO 8601 time (a time without a zone is UTC) or 'now'."""
    import datetime as dt

    from ioc.domain import now_ms

    if text == "now":
        return now_ms()
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadArgument(f"{text!r} is not an ISO 8601 time (2026-11-22T08:00+07:00)") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


@maintenance.command("add")
@click.option("--device", default=None, help="A device (and everything that depends on it).")
@click.option("--area", default=None, help="Every device in an area's subtree.")
@click.option("--rule", default=None, help="Every alert of one rule.")
@click.option("--start", default="now", show_default=True, help="ISO 8601 time, or now.")
@click.option("--end", default=None, help="ISO 8601 time.")
@click.option("--duration", default=None, help="Instead of --end: 90m, 4h, 1d...")
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
    from ioc.alerts import plan_window
    from ioc.app import OperatorDesk, load_catalog, load_rule_set
    from ioc.domain import MaintenanceWindow, WindowScope, now_ms
    from ioc.rules import parse_duration

    scopes = [(WindowScope.DEVICE, device), (WindowScope.AREA, area), (WindowScope.RULE, rule)]
    given = [(scope, target) for scope, target in scopes if target is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --device, --area or --rule")
    if (end is None) == (duration is None):
        raise click.UsageError("give exactly one of --end or --duration")
    starts = _parse_time(start)
    if end is not None:
        ends = _parse_time(end)
    else:
        try:
            ends = starts + round(parse_duration(duration) * 1000)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--duration") from exc
    scope, target = given[0]
    settings = _settings(ctx)
    catalog = load_catalog(settings)
    rule_ids = frozenset(r.info.id for r in load_rule_set(settings, catalog))
    window = MaintenanceWindow(0, scope, target, starts, ends, reason, created_by)
    with OperatorDesk(settings) as desk:
        saved = plan_window(desk.alerts, catalog.inventory, rule_ids, window, now_ms())
    click.echo(f"window #{saved.id}: {scope.value} {target} until {_when(ends)}")


@maintenance.command("list")
@click.pass_context
def maintenance_list(ctx: click.Context) -> None:
    """Windows in force or planned."""
    from ioc.app import OperatorDesk
    from ioc.domain import now_ms

    with OperatorDesk(_settings(ctx)) as desk:
        windows = desk.alerts.current_windows(now_ms())
    for window in windows:
        click.echo(
            f"#{window.id:<5} {window.scope.value:6} {window.target:24} "
            f"{_when(window.starts_at_ms)} -> {_when(window.ends_at_ms)}  "
            f"{window.reason} ({window.created_by})"
        )
    if not windows:
        click.echo("no maintenance windows")


@maintenance.command("end")
@click.argument("window_id", type=int)
@click.pass_context
def maintenance_end(ctx: click.Context, window_id: int) -> None:
    """End a window now."""
    from ioc.alerts import end_window
    from ioc.app import OperatorDesk
    from ioc.domain import now_ms

    with OperatorDesk(_settings(ctx)) as desk:
        end_window(desk.alerts, window_id, now_ms())
    click.echo(f"window #{window_id} ended")


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
@_demo_option
@click.pass_context
def notifications(ctx: click.Context, statuses: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Notifications newest first: to whom, how, why, and how delivery went."""
    import dataclasses

    import orjson

    from ioc.app import OperatorDesk
    from ioc.domain import NotificationStatus

    settings = _settings(ctx)
    with OperatorDesk(settings) as desk:
        listed = desk.outbox.listing([NotificationStatus(s) for s in statuses], limit)
    if as_json:
        rows = [dataclasses.asdict(n) for n in listed]
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    for n in listed:
        alert = f"#{n.alert_id}" if n.alert_id is not None else "-"
        error = f"  ({n.last_error})" if n.last_error else ""
        click.echo(
            f"{n.id:>6} {_when(n.created_at_ms)} {n.status.value:8} {n.kind.value:9} {alert:>7} "
            f"{n.person_id:16} {n.channel:8} tries {n.attempts}{error}"
        )


@main.group()
def report() -> None:
    """Reports from what ioc recorded (docs/reports.md)."""


def _report_options(command: Callable[..., None]) -> Callable[..., None]:
    """What every report takes: grouping, scope, format and where to write."""
    options = [
        click.option("--by", default="area", show_default=True,
                     help="device, area, class, tag, all, or an area kind (commune, district...)."),
        click.option("--area", default=None, help="Only devices in this area's subtree."),
        click.option("--class", "device_class", default=None, help="Only devices of this class."),
        click.option("--tag", default=None, help="Only devices with this tag (a programme group)."),
        click.option("--format", "output", type=click.Choice(["table", "json", "csv", "xlsx"]),
                     default="table", show_default=True),
        click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Write to this file (needed for xlsx)."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return _demo_option(command)


@report.command("availability")
@click.option("--from", "start", required=True, help="ISO 8601 time (a date is midnight UTC).")
@click.option("--to", "end", default="now", show_default=True, help="ISO 8601 time, or now.")
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
    default="vi",
    show_default=True,
    help="The printable report's language.",
)
@_report_options
@click.pass_context
def report_availability(
    ctx: click.Context, start: str, end: str, page: Path | None, lang: str, by: str,
    area: str | None, device_class: str | None, tag: str | None, output: str, out: Path | None,
) -> None:  # fmt: skip
    """Availability, outages, maintenance, MTTA and MTTR per group over a period."""
    from ioc.app import availability_and_overall, availability_report
    from ioc.reports import availability_html

    period = _period(start, end)

    def make(settings: Settings, catalog: Catalog, scope: Scope) -> list[dict[str, object]]:
        if page is None:
            grouped = availability_report(settings, catalog, period, scope, by)
        else:  # the printable report from the same figures
            grouped, overall = availability_and_overall(settings, catalog, period, scope, by)
            page.write_text(availability_html(grouped, overall, by, period, lang), encoding="utf-8")
            click.echo(f"printable report written to {page}", err=True)
        return [figures.row() for figures in grouped]

    rows = _report(ctx, make, area, device_class, tag, output, out)
    _emit(rows, f"Availability by {by}, {period.describe()}", "availability", output, out)


@report.command("online")
@click.option("--at", "moment", default="now", show_default=True, help="ISO 8601 time, or now.")
@_report_options
@click.pass_context
def report_online(
    ctx: click.Context, moment: str, by: str, area: str | None, device_class: str | None,
    tag: str | None, output: str, out: Path | None,
) -> None:  # fmt: skip
    """How many points were online at a moment, per group ("235/241 at 08:00")."""
    from ioc.app import availability_report
    from ioc.domain import now_ms
    from ioc.reports import Period, ReportError

    at = _parse_time(moment)
    if at > now_ms():
        raise ReportError(f"--at {moment} is in the future: nobody knows yet who will be online")
    instant = Period(at, at + 1)

    def make(settings: Settings, catalog: Catalog, scope: Scope) -> list[dict[str, object]]:
        found = availability_report(settings, catalog, instant, scope, by)
        return [figures.moment_row() for figures in found]

    rows = _report(ctx, make, area, device_class, tag, output, out)
    _emit(rows, f"Online by {by} at {instant.describe().split(' to ')[0]}", "online", output, out)


@report.command("power")
@click.option("--from", "start", required=True, help="ISO 8601 time (a date is midnight UTC).")
@click.option("--to", "end", default="now", show_default=True, help="ISO 8601 time, or now.")
@_report_options
@click.pass_context
def report_power(
    ctx: click.Context, start: str, end: str, by: str, area: str | None,
    device_class: str | None, tag: str | None, output: str, out: Path | None,
) -> None:  # fmt: skip
    """BTS power per group: mains failures, hours on battery, generator hours."""
    from ioc.app import report_rows

    period = _period(start, end)

    def make(settings: Settings, catalog: Catalog, scope: Scope) -> list[dict[str, object]]:
        return report_rows(settings, catalog, "power", period, scope, by)

    rows = _report(ctx, make, area, device_class, tag, output, out)
    _emit(rows, f"BTS power by {by}, {period.describe()}", "power", output, out)


@report.command("links")
@click.option("--from", "start", required=True, help="ISO 8601 time (a date is midnight UTC).")
@click.option("--to", "end", default="now", show_default=True, help="ISO 8601 time, or now.")
@click.option("--top", type=click.IntRange(1), default=None, help="Only the N that drop most.")
@_report_options
@click.pass_context
def report_links(
    ctx: click.Context, start: str, end: str, top: int | None, by: str, area: str | None,
    device_class: str | None, tag: str | None, output: str, out: Path | None,
) -> None:  # fmt: skip
    """Links per group, those that drop most often first: outages, flapping episodes,
    availability."""
    from ioc.app import report_rows

    period = _period(start, end)

    def make(settings: Settings, catalog: Catalog, scope: Scope) -> list[dict[str, object]]:
        return report_rows(settings, catalog, "links", period, scope, by)[:top]

    rows = _report(ctx, make, area, device_class, tag, output, out)
    _emit(rows, f"Links by {by}, {period.describe()}", "links", output, out)


def _period(start: str, end: str) -> Period:
    """The period asked for, as it can be counted now (cut at now, and said so on stderr)."""
    from ioc.domain import now_ms
    from ioc.reports import Period, ReportError

    begin, finish = _parse_time(start), _parse_time(end)
    if finish <= begin:
        raise ReportError(f"--to {end} is not after --from {start}: a period ends after it starts")
    counted = Period(begin, finish).up_to(now_ms())
    if counted.asked_end_ms is not None:
        click.echo(f"ioc: counted up to now: {counted.describe()}", err=True)
    return counted


def _report(
    ctx: click.Context,
    make: Callable[[Settings, Catalog, Scope], list[dict[str, object]]],
    area: str | None,
    device_class: str | None,
    tag: str | None,
    output: str,
    out: Path | None,
) -> list[dict[str, object]]:
    """The rows a report command asks for."""
    from ioc.app import load_catalog
    from ioc.reports import Scope
    from ioc.store import StoreError

    if output == "xlsx" and out is None:
        raise click.UsageError("--format xlsx writes a workbook: say where with --out FILE")
    settings = _settings(ctx)
    try:
        return make(settings, load_catalog(settings), Scope(area, device_class, tag))
    except StoreError as exc:
        _store_failed(exc)


def _emit(
    rows: list[dict[str, object]], title: str, sheet: str, output: str, out: Path | None
) -> None:
    """Rows as a table on the terminal, or as JSON, CSV or XLSX to standard output or `out`."""
    if output == "table":
        from ioc.reports import rows_text

        click.echo(f"{title}\n{rows_text(rows)}", nl=False)
        return
    import orjson

    from ioc.reports import rows_csv, rows_xlsx

    data = {
        "json": lambda: orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n",
        "csv": lambda: rows_csv(rows).encode(),
        "xlsx": lambda: rows_xlsx(rows, title, sheet),
    }[output]()
    if out is None:
        sys.stdout.buffer.write(data)
    else:
        out.write_bytes(data)
        click.echo(f"{len(rows)} rows written to {out}", err=True)


@main.group()
def meeting() -> None:
    """Meetings of the video-conference network: plan, readiness, report (docs/reports.md)."""


@contextlib.contextmanager
def _meetings(ctx: click.Context) -> Iterator[MeetingDesk]:
    """The meeting desk, closed when the command ends."""
    from ioc.app import MeetingDesk, load_catalog
    from ioc.store import StoreError

    settings = _settings(ctx)
    desk = MeetingDesk(settings, load_catalog(settings))
    try:
        yield desk
    except StoreError as exc:
        _store_failed(exc)
    finally:
        desk.close()


def _store_failed(exc: Exception) -> NoReturn:
    """A report with figures from telemetry, and the telemetry store did not answer."""
    click.echo(f"ioc: the report reads telemetry, and the store did not answer: {exc}", err=True)
    sys.exit(EXIT_FAILED)


@meeting.command("plan")
@click.option("--title", required=True)
@click.option("--start", required=True, help="ISO 8601 time (with its zone: +07:00).")
@click.option("--duration", default="2h", show_default=True, help="90m, 2h...")
@click.option("--area", default=None, help="The points of this area's subtree.")
@click.option("--class", "device_class", default=None, help="Of this class (default: vc).")
@click.option("--points", default=None, help="Or a list: vc-1,vc-2,...")
@_BY
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
    starts = _parse_time(start)
    with _meetings(ctx) as desk:
        planned = desk.plan(
            title, starts, length_ms, actor, area, device_class, chosen, now_ms=now_ms()
        )
    when = f"{_when(planned.starts_at_ms)} to {_when(planned.ends_at_ms)}"
    click.echo(
        f"meeting #{planned.id} planned: {planned.title}, {len(planned.points)} points "
        f"({planned.scope}), {when}"
    )


@meeting.command("list")
@click.option("--from", "start", default="now", show_default=True, help="ISO 8601 time, or now.")
@click.option("--days", type=click.IntRange(1, 366), default=7, show_default=True)
@_demo_option
@click.pass_context
def meeting_list(ctx: click.Context, start: str, days: int) -> None:
    """Meetings from a moment on (those under way included)."""
    since = _parse_time(start)
    with _meetings(ctx) as desk:
        found = desk.between(since, since + days * 86_400_000)
    for item in found:
        click.echo(f"#{item.id:<4} {_when(item.starts_at_ms)} to {_when(item.ends_at_ms)}  "
                   f"{len(item.points):>4} points  {item.title}")  # fmt: skip


@meeting.command("ready")
@click.argument("meeting_id", type=int)
@_demo_option
@click.pass_context
def meeting_ready(ctx: click.Context, meeting_id: int) -> None:
    """Which points are ready now, and what keeps the others from being (exit 1 if any is not)."""
    with _meetings(ctx) as desk:
        planned, points = desk.readiness(meeting_id)
    ready = sum(p.ready for p in points)
    click.echo(f"meeting #{planned.id} {planned.title}: {ready}/{len(points)} points ready")
    for point in points:
        if not point.ready:
            click.echo(f"  {point.device_id:24} not ready: {', '.join(point.reasons)}")
    if ready < len(points):
        sys.exit(EXIT_FAILED)


@meeting.command("report")
@click.argument("meeting_id", type=int)
@click.option("--format", "output", type=click.Choice(["table", "json", "csv", "xlsx"]),
              default="table", show_default=True)  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@_demo_option
@click.pass_context
def meeting_report(ctx: click.Context, meeting_id: int, output: str, out: Path | None) -> None:
    """Who was connected for how long, with drops and quality alerts."""
    if output == "xlsx" and out is None:
        raise click.UsageError("--format xlsx writes a workbook: say where with --out FILE")
    from ioc.domain import now_ms

    with _meetings(ctx) as desk:
        planned, rows = desk.report(meeting_id, now_ms())
    title = f"Meeting #{planned.id} {planned.title}, {_when(planned.starts_at_ms)}"
    _emit(rows, title, "meeting", output, out)


@meeting.command("cancel")
@click.argument("meeting_id", type=int)
@click.pass_context
def meeting_cancel(ctx: click.Context, meeting_id: int) -> None:
    """Cancel a meeting."""
    from ioc.domain import now_ms

    with _meetings(ctx) as desk:
        if not desk.cancel(meeting_id, now_ms()):
            click.echo(f"ioc: no meeting #{meeting_id} to cancel", err=True)
            sys.exit(EXIT_FAILED)
    click.echo(f"meeting #{meeting_id} cancelled")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """The cluster: its nodes, which leads and since when, the lease's age, and each node's
    share of ingest. Exits 1 while no node leads."""
    from ioc.app import OperatorDesk
    from ioc.domain import now_ms

    settings = _settings(ctx)
    if not settings.clustered:
        click.echo("one node: the embedded state database (SQLite) serves a single `ioc run`")
        return
    with OperatorDesk(settings) as desk:
        report = desk.cluster(now_ms())
    if as_json:
        import dataclasses

        import orjson

        click.echo(orjson.dumps(dataclasses.asdict(report), option=orjson.OPT_INDENT_2).decode())
    else:
        _print_cluster(report)
    if report.leader is None:
        sys.exit(EXIT_FAILED)


def _print_cluster(report: ClusterStatus) -> None:
    lease = f"lease {report.lease_ms / 1000:g} s"
    if report.leader is None:
        click.echo(f"leader: none: no node holds the lease ({lease}; a takeover takes at most one)")
    else:
        assert report.leading_since_ms is not None and report.renewed_ms_ago is not None
        click.echo(
            f"leader: {report.leader} (term {report.term}) since {_when(report.leading_since_ms)}, "
            f"lease renewed {report.renewed_ms_ago / 1000:.1f} s ago ({lease})"
        )
    click.echo(f"{'NODE':20} {'STATE':9} {'STARTED':18} {'LAST SEEN':>11} {'STORED':>12} SHARE")
    for node in report.nodes:
        if node.alive:
            state = "leader" if node.leader else "standby"
        else:
            state = "stopped" if node.stopped_at_ms is not None else "gone"
        if not node.alive and node.session_open:
            state += "*"
        share = f"{node.share:.0%}" if node.share is not None else "-"
        seen = f"{(report.now_ms - node.seen_at_ms) / 1000:.1f} s ago"
        click.echo(
            f"{node.name:20} {state:9} {_when(node.started_at_ms):18} {seen:>11} "
            f"{node.stored:>12,} {share}"
        )
    if any(not n.alive and n.session_open for n in report.nodes):
        click.echo("* its ingest session may still hold messages: the leader adopts it")


def _when(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000)) + "Z"


@main.command()
@click.option("--devices", type=int, default=None, help="Simulate only the first N devices.")
@click.option(
    "--speed",
    type=float,
    default=5.0,
    show_default=True,
    help="Time compression of the simulated fleet.",
)
@click.option("--duration", type=float, default=None, help="Stop after N seconds.")
@click.option(
    "--embedded-broker",
    is_flag=True,
    help="Use the in-process amqtt broker even when Mosquitto is installed.",
)
@click.pass_context
def demo(
    ctx: click.Context,
    devices: int | None,
    speed: float,
    duration: float | None,
    embedded_broker: bool,
) -> None:
    """Run broker, store, ingest and a simulated province here, with no servers to install."""
    from ioc.app import run_demo

    settings = _settings(ctx)
    logging.getLogger().setLevel(logging.WARNING)
    sys.exit(run_demo(settings, devices, speed, duration, _StopFlag(), embedded_broker))


@main.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("sim_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def sim(ctx: click.Context, sim_args: tuple[str, ...]) -> None:
    """Simulate device firmware (`ioc sim --help` lists its options); defaults from settings."""
    from firmware_sim.__main__ import main as sim_main
    from ioc.inventory import bundled_inventory_path, bundled_profiles_dir

    settings = _settings(ctx)
    args = list(sim_args)
    defaults = {
        "--mqtt-url": settings.mqtt_url,
        "--prefix": settings.topic_prefix,
        "--inventory": str(settings.inventory or bundled_inventory_path()),
        "--profiles": str(settings.profiles_dir or bundled_profiles_dir()),
    }
    for flag, value in defaults.items():
        if not any(arg == flag or arg.startswith(flag + "=") for arg in args):
            args += [flag, value]
    sys.exit(sim_main(args))


@main.command("dead-letters")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--reason", default=None, help="Only this reject reason.")
@_demo_option
@click.pass_context
def dead_letters(ctx: click.Context, limit: int, reason: str | None) -> None:
    """Show the newest rejected messages with their reason and payload."""
    from ioc.app import OperatorDesk

    with OperatorDesk(_settings(ctx)) as desk:
        letters = desk.dead_letters.recent(limit, reason)
    for letter in letters:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(letter.received_ms / 1000))
        payload = letter.payload[:200].decode("utf-8", errors="replace")
        click.echo(
            f"{when}Z {letter.reason:16} {letter.topic}\n    {letter.detail}\n    {payload!r}"
        )


@main.group()
def inventory() -> None:
    """Inventory tools."""


@inventory.command("generate")
@click.option(
    "--devices",
    type=click.IntRange(10, 10_000_000),
    default=None,
    help="Scale a province to about this many devices.",
)
@click.option(
    "--two-level",
    is_flag=True,
    help="Province -> commune only (the post-2025 structure), no districts.",
)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Output file: .json or .yaml.",
)
def inventory_generate(devices: int | None, two_level: bool, seed: int, out: Path) -> None:
    """Generate a plausible province inventory (the bundled sample when no size is given)."""
    shape = (
        FleetShape.for_device_count(devices, not two_level)
        if devices
        else FleetShape(districts=0 if two_level else FleetShape().districts)
    )
    document = generate_inventory(shape, seed)
    write_inventory(document, out)
    click.echo(
        f"wrote {len(document['devices']):,} devices in {len(document['areas']):,} areas to {out}"
    )


if __name__ == "__main__":
    main()
