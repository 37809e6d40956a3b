"""A real SMTP server for the tests (aiosmtpd): STARTTLS and login required, like a province's
mail relay; what it accepts is kept in a mailbox."""

from __future__ import annotations

import contextlib
import logging
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from ioc.broker import free_port


class Mailbox:
    """aiosmtpd's handler: keeps what it accepts."""

    def __init__(self) -> None:
        self.messages: list[Envelope] = []

    async def handle_DATA(self, _server: object, _session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 OK"


def _authenticate(_server: object, _session: Session, _envelope: Envelope, mechanism: str,
                  data: object) -> AuthResult:  # fmt: skip
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"ioc", b"mail-pass")
    return AuthResult(success=ok, handled=False)


@contextlib.contextmanager
def private_smtp_server(
    tmp_path: Path, also_at: tuple[str, ...] = ()
) -> Iterator[tuple[int, Mailbox, Path]]:
    """aiosmtpd on a free loopback port with STARTTLS (a self-signed certificate, returned, also
    valid for the addresses `also_at`, where relays reach it) and login (user `ioc`, password
    `mail-pass`); yields (port, mailbox, certificate)."""
    names = ",".join(["DNS:localhost", "IP:127.0.0.1", *(f"IP:{a}" for a in also_at)])
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", f"subjectAltName={names}"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    # aiosmtpd warns of its own deprecated attribute, which its login code sets itself.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
        authenticator=_authenticate, auth_require_tls=True,
    )  # fmt: skip
    controller.start()
    try:
        yield port, mailbox, cert
    finally:
        controller.stop()
