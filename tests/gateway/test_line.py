"""The serial line over a real pty: every fault on the wire comes back as its own error kind."""

from __future__ import annotations

import random

import pytest

from firmware_sim.faults import FaultKind
from firmware_sim.modbus import (
    LineFault,
    PtyLine,
    RtuSlave,
    SiteController,
    TcpServerLine,
    crc16,
)
from ioc.gateway import (
    BadFrame,
    CrcError,
    ExceptionReply,
    Function,
    LineError,
    NoAnswer,
    PortError,
    ReadBlock,
    RegisterMap,
    SerialLine,
    WrongUnit,
    classify_silence,
)
from tests.gateway.conftest import port_config


def test_values_read_are_the_controllers_measurements(
    line: PtyLine, slave: RtuSlave, site_map: RegisterMap
) -> None:
    serial = SerialLine(port_config(line.gateway_path, site_map, {1: "bts-a"}))
    metrics: dict[str, object] = {}
    for block in site_map.blocks:
        decoded, rejected = block.decode(serial.read(1, block))
        assert rejected == []
        metrics.update(decoded)
    serial.close()
    truth = slave.snapshot(1)
    for name in ("battery_v", "battery_a", "load_a", "battery_soc_pct", "mains_v", "temp_c"):
        assert metrics[name] == pytest.approx(truth[name], abs=0.051), name
    assert metrics["battery_temp_c"] == pytest.approx(float(truth["temp_c"]) + 1.5, abs=0.051)
    for name in ("mains_ok", "rectifier_ok", "aircon_ok", "door_open", "smoke", "genset_on"):
        assert metrics[name] is truth[name], name
    assert 200 < float(metrics["mains_v_l2"]) < 260  # type: ignore[arg-type]
    assert ("fuel_pct" in metrics) == ("fuel_pct" in truth)


def test_a_discharging_battery_reads_as_a_negative_current(
    line: PtyLine, slave: RtuSlave, site_map: RegisterMap
) -> None:
    slave.set_fault(1, FaultKind.MAINS_FAILURE)
    slave.step_now(dt_s=1.0)  # a second into the outage: before any genset could start
    serial = SerialLine(port_config(line.gateway_path, site_map, {1: "bts-a"}))
    holding = site_map.blocks[0]
    alarms = site_map.blocks[1]
    measured, _ = holding.decode(serial.read(1, holding))
    flags, _ = alarms.decode(serial.read(1, alarms))
    serial.close()
    assert float(measured["battery_a"]) < -10  # the load, drawn from the battery
    assert measured["battery_a"] == pytest.approx(slave.snapshot(1)["battery_a"], abs=0.051)
    assert measured["mains_v"] == 0.0
    assert flags["mains_ok"] is False


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (LineFault.SILENT, NoAnswer),
        (LineFault.CRC_ERROR, CrcError),
        (LineFault.NOISE, BadFrame),
        (LineFault.WRONG_UNIT, WrongUnit),
        (LineFault.SHORT, BadFrame),
    ],
)
def test_each_line_fault_is_told_apart(
    fault: LineFault,
    error: type[LineError],
    line: PtyLine,
    slave: RtuSlave,
    site_map: RegisterMap,
) -> None:
    # A second for the simulated controller's thread on a loaded machine: told apart by kind,
    # not by how fast (a silent unit takes the whole second).
    serial = SerialLine(port_config(line.gateway_path, site_map, {1: "bts-a"}, timeout_s=1.0))
    block = site_map.blocks[0]
    slave.set_line_fault(1, fault)
    with pytest.raises(error):
        serial.read(1, block)
    # The other controller on the same bus is unaffected, and so is unit 1 once it is fixed.
    assert len(serial.read(2, block)) == block.count
    slave.set_line_fault(1, fault, active=False)
    assert len(serial.read(1, block)) == block.count
    serial.close()


