"""A private Mosquitto process on a loopback port, for tests, benchmarks and the demo."""

from __future__ import annotations

import getpass
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from importlib import resources
from pathlib import Path

from ioc.domain import IocError


class BrokerError(IocError):
    """The broker could not be started."""


# Below the kernel's ephemeral range: a port handed out here is never also handed to a socket
# bound to port 0 or to an outgoing connection between this call and its server's bind (a
# demo's services start together, and several took one port on a busy machine).
_PORT_RANGE = (10_000, 32_768)


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return _PORT_RANGE[1]


_handed_out: set[int] = set()  # by this process: free again until a server binds it


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now, outside the ephemeral range, and not
    handed out before by this process (a port handed out stays free until its server
    starts; it must not go to a second one meanwhile)."""
    low, high = _PORT_RANGE
    top = min(high, _ephemeral_start())
    for _ in range(200):
        port = random.randrange(low, top)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            _handed_out.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # the kernel's choice
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, timeout_s: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Block until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise BrokerError(f"process exited with code {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BrokerError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


def stop_process(
    process: subprocess.Popen[bytes], kill: bool = False, timeout_s: float = 20
) -> None:
    """End a server we started: SIGTERM (a clean stop) or SIGKILL (a crash), then reap it."""
    if process.poll() is None:
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if process.stderr:
        process.stderr.close()


def shipped_config() -> str:
    """The Mosquitto settings ioc ships (limits that do not drop messages)."""
    return resources.files("ioc.broker").joinpath("mosquitto.conf").read_text(encoding="utf-8")


def _mosquitto_binary() -> str | None:
    # Debian installs it in /usr/sbin, which is not on every user's PATH.
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


def mosquitto_available() -> bool:
    """Whether a Mosquitto binary is installed."""
    return _mosquitto_binary() is not None


class MosquittoProcess:
    """Mosquitto with ioc's configuration, its data in `directory`, on a free loopback port;
    anonymous unless `extra_config` locks it (`IdentityFiles.mosquitto_config`)."""

    def __init__(self, directory: Path, port: int | None = None, extra_config: str = "") -> None:
        binary = _mosquitto_binary()
        if binary is None:
            raise BrokerError("mosquitto is not installed (Debian: apt-get install mosquitto)")
        self.binary = binary
        self.directory = directory
        self.port = port or free_port()
        self.extra_config = extra_config
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = directory / "mosquitto.log"

    @property
    def locked(self) -> bool:
        """Whether its extra configuration decides who may connect (else anyone may)."""
        return "allow_anonymous false" in self.extra_config

    @property
    def url(self) -> str:
        """The broker's IOC_MQTT_URL."""
        return f"mqtt://127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        data = self.directory / "data"
        data.mkdir(exist_ok=True)
        config = self.directory / "mosquitto.conf"
        # As root Mosquitto drops to user `mosquitto`, which cannot enter a private temp dir.
        config.write_text(
            shipped_config()
            + f"\nuser {getpass.getuser()}\n"
            + f"listener {self.port} 127.0.0.1\n"
            + f"persistence_location {data}/\n"
            + f"log_dest file {self.log_path}\n"
            + "log_type error\nlog_type warning\nlog_type notice\n"
            + ("" if self.locked else "allow_anonymous true\n")
            + self.extra_config,
            encoding="utf-8",
        )
        return config

    def start(self, timeout_s: float = 10.0) -> None:
        """Start (or restart on the same port and data) and wait until it listens."""
        config = self._write_config()
        self.process = subprocess.Popen(
            [self.binary, "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            wait_for_port(self.port, timeout_s, self.process)
        except BrokerError as exc:
            stderr = (
                self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
            )
            log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
            raise BrokerError(f"mosquitto did not start: {exc}\n{stderr}\n{log[-2000:]}") from exc

    def stop(self, kill: bool = False) -> None:
        """Stop it: SIGTERM (saves persistence) or SIGKILL (a crash)."""
        if self.process is not None:
            stop_process(self.process, kill)

    def restart(self) -> None:
        """Stop and start again with the same data and port."""
        self.stop()
        self.start()
