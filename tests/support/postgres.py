"""A private PostgreSQL server on a free loopback port, in a directory of its own, that a test
may stop and start again (the machine's shared server is never touched).

PostgreSQL refuses to run as root: the data directory belongs to the `postgres` user, and the
server runs as that user (the directory and its parents must be reachable by it)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from ioc.broker import free_port, wait_for_port


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries (apt-get install postgresql)")
    return Path(found[-1]).parent


class PostgresProcess:
    """`initdb` once, then `postgres` started and stopped at will on the same data."""

    def __init__(self) -> None:
        self.port = free_port()
        self._bin = _binaries()
        self._user = pwd.getpwnam("postgres")
        self._root = Path(tempfile.mkdtemp(prefix="ioc-pg-"))
        self._root.chmod(0o755)
        self.data = self._root / "data"
        self.data.mkdir()
        os.chown(self.data, self._user.pw_uid, self._user.pw_gid)
        self.log = self._root / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None
        subprocess.run(
            [self._bin / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres"],
            user=self._user.pw_uid,
            group=self._user.pw_gid,
            capture_output=True,
            check=True,
        )

    @property
    def url(self) -> str:
        """A SQLAlchemy URL of its `postgres` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the server and wait until it accepts connections."""
        with self.log.open("ab") as log:
            os.chown(self.log, self._user.pw_uid, self._user.pw_gid)
            self.process = subprocess.Popen(
                [
                    self._bin / "postgres", "-D", self.data, "-p", str(self.port),
                    "-c", "listen_addresses=127.0.0.1",
                    "-c", f"unix_socket_directories={self.data}",
                    "-c", "fsync=off",  # a test's data need not survive a power cut
                ],
                user=self._user.pw_uid,
                group=self._user.pw_gid,
                stdout=log,
                stderr=log,
            )  # fmt: skip
        wait_for_port(self.port, timeout_s, self.process)
        ready = [self._bin / "pg_isready", "-h", "127.0.0.1", "-p", str(self.port)]
        while subprocess.run(ready, capture_output=True, check=False).returncode != 0:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres ended: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        """A fast shutdown (SIGINT): clients are cut off, the data stays."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=60)
        self.process = None

    def remove(self) -> None:
        """Stop and delete the data."""
        self.stop()
        shutil.rmtree(self._root, ignore_errors=True)
