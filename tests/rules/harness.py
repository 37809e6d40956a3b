"""Drive a RuleEngine the way the service does, with time moved by the test."""

from __future__ import annotations

from pathlib import Path

from ioc.domain import (
    DeviceEvent,
    Inventory,
    MetricValue,
    Profile,
    Reading,
    RuleSignal,
    StatusChange,
)
from ioc.rules import RuleEngine, load_rules

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
T0 = 1_790_000_000_000

NORMAL = {
    "bts": {
        "mains_ok": True,
        "mains_v": 225.0,
        "rectifier_ok": True,
        "battery_v": 53.5,
        "battery_a": 3.0,
        "load_a": 30.0,
        "temp_c": 26.0,
        "aircon_ok": True,
        "door_open": False,
        "smoke": False,
        "genset_on": False,
        "fuel_pct": 80.0,
    },
    "netgw": {"wan_up": True, "rtt_ms": 20.0, "loss_pct": 0.0, "uptime_s": 100_000.0},
    "vc": {"registered": True, "in_call": False, "mos": 4.3, "loss_pct": 0.0},
}


def fast_rules(folder: Path, absence_after: str, mains_for: str) -> Path:
    """The default rules with test-sized times: the silence window and the mains timer."""
    folder.mkdir()
    for path in RULES_DIR.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        text = text.replace(
            "condition: {kind: absence}", f"condition: {{kind: absence, after: {absence_after}}}"
        )
        text = text.replace("equals: false, for: 60s}", f"equals: false, for: {mains_for}}}")
        (folder / path.name).write_text(text, encoding="utf-8")
    return folder


class Harness:
    """An engine, a clock in seconds from T0, and the signals it said."""

    def __init__(self, engine: RuleEngine, inventory: Inventory) -> None:
        self.engine = engine
        self.inventory = inventory
        self.now_s = 0.0
        self.signals: list[RuleSignal] = []
        self._seq = 0

    @classmethod
    def default_rules(
        cls, inventory: Inventory, profiles: dict[str, Profile], rules: Path = RULES_DIR
    ) -> Harness:
        loaded = load_rules([rules], profiles, inventory)
        return cls(RuleEngine(loaded, inventory, profiles, T0), inventory)

    @property
    def now(self) -> int:
        return T0 + round(self.now_s * 1000)

    def at(self, seconds: float) -> Harness:
        """Move the clock (never backwards) and run the due timers, as the scheduler does."""
        assert seconds >= self.now_s, "the test clock only moves forward"
        self.now_s = seconds
        self.signals += self.engine.tick(self.now)
        return self

    def reading(
        self, device_id: str, ts_s: float | None = None, **metrics: MetricValue
    ) -> list[RuleSignal]:
        """A reading: the class's normal values with these changes, stamped now (or ts_s)."""
        device_class = self.inventory.devices[device_id].device_class
        values = {**NORMAL[device_class], **metrics}
        ts = T0 + round((self.now_s if ts_s is None else ts_s) * 1000)
        self._seq += 1
        item = Reading(device_class, device_id, ts, values, seq=self._seq)
        return self._take(self.engine.apply(item, self.now))

    def partial(self, device_id: str, **metrics: MetricValue) -> list[RuleSignal]:
        """A reading with only these metrics."""
        device_class = self.inventory.devices[device_id].device_class
        item = Reading(device_class, device_id, self.now, dict(metrics))
        return self._take(self.engine.apply(item, self.now))

    def event(self, device_id: str, event_type: str) -> list[RuleSignal]:
        device_class = self.inventory.devices[device_id].device_class
        item = DeviceEvent(device_class, device_id, self.now, event_type, "{}")
        return self._take(self.engine.apply(item, self.now))

    def status(self, device_id: str, online: bool) -> list[RuleSignal]:
        device_class = self.inventory.devices[device_id].device_class
        item = StatusChange(device_class, device_id, self.now, online, retained=False)
        return self._take(self.engine.apply(item, self.now))

    def _take(self, signals: list[RuleSignal]) -> list[RuleSignal]:
        self.signals += signals
        return signals

    def said(self, rule_id: str, device_id: str | None = None) -> list[tuple[str, str]]:
        """(kind, severity) of everything a rule said, in order."""
        return [
            (signal.kind.value, signal.severity.value)
            for signal in self.signals
            if signal.rule.id == rule_id and (device_id is None or signal.device_id == device_id)
        ]

    def keep_alive(self, until_s: float, every_s: float = 10.0, **overrides: MetricValue) -> None:
        """Every device reports normally up to `until_s` (so nobody is judged silent)."""
        t = self.now_s
        while t <= until_s:
            self.at(t)
            for device_id in self.inventory.devices:
                device_class = self.inventory.devices[device_id].device_class
                relevant = {k: v for k, v in overrides.items() if k in NORMAL[device_class]}
                self.reading(device_id, **relevant)
            t += every_s
