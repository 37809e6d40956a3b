"""`ioc discover`: sweep a subnet for gear to watch (docs/inventory.md)."""

from __future__ import annotations

from pathlib import Path

import click

from ioc.cli._base import BY_OPTION, BadArgument, main, runtime_of


@main.command("discover")
@click.argument("network")
@click.option("--area", required=True, help="The area the devices found stand in.")
@click.option("--community", default="public", show_default=True, help="SNMP v2c community.")
@click.option("--v3-user", default=None, help="SNMPv3 user (authPriv) instead of a community.")
@click.option("--v3-auth-key", default=None, help="Its authentication key (SHA).")
@click.option("--v3-priv-key", default=None, help="Its privacy key (AES).")
@click.option("--timeout", type=click.FloatRange(0.1, 30), default=1.0, show_default=True,
              help="Seconds to wait for each answer.")  # fmt: skip
@click.option(
    "--probe",
    "probe_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="The probe file: its targets are known, new ones are written to it.",
)
@click.option("--id-prefix", default="", help="Before each new device's id (its sysName).")
@click.option("--apply", is_flag=True, help="Add what was found; without it, only show it.")
@click.option("--why", default=None, help="Why (kept in the inventory's history).")
@BY_OPTION
@click.pass_context
def discover(
    ctx: click.Context, network: str, area: str, community: str, v3_user: str | None,
    v3_auth_key: str | None, v3_priv_key: str | None, timeout: float,
    probe_file: Path | None, id_prefix: str, apply: bool, why: str | None, actor: str,
) -> None:  # fmt: skip
    """Sweep NETWORK (198.51.100.0/24) by ICMP and SNMP, match each agent to a probe profile
    by its sysObjectID, and propose the devices and probe targets to add (--apply adds them).
    Gear no profile is for is listed with what it said, and added to nothing."""
    from ioc.app._discovery import apply_discovery, discover
    from ioc.inventory import lines
    from ioc.probe._config import SnmpAccess, Usm
    from ioc.probe._discover import addresses_of

    try:
        addresses = addresses_of(network)
    except ValueError as exc:
        raise BadArgument(str(exc)) from exc
    usm = None
    if v3_user is not None:
        if not (v3_auth_key and v3_priv_key):
            raise click.UsageError("--v3-user needs --v3-auth-key and --v3-priv-key")
        usm = Usm(v3_user, "sha", v3_auth_key, "aes", v3_priv_key)
    access = SnmpAccess("3" if usm else "2c", None if usm else community, usm, 161, timeout, 0)
    runtime = runtime_of(ctx)
    click.echo(f"sweeping {len(addresses):,} addresses of {network}...", err=True)
    found = discover(runtime, addresses, access, area, probe_file, id_prefix)
    click.echo(
        f"{network}: {len(found.findings)} of {found.swept:,} addresses answered, "
        f"{len(found.placed)} placed, {len(found.unplaced)} not"
    )
    for finding in found.placed:
        seen, profile = finding.sighting, finding.profile
        state = f" ({finding.known})" if finding.known else ""
        what = f": {profile.name} ({profile.device_class})," if profile else ""
        click.echo(
            f"  {seen.address:15} {finding.device_id}{state}{what} "
            f"{seen.said.get('sys_descr', '')[:60]}".rstrip()
        )
    if found.unplaced:
        click.echo("not added (no profile is for them; nothing is guessed):")
    for finding in found.unplaced:
        seen = finding.sighting
        said = ", ".join(f"{k} {v!r}" for k, v in seen.said.items())
        click.echo(f"  {seen.address:15} {finding.unplaced}" + (f": {said}" if said else ""))
    made = apply_discovery(runtime, found, probe_file, actor, why or f"discovered on {network}",
                           dry_run=not apply)  # fmt: skip
    click.echo(f"inventory: {made.summary}")
    for line in lines(made.changes):
        click.echo(line)
    if probe_file is not None:
        click.echo(f"probe targets for {probe_file}: {len(found.targets)}")
    if not apply:
        click.echo("nothing written: --apply adds them")
    elif made.version is not None:
        click.echo(f"inventory version {made.version.number} in force")
