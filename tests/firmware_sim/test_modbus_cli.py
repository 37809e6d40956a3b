"""`python -m firmware_sim.modbus`: the simulated controllers as a tool of their own, answering a
real Modbus client (pymodbus) on the pty it prints."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ModbusIOException


def test_the_simulator_serves_on_a_pty_it_names() -> None:
    process = subprocess.Popen(
        [
            sys.executable, "-m", "firmware_sim.modbus", "--pty", "--units", "3,4",
            "--baudrate", "19200", "--fault", "mains_failure:4", "--fault", "silent:3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith("site controllers [3, 4] on /dev/pts/"), banner
        path = banner.split(" on ")[1].split(" at ")[0]
        client = ModbusSerialClient(path, baudrate=19200, timeout=0.3, retries=0)
        assert client.connect()
        alarms = client.read_input_registers(0, count=1, device_id=4)
        assert alarms.registers[0] & 0x0001  # unit 4: mains failure alarm bit
        current = client.read_holding_registers(1, count=1, device_id=4).registers[0]
        assert current & 0x8000  # sign-magnitude: discharging
        with pytest.raises(ModbusIOException):
            client.read_holding_registers(0, count=1, device_id=3)
        client.close()
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "faults_injected=Counter({'silent'" in stderr


def test_a_bad_fault_is_a_clear_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "firmware_sim.modbus", "--pty", "--fault", "mains_failure:9"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "--fault mains_failure:9: unit 9 is not simulated" in result.stderr
