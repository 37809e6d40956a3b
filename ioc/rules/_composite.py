"""all / any: conditions made of other conditions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ioc.domain import MetricValue
from ioc.rules._condition import Condition, Json, Verdict


class Composite:
    """All, or any, of other conditions; the worst severity among those that hold."""

    def __init__(self, parts: list[Condition], require_all: bool) -> None:
        self.parts = parts
        self._all = require_all
        self.live_facts = any(part.live_facts for part in parts)

    def on_reading(self, device_id: str, metrics: Mapping[str, MetricValue], now: int) -> bool:
        changed = False
        for part in self.parts:
            changed |= part.on_reading(device_id, metrics, now)
        return changed

    def on_event(self, device_id: str, event_type: str, now: int) -> bool:
        changed = False
        for part in self.parts:
            changed |= part.on_event(device_id, event_type, now)
        return changed

    def on_status(self, device_id: str, online: bool, now: int) -> bool:
        changed = False
        for part in self.parts:
            changed |= part.on_status(device_id, online, now)
        return changed

    def verdict(self, device_id: str, now: int) -> Verdict:
        verdicts = [part.verdict(device_id, now) for part in self.parts]
        holding = [verdict for verdict in verdicts if verdict is not None]
        if not holding or (self._all and len(holding) < len(verdicts)):
            return None
        worst = max(holding, key=lambda verdict: verdict[0].rank)
        facts: dict[str, object] = {}
        for _, part_facts in holding:
            facts.update(part_facts)
        return worst[0], facts

    def due(self, now: int) -> Iterable[str]:
        devices: set[str] = set()
        for part in self.parts:
            devices.update(part.due(now))
        return devices

    def dump(self, device_id: str) -> Json:
        dumps = [part.dump(device_id) for part in self.parts]
        return None if all(data is None for data in dumps) else dumps

    def load(self, device_id: str, data: Json) -> None:
        for part, part_data in zip(self.parts, data, strict=True):
            if part_data is not None:
                part.load(device_id, part_data)

    def assume_active(self, device_id: str, since: int) -> None:
        for part in self.parts:
            part.assume_active(device_id, since)
