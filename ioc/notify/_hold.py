"""Holding a flapping device's down/up notifications behind its one flapping notice.

A link that drops and comes back every minute would page the engineer on duty with a pair of
messages each time. Once a flapping rule (a rule of kind `flapping`, `netgw.link_flapping` in
the default set) has an alert open on a device, the notifications of its outage alerts
(`device.down`, `netgw.wan_down`: the down/up pairs) are skipped, each saying why; the flapping
alert is notified like any other. When the flapping alert resolves (the device has been
stable for the rule's `quiet`), an outage alert still open on it is announced afresh, so a
link that settled down is not left unheard. This is Alertmanager's inhibition with the
flapping alert as the source, and Zabbix's flapping handling."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FlapHold:
    """Which rules say a device is flapping, and whose notifications they hold."""

    flapping_rules: frozenset[str] = frozenset()
    held_rules: frozenset[str] = frozenset()  # the outage rules: a device's downs and ups

    def holds(self, rule_id: str) -> bool:
        """Whether an alert of this rule is held while its device flaps."""
        return bool(self.flapping_rules) and rule_id in self.held_rules


NO_HOLD = FlapHold()  # nothing flaps: every notification goes out as planned
