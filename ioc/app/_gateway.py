"""`ioc gateway modbus`: load and check the gateway file, then run the gateway."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

from ioc.app._catalog import Catalog
from ioc.app._edge import edge_options
from ioc.app._supervisor import Service, Supervisor, ticker
from ioc.config import Settings
from ioc.gateway import (
    GatewayConfig,
    GatewayOptions,
    ModbusGateway,
    bundled_maps_dir,
    check_against_inventory,
    load_gateway_config,
)

log = logging.getLogger("ioc.gateway")


def load_gateway(catalog: Catalog, path: Path) -> tuple[GatewayConfig, list[str]]:
    """The checked gateway file and warnings about devices the inventory lacks."""
    config = load_gateway_config(path, catalog.profiles, bundled_maps_dir())
    return config, check_against_inventory(config, catalog.inventory)


def gateway_options(settings: Settings, config: GatewayConfig) -> GatewayOptions:
    """Broker, topics and buffer file of a gateway (the buffer defaults to the data dir)."""
    return edge_options(settings, "gateway", config.gateway_id, config.buffer_path)


def describe(config: GatewayConfig) -> str:
    """What the gateway will poll, one line per controller."""
    lines = [f"gateway {config.gateway_id}:"]
    for port in config.ports:
        setting = f"{port.baudrate} {port.bytesize}{port.parity}{port.stopbits}"
        for c in port.controllers:
            lines.append(
                f"  {port.url} ({setting}) unit {c.unit} -> {c.device_class}/{c.device_id} "
                f"every {c.interval_s:g}s, map {c.register_map.name} "
                f"({len(c.register_map.fields)} values in {len(c.register_map.blocks)} reads)"
            )
    return "\n".join(lines)


def gateway_services(
    gateway: ModbusGateway, on_report: Callable[[], None] | None = None
) -> list[Service]:
    """The gateway and its health reports (`on_report` after each, for a status line)."""
    interval_s = gateway.config.report_interval_s

    def report() -> None:
        gateway.report_health()
        if on_report is not None:
            on_report()

    # The first report a moment after start, when the broker connection has had its chance.
    return [gateway, ticker("gateway health", interval_s, report, min(2.0, interval_s))]


def gateway_process(
    settings: Settings,
    config: GatewayConfig,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
    out: TextIO = sys.stderr,
) -> Supervisor:
    """`ioc gateway modbus`: the gateway, its health reports and a status line."""
    gateway = ModbusGateway(config, gateway_options(settings, config))
    if len(gateway.buffer):
        log.warning("%d readings from an earlier run wait to be sent", len(gateway.buffer))
    services: list[Service] = []
    if metrics_port is not None:
        services.append(MetricsServer(gateway, metrics_port, metrics_host))
    services += gateway_services(gateway, lambda: print(status_line(gateway), file=out, flush=True))
    return Supervisor(services)


def status_line(gateway: ModbusGateway) -> str:
    """The gateway's health as one line."""
    health = gateway.health()
    broker = "broker ok" if gateway.uplink.connected else "BROKER DOWN"
    return (
        f"gateway: {health['controllers_online']}/{health['controllers']} controllers "
        f"online | polls ok {health['polls_ok']:,} failed {health['polls_failed']:,} | "
        f"timeouts {health['timeouts']:,} crc {health['crc_errors']:,} "
        f"garbled {health['bad_frames']:,} wrong unit {health['wrong_unit']:,} | "
        f"buffered {health['buffered']:,} dropped {health['dropped']:,} | {broker}"
    )


class MetricsServer:
    """Prometheus metrics of the gateway on their own port."""

    name = "gateway metrics"
    failure: BaseException | None = None

    def __init__(self, gateway: ModbusGateway, port: int, host: str) -> None:
        self._gateway, self._port, self._host = gateway, port, host
        self._server: WSGIServer | None = None

    def start(self) -> None:
        """Listen (an OSError if the port is taken)."""
        self._server, _ = start_http_server(
            self._port, addr=self._host, registry=self._gateway.registry
        )

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
