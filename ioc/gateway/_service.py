"""`ioc gateway modbus`: the ports, the disk buffer and the uplink, wired and supervised."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ioc.domain import EdgeError, now_ms
from ioc.edge import EdgeOptions, EdgeOutbox
from ioc.gateway._config import GATEWAY_CLASS, ControllerConfig, GatewayConfig
from ioc.gateway._poller import COUNTER_NAMES, PortPoller

log = logging.getLogger("ioc.gateway")


# Where the gateway publishes and keeps its buffer.
GatewayOptions = EdgeOptions


class ModbusGateway:
    """Polls every port, buffers readings on disk and publishes them as wire protocol v1."""

    name = "modbus gateway"

    def __init__(self, config: GatewayConfig, options: GatewayOptions) -> None:
        self.config = config
        self.outbox = EdgeOutbox(
            options, GATEWAY_CLASS, config.gateway_id, config.buffer_max_readings
        )
        self.buffer, self.uplink = self.outbox.buffer, self.outbox.uplink
        self.pollers = [PortPoller(port, self) for port in config.ports]
        self._started = time.monotonic()
        self.registry = CollectorRegistry()
        self.registry.register(_GatewayCollector(self))

    # -- ReadingSink (called from the port threads) ------------------------------------------

    def reading(self, controller: ControllerConfig, ts_ms: int, metrics: dict[str, object]) -> None:
        """Queue one controller reading for the broker."""
        self.outbox.reading(controller.device_class, controller.device_id, ts_ms, metrics)

    def status(self, controller: ControllerConfig, online: bool) -> None:
        """Publish a controller's availability (retained)."""
        self.outbox.status(controller.device_class, controller.device_id, online)

    # -- the gateway's own health ------------------------------------------------------------

    def counters(self) -> Counter[str]:
        """Line counters summed over the ports."""
        total: Counter[str] = Counter()
        for poller in self.pollers:
            total.update(poller.counters)
        return total

    def health(self) -> dict[str, float]:
        """The gateway's own telemetry: its lines, its controllers and its buffer."""
        counters = self.counters()
        return {
            "controllers": len(self.config.controllers),
            "controllers_online": sum(p.online_count for p in self.pollers),
            **{name: counters[name] for name in COUNTER_NAMES},
            "buffered": len(self.buffer),
            "dropped": self.buffer.dropped,
            "refused": self.uplink.refused,
            "uptime_s": round(time.monotonic() - self._started),
        }

    def report_health(self) -> None:
        """Queue the gateway's own telemetry reading."""
        self.outbox.reading(GATEWAY_CLASS, self.config.gateway_id, now_ms(), dict(self.health()))

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Connect to the broker and start polling."""
        self.outbox.start()
        for poller in self.pollers:
            poller.start()

    @property
    def failure(self) -> BaseException | None:
        """Set when a port's poller thread died (a bug): the gateway cannot poll that port."""
        dead = [p.config.url for p in self.pollers if p.died]
        if dead:
            return EdgeError(f"the poller of {', '.join(dead)} stopped unexpectedly")
        return None

    def stop(self) -> None:
        """Stop polling, report once more, hand the buffer to the broker, say offline."""
        for poller in self.pollers:
            poller.stop()
        self.report_health()
        self.outbox.stop([(c.device_class, c.device_id) for c in self.config.controllers])


class _GatewayCollector(Collector):
    """Prometheus view of the same counters, per port."""

    def __init__(self, gateway: ModbusGateway) -> None:
        self._gateway = gateway

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        gateway = self._gateway
        for name in COUNTER_NAMES:
            family = CounterMetricFamily(
                f"ioc_gateway_{name}", f"Modbus {name.replace('_', ' ')} per port", labels=["port"]
            )
            for poller in gateway.pollers:
                family.add_metric([poller.config.url], poller.counters[name])
            yield family
        online = GaugeMetricFamily(
            "ioc_gateway_controllers_online", "Controllers answering", labels=["port"]
        )
        for poller in gateway.pollers:
            online.add_metric([poller.config.url], poller.online_count)
        yield online
        yield GaugeMetricFamily(
            "ioc_gateway_buffered", "Readings waiting for the broker", value=len(gateway.buffer)
        )
        yield CounterMetricFamily(
            "ioc_gateway_dropped",
            "Readings dropped from a full buffer",
            value=gateway.buffer.dropped,
        )
        yield CounterMetricFamily(
            "ioc_gateway_published",
            "Readings the broker acknowledged",
            value=gateway.uplink.published,
        )
        yield CounterMetricFamily(
            "ioc_gateway_refused",
            "Messages the broker refused (MQTT 5 reason code: the identity's ACL)",
            value=gateway.uplink.refused,
        )
