"""SIPp (Debian `sip-tester`) as a video-conference endpoint's SIP user agent: it answers every
OPTIONS with a final response, over UDP or TCP, inside a test host's network namespace."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.support.netns import NetHost
from tests.support.snmpd import end_process

_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="answer OPTIONS">
  <recv request="OPTIONS" />
  <send>
    <![CDATA[
      SIP/2.0 {status}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]sippTag[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Allow: INVITE, ACK, CANCEL, OPTIONS, BYE
      Content-Length: 0

    ]]>
  </send>
</scenario>
"""


class Sipp:
    """sipp answering OPTIONS on the host's address (`transport` udp or tcp)."""

    def __init__(
        self,
        host: NetHost,
        directory: Path,
        transport: str = "udp",
        port: int = 5060,
        status: str = "200 OK",
    ) -> None:
        self.host, self.transport, self.port = host, transport, port
        directory.mkdir(parents=True, exist_ok=True)
        self.scenario = directory / f"options-{transport}.xml"
        self.scenario.write_text(_SCENARIO.format(status=status), encoding="ascii")
        self._log = directory / f"sipp-{transport}.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start sipp and wait until its port is open."""
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                ["ip", "netns", "exec", self.host.namespace, "sipp", "-sf", str(self.scenario),
                 "-i", self.host.address, "-p", str(self.port),
                 "-t", "u1" if self.transport == "udp" else "t1", "-nostdin", "-nd"],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=self.scenario.parent,
            )  # fmt: skip
        listing = ["ss", "-H", "-lun" if self.transport == "udp" else "-ltn"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if f"{self.host.address}:{self.port}" in self.host.run(*listing):
                return
            if self._process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"sipp did not open {self.transport} {self.port}: see {self._log}")

    def stop(self) -> None:
        """Stop sipp."""
        end_process(self._process)
        self._process = None
