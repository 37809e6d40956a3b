"""A private certificate authority for the broker's TLS listener (mqtts://, port 8883).

The CA's key stays in `<dir>/tls/` and signs one server certificate for the broker (its host
names and addresses as subject alternative names) and one client certificate per identity
(common name = the identity's name). The broker gets what it needs in `<dir>/mosquitto/`:
the CA certificate, its own certificate and key. Every run keeps what is still good and issues
only what is missing, no longer matches (the broker's names changed, the CA changed) or expires
within `RENEW_BEFORE`.

A certificate alone does not log in: the TLS listener requires a certificate from this CA *and*
the identity's secret, so revoking an identity (its secret leaves the password file) makes its
certificate useless without a revocation list.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ioc.broker._files import write_atomic

CA_LIFETIME = datetime.timedelta(days=3650)
LEAF_LIFETIME = datetime.timedelta(days=825)
RENEW_BEFORE = datetime.timedelta(days=30)

Name = x509.DNSName | x509.IPAddress


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Where the certificates are, and how many this run issued."""

    ca_cert: Path  # every client trusts it (IOC_MQTT_CA_FILE)
    server_cert: Path
    server_key: Path
    clients: Path  # <identity>.crt and <identity>.key (IOC_MQTT_CERT_FILE, IOC_MQTT_KEY_FILE)
    hosts: tuple[str, ...]  # the broker's names in its certificate
    issued: int  # client certificates issued by this run

    def client_cert(self, name: str) -> Path:
        """The certificate of identity `name`."""
        return self.clients / f"{name}.crt"

    def client_key(self, name: str) -> Path:
        """The private key of identity `name`."""
        return self.clients / f"{name}.key"


def tls_enabled(directory: Path) -> bool:
    """Whether this identities folder already has its CA (then every run keeps TLS up)."""
    return (directory / "tls" / "ca.crt").is_file()


def write_tls(
    directory: Path,
    hosts: Sequence[str],
    names: Sequence[str],
    now: datetime.datetime | None = None,
) -> TlsFiles:
    """Make or renew the CA, the broker's certificate for `hosts` (empty: the names it has)
    and a client certificate for each of `names`; certificates of other names are removed."""
    now = now or datetime.datetime.now(datetime.UTC)
    tls_dir = directory / "tls"
    clients = tls_dir / "clients"
    broker_dir = directory / "mosquitto"
    for folder in (tls_dir, clients, broker_dir):
        folder.mkdir(parents=True, exist_ok=True)
    tls_dir.chmod(0o700)
    ca_key, ca_cert = _certificate_authority(tls_dir, now)
    server_cert = broker_dir / "server.crt"
    old_hosts = _hosts_of(server_cert) if server_cert.is_file() else ()
    wanted_hosts = tuple(dict.fromkeys(hosts)) or old_hosts
    if not wanted_hosts:
        raise ValueError("the broker's certificate needs at least one host name (--tls-host)")
    if set(wanted_hosts) != set(old_hosts) or not _still_good(server_cert, ca_cert, now):
        alternative = [_san(host) for host in wanted_hosts]
        server_key = broker_dir / "server.key"
        _issue(server_cert, server_key, ca_key, ca_cert, wanted_hosts[0], alternative,
               ExtendedKeyUsageOID.SERVER_AUTH, now)  # fmt: skip
    write_atomic(broker_dir / "ca.crt", ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    issued = 0
    for name in names:
        cert = clients / f"{name}.crt"
        if not _still_good(cert, ca_cert, now):
            _issue(cert, clients / f"{name}.key", ca_key, ca_cert, name, [],
                   ExtendedKeyUsageOID.CLIENT_AUTH, now)  # fmt: skip
            issued += 1
    keep = {f"{name}.{suffix}" for name in names for suffix in ("crt", "key")}
    for stale in clients.iterdir():
        if stale.name not in keep:
            stale.unlink()
    return TlsFiles(
        tls_dir / "ca.crt", server_cert, broker_dir / "server.key", clients, wanted_hosts, issued
    )


# On the listener devices, collectors and phones use, the broker replaces the client id a client
# gives with its user name: an identity cannot take over another's session (connecting as
# `ioc-ingest` would close ioc's connection and end its persistent session).
DEVICE_LISTENER_LINES = "use_username_as_clientid true\n"


def mosquitto_tls_listener(port: int, bind: str, broker_dir: Path) -> str:
    """A Mosquitto listener for mqtts:// (TLS 1.2 or 1.3, Mosquitto's default) that requires a
    client certificate from the CA (the password file and ACL still decide who it is and what
    it may do); a device's client id is its identity (see `DEVICE_LISTENER_LINES`)."""
    return (
        f"listener {port} {bind}\n"
        f"{DEVICE_LISTENER_LINES}"
        f"cafile {broker_dir / 'ca.crt'}\n"
        f"certfile {broker_dir / 'server.crt'}\n"
        f"keyfile {broker_dir / 'server.key'}\n"
        "require_certificate true\n"
    )


def _certificate_authority(
    tls_dir: Path, now: datetime.datetime
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key_path, cert_path = tls_dir / "ca.key", tls_dir / "ca.crt"
    if key_path.is_file() and cert_path.is_file():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_path}: not the EC key ioc makes")
        if cert.not_valid_after_utc - now > RENEW_BEFORE:
            return key, cert
    # A new CA (first run, or the old one expiring): every certificate is issued again.
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ioc broker CA")])
    cert = (
        _builder(name, name, key.public_key(), now, CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    write_atomic(key_path, _key_pem(key), 0o600)
    write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return key, cert


def _issue(
    cert_path: Path,
    key_path: Path,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    common_name: str,
    alternative_names: list[Name],
    usage: x509.ObjectIdentifier,
    now: datetime.datetime,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        _builder(subject, ca_cert.subject, key.public_key(), now, LEAF_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if alternative_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(alternative_names), critical=False
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    write_atomic(key_path, _key_pem(key), 0o600)
    write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
    lifetime: datetime.timedelta,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # clocks a little behind
        .not_valid_after(now + lifetime)
    )


def _still_good(cert_path: Path, ca_cert: x509.Certificate, now: datetime.datetime) -> bool:
    if not cert_path.is_file() or not cert_path.with_suffix(".key").is_file():
        return False
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return cert.not_valid_after_utc - now > RENEW_BEFORE


def _hosts_of(cert_path: Path) -> tuple[str, ...]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(str(name.value) for name in names)


def _san(host: str) -> Name:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
