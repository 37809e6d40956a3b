"""`ioc probe`: load and check the probe file, then run the probe as services; a change of the
file or of the live inventory is taken up between rounds, without a restart."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TextIO

from ioc.app._catalog import Catalog
from ioc.app._edge import edge_options
from ioc.app._runtime import Runtime
from ioc.app._supervisor import Service, Supervisor, Worker, ticker
from ioc.config import Settings
from ioc.domain import BadFileError
from ioc.edge import EdgeOptions
from ioc.probe import (
    Probe,
    ProbeConfig,
    bundled_probe_profiles_dir,
    load_probe_config,
)
from ioc.state import StateError

log = logging.getLogger("ioc.probe")

FOLLOW_EVERY_S = 2.0  # how soon a change of the file or of the inventory is taken up


def load_probe(catalog: Catalog, path: Path) -> ProbeConfig:
    """The checked probe file (every target an inventory device)."""
    return load_probe_config(
        path, catalog.profiles, catalog.inventory, bundled_probe_profiles_dir()
    )


def probe_options(settings: Settings, config: ProbeConfig) -> EdgeOptions:
    """Broker, topics and buffer file of a probe (the buffer defaults to the data dir)."""
    return edge_options(settings, "probe", config.probe_id, config.buffer_path)


def describe_probe(config: ProbeConfig) -> str:
    """What the probe will watch, one line per profile."""
    icmp = config.icmp
    lines = [
        f"probe {config.probe_id}: {len(config.targets)} targets, ICMP {icmp.packets} echo "
        f"requests each every {icmp.round_s:g}s (time-out {icmp.timeout_s:g}s)"
    ]
    by_profile: dict[str, list[str]] = {}
    for target in config.targets:
        by_profile.setdefault(target.profile.name, []).append(target.device_id)
    for name, devices in sorted(by_profile.items()):
        shown = ", ".join(devices[:5]) + (
            f" and {len(devices) - 5} more" if len(devices) > 5 else ""
        )
        lines.append(f"  {name}: {shown}")
    if config.traps is not None:
        traps = config.traps
        lines.append(
            f"  traps on udp {traps.host}:{traps.port}: {len(traps.communities)} communities, "
            f"{len(traps.users)} SNMPv3 users"
        )
    return "\n".join(lines)


def probe_services(probe: Probe, out: TextIO | None = None) -> list[Service]:
    """The probe (sockets, uplink), its rounds, and its health reports (with a status line)."""
    interval_s = probe.config.report_interval_s

    def report() -> None:
        probe.report_health()
        if out is not None:
            print(status_line(probe), file=out, flush=True)

    services: list[Service] = [probe]
    if probe.trap_listener is not None:
        services.append(probe.trap_listener)
    services.append(Worker("probe rounds", lambda stopping: probe.run_rounds(stopping, None)))
    services.append(ticker("probe health", interval_s, report, min(2.0, interval_s)))
    return services


def probe_process(
    runtime: Runtime, path: Path, config: ProbeConfig, out: TextIO = sys.stderr
) -> Supervisor:
    """`ioc probe FILE`: the probe, following its file and the live inventory."""
    probe = Probe(config, probe_options(runtime.settings, config))
    follower = ProbeFollower(runtime, path, probe)
    return Supervisor(
        [*probe_services(probe, out), ticker("probe file", FOLLOW_EVERY_S, follower.follow)]
    )


class ProbeFollower:
    """Reads the probe file again when it changed, or when the live inventory did, and gives
    the probe its targets (a file that fails its checks is logged, and the probe goes on)."""

    def __init__(self, runtime: Runtime, path: Path, probe: Probe) -> None:
        self._runtime, self._path, self._probe = runtime, path, probe
        self._seen = self._signature()

    def _signature(self) -> tuple[object, ...]:
        try:
            stat = self._path.stat()
        except OSError:
            return (None,)
        return stat.st_mtime_ns, stat.st_size, self._runtime.live_inventory.number

    def follow(self) -> None:
        """Take up a change, if any."""
        try:
            self._runtime.live_inventory.follow()
        except StateError as exc:  # a probe on a machine of its own: its file's inventory
            log.debug("the live inventory is not followed: %s", exc)
        seen = self._signature()
        if seen == self._seen or seen == (None,):
            return
        self._seen = seen
        try:
            config = load_probe(self._runtime.catalog, self._path)
        except BadFileError as exc:
            log.error(
                "%s changed but is refused; the probe goes on as it was:\n%s", self._path, exc
            )
            return
        restart = self._probe.retarget(config)
        if restart:
            log.warning(
                "%s: %s changed: restart the probe to apply", self._path, ", ".join(restart)
            )


def status_line(probe: Probe) -> str:
    """The probe's health as one line."""
    health = probe.health()
    broker = "broker ok" if probe.outbox.uplink.connected else "BROKER DOWN"
    return (
        f"probe: {health['targets_up']:.0f}/{health['targets']:.0f} targets answer | "
        f"rounds {health['rounds']:.0f}, last {health['round_s']:.1f}s | "
        f"echo sent {health['icmp_sent']:,.0f} answered {health['icmp_received']:,.0f} "
        f"errors {health['icmp_errors']:,.0f} stray {health['stray_replies']:,.0f} | "
        f"buffered {health['buffered']:,.0f} dropped {health['dropped']:,.0f} | {broker}"
    )
