"""Alerts: the lifecycle of what rules conclude, with root causes, silences and an audit trail.

Exceptions::

    AlertError    an operator's request cannot be done (no such alert, bad window...)
"""

from ioc.alerts._book import (
    RULE_ACTOR,
    AlertBook,
    AlertError,
    AlertStore,
    Publisher,
    alert_json,
    check_window,
    transition_json,
)
from ioc.alerts._publish import MqttAlertPublisher, alert_topic

__all__ = [
    "RULE_ACTOR",
    "AlertBook",
    "AlertError",
    "AlertStore",
    "MqttAlertPublisher",
    "Publisher",
    "alert_json",
    "alert_topic",
    "check_window",
    "transition_json",
]
