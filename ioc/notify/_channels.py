"""The other channels: MQTT for the mobile app, e-mail over SMTP, SMS through an HTTP gateway."""

from __future__ import annotations

import email.policy
import re
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import parseaddr
from urllib.parse import quote, unquote, urlsplit

import orjson
import urllib3

from ioc.domain import Refused, RetryLater
from ioc.notify._config import Person
from ioc.notify._messages import Message

TIMEOUT_S = 10


class MqttSender:
    """Publishes to `{prefix}/notify/person/{id}` with QoS 1 and waits for the broker's ack; the
    key rides in the payload and, over MQTT 5, as the message's correlation data."""

    def __init__(self, publish: Callable[[str, bytes, bytes], bool], topic_prefix: str) -> None:
        self._publish = publish
        self._prefix = topic_prefix

    def send(self, message: Message, person: Person, key: str) -> None:
        """Deliver or raise RetryLater."""
        payload = orjson.dumps(message.payload(key, person.id))
        topic = f"{self._prefix}/notify/person/{person.id}"
        if not self._publish(topic, payload, key.encode()):
            raise RetryLater("the broker did not acknowledge the message")


def message_id(key: str, sender: str) -> str:
    """The Message-ID of a notification's e-mail: its key at the sender's domain, the same for
    every attempt (a resend after a crash is the same message to the mail system)."""
    local = re.sub(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]", ".", key).strip(".") or "ioc"
    domain = parseaddr(sender)[1].rpartition("@")[2] or "ioc.invalid"
    return f"<{local}@{domain}>"


class EmailSender:
    """SMTP with STARTTLS (smtp://) or TLS (smtps://), logging in when a user is given."""

    def __init__(
        self, url: str, password: str | None, sender: str, ca_file: str | None = None
    ) -> None:
        parts = urlsplit(url)
        self._tls = parts.scheme == "smtps"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (465 if self._tls else 587)
        self._user = unquote(parts.username) if parts.username else None
        self._password = password
        self._sender = sender
        self._ca_file = ca_file  # a private CA for the mail server's certificate

    def send(self, message: Message, person: Person, key: str) -> None:
        """Deliver or raise RetryLater (server away, 4xx) / Refused (5xx: address, auth)."""
        if person.contacts.email is None:
            raise Refused(f"{person.id} has no e-mail address")
        mail = EmailMessage(policy=_MAIL_POLICY)
        mail["From"] = self._sender
        mail["To"] = f"{person.name} <{person.contacts.email}>"
        mail["Subject"] = message.subject
        # The same key gives the same Message-ID: mail systems drop a resent duplicate.
        mail["Message-ID"] = message_id(key, self._sender)
        mail.set_content(message.text)
        for attachment in message.attachments:
            maintype, subtype = attachment.content_type.split("/", 1)
            mail.add_attachment(
                attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
            )
        try:
            self._deliver(mail)
        except smtplib.SMTPResponseException as exc:
            text = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            if 400 <= exc.smtp_code < 500:
                raise RetryLater(text) from exc
            raise Refused(text) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise RetryLater(f"SMTP server {self._host}:{self._port}: {exc}") from exc

    def _deliver(self, mail: EmailMessage) -> None:
        context = ssl.create_default_context(cafile=self._ca_file)
        smtp: smtplib.SMTP
        if self._tls:
            smtp = smtplib.SMTP_SSL(self._host, self._port, timeout=TIMEOUT_S, context=context)
        else:
            smtp = smtplib.SMTP(self._host, self._port, timeout=TIMEOUT_S)
        with smtp:
            if not self._tls:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=context)
                    smtp.ehlo()
                elif self._user:
                    raise Refused("the SMTP server offers no STARTTLS: not sending a password")
            if self._user:
                smtp.login(self._user, self._password or "")
            smtp.send_message(mail)


# Python 3.11's folder drops a space between two encoded words when it folds a long non-ASCII
# subject ("Đường truyềnchập chờn": CPython gh-92081), so headers are not folded below
# RFC 5322's hard limit of 998: a subject goes out as one encoded word, which mail readers
# decode whole.
_MAIL_POLICY = email.policy.SMTP.clone(max_line_length=998)


class SmsSender:
    """An HTTP SMS gateway: {phone} and {text} filled into the URL (and the body, if given)."""

    def __init__(self, url: str, body: str | None, token: str | None) -> None:
        self._url = url
        self._body = body
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = urllib3.PoolManager(retries=False, timeout=TIMEOUT_S)

    def send(self, message: Message, person: Person, key: str) -> None:
        """Deliver the short form or raise RetryLater / Refused."""
        phone = person.contacts.phone
        if phone is None:
            raise Refused(f"{person.id} has no phone number")
        url = self._url.format(phone=quote(phone), text=quote(message.short), key=quote(key))
        headers = {**self._headers, "Idempotency-Key": key}
        try:
            if self._body is None:
                response = self._http.request("GET", url, headers=headers)
            else:
                # JSON-escaped values: a quote in a message cannot break the gateway's body.
                body = self._body.format(
                    phone=orjson.dumps(phone).decode()[1:-1],
                    text=orjson.dumps(message.short).decode()[1:-1],
                    key=key,
                )
                response = self._http.request("POST", url, body=body.encode(), headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            raise RetryLater(f"SMS gateway unreachable: {exc}") from exc
        if response.status == 429 or response.status >= 500:
            raise RetryLater(f"SMS gateway answered {response.status}")
        if response.status >= 300:
            raise Refused(f"SMS gateway refused with {response.status}: {response.data[:200]!r}")
