"""The state database (SQLAlchemy: SQLite by default, PostgreSQL in deployments).

Exceptions::

    StateError            the state database failed
    ├── StateUnavailable    away, busy, or the connection dropped: may succeed later
    └── StateRefused        an integrity, data or programming error: needs an operator
"""

from ioc.state._accounts import AccountStore
from ioc.state._alerts import AlertRepository, AlertRequest, JudgedThrough
from ioc.state._audit import AuditLog
from ioc.state._cluster import (
    LEADER_LEASE,
    Fenced,
    Lease,
    LeaseStore,
    Node,
    NodeInUse,
    NodeRegistry,
    cluster_status,
    fence,
)
from ioc.state._db import Guard, StateError, StateRefused, StateUnavailable, connect_state, upgrade
from ioc.state._deadletters import DeadLetter, DeadLetterLog
from ioc.state._heartbeat import HeartbeatStore
from ioc.state._inventory import InventoryVersions, NewVersion, StaleVersion
from ioc.state._meetings import MeetingStore
from ioc.state._outbox import Outbox
from ioc.state._reloads import ReloadRequests
from ioc.state._tokens import TokenStore
from ioc.state._watch import WatchLog

__all__ = [
    "LEADER_LEASE",
    "AccountStore",
    "AlertRepository",
    "AlertRequest",
    "AuditLog",
    "DeadLetter",
    "DeadLetterLog",
    "Fenced",
    "Guard",
    "HeartbeatStore",
    "InventoryVersions",
    "JudgedThrough",
    "Lease",
    "LeaseStore",
    "MeetingStore",
    "NewVersion",
    "Node",
    "NodeInUse",
    "NodeRegistry",
    "Outbox",
    "ReloadRequests",
    "StaleVersion",
    "StateError",
    "StateRefused",
    "StateUnavailable",
    "TokenStore",
    "WatchLog",
    "cluster_status",
    "connect_state",
    "fence",
    "upgrade",
]
