"""What collectors at the edge share (`ioc gateway modbus`, `ioc probe`): the disk buffer that
holds every message until the broker has it, the MQTT uplink with the collector's last will and
its devices' statuses, and the outbox that speaks wire protocol v1 for the devices."""

from ioc.edge._buffer import DiskBuffer, Outgoing
from ioc.edge._buffer_file import BufferSection
from ioc.edge._outbox import EdgeOptions, EdgeOutbox
from ioc.edge._uplink import Uplink

__all__ = ["BufferSection", "DiskBuffer", "EdgeOptions", "EdgeOutbox", "Outgoing", "Uplink"]
