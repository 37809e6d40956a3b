"""The site gateway: Modbus RTU controllers on RS-485, published as devices in wire protocol v1.

Exceptions::

    GatewayConfigError   the gateway file or a register map it names is wrong
    RegisterMapError     a register map is wrong (raised when loading a map on its own)
    LineError            a read got no usable answer (see ioc.gateway._line for the kinds)
"""

from ioc.gateway._config import (
    GATEWAY_CLASS,
    ControllerConfig,
    GatewayConfig,
    GatewayConfigError,
    PortConfig,
    check_against_inventory,
    load_gateway_config,
)
from ioc.gateway._line import (
    BadFrame,
    CrcError,
    ExceptionReply,
    LineError,
    NoAnswer,
    PortError,
    SerialLine,
    WrongUnit,
    classify_silence,
)
from ioc.gateway._poller import COUNTER_NAMES, PortPoller, ReadingSink
from ioc.gateway._regmap import (
    Function,
    NoReading,
    ReadBlock,
    RegisterField,
    RegisterMap,
    RegisterMapError,
    RejectedValue,
    ValueType,
    WordOrder,
    bundled_maps_dir,
    load_register_map,
    plan_reads,
)
from ioc.gateway._service import GatewayOptions, ModbusGateway

__all__ = [
    "COUNTER_NAMES",
    "GATEWAY_CLASS",
    "BadFrame",
    "ControllerConfig",
    "CrcError",
    "ExceptionReply",
    "Function",
    "GatewayConfig",
    "GatewayConfigError",
    "GatewayOptions",
    "LineError",
    "ModbusGateway",
    "NoAnswer",
    "NoReading",
    "PortConfig",
    "PortError",
    "PortPoller",
    "ReadBlock",
    "ReadingSink",
    "RegisterField",
    "RegisterMap",
    "RegisterMapError",
    "RejectedValue",
    "SerialLine",
    "ValueType",
    "WordOrder",
    "WrongUnit",
    "bundled_maps_dir",
    "check_against_inventory",
    "classify_silence",
    "load_gateway_config",
    "load_register_map",
    "plan_reads",
]
