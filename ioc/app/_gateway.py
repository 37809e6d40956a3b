"""`ioc gateway modbus`: load and check the gateway file, then run the gateway."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from prometheus_client import start_http_server

from ioc.app._catalog import Catalog
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
    return GatewayOptions(
        broker=settings.broker_address(config.gateway_id),
        topic_prefix=settings.topic_prefix,
        buffer_path=config.buffer_path or settings.data_dir / f"gateway-{config.gateway_id}.db",
    )


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


def run_gateway(
    settings: Settings,
    config: GatewayConfig,
    should_stop: Callable[[], bool],
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
    out: TextIO = sys.stderr,
) -> int:
    """Run until should_stop(); prints a status line at every health report."""
    gateway = ModbusGateway(config, gateway_options(settings, config))
    if metrics_port is not None:
        start_http_server(metrics_port, addr=metrics_host, registry=gateway.registry)
    if len(gateway.buffer):
        log.warning("%d readings from an earlier run wait to be sent", len(gateway.buffer))

    def status() -> None:
        health = gateway.health()
        broker = "broker ok" if gateway.uplink.connected else "BROKER DOWN"
        print(
            f"gateway: {health['controllers_online']}/{health['controllers']} controllers "
            f"online | polls ok {health['polls_ok']:,} failed {health['polls_failed']:,} | "
            f"timeouts {health['timeouts']:,} crc {health['crc_errors']:,} "
            f"garbled {health['bad_frames']:,} wrong unit {health['wrong_unit']:,} | "
            f"buffered {health['buffered']:,} dropped {health['dropped']:,} | {broker}",
            file=out,
            flush=True,
        )

    gateway.start()
    try:
        return gateway.run(should_stop, status)
    finally:
        gateway.stop()
