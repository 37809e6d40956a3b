"""One serial line: Modbus RTU reads through pymodbus, failures sorted into what went wrong.

Exceptions::

    LineError           a read got no usable answer
    ├── PortError       the port cannot be opened or failed (adapter unplugged, no permission)
    ├── NoAnswer        silence until the time-out (controller gone, wrong unit id, baud rate)
    ├── CrcError        a reply for us whose checksum is wrong (noise on the cable)
    ├── BadFrame        bytes that are no reply at all (garbage, a baud mismatch's noise)
    ├── WrongUnit       a well-formed reply from another unit id
    └── ExceptionReply  the controller refused the request (e.g. illegal data address)

pymodbus gives up on all but the last two with the same exception; the line records the bytes
it heard during the request to tell them apart.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ConnectionException, ModbusException
from pymodbus.framer import FramerType
from pymodbus.framer.rtu import FramerRTU

from ioc.domain import EdgeError
from ioc.gateway._config import PortConfig
from ioc.gateway._regmap import Function, ReadBlock


class LineError(EdgeError):
    """A read got no usable answer; `kind` names the counter it goes to."""

    kind = "line_error"


class PortError(LineError):
    """The serial port cannot be opened or failed."""

    kind = "port_errors"


class NoAnswer(LineError):
    """Nothing came back before the time-out."""

    kind = "timeouts"


class CrcError(LineError):
    """A reply addressed to us arrived with a wrong checksum."""

    kind = "crc_errors"


class BadFrame(LineError):
    """Bytes came back that are no Modbus reply."""

    kind = "bad_frames"


class WrongUnit(LineError):
    """A valid reply came from another unit id."""

    kind = "wrong_unit"


class ExceptionReply(LineError):
    """The controller answered with a Modbus exception code."""

    kind = "exception_replies"

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


_EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    6: "device busy",
}


def modbus_crc(frame: bytes) -> bytes:
    """The Modbus CRC-16 of a frame in wire order (pymodbus's, as the client checks it)."""
    return int(FramerRTU.compute_CRC(frame)).to_bytes(2, "big")


class _RecordingClient(ModbusSerialClient):
    """pymodbus's serial client, keeping the bytes it hears for the failure diagnosis."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.heard = bytearray()

    def close(self) -> None:
        super().close()  # type: ignore[no-untyped-call]

    def recv(self, size: int | None) -> bytes:
        data: bytes = super().recv(size)
        self.heard += data
        return data


def classify_silence(heard: bytes, unit: int, function: int) -> LineError:
    """What a failed request's received bytes say about the failure."""
    if not heard:
        return NoAnswer(f"no answer from unit {unit}")
    for start in range(len(heard) - 4):
        # A reply's length follows from its header: 5 bytes for an exception, else 5 + count.
        size = 5 if heard[start + 1] & 0x80 else 5 + heard[start + 2]
        frame = heard[start : start + size]
        if (
            len(frame) == size
            and frame[0] != unit
            and frame[1] & 0x7F == function
            and _crc_ok(frame)
        ):
            return WrongUnit(f"unit {frame[0]} answered a request for unit {unit}")
    if len(heard) >= 5 and heard[0] == unit and heard[1] & 0x7F == function:
        return CrcError(f"reply from unit {unit} failed its CRC check ({len(heard)} bytes)")
    return BadFrame(f"{len(heard)} bytes of garbage instead of a reply from unit {unit}")


def _crc_ok(frame: bytes) -> bool:
    return modbus_crc(frame[:-2]) == frame[-2:]


class SerialLine:
    """A Modbus RTU master on one port; blocking, so it runs on the port's own thread."""

    def __init__(self, config: PortConfig) -> None:
        self.config = config
        self._client = _RecordingClient(
            config.url,
            framer=FramerType.RTU,
            baudrate=config.baudrate,
            bytesize=config.bytesize,
            parity=config.parity,
            stopbits=config.stopbits,
            timeout=config.timeout_s,
            retries=config.retries,
            name=config.url,
        )

    def open(self) -> None:
        """Open the port; raise PortError if it cannot be."""
        if not self._client.connect():
            raise PortError(f"cannot open serial port {self.config.url}")

    def close(self) -> None:
        """Close the port (it is reopened by the next open())."""
        self._client.close()

    @property
    def is_open(self) -> bool:
        """Whether the port is open."""
        return self._client.connected

    def read(self, unit: int, block: ReadBlock) -> Sequence[int] | Sequence[bool]:
        """The block's registers or bits from one unit; raise a LineError subclass."""
        if not self._client.connected:
            self.open()
        client = self._client
        client.heard.clear()
        function = {
            Function.COIL: 1,
            Function.DISCRETE_INPUT: 2,
            Function.HOLDING: 3,
            Function.INPUT: 4,
        }[block.function]
        try:
            if function == 1:
                response = client.read_coils(block.address, count=block.count, device_id=unit)
            elif function == 2:
                response = client.read_discrete_inputs(
                    block.address, count=block.count, device_id=unit
                )
            elif function == 3:
                response = client.read_holding_registers(
                    block.address, count=block.count, device_id=unit
                )
            else:
                response = client.read_input_registers(
                    block.address, count=block.count, device_id=unit
                )
        except ConnectionException as exc:
            client.close()
            raise PortError(f"serial port {self.config.url} failed: {exc}") from exc
        except ModbusException as exc:
            raise classify_silence(bytes(client.heard), unit, function) from exc
        except OSError as exc:  # pyserial raises undocumented OS errors when a device vanishes
            client.close()
            raise PortError(f"serial port {self.config.url} failed: {exc}") from exc
        if response.isError():
            code = int(getattr(response, "exception_code", 0))
            name = _EXCEPTION_NAMES.get(code, f"code {code}")
            raise ExceptionReply(
                f"unit {unit} refused {block.function} {block.address}+{block.count}: {name}",
                code,
            )
        if block.function.is_bits:
            bits = list(response.bits[: block.count])  # whole bytes come back: cut to the count
            if len(bits) != block.count:
                raise BadFrame(f"unit {unit} sent {len(bits)} bits, {block.count} asked")
            return bits
        registers = list(response.registers)
        if len(registers) != block.count:
            raise BadFrame(f"unit {unit} sent {len(registers)} registers, {block.count} asked")
        return registers
