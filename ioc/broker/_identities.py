"""Broker identities: who may connect to Mosquitto, and what each may publish and read.

Every device, every collector (a gateway or probe publishing for the devices in its file),
every ioc process and every person's phone gets its own user name and secret. The broker is
told through Mosquitto's password file (hashed by `mosquitto_passwd`) and ACL file; both are
re-read on SIGHUP, so adding or revoking one identity needs no restart of the broker or of ioc.

The secrets live in `<dir>/identities.csv` (mode 600, the source of truth: running `make` again
keeps every existing secret) and, for the identities a process reads its secret from, one file
each under `<dir>/secrets/` (IOC_MQTT_PASSWORD_FILE).
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from ioc.broker._files import hand_over, reachable, write_atomic
from ioc.broker._tls import (
    DEVICE_LISTENER_LINES,
    TlsFiles,
    mosquitto_tls_listener,
    tls_enabled,
    write_tls,
)
from ioc.domain import IocError

SERVICE_IDENTITIES = ("ioc", "ioc-ingest", "ioc-rules", "ioc-api", "ioc-notify")
MONITOR_IDENTITY = "ioc-monitor"
PHONE_PREFIX = "phone-"
_DEVICE_TOPICS = ("telemetry", "event", "status")


class IdentityError(IocError):
    """The identities cannot be made or changed (the message says why)."""


class IdentityKind(StrEnum):
    """What an identity is for."""

    DEVICE = "device"  # publishes its own topics
    COLLECTOR = "collector"  # a gateway or probe: its own topics and those of its devices
    SERVICE = "service"  # an ioc process: reads every device and the broker's $SYS, publishes
    # alerts and notify
    PHONE = "phone"  # a person's app: reads its own notify topic
    MONITOR = "monitor"  # a health check or monitoring: reads the broker's $SYS only


@dataclass(frozen=True, slots=True)
class Identity:
    """One broker user and its grants (topic filters)."""

    name: str
    kind: IdentityKind
    writes: tuple[str, ...]
    reads: tuple[str, ...] = ()


def device_topics(prefix: str, device_class: str, device_id: str) -> tuple[str, ...]:
    """The topics a device publishes (wire protocol v1)."""
    return tuple(f"{prefix}/{device_class}/{device_id}/{kind}" for kind in _DEVICE_TOPICS)


def plan_identities(
    prefix: str,
    devices: Iterable[tuple[str, str]],
    collectors: Iterable[tuple[str, str, Sequence[tuple[str, str]]]],
    people: Iterable[str],
) -> list[Identity]:
    """Every identity with its grants: `devices` as (class, id), `collectors` as (class, id,
    the devices it speaks for); a device a collector speaks for gets no identity of its own."""
    identities = [
        Identity(name, IdentityKind.SERVICE, (f"{prefix}/alerts/#", f"{prefix}/notify/#"),
                 (f"{prefix}/#", "$SYS/#"))
        for name in SERVICE_IDENTITIES
    ]  # fmt: skip
    identities.append(Identity(MONITOR_IDENTITY, IdentityKind.MONITOR, (), ("$SYS/#",)))
    spoken_for: set[str] = set()
    for device_class, collector_id, behind in collectors:
        writes = list(device_topics(prefix, device_class, collector_id))
        for behind_class, behind_id in behind:
            writes += device_topics(prefix, behind_class, behind_id)
            spoken_for.add(behind_id)
        identities.append(Identity(collector_id, IdentityKind.COLLECTOR, tuple(writes)))
    taken = {identity.name for identity in identities}
    for device_class, device_id in devices:
        if device_id in spoken_for or device_id in taken:
            continue
        identities.append(
            Identity(device_id, IdentityKind.DEVICE, device_topics(prefix, device_class, device_id))
        )
    identities += [
        Identity(f"{PHONE_PREFIX}{person}", IdentityKind.PHONE, (),
                 (f"{prefix}/notify/person/{person}",))
        for person in people
    ]  # fmt: skip
    return identities


@dataclass(frozen=True, slots=True)
class Listeners:
    """Where the broker listens: ioc's own processes (on its host or a private network, client
    ids as they give them: one identity runs several clients), and devices, collectors and
    phones (TLS when the folder has it; each client's id forced to its identity)."""

    ioc: tuple[str, int] = ("127.0.0.1", 1883)
    devices: tuple[str, int] | None = None  # None: 0.0.0.0:8883 with TLS, 0.0.0.0:1884 plain


@dataclass(frozen=True, slots=True)
class IdentityFiles:
    """What `write_identities` made, and what changed."""

    directory: Path
    password_file: Path
    acl_file: Path
    added: tuple[str, ...]
    kept: int
    revoked: tuple[str, ...]
    unplanned: tuple[str, ...] = ()  # known, but not in this run's plan: out of the broker
    tls: TlsFiles | None = None  # the CA's certificates, when the folder has TLS
    warnings: tuple[str, ...] = ()  # what may keep a broker on this host from its files

    def mosquitto_config(self, tls_port: int | None = None, bind: str = "127.0.0.1") -> str:
        """The lines a mosquitto.conf needs to use these files (see `mosquitto_config`)."""
        return mosquitto_config(self.directory, tls_port, bind)

    @property
    def broker_conf(self) -> Path:
        """The drop-in file for Mosquitto (Debian: link it into /etc/mosquitto/conf.d/)."""
        return self.directory / "mosquitto" / "ioc.conf"


def mosquitto_config(directory: Path, tls_port: int | None = None, bind: str = "127.0.0.1") -> str:
    """The lines a mosquitto.conf needs to use an identities folder: no anonymous access, the
    password file and ACL, and (given a port) the TLS listener."""
    broker_dir = directory / "mosquitto"
    lines = (
        "allow_anonymous false\n"
        f"password_file {broker_dir / 'passwd'}\n"
        f"acl_file {broker_dir / 'acl'}\n"
    )
    if tls_port is not None:
        if not (broker_dir / "server.crt").is_file():
            raise IdentityError(f"{directory} has no TLS certificates (make it with --tls-host)")
        lines += mosquitto_tls_listener(tls_port, bind, broker_dir)
    return lines


def broker_conf(directory: Path, listeners: Listeners, limits: str) -> str:
    """A whole drop-in file for Mosquitto: ioc's limits, no anonymous access, the password
    file and ACL, ioc's listener and the devices' (TLS when the folder has it)."""
    broker_dir = directory / "mosquitto"
    host, port = listeners.ioc
    tls = (broker_dir / "server.crt").is_file()
    device_host, device_port = listeners.devices or ("0.0.0.0", 8883 if tls else 1884)
    devices = (
        mosquitto_tls_listener(device_port, device_host, broker_dir)
        if tls
        else f"listener {device_port} {device_host}\n{DEVICE_LISTENER_LINES}"
    )
    return (
        "# Made by `ioc identities make` (docs/security.md): ioc's limits, its identities, and\n"
        "# two listeners. Debian: ln -s this file /etc/mosquitto/conf.d/ioc.conf\n\n"
        f"{limits}\n"
        f"{mosquitto_config(directory)}\n"
        "# ioc's own processes: on this host (or a private network), never the devices'.\n"
        f"listener {port} {host}\n\n"
        "# Devices, gateways, probes and phones.\n"
        f"{devices}"
    )


def write_identities(
    directory: Path,
    identities: Sequence[Identity],
    tls_hosts: Sequence[str] = (),
    broker_owner: str | None = None,
    listeners: Listeners | None = None,
    limits: str = "",
) -> IdentityFiles:
    """Write the secrets, the password file and the ACL; existing secrets are kept, revoked
    names stay out. Given the broker's host names (or once the folder has them), also the
    TLS certificates: the broker's and one per identity. Given `listeners`, the broker's
    drop-in file too (with `limits`, ioc's Mosquitto settings). The broker's files belong to
    `broker_owner` (or to whoever their folder belongs to), and the folder lets it through to
    them (search only: it lists nothing, and every secret stays mode 600)."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    rows = _read_rows(directory)
    known = {name: secret for name, _kind, secret in rows}
    revoked = read_revoked(directory)
    wanted = [i for i in identities if i.name not in revoked]
    added = tuple(i.name for i in wanted if i.name not in known)
    secret_of = {i.name: known.get(i.name) or secrets.token_urlsafe(24) for i in wanted}
    # Identities this run does not plan (a gateway file not given, a device gone from the
    # inventory) leave the broker's files but keep their secrets, should they come back.
    unplanned = [row for row in rows if row[0] not in secret_of]
    _write_private(
        directory / "identities.csv",
        _csv(
            [("identity", "kind", "secret")]
            + [(i.name, i.kind, secret_of[i.name]) for i in wanted]
            + unplanned
        ),
    )
    secret_dir = directory / "secrets"
    secret_dir.mkdir(exist_ok=True)
    secret_dir.chmod(0o700)
    for identity in wanted:
        if identity.kind is not IdentityKind.DEVICE:  # 10,000 devices are provisioned by CSV
            _write_private(secret_dir / identity.name, secret_of[identity.name] + "\n")
    for stale in secret_dir.iterdir():
        if stale.name not in secret_of:
            stale.unlink()
    broker_dir = directory / "mosquitto"
    broker_dir.mkdir(exist_ok=True)
    password_file = broker_dir / "passwd"
    _hash_passwords(password_file, [(i.name, secret_of[i.name]) for i in wanted])
    acl_file = broker_dir / "acl"
    _write_private(acl_file, render_acl(wanted))
    try:
        tls = (
            write_tls(directory, tls_hosts, [i.name for i in wanted])
            if tls_hosts or tls_enabled(directory)
            else None
        )
        if listeners is not None:
            conf = broker_conf(directory, listeners, limits)
            write_atomic(broker_dir / "ioc.conf", conf.encode(), mode=0o644)
        hand_over(broker_dir, broker_owner)
        warnings = _let_the_broker_through(directory, broker_dir)
    except (OSError, ValueError) as exc:
        raise IdentityError(f"{directory}: {exc}") from exc
    return IdentityFiles(
        directory, password_file, acl_file, added, len(wanted) - len(added),
        tuple(sorted(revoked)), tuple(row[0] for row in unplanned), tls, warnings,
    )  # fmt: skip


def _let_the_broker_through(directory: Path, broker_dir: Path) -> tuple[str, ...]:
    """A broker folder given to another user: the identities folder lets it pass (search
    only: nothing listed, every secret mode 600). A folder above that it could not pass is
    said (a broker in a container mounts the folder, and never sees those)."""
    owner = broker_dir.stat()
    if (owner.st_uid, owner.st_gid) == (os.getuid(), os.getgid()):
        return ()
    directory.chmod(0o711)
    blocked = reachable(broker_dir, owner.st_uid, owner.st_gid)
    if blocked is None:
        return ()
    return (
        f"a broker on this host running as uid {owner.st_uid} cannot reach {broker_dir}: "
        f"{blocked} lets only its owner in (mode {blocked.stat().st_mode & 0o777:o}); let it "
        "search that folder (chmod o+x) or choose one it can reach (/etc/ioc)",
    )


def revoke(directory: Path, name: str) -> None:
    """Mark an identity revoked (the next `write_identities` leaves it out)."""
    if name not in read_secrets(directory):
        raise IdentityError(f"{directory}: no identity {name!r} to revoke")
    revoked = read_revoked(directory) | {name}
    _write_private(directory / "revoked.txt", "".join(f"{n}\n" for n in sorted(revoked)))


def read_secrets(directory: Path) -> dict[str, str]:
    """Identity name -> secret, from `<dir>/identities.csv` (empty when there is none)."""
    return {name: secret for name, _kind, secret in _read_rows(directory)}


def _read_rows(directory: Path) -> list[tuple[str, str, str]]:
    path = directory / "identities.csv"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as source:
        return [(r["identity"], r["kind"], r["secret"]) for r in csv.DictReader(source)]


def read_revoked(directory: Path) -> set[str]:
    """The revoked names."""
    path = directory / "revoked.txt"
    if not path.is_file():
        return set()
    return {line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def render_acl(identities: Sequence[Identity]) -> str:
    """Mosquitto's ACL file: each user's topics; anything not granted is refused."""
    lines = ["# Made by `ioc identities make`; anything not granted here is refused.", ""]
    for identity in identities:
        lines.append(f"# {identity.kind}")
        lines.append(f"user {identity.name}")
        lines += [f"topic write {topic}" for topic in identity.writes]
        lines += [f"topic read {topic}" for topic in identity.reads]
        lines.append("")
    return "\n".join(lines)


def reload_broker(pid_file: Path) -> int:
    """SIGHUP the Mosquitto whose pid the file holds (it re-reads passwords and ACL)."""
    try:
        pid = int(pid_file.read_text(encoding="ascii").strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as exc:
        raise IdentityError(f"cannot signal the broker of {pid_file}: {exc}") from exc
    return pid


def _hash_passwords(password_file: Path, pairs: Sequence[tuple[str, str]]) -> None:
    tool = shutil.which("mosquitto_passwd") or shutil.which("mosquitto_passwd", path="/usr/bin")
    if tool is None:
        raise IdentityError("mosquitto_passwd is not installed (Debian: apt-get install mosquitto)")
    # One `mosquitto_passwd -U` over a private plain file hashes them all in one go.
    handle, plain = tempfile.mkstemp(dir=password_file.parent, prefix=".passwd-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.writelines(f"{name}:{secret}\n" for name, secret in pairs)
        done = subprocess.run([tool, "-U", plain], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise IdentityError(f"mosquitto_passwd -U failed: {done.stderr.strip()}")
        os.replace(plain, password_file)
    finally:
        if os.path.exists(plain):
            os.unlink(plain)
    password_file.chmod(0o640)


def _csv(rows: Sequence[tuple[str, ...]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _write_private(path: Path, text: str) -> None:
    write_atomic(path, text.encode("utf-8"), 0o600)
