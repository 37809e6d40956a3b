"""The long-running commands (`run`, `ingest`, `rules`, `api`, `gateway`, `probe`, `demo`,
`sim`), `check-config` and `status`."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ioc.domain import (
    ClusterStatus,
)

if TYPE_CHECKING:
    pass


from ioc.cli._base import (
    BY_OPTION,
    EXIT_FAILED,
    STATUS_EVERY,
    StopFlag,
    cli_caller,
    main,
    runtime_of,
    settings_of,
    speech,
    supervise,
    time_text,
)
from ioc.i18n import mark


@main.command("check-config")
@click.pass_context
def check_config(ctx: click.Context) -> None:
    """Check settings, profiles, inventory, rules and the notification file (with its
    channels); exit 2 on any mistake."""
    from ioc.app import check_configuration

    click.echo(check_configuration(settings_of(ctx)))


@main.command()
@STATUS_EVERY
@click.pass_context
def ingest(ctx: click.Context, status_every: float) -> None:
    """Run the ingestor against the configured broker and store."""
    from ioc.app import ingest_process

    supervise(ctx, lambda settings, catalog: ingest_process(settings, catalog, status_every))


@main.command()
@STATUS_EVERY
@click.pass_context
def run(ctx: click.Context, status_every: float) -> None:
    """Run ingest, the rule engine, the notifier and the API together in one process."""
    from ioc.app import run_process

    supervise(ctx, lambda settings, catalog: run_process(settings, catalog, status_every))


@main.group(invoke_without_command=True)
@STATUS_EVERY
@click.pass_context
def rules(ctx: click.Context, status_every: float) -> None:
    """Run the rule engine alone (its own subscription); see also `reload` and `list`."""
    from ioc.app import rules_process

    if ctx.invoked_subcommand is None:
        supervise(ctx, lambda settings, catalog: rules_process(settings, catalog, status_every))


@rules.command("list")
@click.pass_context
def rules_list(ctx: click.Context) -> None:
    """Check the rule files and list the rules with how many devices each watches."""
    for rule in runtime_of(ctx).rules.get():
        spec = rule.spec
        click.echo(
            f"{spec.id:24} {spec.severity.value:8} {spec.condition.kind:9} "
            f"{len(rule.devices):>7,} devices  {spec.title.en}"
        )


@rules.command("reload")
@BY_OPTION
@click.pass_context
def rules_reload(ctx: click.Context, actor: str) -> None:
    """Check the rule files, then tell the running `ioc rules` / `ioc run` to reload them."""
    from ioc.app import request_reload

    click.echo(request_reload(runtime_of(ctx), cli_caller(actor)))


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
    from ioc.app import describe, gateway_process, load_gateway

    settings = settings_of(ctx)
    config, warnings = load_gateway(runtime_of(ctx, settings).catalog, gateway_file)
    for warning in warnings:
        click.echo(f"ioc: warning: {warning}", err=True)
    click.echo(describe(config), err=True)
    if check:
        return
    sys.exit(gateway_process(settings, config, metrics_port, metrics_host).run(StopFlag()))


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
    from ioc.app import describe_probe, load_probe, probe_process

    runtime = runtime_of(ctx)
    config = load_probe(runtime.catalog, probe_file)
    click.echo(describe_probe(config), err=True)
    if check:
        return
    sys.exit(probe_process(runtime, probe_file, config).run(StopFlag()))


@main.command()
@click.pass_context
def api(ctx: click.Context) -> None:
    """Serve the HTTP API and the wall alone on IOC_API_HOST:IOC_API_PORT (`ioc run` serves
    them too)."""
    from ioc.app import api_process

    def announce(url: str) -> None:
        click.echo(f"ioc api: the wall at {url}/wall/, the API at {url}/docs", err=True)

    supervise(ctx, lambda settings, catalog: api_process(settings, catalog, announce))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """The cluster: its nodes, which leads and since when, the lease's age, and each node's
    share of ingest. Exits 1 while no node leads."""
    from ioc.app import OperatorDesk
    from ioc.domain import now_ms

    settings = settings_of(ctx)
    if not settings.clustered:
        click.echo(
            speech().say("one node: the embedded state database (SQLite) serves a single `ioc run`")
        )
        return
    desk = OperatorDesk(runtime_of(ctx, settings))
    report = desk.cluster(now_ms())
    if as_json:
        import dataclasses

        import orjson

        click.echo(orjson.dumps(dataclasses.asdict(report), option=orjson.OPT_INDENT_2).decode())
    else:
        _print_cluster(report)
    if report.leader is None:
        sys.exit(EXIT_FAILED)


@main.group()
def cluster() -> None:
    """The cluster's list of nodes."""


