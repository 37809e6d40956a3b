"""The demo's probed commune gear: routers and VC endpoints that speak only SNMP and SIP
(firmware_sim.probed on loopback addresses), watched by a real `ioc probe`."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import yaml

from firmware_sim import DeviceSpec, Fault
from firmware_sim.probed import ProbedGear, RouterSpec, SipSpec
from ioc.app._probe import probe_options, probe_services
from ioc.app._supervisor import Managed, Service
from ioc.config import Settings
from ioc.domain import Device, Inventory, Profile
from ioc.probe import (
    PROBE_CLASS,
    IcmpUnavailable,
    Pinger,
    Probe,
    bundled_probe_profiles_dir,
    load_probe_config,
)

DEMO_PROBE_ID = "probe-demo-1"
COMMUNITY = "public"


def probed_devices(fleet: Sequence[DeviceSpec], limit: int = 2) -> list[DeviceSpec]:
    """The first gateway (the demo's link-down fault) and the third (healthy), with the
    endpoints behind them."""
    gateways = [d for d in fleet if d.device_class == "netgw"]
    chosen = {d.device_id for d in gateways[0 : 2 * limit : 2]}
    return [
        d
        for d in fleet
        if d.device_id in chosen or (d.device_class == "vc" and set(d.depends_on) & chosen)
    ]


def icmp_problem() -> str | None:
    """Why the probe could not ping here, or None."""
    pinger = Pinger(None)
    try:
        pinger.open({4})
    except IcmpUnavailable as exc:
        return str(exc)
    pinger.close()
    return None


def with_probe_device(inventory: Inventory, area_id: str) -> Inventory:
    """The inventory with the demo's probe as a device of its own."""
    # A box in the operations centre's rack: no position of its own on the province's map.
    probe = Device(DEMO_PROBE_ID, PROBE_CLASS, area_id, "Bộ thăm dò mạng (demo)", None, None)
    return Inventory.build(inventory.areas.values(), [*inventory.devices.values(), probe])


class ProbedCommunes:
    """The simulated gear on 127.0.0.x and the probe that watches it."""

    def __init__(
        self,
        settings: Settings,
        profiles: dict[str, Profile],
        inventory: Inventory,
        devices: Sequence[DeviceSpec],
        faults: Sequence[Fault],
        speed: float,
        demo_dir: Path,
    ) -> None:
        self.device_ids = [d.device_id for d in devices]
        address = {d.device_id: f"127.0.0.{10 + i}" for i, d in enumerate(devices)}
        trap_port = _free_udp_port()
        routers = [
            RouterSpec(
                d.device_id, address[d.device_id], _free_udp_port(address[d.device_id]),
                COMMUNITY, ("127.0.0.1", trap_port),
                [f for f in faults if f.device_id == d.device_id], seed=i,
            )
            for i, d in enumerate(devices)
            if d.device_class == "netgw"
        ]  # fmt: skip
        probed_gateways = {r.device_id for r in routers}
        endpoints = [
            SipSpec(
                d.device_id, address[d.device_id], _free_udp_port(address[d.device_id]),
                next((g for g in d.depends_on if g in probed_gateways), None),
            )
            for d in devices
            if d.device_class == "vc"
        ]  # fmt: skip
        self.gear = ProbedGear(routers, endpoints, speed=speed)
        self.config_path = demo_dir / "probe.yaml"
        self.config_path.write_text(
            yaml.safe_dump(_probe_file(routers, endpoints, trap_port, speed), sort_keys=False),
            encoding="utf-8",
        )
        config = load_probe_config(
            self.config_path, profiles, inventory, bundled_probe_profiles_dir()
        )
        self.probe = Probe(config, probe_options(settings, config))

    def describe(self) -> str:
        """One line for the demo's banner."""
        return (
            f"{', '.join(self.device_ids)} speak only SNMP and SIP on 127.0.0.x "
            f"(firmware_sim.probed), watched by `ioc probe` ({self.config_path})"
        )

    def services(self) -> list[Service]:
        """The gear first, then the probe (which stops first)."""
        return [
            Managed("probed gear", self.gear.start, self.gear.stop),
            *probe_services(self.probe),
        ]


def _probe_file(
    routers: Sequence[RouterSpec], endpoints: Sequence[SipSpec], trap_port: int, speed: float
) -> dict[str, object]:
    round_s = max(2.0, 10.0 / speed)
    snmp = {"version": "2c", "community": COMMUNITY, "timeout": "1s", "retries": 1}
    return {
        "probe_id": DEMO_PROBE_ID,
        "report_interval": f"{max(2.0, 60.0 / speed):g}s",
        "buffer": {"path": "probe-buffer.db"},
        "icmp": {"packets": 3, "round": f"{round_s:g}s", "timeout": "1s"},
        "traps": {"listen": "127.0.0.1", "port": trap_port, "communities": [COMMUNITY]},
        "targets": [
            {
                "device": r.device_id, "address": r.host, "profile": "if-mib-router",
                "snmp": {**snmp, "port": r.port}, "interface": {"index": 1},
            }
            for r in routers
        ]
        + [
            {
                "device": e.device_id, "address": e.host, "profile": "vc-endpoint",
                "sip": {"transport": "udp", "port": e.port, "timeout": "1s"},
            }
            for e in endpoints
        ],
    }  # fmt: skip


def _free_udp_port(host: str = "127.0.0.1") -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
