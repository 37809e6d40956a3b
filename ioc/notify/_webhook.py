"""The webhook channel: JSON POSTed to a person's URL, HMAC-signed, with an idempotency key —
the bridge to SMS gateways, Zalo or Telegram bots."""

from __future__ import annotations

import hashlib
import hmac

import orjson
import urllib3

from ioc.domain import Refused, RetryLater
from ioc.notify._config import Person
from ioc.notify._messages import Message

TIMEOUT = urllib3.Timeout(connect=5, read=10)
SIGNATURE_HEADER = "X-IOC-Signature"


def signature(secret: bytes, body: bytes) -> str:
    """The signature header's value: `sha256=` and the HMAC-SHA256 of the body, in hex."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookSender:
    """POSTs each message; 2xx is delivered, 429 / 5xx / no answer are retried, 4xx refused."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._http = urllib3.PoolManager(retries=False, timeout=TIMEOUT)

    def send(self, message: Message, person: Person, key: str) -> None:
        """Deliver or raise RetryLater / Refused."""
        url = person.contacts.webhook
        if url is None:
            raise Refused(f"{person.id} has no webhook URL")
        body = orjson.dumps(message.payload(key, person.id))
        headers = {
            "Content-Type": "application/json",
            # Receivers drop a key they have seen: a retry after a lost answer is not a repeat.
            "Idempotency-Key": key,
            SIGNATURE_HEADER: signature(self._secret, body),
        }
        try:
            response = self._http.request("POST", url, body=body, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            raise RetryLater(f"webhook {url} unreachable: {exc}") from exc
        if response.status == 429 or response.status >= 500:
            raise RetryLater(f"webhook {url} answered {response.status}")
        if response.status >= 300:
            raise Refused(f"webhook {url} refused with {response.status}: {response.data[:200]!r}")
