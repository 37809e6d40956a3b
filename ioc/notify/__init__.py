"""Notifications for field engineers: routing by area, on-call rotations, escalation.

Exceptions::

    NotifyConfigError    the notification file is wrong (every mistake, one per line)
    AckLinkError         an acknowledgement link is expired, altered or names no one
"""

from ioc.notify._acklinks import AckLinkError, AckLinks
from ioc.notify._config import (
    Channel,
    NotifyConfig,
    NotifyConfigError,
    NotifyFile,
    Person,
    Route,
    ScheduledReport,
    load_notify_config,
    recheck_notify_config,
)
from ioc.notify._deliver import Deliverer, ReportWriter, Sender, backoff_s
from ioc.notify._hold import NO_HOLD, FlapHold
from ioc.notify._messages import Attachment, Message, alert_message, fold
from ioc.notify._planner import Planner
from ioc.notify._routing import Recipient, Router
from ioc.notify._webhook import SIGNATURE_HEADER, WebhookSender, signature

__all__ = [
    "NO_HOLD",
    "SIGNATURE_HEADER",
    "AckLinkError",
    "AckLinks",
    "Attachment",
    "Channel",
    "Deliverer",
    "FlapHold",
    "Message",
    "NotifyConfig",
    "NotifyConfigError",
    "NotifyFile",
    "Person",
    "Planner",
    "Recipient",
    "ReportWriter",
    "Route",
    "Router",
    "ScheduledReport",
    "Sender",
    "WebhookSender",
    "alert_message",
    "backoff_s",
    "fold",
    "load_notify_config",
    "recheck_notify_config",
    "signature",
]