def test_a_reply_with_fewer_values_than_asked_is_a_bad_frame(
    line: PtyLine, slave: RtuSlave, site_map: RegisterMap
) -> None:
    """Registers and bits alike: a short reply is refused, never decoded (a bit block of one
    byte coming back with none crashed the poller's thread once)."""
    serial = SerialLine(port_config(line.gateway_path, site_map, {1: "bts-a"}))
    assert {block.function.is_bits for block in site_map.blocks} == {True, False}
    slave.set_line_fault(1, LineFault.SHORT)
    for block in site_map.blocks:
        with pytest.raises(BadFrame, match=f"{block.count} asked"):
            serial.read(1, block)
    serial.close()


def test_an_illegal_address_is_the_controllers_refusal(
    line: PtyLine, slave: RtuSlave, site_map: RegisterMap
) -> None:
    serial = SerialLine(port_config(line.gateway_path, site_map, {1: "bts-a"}))
    beyond = ReadBlock(Function.HOLDING, 10, 5, ())  # the controller has holding 0-11
    with pytest.raises(ExceptionReply, match="illegal data address") as caught:
        serial.read(1, beyond)
    assert caught.value.code == 2
    serial.close()


def test_a_unit_nobody_has_gets_no_answer(
    line: PtyLine, slave: RtuSlave, site_map: RegisterMap
) -> None:
    serial = SerialLine(port_config(line.gateway_path, site_map, {7: "bts-a"}))
    with pytest.raises(NoAnswer, match="no answer from unit 7"):
        serial.read(7, site_map.blocks[0])
    assert slave.counters.foreign_unit >= 1
    serial.close()


def test_a_baud_rate_mismatch_is_heard_as_noise_and_gets_no_answer(
    line: PtyLine, slave: RtuSlave, site_map: RegisterMap
) -> None:
    serial = SerialLine(port_config(line.gateway_path, site_map, {1: "bts-a"}, baudrate=9600))
    with pytest.raises(NoAnswer):
        serial.read(1, site_map.blocks[0])
    assert slave.counters.garbled >= 1
    serial.close()


def test_a_missing_port_is_a_port_error(site_map: RegisterMap) -> None:
    serial = SerialLine(port_config("/dev/ttyIOC-missing", site_map, {1: "bts-a"}))
    with pytest.raises(PortError, match="cannot open serial port /dev/ttyIOC-missing"):
        serial.read(1, site_map.blocks[0])


def test_bytes_heard_are_classified_by_what_they_are() -> None:
    reply = bytes([1, 3, 2, 0x15, 0x18])
    good = reply + crc16(reply)
    assert isinstance(classify_silence(b"", 1, 3), NoAnswer)
    assert isinstance(classify_silence(good[:-1] + b"\x00", 1, 3), CrcError)
    other = bytes([2]) + reply[1:]
    assert isinstance(classify_silence(other + crc16(other), 1, 3), WrongUnit)
    assert isinstance(classify_silence(b"\x00\xff" + other + crc16(other), 1, 3), WrongUnit)
    exception = bytes([4, 0x83, 2])
    assert isinstance(classify_silence(exception + crc16(exception), 1, 3), WrongUnit)
    assert isinstance(classify_silence(b"\x13\x37\x42\x42\x42\x42\x42", 1, 3), BadFrame)
    assert isinstance(classify_silence(b"\x01", 1, 3), BadFrame)


def test_a_pyserial_url_reaches_a_serial_device_server(site_map: RegisterMap) -> None:
    # RS-485 to Ethernet converters are reached as socket://host:port.
    server = TcpServerLine()
    slave = RtuSlave(server, [SiteController(5, random.Random(5))], step_s=3600)
    slave.start()
    try:
        serial = SerialLine(port_config(server.gateway_path, site_map, {5: "bts-e"}, timeout_s=0.5))
        decoded, rejected = site_map.blocks[0].decode(serial.read(5, site_map.blocks[0]))
        serial.close()
    finally:
        slave.stop()
        server.close()
    assert rejected == []
    assert decoded["battery_v"] == pytest.approx(slave.snapshot(5)["battery_v"], abs=0.006)
