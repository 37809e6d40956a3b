"""A command loads only what it runs: `ioc ingest` restarts fast after an outage."""

from __future__ import annotations

import json
import subprocess
import sys

import ioc.app

# Loaded by the API, the rules, the notifier, the probe or the v2 writer: never by ingest alone.
_NOT_FOR_INGEST = (
    "fastapi",
    "uvicorn",
    "numpy",
    "pysnmp",
    "jinja2",
    "openpyxl",
    "influxdb_client",
    "ioc.api",
    "ioc.rules",
    "ioc.notify",
    "ioc.probe",
    "ioc.reports",
)


def _modules_after(code: str) -> set[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def _loaded(modules: set[str], package: str) -> bool:
    return any(name == package or name.startswith(package + ".") for name in modules)


def test_the_ingest_command_loads_neither_the_api_nor_the_rules() -> None:
    modules = _modules_after(
        "import ioc.cli\n"
        "from ioc.app import ingest_process, load_catalog\n"
        "from ioc.store import InfluxStore\n"
        "InfluxStore('http://127.0.0.1:9', 'db', 'v1', lambda device_id: None).close()"
    )
    assert "ioc.app._ingest" in modules  # the check sees what the command imports
    assert [name for name in _NOT_FOR_INGEST if _loaded(modules, name)] == []


def test_the_v2_api_loads_its_client() -> None:
    modules = _modules_after(
        "from ioc.store import InfluxStore\n"
        "InfluxStore('http://127.0.0.1:9', 'b', 'v2', lambda device_id: None, token='t').close()"
    )
    assert _loaded(modules, "influxdb_client")


def test_every_name_ioc_app_exports_resolves() -> None:
    missing = [name for name in ioc.app.__all__ if getattr(ioc.app, name, None) is None]
    assert missing == []
    assert "ingest_process" in ioc.app.__all__
