"""Alerts: the lifecycle of what rules conclude, with root causes, silences and an audit trail;
and what operators do with them (`_operations`: the use cases below the CLI and the API).

Exceptions::

    AlertError            an operator's request cannot be done
    ├── AlertNotOpen        no open alert with that id
    ├── ActionRefused       not possible as the alert stands
    ├── UnknownArea         a filter names an area the inventory lacks
    ├── UnknownWindow       no open maintenance window with that id
    └── WindowRefused       a window that cannot be planned
"""

from ioc.alerts._book import (
    RULE_ACTOR,
    ActionRefused,
    AlertBook,
    AlertError,
    AlertNotOpen,
    AlertStore,
    Publisher,
    check_window,
    covering,
)
from ioc.alerts._json import alert_json, detail_json, transition_json
from ioc.alerts._operations import (
    OPEN_STATES,
    ActionQueue,
    ActionResult,
    AlertDetail,
    AlertFilter,
    AlertReader,
    UnknownArea,
    UnknownWindow,
    WindowRefused,
    WindowStore,
    act_on_alert,
    alert_detail,
    end_window,
    find_alerts,
    plan_window,
    states_named,
)
from ioc.alerts._publish import MqttAlertPublisher, alert_topic

__all__ = [
    "OPEN_STATES",
    "RULE_ACTOR",
    "ActionQueue",
    "ActionRefused",
    "ActionResult",
    "AlertBook",
    "AlertDetail",
    "AlertError",
    "AlertFilter",
    "AlertNotOpen",
    "AlertReader",
    "AlertStore",
    "MqttAlertPublisher",
    "Publisher",
    "UnknownArea",
    "UnknownWindow",
    "WindowRefused",
    "WindowStore",
    "act_on_alert",
    "alert_detail",
    "alert_json",
    "alert_topic",
    "check_window",
    "covering",
    "detail_json",
    "end_window",
    "find_alerts",
    "plan_window",
    "states_named",
    "transition_json",
]
