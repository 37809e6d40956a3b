"""net-snmp's snmpd as a commune router's agent, inside a test host's network namespace."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.support.netns import NetHost

COMMUNITY = "ioc-test-ro"
V3_USER, V3_AUTH, V3_PRIV = "iocprobe", "auth-key-123", "priv-key-456"


class Snmpd:
    """snmpd on udp/161 of the host, with a v2c community and a v3 authPriv user (SHA, AES)."""

    def __init__(self, host: NetHost, directory: Path, trap_sink: str | None = None) -> None:
        """`trap_sink` (host:port): where the agent sends its v2c traps (coldStart at start)."""
        self.host = host
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.config = directory / "snmpd.conf"
        self.config.write_text(
            "agentAddress udp:161\n"
            f"rocommunity {COMMUNITY} default\n"
            f'createUser {V3_USER} SHA "{V3_AUTH}" AES "{V3_PRIV}"\n'
            f"rouser {V3_USER} priv\n"
            "sysName commune-router\n"
            + (f"trap2sink {trap_sink} {COMMUNITY}\n" if trap_sink else ""),
            encoding="ascii",
        )
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the agent and wait until it answers."""
        with (self.directory / "snmpd.log").open("ab") as log:
            self._process = subprocess.Popen(
                ["ip", "netns", "exec", self.host.namespace, "snmpd", "-f", "-Lo", "-C",
                 "-c", str(self.config), f"--persistentDir={self.directory / 'persist'}",
                 "-p", str(self.directory / "snmpd.pid")],
                stdout=log, stderr=log,
            )  # fmt: skip
        if not agent_answers(self.host.address, COMMUNITY, self._process, 10):
            raise RuntimeError(f"snmpd did not answer on {self.host.address}")

    def stop(self) -> None:
        """Stop the agent."""
        end_process(self._process)
        self._process = None

    def restart(self) -> None:
        """A reboot as far as SNMP can tell: uptime and counters start again."""
        self.stop()
        self.start()


def agent_answers(
    address: str, community: str, process: subprocess.Popen[bytes], timeout_s: float
) -> bool:
    """Whether an agent just started answers a GET of sysUpTime within the time (False at
    once if its process ended)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        answer = subprocess.run(
            ["snmpget", "-v2c", "-c", community, "-t", "0.3", "-r", "0", "-Oqv",
             address, "1.3.6.1.2.1.1.3.0"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if answer.returncode == 0:
            return True
    return False


def end_process(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, then SIGKILL if it lingers."""
    if process is None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
