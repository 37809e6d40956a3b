"""Acknowledgement links: signed and expiring, so an engineer can take an alert on from the
message on a phone, in their own name, without logging in to the wall."""

from __future__ import annotations

from collections.abc import Callable

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from ioc.domain import AckClaim, IocError
from ioc.notify._config import NotifyConfig


class AckLinkError(IocError):
    """The link is expired, altered, or names someone unknown; the message says which."""


class AckLinks:
    """Makes and reads the links (`{link_base}/ack/{token}`)."""

    def __init__(
        self, secret: str, config: NotifyConfig, ttl_s: float, clock: Callable[[], int]
    ) -> None:
        class _Signer(TimestampSigner):
            def get_timestamp(self) -> int:
                return clock() // 1000

        self._serializer = URLSafeTimedSerializer(secret, salt="ioc-ack", signer=_Signer)
        self._config = config
        self._ttl_s = ttl_s
        self._base = (config.spec.link_base or "").rstrip("/")

    def url(self, alert_id: int, person_id: str) -> str | None:
        """The link for a person and an alert (None when the file sets no link_base)."""
        if not self._base:
            return None
        return f"{self._base}/ack/{self._serializer.dumps([alert_id, person_id])}"

    def read(self, token: str) -> AckClaim:
        """What a link's token grants; AckLinkError when it grants nothing."""
        try:
            alert_id, person_id = self._serializer.loads(token, max_age=round(self._ttl_s))
        except SignatureExpired as exc:
            raise AckLinkError("this link has expired: acknowledge on the wall instead") from exc
        except (BadSignature, ValueError, TypeError) as exc:
            raise AckLinkError("this link is not valid") from exc
        person = self._config.people.get(str(person_id))
        if person is None or not isinstance(alert_id, int):
            raise AckLinkError("this link names no one ioc knows")
        return AckClaim(alert_id, person.id, person.name)
