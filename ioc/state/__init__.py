"""The state database (SQLAlchemy: SQLite by default, PostgreSQL in deployments).

Exceptions::

    StateError            the state database failed or is unreachable
"""

from ioc.state._alerts import AlertRepository, AlertRequest, LoggedTransition
from ioc.state._db import StateError, connect_state, upgrade
from ioc.state._deadletters import DeadLetter, DeadLetterLog
from ioc.state._heartbeat import HeartbeatStore, StageBeat
from ioc.state._outbox import Outbox
from ioc.state._tokens import ApiToken, TokenStore

__all__ = [
    "AlertRepository",
    "AlertRequest",
    "ApiToken",
    "DeadLetter",
    "DeadLetterLog",
    "HeartbeatStore",
    "LoggedTransition",
    "Outbox",
    "StageBeat",
    "StateError",
    "TokenStore",
    "connect_state",
    "upgrade",
]
