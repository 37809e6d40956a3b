"""A private influxd 1.6.7 and a test-only /api/v2/write -> /write forwarder."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import urllib3

from ioc.broker import free_port, stop_process, wait_for_port


class InfluxProcess:
    """influxd with its own dirs, HTTP and RPC on free loopback ports, reporting off."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("influxd") or shutil.which("influxd", path="/usr/bin:/usr/sbin")
        if binary is None:
            raise RuntimeError("influxd is not installed (Debian: apt-get install influxdb)")
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.rpc_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base HTTP URL."""
        return f"http://127.0.0.1:{self.port}"

    def _config(self) -> Path:
        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        config = d / "influxdb.conf"
        config.write_text(
            f"""reporting-enabled = false
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{d}/meta"
  logging-enabled = false
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
  max-values-per-tag = 0
  max-series-per-database = 0
[monitor]
  store-enabled = false
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
  max-body-size = 0
[logging]
  level = "warn"
""",
            encoding="utf-8",
        )
        return config

    def start(self, timeout_s: float = 30.0) -> None:
        """Start and wait for /ping."""
        config = self._config()
        with open(self.directory / "influxd.log", "ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "-config", str(config)],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        wait_for_port(self.port, timeout_s, self.process)

    def stop(self, kill: bool = False) -> None:
        """Stop it (SIGKILL for a crash)."""
        if self.process is not None:
            stop_process(self.process, kill)

    def query(self, q: str, db: str | None = None) -> list[dict[str, object]]:
        """Run InfluxQL directly (test assertions); returns the series."""
        fields = {"q": q, "epoch": "ms"}
        if db:
            fields["db"] = db
        response = urllib3.request("POST", f"{self.url}/query?{urlencode(fields)}")
        results = json.loads(response.data)["results"]
        series: list[dict[str, object]] = []
        for result in results:
            if "error" in result:
                raise RuntimeError(result["error"])
            series.extend(result.get("series", []))
        return series


class V2Forwarder:
    """Speaks enough of InfluxDB 2.x for influxdb-client: /api/v2/write -> 1.x /write.

    It also passes 1.x writes on, so a test can see what either write path sent.

    It checks the token like 2.x does (401) and answers 404 for a bucket that does not exist
    as a 1.x database, so the store's error handling meets realistic answers.
    """

    def __init__(self, influx: InfluxProcess, token: str) -> None:
        self.influx = influx
        self.token = token
        self.port = free_port()
        self.writes = 0
        self.encodings: list[str] = []  # each write's Content-Encoding
        forwarder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                return

            def _reply(
                self, status: int, body: bytes = b"", content_type: str = "application/json"
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _authorised(self) -> bool:
                if self.headers.get("Authorization") != f"Token {forwarder.token}":
                    self._reply(401, b'{"code":"unauthorized","message":"unauthorized access"}')
                    return False
                return True

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if not self._authorised():
                    return
                if parts.path == "/api/v2/write":
                    bucket = query.get("bucket", "")
                    databases = forwarder.influx.query("SHOW DATABASES")
                    names = {row[0] for s in databases for row in s.get("values", [])}  # type: ignore[attr-defined]
                    if bucket not in names:
                        message = json.dumps(
                            {"code": "not found", "message": f'bucket "{bucket}" not found'}
                        )
                        self._reply(404, message.encode())
                        return
                    precision = query.get("precision", "ns")
                    target = f"/write?{urlencode({'db': bucket, 'precision': precision})}"
                    forwarder.writes += 1
                    forwarder.encodings.append(self.headers.get("Content-Encoding", "identity"))
                elif parts.path == "/write":  # 1.x, passed on as it is (behind the token check)
                    target = "/write?" + parts.query
                    forwarder.writes += 1
                    forwarder.encodings.append(self.headers.get("Content-Encoding", "identity"))
                elif parts.path == "/query":
                    target = "/query?" + parts.query
                else:
                    self._reply(404, b'{"code":"not found","message":"path not found"}')
                    return
                self._forward("POST", target, body)

            def do_GET(self) -> None:
                if not self._authorised():
                    return
                self._forward("GET", self.path, None)

            def _forward(self, method: str, target: str, body: bytes | None) -> None:
                response = urllib3.request(
                    method,
                    forwarder.influx.url + target,
                    body=body,
                    headers={"Content-Encoding": self.headers.get("Content-Encoding", "identity")},
                )
                self._reply(
                    response.status,
                    response.data,
                    response.headers.get("Content-Type", "application/json"),
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base URL to give influxdb-client."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Serve in a background thread."""
        self.thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
