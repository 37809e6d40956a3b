"""Node-RED as a baseline: the batched flow an integrator would build instead of ioc ingest.

  mqtt in (QoS 1) -> function (JSON to one line of line protocol) -> join (5,000 lines or
  0.2 s) -> http request (POST /write to influxd)

Node-RED is installed with npm into a cache folder the first time (`npm install node-red@4`);
nothing of it is committed. It validates nothing and acknowledges each message on receipt:
it is the ceiling of "just wire it up", not an equal of ioc's guarantees.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

CACHE = Path(os.environ.get("IOC_BENCH_CACHE", Path.home() / ".cache" / "ioc-bench"))
VERSION = "4"
BATCH = 5000

# Line protocol from wire protocol v1 (numbers as floats, booleans as booleans).
_TO_LINE = """
const doc = JSON.parse(msg.payload);
const device = msg.topic.split("/")[2];
const fields = Object.entries(doc.metrics)
  .map(([name, value]) => `${name}=${typeof value === "boolean" ? value : Number(value)}`)
  .join(",");
msg.payload = `bts,device_id=${device} ${fields} ${doc.ts}`;
return msg;
"""


def installed() -> Path:
    """Node-RED's red.js, installed with npm into the cache folder if it is not there yet."""
    folder = CACHE / "node-red"
    red = folder / "node_modules" / "node-red" / "red.js"
    if not red.exists():
        if shutil.which("npm") is None:
            raise RuntimeError("the Node-RED baseline needs Node.js and npm")
        folder.mkdir(parents=True, exist_ok=True)
        print(f"  installing Node-RED {VERSION} into {folder} (once)...", flush=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--silent", f"node-red@{VERSION}"],
            cwd=folder,
            check=True,
        )
    return red


# Node ids look like Node-RED's own (hex): short words collide with its property values.
TAB, BROKER, MQTT_IN, TO_LINE, JOIN, WRITE = (f"b0000000000000{n:02x}" for n in range(6))


def flow(
    broker_port: int, influx_url: str, database: str, client_id: str
) -> list[dict[str, object]]:
    """The batched flow, as Node-RED's flow file holds it."""
    return [
        {"id": TAB, "type": "tab", "label": "bench"},
        {"id": BROKER, "type": "mqtt-broker", "broker": "127.0.0.1", "port": str(broker_port),
         "clientid": client_id, "autoConnect": True, "usetls": False, "protocolVersion": "4",
         "keepalive": "60", "cleansession": True},
        {"id": MQTT_IN, "type": "mqtt in", "z": TAB, "topic": "ioc/bts/+/telemetry", "qos": "1",
         "datatype": "utf8", "broker": BROKER, "nl": False, "rap": False, "inputs": 0,
         "wires": [[TO_LINE]]},
        {"id": TO_LINE, "type": "function", "z": TAB, "func": _TO_LINE, "outputs": 1,
         "wires": [[JOIN]]},
        {"id": JOIN, "type": "join", "z": TAB, "mode": "custom", "build": "string",
         "property": "payload", "propertyType": "msg", "joiner": "\\n", "joinerType": "str",
         "accumulate": False, "timeout": "0.2", "count": str(BATCH), "wires": [[WRITE]]},
        {"id": WRITE, "type": "http request", "z": TAB, "method": "POST", "ret": "txt",
         "url": f"{influx_url}/write?db={database}&precision=ms", "wires": [[]]},
    ]  # fmt: skip


class NodeRed:
    """One Node-RED process running the batched flow."""

    def __init__(self, workdir: Path, broker_port: int, influx_url: str, database: str) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "flows.json").write_text(
            json.dumps(flow(broker_port, influx_url, database, "bench-nodered"))
        )
        self._red = installed()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.workdir / "node-red.log").open("wb")
        self.process = subprocess.Popen(
            ["node", str(self._red), "--userDir", str(self.workdir), "--port", "0", "flows.json"],
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self) -> str:
        path = self.workdir / "node-red.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""
