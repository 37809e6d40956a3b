"""snmpsim (PyPI) serving recorded SNMP walks (`*.snmprec`, the community is the file's name)
on udp/161 of a test host's network namespace, as the vendor gear they were taken from."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.netns import NetHost
from tests.support.snmpd import agent_answers, end_process

# As root, snmpsim must drop to another user, who cannot read this Python's standard library
# when it lives under /root (pyenv); what it would import later is imported before the drop.
_RESPONDER = """
import dbm, dbm.dumb, encodings.ascii, encodings.idna, encodings.latin_1, encodings.utf_8, sys
from snmpsim.commands.responder import main
sys.argv[0] = "snmpsim-command-responder"
sys.exit(main())
"""


class Snmpsim:
    """snmpsim-command-responder with the given recordings, as user nobody."""

    def __init__(self, host: NetHost, recordings: list[Path]) -> None:
        self.host = host
        # Its own folder: pytest's are private to root, and snmpsim reads as nobody.
        directory = self.directory = Path(tempfile.mkdtemp(prefix="ioc-snmpsim-"))
        self.data = directory / "data"
        self.cache = directory / "cache"
        self.data.mkdir(parents=True, exist_ok=True)
        self.cache.mkdir(parents=True, exist_ok=True)
        for recording in recordings:
            shutil.copy(recording, self.data / recording.name)
        for path in (directory, self.data, self.cache, *self.data.iterdir()):
            path.chmod(0o777 if path == self.cache else 0o755 if path.is_dir() else 0o644)
        self._log = directory / "snmpsim.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until the first recording answers."""
        community = next(self.data.glob("*.snmprec")).stem
        # snmpsim binds after dropping to nobody: let anyone bind 161 in this namespace only.
        self.host.run("sysctl", "-q", "-w", "net.ipv4.ip_unprivileged_port_start=0")
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                ["ip", "netns", "exec", self.host.namespace, sys.executable, "-c", _RESPONDER,
                 f"--data-dir={self.data}", f"--cache-dir={self.cache}",
                 f"--agent-udpv4-endpoint={self.host.address}:161",
                 "--process-user=nobody", "--process-group=nogroup"],
                stdout=log, stderr=log,
            )  # fmt: skip
        if agent_answers(self.host.address, community, self._process, 20):
            return
        said = self._log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"snmpsim did not answer on {self.host.address}:\n{said}")

    def stop(self) -> None:
        """Stop it."""
        end_process(self._process)
        self._process = None
        shutil.rmtree(self.directory, ignore_errors=True)
