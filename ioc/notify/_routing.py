"""Which routes an alert takes, and who is to be told now (a team, or who is on duty)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from ioc.domain import Alert, Inventory
from ioc.notify._config import Channel, NotifyConfig, Person, Route


@dataclass(frozen=True, slots=True)
class Recipient:
    """One person to tell, on which channels, and through which team or rotation."""

    person: Person
    channels: tuple[Channel, ...]
    via: str


class Router:
    """Routes and on-call rotations of one notification file."""

    def __init__(self, config: NotifyConfig, inventory: Inventory) -> None:
        self._config = config
        self._areas = {
            route.id: inventory.subtree(route.match.area)
            for route in config.spec.routes
            if route.match.area is not None
        }

    def routes_for(self, alert: Alert) -> list[Route]:
        """The matching routes in file order, stopping at the first without `continue`."""
        chosen = []
        for route in self._config.spec.routes:
            match = route.match
            if alert.severity.rank < match.min_severity.rank:
                continue
            if match.area is not None and alert.area_id not in self._areas[route.id]:
                continue
            if match.classes is not None and alert.device_class not in match.classes:
                continue
            if match.rules is not None and alert.rule_id not in match.rules:
                continue
            chosen.append(route)
            if not route.continue_:
                break
        return chosen

    def on_duty(self, rotation_id: str, at: datetime) -> Person:
        """Who of a rotation is on duty at a moment."""
        rotation = self._config.rotations[rotation_id]
        team = self._config.teams[rotation.team]
        order = rotation.order or team.members
        start = rotation.start
        if start.tzinfo is None:
            start = start.replace(tzinfo=self._config.zone)
        shifts = math.floor((at - start).total_seconds() / rotation.shift)
        return self._config.people[order[shifts % len(order)]]

    def recipients(self, target: str, at: datetime) -> list[Recipient]:
        """Everyone of a team, or whoever of a rotation is on duty at `at`."""
        if target in self._config.rotations:
            team = self._config.teams[self._config.rotations[target].team]
            return [Recipient(self.on_duty(target, at), tuple(team.channels), target)]
        team = self._config.teams[target]
        return [
            Recipient(self._config.people[member], tuple(team.channels), target)
            for member in team.members
        ]
