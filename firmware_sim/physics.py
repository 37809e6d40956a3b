"""Plausible device physics: what each class's firmware would measure, step by step."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from firmware_sim.faults import FaultKind

# A 48 V plant: 24 lead-acid cells, float charge 2.25 V/cell, low-voltage disconnect 1.8 V/cell.
CELLS = 24
FLOAT_V = 54.0
LVD_V = 43.2


@dataclass
class Outputs:
    """One step's result: metrics to report, events that happened, and whether it can talk."""

    metrics: dict[str, float | bool | str]
    events: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    powered: bool = True
    link_ok: bool = True


def _ambient_c(t_s: float) -> float:
    """A central-Vietnam day: 26 °C at dawn, 34 °C mid-afternoon."""
    hour = (t_s / 3600.0) % 24
    return 30.0 + 4.0 * math.sin((hour - 9.0) / 24.0 * 2 * math.pi)


class BtsShelter:
    """Mains, rectifier, 48 V battery, genset, aircon and the shelter's climate."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.capacity_ah = rng.choice((150.0, 200.0, 300.0))
        self.soc = rng.uniform(0.97, 1.0)
        self.base_load_a = rng.uniform(18.0, 45.0)
        self.temp_c = rng.uniform(24.0, 27.0)
        self.has_genset = rng.random() < 0.3
        self.genset_on = False
        self.fuel_pct = rng.uniform(55.0, 100.0) if self.has_genset else 0.0
        self.mains_down_s = 0.0
        self.door_open = False
        self.lvd = False

    def step(self, t_s: float, dt_s: float, faults: set[FaultKind]) -> Outputs:
        events: list[tuple[str, dict[str, object]]] = []
        rng = self.rng
        mains_ok = FaultKind.MAINS_FAILURE not in faults
        rectifier_ok = FaultKind.RECTIFIER_FAILURE not in faults
        self.mains_down_s = 0.0 if mains_ok else self.mains_down_s + dt_s
        # The genset starts two minutes into an outage and runs while it has fuel.
        want_genset = (
            self.has_genset and not mains_ok and self.mains_down_s > 120 and self.fuel_pct > 1
        )
        if want_genset != self.genset_on:
            self.genset_on = want_genset
            events.append(("genset_start" if want_genset else "genset_stop", {}))
        if self.genset_on:
            self.fuel_pct = max(0.0, self.fuel_pct - 6.0 * dt_s / 3600.0)
        ac_power = (mains_ok or self.genset_on) and rectifier_ok
        load_a = self.base_load_a * rng.uniform(0.97, 1.03)
        if ac_power:
            charge_a = (
                min(0.1 * self.capacity_ah, (1.0 - self.soc) * self.capacity_ah)
                if self.soc < 1
                else 0.0
            )
            battery_a = charge_a
        else:
            battery_a = -load_a
        self.soc = min(1.0, max(0.0, self.soc + battery_a * dt_s / 3600.0 / self.capacity_ah))
        battery_v = self._battery_voltage(battery_a, ac_power)
        if battery_v <= LVD_V and not ac_power:
            if not self.lvd:
                events.append(("mains_fail", {"lvd": True}))
            self.lvd = True
        elif ac_power:
            self.lvd = False
        aircon_ok = ac_power and FaultKind.AIRCON_FAILURE not in faults
        target = 24.5 if aircon_ok else _ambient_c(t_s) + 9.0
        self.temp_c += (target - self.temp_c) * (1 - math.exp(-dt_s / 1800.0))
        door = FaultKind.DOOR_OPEN in faults
        if door != self.door_open:
            self.door_open = door
            events.append(("door_open" if door else "door_close", {}))
        smoke = FaultKind.SMOKE in faults
        metrics: dict[str, float | bool | str] = {
            "mains_ok": mains_ok,
            "mains_v": round(rng.gauss(228.0, 3.0), 1) if mains_ok else 0.0,
            "rectifier_ok": rectifier_ok,
            "battery_v": round(battery_v, 2),
            "battery_a": round(battery_a, 1),
            "battery_soc_pct": round(self.soc * 100, 1),
            "load_a": round(load_a, 1),
            "temp_c": round(self.temp_c + rng.gauss(0, 0.1), 1),
            "humidity_pct": round(min(100.0, max(0.0, rng.gauss(72.0, 4.0))), 1),
            "aircon_ok": aircon_ok,
            "door_open": door,
            "smoke": smoke,
            "genset_on": self.genset_on,
        }
        if self.has_genset:
            metrics["fuel_pct"] = round(self.fuel_pct, 1)
        return Outputs(metrics, events, powered=not self.lvd)

    def _battery_voltage(self, battery_a: float, ac_power: bool) -> float:
        if ac_power:
            return FLOAT_V + self.rng.gauss(0, 0.05)
        # Open-circuit voltage falls with charge, steeply below 15 %; the load drops IR volts.
        ocv = CELLS * (1.94 + 0.19 * self.soc)
        knee = 3.5 * max(0.0, 0.15 - self.soc) / 0.15
        return ocv + battery_a * 0.012 - knee


class CommuneGateway:
    """The commune's WAN link: up/down, latency, loss, throughput, reboots."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.base_rtt = rng.uniform(12.0, 60.0)
        self.uptime_s = rng.uniform(3600.0, 60 * 86400.0)
        self.flap_next_s = 0.0
        self.flap_up = True
        self.wan_up = True

    def step(self, t_s: float, dt_s: float, faults: set[FaultKind]) -> Outputs:
        rng = self.rng
        events: list[tuple[str, dict[str, object]]] = []
        self.uptime_s += dt_s
        if FaultKind.REBOOT in faults:
            self.uptime_s = rng.uniform(20.0, 60.0)
        wan_up = FaultKind.LINK_DOWN not in faults
        if FaultKind.LINK_FLAP in faults:
            if t_s >= self.flap_next_s:
                self.flap_up = not self.flap_up
                self.flap_next_s = t_s + rng.uniform(40.0, 120.0)
            wan_up = wan_up and self.flap_up
        if wan_up != self.wan_up:
            self.wan_up = wan_up
            events.append(("link_up" if wan_up else "link_down", {}))
        degraded = FaultKind.LINK_DEGRADE in faults
        if wan_up:
            rtt = self.base_rtt * (rng.uniform(4.0, 7.0) if degraded else rng.uniform(0.9, 1.3))
            loss = rng.uniform(6.0, 15.0) if degraded else max(0.0, rng.gauss(0.1, 0.1))
            rx = rng.uniform(2e6, 4e7) * (0.3 if degraded else 1.0)
        else:
            # Reported over the gateway's LTE management path while the fibre is down.
            rtt, loss, rx = rng.uniform(180.0, 400.0), 100.0, 0.0
        metrics: dict[str, float | bool | str] = {
            "wan_up": wan_up,
            "rtt_ms": round(rtt, 1),
            "loss_pct": round(min(loss, 100.0), 2),
            "rx_bps": round(rx),
            "tx_bps": round(rx * rng.uniform(0.1, 0.4)),
            "cpu_pct": round(min(100.0, max(0.0, rng.gauss(18.0, 6.0))), 1),
            "uptime_s": round(self.uptime_s),
        }
        return Outputs(metrics, events, link_ok=wan_up)


