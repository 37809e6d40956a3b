"""The package lists every module, and docker-compose.yml agrees with the settings model."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from ioc.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_ioc_package_is_in_pyproject() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "ioc").rglob("__init__.py")
    } | {
        "firmware_sim",
        "ioc.bundled.devices",
        "ioc.bundled.devices.modbus",
        "ioc.bundled.devices.probe",
        "ioc.bundled.rules",
    }
    assert found == listed


def test_compose_file_parses_and_agrees_with_the_settings() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"mosquitto", "influxdb", "postgres", "ioc", "simulator"} <= set(services)
    fields = set(Settings.model_fields)
    for name, service in services.items():
        for variable in service.get("environment", {}):
            if variable.startswith("IOC_"):
                field = variable[4:].lower()
                secret = Settings.model_fields.get(field.removesuffix("_file"))
                from_file = field.endswith("_file") and "SecretStr" in str(
                    secret and secret.annotation
                )
                assert field in fields or from_file, f"{name}: {variable} is not a setting"
        assert "healthcheck" in service or name == "simulator", f"{name} has no health check"
    assert services["simulator"].get("profiles") == ["simulator"]
    assert services["ioc"]["command"] == ["ioc", "run"]
    text = (ROOT / "docker-compose.yml").read_text()
    assert not re.search(r"\$\{[^}]*(TOKEN|PASSWORD|SECRET)", text), "secrets come from files"
    secret_files = compose["secrets"]
    for name, service in services.items():
        granted = set(service.get("secrets", []))
        assert granted <= set(secret_files), f"{name}: {granted - set(secret_files)} undeclared"
        for variable, value in service.get("environment", {}).items():
            if re.search(r"TOKEN|PASSWORD|SECRET", variable):
                assert variable.endswith("_FILE"), f"{name}: {variable} holds a secret itself"
                if variable == "IOC_INFLUX_TOKEN_FILE":  # made by influxdb: its bucket only
                    assert value == "/run/ioc-influx/token", value
                    continue
                # Docker's convention: the variable names a file under /run/secrets.
                assert value.removeprefix("/run/secrets/") in granted, f"{name}: {variable}"
    ioc = services["ioc"]["environment"]
    assert (ioc["IOC_MQTT_USERNAME"], secret_files["mqtt_ioc"]["file"]) == (
        "ioc", "./identities/secrets/ioc",
    )  # fmt: skip
    assert "--credentials" in services["simulator"]["command"]
    # The broker: only TLS published; no anonymous access anywhere. InfluxDB: nothing published,
    # and ioc never holds the all-access admin token, only a token for its bucket.
    assert services["mosquitto"]["ports"] == ["8883:8883"]
    assert "ports" not in services["influxdb"]
    assert "influx_token" not in services["ioc"]["secrets"]
    assert "influx-ioc-token:/run/ioc-influx:ro" in services["ioc"]["volumes"]
    script = (ROOT / "deploy" / "influxdb-ioc-token.sh").read_text()
    assert '--read-bucket "$bucket_id" --write-bucket "$bucket_id"' in script
    assert "--all-access" not in script and "--operator" not in script
    deploy = (ROOT / "deploy" / "mosquitto.conf").read_text()
    for line in ("allow_anonymous false", "listener 8883 0.0.0.0", "require_certificate true",
                 "use_username_as_clientid true"):  # fmt: skip
        assert line in deploy.splitlines(), line
    shipped = (ROOT / "ioc" / "broker" / "mosquitto.conf").read_text()
    assert "max_queued_messages 2000000" in shipped
    assert not re.search(r"^allow_anonymous true", shipped + deploy, re.MULTILINE)


def test_the_wheel_carries_profiles_inventory_and_broker_config(tmp_path: Path) -> None:
    """`pip install .` must work away from a checkout: the data ships inside the package."""
    import subprocess
    import sys
    import zipfile

    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("ioc-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "ioc/bundled/devices/bts.yaml",
        "ioc/bundled/devices/netgw.yaml",
        "ioc/bundled/devices/vc.yaml",
        "ioc/bundled/devices/serialgw.yaml",
        "ioc/bundled/devices/modbus/site-controller-48v.yaml",
        "ioc/bundled/devices/probe/generic-router.yaml",
        "ioc/bundled/devices/inventory.json",
        "ioc/broker/mosquitto.conf",
        "ioc/api/wall/index.html",
        "ioc/api/wall/wall.js",
        "ioc/api/wall/wall.css",
        "ioc/state/migrations/env.py",
        "ioc/state/migrations/script.py.mako",
        "ioc/state/migrations/versions/0001_dead_letter.py",
        "ioc/state/migrations/versions/0002_alerts.py",
        "ioc/bundled/rules/all.yaml",
        "ioc/bundled/rules/bts.yaml",
        "ioc/bundled/rules/netgw.yaml",
        "ioc/bundled/rules/vc.yaml",
        "firmware_sim/runner.py",
        "ioc/cli/__init__.py",
        "ioc/cli/alerts.py",
    ):
        assert expected in names, expected
    assert not any(name.startswith(("tests/", "bench/")) for name in names)
    # The licence as an SPDX expression: the table form is deprecated and warns at every build.
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: Apache-2.0" in text.splitlines()


def test_make_demo_installs_again_only_when_a_source_changed(tmp_path: Path) -> None:
    """`make demo` reinstalls ioc only when a file it is built from is newer than the last
    install (`make -q` asks make whether the target is up to date, running nothing)."""
    import os
    import subprocess

    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    stamp = venv / ".installed"
    stamp.touch()

    def up_to_date() -> bool:
        asked = subprocess.run(
            ["make", "-q", "-C", str(ROOT), "install", f"VENV={venv}"], capture_output=True
        )
        return asked.returncode == 0

    assert up_to_date()
    os.utime(stamp, (0, 0))  # installed before every source was written
    assert not up_to_date()
