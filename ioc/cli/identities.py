"""`ioc identities`: broker identities, their files and the broker's drop-in file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    pass


from ioc.cli._base import (
    BadArgument,
    main,
    runtime_of,
    settings_of,
)


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
    from ioc.app import make_identities
    from ioc.broker import Listeners, reload_broker

    settings = settings_of(ctx)
    listeners = Listeners(
        _host_port(ioc_listener, "--ioc-listener"),
        None if device_listener is None else _host_port(device_listener, "--device-listener"),
    )
    made = make_identities(
        settings, runtime_of(ctx, settings).catalog, directory, gateway_files, probe_files,
        tls_hosts, broker_owner, listeners,
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
    from ioc.app import make_identities
    from ioc.broker import reload_broker, revoke

    settings = settings_of(ctx)
    revoke(directory, name)
    make_identities(
        settings, runtime_of(ctx, settings).catalog, directory, gateway_files, probe_files
    )
    click.echo(f"identities: {name} revoked")
    if pid_file is not None:
        click.echo(f"broker: told to reload (pid {reload_broker(pid_file)})")