class VcEndpoint:
    """A video-conference endpoint: registration, scheduled calls and their quality."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.in_call = False
        self.next_change_s = rng.uniform(60.0, 1800.0)

    def step(self, t_s: float, dt_s: float, faults: set[FaultKind]) -> Outputs:
        rng = self.rng
        events: list[tuple[str, dict[str, object]]] = []
        poor = FaultKind.POOR_CALL in faults
        want_call = self.in_call
        if t_s >= self.next_change_s:
            want_call = not self.in_call
            self.next_change_s = t_s + (
                rng.uniform(1800.0, 5400.0) if want_call else rng.uniform(1800.0, 7200.0)
            )
        want_call = want_call or poor
        if want_call != self.in_call:
            self.in_call = want_call
            events.append(("call_start" if want_call else "call_end", {}))
        metrics: dict[str, float | bool | str] = {"registered": True, "in_call": self.in_call}
        if self.in_call:
            loss = rng.uniform(6.0, 12.0) if poor else max(0.0, rng.gauss(0.3, 0.3))
            jitter = rng.uniform(40.0, 90.0) if poor else rng.uniform(3.0, 18.0)
            metrics.update(
                {
                    "jitter_ms": round(jitter, 1),
                    "loss_pct": round(loss, 2),
                    "bitrate_kbps": round(
                        rng.uniform(400.0, 900.0) if poor else rng.uniform(1500.0, 4000.0)
                    ),
                    "mos": round(
                        min(5.0, max(1.0, 4.4 - 0.12 * loss - 0.01 * jitter + rng.gauss(0, 0.05))),
                        2,
                    ),
                }
            )
        else:
            metrics["bitrate_kbps"] = 0.0
        return Outputs(metrics, events)


MODELS = {"bts": BtsShelter, "netgw": CommuneGateway, "vc": VcEndpoint}
