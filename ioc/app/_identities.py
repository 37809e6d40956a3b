"""`ioc identities`: the broker identities of the inventory, the collectors' files and the
notification file, written for Mosquitto; revoking one, and telling the broker."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ioc.app._catalog import Catalog
from ioc.app._gateway import load_gateway
from ioc.app._probe import load_probe
from ioc.app._runtime import Runtime
from ioc.broker import (
    Identity,
    IdentityFiles,
    Listeners,
    plan_identities,
    shipped_config,
    write_identities,
)
from ioc.config import Settings
from ioc.gateway import GATEWAY_CLASS
from ioc.probe import PROBE_CLASS


def planned_identities(
    settings: Settings,
    catalog: Catalog,
    gateway_files: Sequence[Path] = (),
    probe_files: Sequence[Path] = (),
) -> list[Identity]:
    """Every identity the deployment needs, with its grants."""
    collectors: list[tuple[str, str, Sequence[tuple[str, str]]]] = []
    for path in gateway_files:
        gateway, _warnings = load_gateway(catalog, path)
        behind = [(c.device_class, c.device_id) for c in gateway.controllers]
        collectors.append((GATEWAY_CLASS, gateway.gateway_id, behind))
    for path in probe_files:
        probe = load_probe(catalog, path)
        behind = [(t.device_class, t.device_id) for t in probe.targets]
        collectors.append((PROBE_CLASS, probe.probe_id, behind))
    notifications = Runtime(settings, catalog).notifications.get()
    people = (
        [p.id for p in notifications.people.values() if p.contacts.mqtt]
        if notifications is not None
        else []
    )
    devices = [(d.device_class, d.id) for d in catalog.inventory.devices.values()]
    return plan_identities(settings.topic_prefix, devices, collectors, people)


def make_identities(
    settings: Settings,
    catalog: Catalog,
    directory: Path,
    gateway_files: Sequence[Path] = (),
    probe_files: Sequence[Path] = (),
    tls_hosts: Sequence[str] = (),
    broker_owner: str | None = None,
    listeners: Listeners | None = None,
) -> IdentityFiles:
    """Plan and write them (existing secrets kept, revoked ones left out), and given
    `listeners`, the broker's drop-in file with ioc's limits and those listeners."""
    return write_identities(
        directory,
        planned_identities(settings, catalog, gateway_files, probe_files),
        tls_hosts,
        broker_owner,
        listeners,
        shipped_config(),
    )