@cluster.command("forget")
@click.argument("node")
@BY_OPTION
@click.pass_context
def cluster_forget(ctx: click.Context, node: str, actor: str) -> None:
    """Take NODE off the cluster's list (`ioc status`): refused while it runs, or while its
    ingest session may still hold messages (a running node adopts it within a lease). Nodes
    gone for IOC_NODE_FORGET_AFTER_S (7 days) drop off the list by themselves."""
    from ioc.app import OperatorDesk
    from ioc.domain import now_ms

    settings = settings_of(ctx)
    if not settings.clustered:
        raise click.UsageError("one node: there is no cluster (the state database is SQLite)")
    OperatorDesk(runtime_of(ctx, settings)).forget_node(node, now_ms(), cli_caller(actor))
    click.echo(speech().say("node {node} forgotten", node=node))


def _print_cluster(report: ClusterStatus) -> None:
    told = speech()
    lease = told.say("lease {seconds} s", seconds=format(report.lease_ms / 1000, "g"))
    if report.leader is None:
        click.echo(
            told.say(
                "leader: none: no node holds the lease ({lease}; a takeover takes at most one)",
                lease=lease,
            )
        )
    else:
        assert report.leading_since_ms is not None and report.renewed_ms_ago is not None
        renewed = format(report.renewed_ms_ago / 1000, ".1f")
        said = told.say(
            "leader: {node} (term {term}) since {since}, lease renewed {ago} s ago ({lease})",
            node=report.leader, term=report.term, since=time_text(report.leading_since_ms),
            ago=renewed, lease=lease,
        )  # fmt: skip
        click.echo(said)
    header = [told.say(h) for h in _CLUSTER_HEADER]
    click.echo(f"{header[0]:20} {header[1]:9} {header[2]:22} {header[3]:>11} {header[4]:>12} "
               f"{header[5]}")  # fmt: skip
    for node in report.nodes:
        if node.alive:
            state = "leader" if node.leader else "standby"
        else:
            state = "stopped" if node.stopped_at_ms is not None else "gone"
        adoptable = "*" if not node.alive and node.session_open else ""
        shown = told.say(_NODE_STATES[state]) + adoptable
        share = f"{node.share:.0%}" if node.share is not None else "-"
        ago = format((report.now_ms - node.seen_at_ms) / 1000, ".1f")
        seen = told.say("{seconds} s ago", seconds=ago)
        click.echo(
            f"{node.name:20} {shown:9} {time_text(node.started_at_ms):22} {seen:>11} "
            f"{told.number(node.stored):>12} {share}"
        )
    if any(not n.alive and n.session_open for n in report.nodes):
        click.echo(told.say("* its ingest session may still hold messages: the leader adopts it"))


_CLUSTER_HEADER = (
    mark("NODE"), mark("STATE"), mark("STARTED"), mark("LAST SEEN"), mark("STORED"),
    mark("SHARE"),
)  # fmt: skip
_NODE_STATES = {
    "leader": mark("leader"), "standby": mark("standby"), "stopped": mark("stopped"),
    "gone": mark("gone"),
}  # fmt: skip


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

    settings = settings_of(ctx)
    logging.getLogger().setLevel(logging.WARNING)
    sys.exit(run_demo(settings, devices, speed, duration, StopFlag(), embedded_broker))


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

    settings = settings_of(ctx)
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
