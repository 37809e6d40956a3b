"""A BTS site controller on RS-485: a Modbus RTU slave with the shelter's physics behind it.

It plays the vendor firmware of a typical 48 V power system / environment monitor. Its register
table is written here the way a vendor's manual lists it, independently of ioc's register map
(`devices/modbus/site-controller-48v.yaml`), so a mistake in the map shows up as a wrong value
in the tests instead of cancelling out.

Vendor register table (all addresses 0-based, unit id per controller):

| table | address | content | encoding |
|---|---|---|---|
| holding | 0 | DC bus / battery voltage | u16, 0.01 V |
| holding | 1 | battery current, + charging / - discharging | sign-magnitude 16, 0.1 A |
| holding | 2 | load current | u16, 0.1 A |
| holding | 3 | battery state of charge | u16, 0.1 % |
| holding | 4-6 | AC voltage phases L1, L2, L3 | u16, 0.1 V |
| holding | 7 | shelter temperature | s16, 0.1 °C; 0x7FFF = no sensor |
| holding | 8 | battery temperature | s16, 0.1 °C; 0x7FFF = no sensor |
| holding | 9 | relative humidity | u16, 0.1 %; 0xFFFF = no sensor |
| holding | 10-11 | fuel level | float32 %, low word first; all ones = no tank |
| input | 0 | alarm word | bit 0 mains fail, 1-2 rectifier 1/2 fail, 4 LVD open, 5 aircon fail |
| discrete input | 0, 1 | door contact (1 = open), smoke detector (1 = smoke) | bit |
| coil | 0 | generator start relay (1 = running) | bit |

The line between the gateway and the controllers is simulated too: each frame takes the time
its bytes need at the configured baud rate, a gateway set to another speed is heard as noise,
and line faults (`LineFault`) corrupt, garble, misaddress or swallow replies.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import select
import signal
import socket
import struct
import sys
import termios
import threading
import time
import tty
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from firmware_sim.faults import FaultKind
from firmware_sim.physics import BtsShelter, Outputs

HOLDING_REGISTERS = 12
INPUT_REGISTERS = 1
DISCRETE_INPUTS = 2
COILS = 1
NO_SENSOR_S16 = 0x7FFF
NO_SENSOR_U16 = 0xFFFF

_BAUD_CONSTANTS = {
    getattr(termios, f"B{rate}"): rate
    for rate in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400)
}


class LineFault(StrEnum):
    """What can go wrong between the gateway and one controller."""

    SILENT = "silent"  # the controller stops answering (unplugged, dead, wrong wiring)
    CRC_ERROR = "crc_error"  # replies arrive with a bad CRC (noise on a long cable)
    NOISE = "noise"  # garbage bytes instead of a reply
    WRONG_UNIT = "wrong_unit"  # replies carry another unit id (a misconfigured controller)
    SHORT = "short"  # well-formed replies with fewer values than asked (a confused firmware)


def crc16(frame: bytes) -> bytes:
    """The Modbus CRC-16 of a frame, in wire order (low byte first)."""
    crc = 0xFFFF
    for byte in frame:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return struct.pack("<H", crc)


def _u16(value: float) -> int:
    return max(0, min(0xFFFF, round(value)))


def _s16(value: float) -> int:
    return max(-0x8000, min(0x7FFF, round(value))) & 0xFFFF


def _sign_magnitude16(value: float) -> int:
    magnitude = min(0x7FFF, round(abs(value)))
    return magnitude | (0x8000 if value < 0 and magnitude else 0)


@dataclass
class Tables:
    """The four Modbus tables of one controller."""

    holding: list[int] = field(default_factory=lambda: [0] * HOLDING_REGISTERS)
    input: list[int] = field(default_factory=lambda: [0] * INPUT_REGISTERS)
    discrete: list[bool] = field(default_factory=lambda: [False] * DISCRETE_INPUTS)
    coils: list[bool] = field(default_factory=lambda: [False] * COILS)


class SiteController:
    """One controller: the shelter's physics and the registers the vendor firmware fills."""

    def __init__(self, unit: int, rng: random.Random, *, has_sensors: bool = True) -> None:
        if not 1 <= unit <= 247:
            raise ValueError(f"unit id {unit} is not 1..247")
        self.unit = unit
        self.rng = rng
        self.shelter = BtsShelter(rng)
        self.has_sensors = has_sensors
        self.faults: set[FaultKind] = set()
        self.line_faults: set[LineFault] = set()
        self.register_overrides: dict[tuple[str, int], int] = {}  # a firmware bug, on demand
        self.tables = Tables()
        self.outputs: Outputs | None = None
        self.elapsed_s = 0.0

    @property
    def answering(self) -> bool:
        """A controller past its low-voltage disconnect has no power to answer."""
        return LineFault.SILENT not in self.line_faults and (
            self.outputs is None or self.outputs.powered
        )

    def step(self, dt_s: float) -> Outputs:
        """Advance the physics by dt_s simulated seconds and refresh the registers."""
        self.elapsed_s += dt_s
        outputs = self.shelter.step(self.elapsed_s, dt_s, self.faults)
        self.outputs = outputs
        self.refresh()
        return outputs

    def refresh(self) -> None:
        """Rewrite the registers from the latest physics and the overrides."""
        if self.outputs is None:
            return
        self.tables = self._encode(self.outputs.metrics)
        for (table, address), raw in self.register_overrides.items():
            getattr(self.tables, table)[address] = raw

    def _encode(self, metrics: dict[str, float | bool | str]) -> Tables:
        def number(name: str) -> float:
            return float(metrics[name])

        mains_ok = bool(metrics["mains_ok"])
        phases = [number("mains_v")] + [
            self.rng.gauss(228.0, 3.0) if mains_ok else 0.0 for _ in range(2)
        ]
        temp = number("temp_c")
        tables = Tables()
        tables.holding[0] = _u16(number("battery_v") * 100)
        tables.holding[1] = _sign_magnitude16(number("battery_a") * 10)
        tables.holding[2] = _u16(number("load_a") * 10)
        tables.holding[3] = _u16(number("battery_soc_pct") * 10)
        tables.holding[4:7] = [_u16(volts * 10) for volts in phases]
        if self.has_sensors:
            tables.holding[7] = _s16(temp * 10)
            tables.holding[8] = _s16((temp + 1.5) * 10)
            tables.holding[9] = _u16(number("humidity_pct") * 10)
        else:
            tables.holding[7:10] = [NO_SENSOR_S16, NO_SENSOR_S16, NO_SENSOR_U16]
        if "fuel_pct" in metrics:
            high, low = struct.unpack(">HH", struct.pack(">f", number("fuel_pct")))
            tables.holding[10:12] = [low, high]
        else:
            tables.holding[10:12] = [0xFFFF, 0xFFFF]
        alarms = 0 if mains_ok else 0x0001
        if not metrics["rectifier_ok"]:
            alarms |= 0x0002
        if self.outputs is not None and not self.outputs.powered:
            alarms |= 0x0010
        if not metrics["aircon_ok"]:
            alarms |= 0x0020
        tables.input[0] = alarms
        tables.discrete[:] = [bool(metrics["door_open"]), bool(metrics["smoke"])]
        tables.coils[0] = bool(metrics["genset_on"])
        return tables


