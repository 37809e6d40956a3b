"""`ioc` commands run as a user runs them: in a subprocess, with only IOC_* settings passed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import urllib3

from ioc.broker import free_port
from tests.support.cli import READ_IN_ENGLISH


class IocProcess:
    """An `ioc` command in the background, its stderr in a log file."""

    def __init__(
        self, args: list[str], env: dict[str, str], log: Path, prefix: tuple[str, ...] = ()
    ) -> None:
        """`prefix`: a command that runs it (`ip netns exec NS`: it must exec, keeping the
        pid, so that signals reach ioc itself)."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
        self.log = log
        self._log_file = log.open("wb")
        self._process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "ioc", *args],
            env={**clean, **env},
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
        )

    @property
    def pid(self) -> int:
        """Its process id (to signal it)."""
        return self._process.pid

    @property
    def running(self) -> bool:
        """Whether it has not ended yet."""
        return self._process.poll() is None

    def wait(self, timeout: float) -> int:
        """Its exit code, once it ends by itself."""
        code = self._process.wait(timeout=timeout)
        self._log_file.close()
        return code

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; its exit code."""
        self._process.send_signal(signal.SIGTERM)
        code = self._process.wait(timeout=60)
        self._log_file.close()
        return code

    def kill(self) -> int:
        """SIGKILL, as a power cut or a crash ends it; its exit code."""
        self._process.kill()
        code = self._process.wait(timeout=60)
        self._log_file.close()
        return code


def run_ioc(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """An `ioc` command to its end, with only the IOC_* settings given, in English unless
    `env` names IOC_LANGUAGE (as `invoke_ioc`)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    return subprocess.run(
        [sys.executable, "-m", "ioc", *args],
        capture_output=True,
        text=True,
        env={**clean, **READ_IN_ENGLISH, **(env or {})},
        timeout=timeout,
        check=False,
    )


def create_token(env: dict[str, str], role: str) -> str:
    """`ioc token create --role ROLE`: the secret it prints on its last line."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    created = subprocess.run(
        [sys.executable, "-m", "ioc", "token", "create", "--role", role],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return created.stdout.strip().splitlines()[-1]


def answers(url: str) -> bool:
    """Whether a GET of the URL answers 200 now."""
    try:
        return urllib3.request("GET", url, retries=False).status == 200
    except urllib3.exceptions.HTTPError:
        return False


def ioc_env(
    mqtt_url: str, influx_url: str, influx_db: str, data_dir: Path, inventory: Path, rules: Path
) -> dict[str, str]:
    """IOC_* settings for `ioc run` and friends against private servers, batching briskly."""
    return {
        "IOC_MQTT_URL": mqtt_url,
        "IOC_INFLUX_URL": influx_url,
        "IOC_INFLUX_API": "v1",
        "IOC_INFLUX_DB": influx_db,
        "IOC_DATA_DIR": str(data_dir),
        "IOC_INVENTORY": str(inventory),
        "IOC_RULES_DIR": str(rules),
        "IOC_BATCH_INTERVAL_S": "0.1",
        "IOC_API_PORT": str(free_port()),
    }
