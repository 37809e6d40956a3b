"""Notifications for field engineers: routing by area, on-call rotations, escalation.

Exceptions::

    NotifyConfigError    the notification file is wrong (every mistake, one per line)
"""

from ioc.notify._config import (
    Channel,
    NotifyConfig,
    NotifyConfigError,
    NotifyFile,
    Person,
    Route,
    load_notify_config,
)
from ioc.notify._routing import Recipient, Router

__all__ = [
    "Channel",
    "NotifyConfig",
    "NotifyConfigError",
    "NotifyFile",
    "Person",
    "Recipient",
    "Route",
    "Router",
    "load_notify_config",
]