class PtyLine:
    """A pseudo-terminal standing in for the RS-485 cable: the gateway opens `gateway_path`."""

    def __init__(self) -> None:
        self.master_fd, self._slave_fd = os.openpty()
        tty.setraw(self._slave_fd)  # no line discipline: every byte crosses untouched
        # Keeping our own slave descriptor open keeps the line alive while the gateway reopens.
        self.gateway_path = os.ttyname(self._slave_fd)

    def read(self, size: int, timeout_s: float) -> bytes:
        """Up to size bytes, or b"" after timeout_s of silence."""
        ready, _, _ = select.select([self.master_fd], [], [], timeout_s)
        if not ready:
            return b""
        try:
            return os.read(self.master_fd, size)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        """Put bytes on the line towards the gateway."""
        os.write(self.master_fd, data)

    def gateway_baudrate(self) -> int | None:
        """The speed the gateway set its end to (a pty keeps one termios for both ends)."""
        speed = termios.tcgetattr(self.master_fd)[5]
        return _BAUD_CONSTANTS.get(speed)

    def close(self) -> None:
        """Close both ends."""
        for fd in (self.master_fd, self._slave_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


class SerialPortLine:
    """A real serial port (or any pyserial URL) for the simulator to listen on."""

    def __init__(self, url: str, settings: LineSettings) -> None:
        import serial  # pyserial: only this path needs it

        self._port = serial.serial_for_url(
            url,
            baudrate=settings.baudrate,
            bytesize=settings.bytesize,
            parity=settings.parity,
            stopbits=settings.stopbits,
            timeout=0,
        )
        self.gateway_path = url

    def read(self, size: int, timeout_s: float) -> bytes:
        """Up to size bytes, or b"" after timeout_s of silence."""
        self._port.timeout = timeout_s
        first: bytes = self._port.read(1)
        if not first:
            return b""
        self._port.timeout = 0
        rest: bytes = self._port.read(size - 1)
        return first + rest

    def write(self, data: bytes) -> None:
        """Put bytes on the line."""
        self._port.write(data)
        self._port.flush()

    def gateway_baudrate(self) -> int | None:
        """Unknown on a real line: a UART cannot see the other end's setting."""
        return None

    def close(self) -> None:
        """Close the port."""
        self._port.close()


class TcpServerLine:
    """A serial device server (an RS-485 to Ethernet converter in TCP server mode): the
    gateway reaches the bus at `socket://host:port`; one connection at a time."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._listener = socket.create_server((host, port))
        self._listener.settimeout(0)
        self._client: socket.socket | None = None
        bound_host, bound_port = self._listener.getsockname()[:2]
        self.gateway_path = f"socket://{bound_host}:{bound_port}"

    def read(self, size: int, timeout_s: float) -> bytes:
        """Up to size bytes from the connected gateway, or b"" after timeout_s."""
        sockets = [self._client] if self._client is not None else [self._listener]
        ready, _, _ = select.select(sockets, [], [], timeout_s)
        if not ready:
            return b""
        if self._client is None:
            with contextlib.suppress(BlockingIOError):
                self._client, _ = self._listener.accept()
            return b""
        try:
            data = self._client.recv(size)
        except OSError:
            data = b""
        if not data:  # the gateway went away: wait for the next one
            self._client.close()
            self._client = None
        return data

    def write(self, data: bytes) -> None:
        """Send to the connected gateway (dropped if none, as on an unheard bus)."""
        if self._client is not None:
            with contextlib.suppress(OSError):
                self._client.sendall(data)

    def gateway_baudrate(self) -> int | None:
        """A TCP connection has no baud rate."""
        return None

    def close(self) -> None:
        """Close the connection and the listener."""
        if self._client is not None:
            self._client.close()
        self._listener.close()


class Line(Protocol):
    """What the slave needs of a line: a pty here, a serial port in the field."""

    gateway_path: str

    def read(self, size: int, timeout_s: float) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    def gateway_baudrate(self) -> int | None: ...

    def close(self) -> None: ...


@dataclass
class SlaveCounters:
    """What the slave saw on the line."""

    requests: int = 0
    replies: int = 0
    exceptions: int = 0
    bad_crc: int = 0
    foreign_unit: int = 0
    garbled: int = 0
    faults_injected: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class LineSettings:
    """The serial settings the controllers are configured for."""

    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1
    pace: bool = True  # take the time the bytes need at this baud rate
    turnaround_s: float = 0.0  # the firmware's think time before it answers

    @property
    def char_s(self) -> float:
        """Seconds one character takes on the wire: start, data, parity and stop bits."""
        bits = 1 + self.bytesize + (0 if self.parity == "N" else 1) + self.stopbits
        return bits / self.baudrate

    @property
    def gap_s(self) -> float:
        """The silence that ends a frame: 3.5 characters, 1.75 ms above 19,200 baud."""
        return 3.5 * self.char_s if self.baudrate <= 19200 else 0.00175


class RtuSlave:
    """Serves Modbus RTU functions 1-4 for the controllers on one line."""

    def __init__(
        self,
        line: Line,
        controllers: Iterable[SiteController],
        settings: LineSettings = LineSettings(),
        *,
        speed: float = 1.0,
        step_s: float = 1.0,
        seed: int = 7,
    ) -> None:
        self.line = line
        self.controllers = {controller.unit: controller for controller in controllers}
        self.settings = settings
        self.speed = speed
        self.step_s = step_s
        self.counters = SlaveCounters()
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        for controller in self.controllers.values():
            controller.step(step_s * speed)  # registers hold values before the first request

    # -- control from tests and the command line ---------------------------------------------

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.serve, name="modbus-slave", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def set_line_fault(self, unit: int, fault: LineFault, active: bool = True) -> None:
        """Turn a line fault of one controller on or off."""
        with self._lock:
            faults = self.controllers[unit].line_faults
            faults.add(fault) if active else faults.discard(fault)

    def set_fault(self, unit: int, fault: FaultKind, active: bool = True) -> None:
        """Turn a physical fault (mains failure, door open...) of one controller on or off."""
        with self._lock:
            faults = self.controllers[unit].faults
            faults.add(fault) if active else faults.discard(fault)

    def override_register(self, unit: int, table: str, address: int, raw: int | None) -> None:
        """Make a register read `raw` whatever the physics say (None: back to the physics);
        table is holding, input, discrete or coils."""
        with self._lock:
            controller = self.controllers[unit]
            if raw is None:
                controller.register_overrides.pop((table, address), None)
            else:
                controller.register_overrides[(table, address)] = raw
            controller.refresh()

    def step_now(self, dt_s: float | None = None) -> None:
        """Advance every controller's physics at once (dt_s simulated seconds, default a step)."""
        with self._lock:
            for controller in self.controllers.values():
                controller.step(self.step_s * self.speed if dt_s is None else dt_s)

    def snapshot(self, unit: int) -> dict[str, float | bool | str]:
        """The controller's latest physical values (what a correct gateway must report)."""
        with self._lock:
            outputs = self.controllers[unit].outputs
            return dict(outputs.metrics) if outputs is not None else {}

    # -- the line ----------------------------------------------------------------------------

    def serve(self) -> None:
        """Answer requests until stop(); steps the physics every step_s of real time."""
        next_step = time.monotonic() + self.step_s
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_step:
                self.step_now()
                next_step = now + self.step_s
            frame, first_byte_at = self._read_frame(min(0.05, max(0.0, next_step - now)))
            if frame:
                self._handle(frame, first_byte_at)

    def _read_frame(self, wait_s: float) -> tuple[bytes, float]:
        data = self.line.read(512, wait_s)
        if not data:
            return b"", 0.0
        started = time.monotonic()
        # Requests of functions 1-4 are 8 bytes: answer as soon as one is whole, else wait for
        # the silence that ends any frame.
        while not (len(data) == 8 and crc16(data[:6]) == data[6:]):
            more = self.line.read(512, max(self.settings.gap_s, 0.003))
            if not more:
                break
            data += more
        return data, started

    def _handle(self, frame: bytes, first_byte_at: float) -> None:
        settings = self.settings
        heard = self.line.gateway_baudrate()
        if heard is not None and heard != settings.baudrate:
            self.counters.garbled += 1  # a UART at the wrong speed hears framing errors
            return
        if len(frame) < 4 or crc16(frame[:-2]) != frame[-2:]:
            self.counters.bad_crc += 1
            return
        unit = frame[0]
        with self._lock:
            controller = self.controllers.get(unit)
            if controller is None:
                self.counters.foreign_unit += 1  # another slave's request on a shared bus
                return
            self.counters.requests += 1
            if not controller.answering:
                self.counters.faults_injected["silent"] += 1
                return
            reply = self._reply(controller, frame)
            line_faults = set(controller.line_faults)
        if settings.pace:
            request_done = first_byte_at + len(frame) * settings.char_s
            _sleep_until(request_done + settings.gap_s + settings.turnaround_s)
        reply = self._apply_faults(reply, line_faults)
        if settings.pace:
            time.sleep(len(reply) * settings.char_s)
        self.line.write(reply)

    def _apply_faults(self, reply: bytes, faults: set[LineFault]) -> bytes:
        if LineFault.NOISE in faults:
            self.counters.faults_injected["noise"] += 1
            return bytes(self._rng.getrandbits(8) for _ in range(self._rng.randint(3, 24)))
        if LineFault.WRONG_UNIT in faults:
            self.counters.faults_injected["wrong_unit"] += 1
            body = bytes([(reply[0] % 247) + 1]) + reply[1:-2]
            reply = body + crc16(body)
        if LineFault.SHORT in faults and reply[1] in (1, 2, 3, 4):
            self.counters.faults_injected["short"] += 1
            kept = max(0, reply[2] - 2)  # a bit reply of 1 byte keeps none, a register one less
            body = reply[:2] + bytes([kept]) + reply[3 : 3 + kept]
            reply = body + crc16(body)
        if LineFault.CRC_ERROR in faults:
            self.counters.faults_injected["crc_error"] += 1
            reply = reply[:-1] + bytes([reply[-1] ^ 0x5A])
        return reply

    def _reply(self, controller: SiteController, frame: bytes) -> bytes:
        unit, function = frame[0], frame[1]
        if function not in (1, 2, 3, 4) or len(frame) != 8:
            return self._exception(unit, function, 0x01)  # illegal function
        address, count = struct.unpack(">HH", frame[2:6])
        tables = controller.tables
        tables_by_function: dict[int, list[int] | list[bool]] = {
            1: tables.coils,
            2: tables.discrete,
            3: tables.holding,
            4: tables.input,
        }
        table = tables_by_function[function]
        limit = 2000 if function <= 2 else 125
        if not 1 <= count <= limit:
            return self._exception(unit, function, 0x03)  # illegal data value
        if address + count > len(table):
            return self._exception(unit, function, 0x02)  # illegal data address
        values = table[address : address + count]
        if function <= 2:
            packed = bytearray((count + 7) // 8)
            for index, bit in enumerate(values):
                if bit:
                    packed[index // 8] |= 1 << (index % 8)
            payload = bytes(packed)
        else:
            payload = struct.pack(f">{count}H", *values)
        self.counters.replies += 1
        body = bytes([unit, function, len(payload)]) + payload
        return body + crc16(body)

    def _exception(self, unit: int, function: int, code: int) -> bytes:
        self.counters.exceptions += 1
        body = bytes([unit, function | 0x80, code])
        return body + crc16(body)


def _sleep_until(deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)


def build_parser() -> argparse.ArgumentParser:
    """The simulated controllers' options."""
    parser = argparse.ArgumentParser(
        prog="python -m firmware_sim.modbus",
        description="BTS site controllers answering Modbus RTU on a serial line or a new pty.",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--pty", action="store_true", help="create a pty and print its path")
    where.add_argument("--port", help="a serial device or pyserial URL to listen on")
    where.add_argument(
        "--tcp", type=int, metavar="PORT", help="act as a serial device server on this TCP port"
    )
    parser.add_argument("--units", default="1", help="comma-separated unit ids (default: 1)")
    parser.add_argument("--baudrate", type=int, default=9600)
    parser.add_argument("--parity", choices=("N", "E", "O"), default="N")
    parser.add_argument("--speed", type=float, default=1.0, help="physics time compression")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND:UNIT",
        help=f"a physical fault ({', '.join(FaultKind)}) or a line fault "
        f"({', '.join(LineFault)}) on a unit, e.g. mains_failure:2 or crc_error:1",
    )
    parser.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted (or --duration), printing the line's counters at the end."""
    args = build_parser().parse_args(argv)
    try:
        units = [int(unit) for unit in args.units.split(",")]
        rng = random.Random(args.seed)
        controllers = [SiteController(unit, random.Random(rng.getrandbits(64))) for unit in units]
        settings = LineSettings(baudrate=args.baudrate, parity=args.parity)
        by_unit = {controller.unit: controller for controller in controllers}
        for text in args.fault:
            kind, _, unit_text = text.partition(":")
            controller = by_unit.get(int(unit_text))
            if controller is None:
                raise ValueError(f"--fault {text}: unit {unit_text} is not simulated")
            if kind in set(LineFault):
                controller.line_faults.add(LineFault(kind))
            else:
                controller.faults.add(FaultKind(kind))
        line: Line
        if args.pty:
            line = PtyLine()
        elif args.tcp is not None:
            line = TcpServerLine(port=args.tcp)
        else:
            line = SerialPortLine(args.port, settings)
        slave = RtuSlave(line, controllers, settings, speed=args.speed, seed=args.seed)
    except (ValueError, OSError) as exc:
        print(f"firmware_sim.modbus: {exc}", file=sys.stderr)
        return 2
    print(
        f"site controllers {units} on {line.gateway_path} at {args.baudrate} 8{args.parity}1",
        flush=True,
    )
    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    slave.start()
    stopping.wait(args.duration)
    slave.stop()
    line.close()
    print(f"line: {slave.counters}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
