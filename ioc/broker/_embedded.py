"""An MQTT 3.1.1 broker (amqtt) in a child process, for `ioc demo` on machines without Mosquitto.

A child process keeps the broker off the demo's own interpreter lock.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys

from ioc.broker._mosquitto import BrokerError, free_port, stop_process, wait_for_port


class EmbeddedBroker:
    """amqtt in a child Python process on a loopback port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The broker's IOC_MQTT_URL."""
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 20.0) -> None:
        """Start the broker and wait until it listens."""
        self._process = subprocess.Popen(
            [sys.executable, "-m", "ioc.broker._embedded", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_port(self.port, timeout_s, self._process)
        except BrokerError as exc:
            self.stop()
            stderr = (
                self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
            )
            raise BrokerError(
                f"the embedded broker did not start: {exc}\n{stderr[-2000:]}"
            ) from exc

    def stop(self) -> None:
        """Stop the child process."""
        if self._process is not None:
            stop_process(self._process)


async def _serve(port: int) -> None:
    from amqtt.broker import Broker

    config = {
        "listeners": {
            "default": {"type": "tcp", "bind": f"127.0.0.1:{port}", "max_connections": 0}
        },
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    broker = Broker(config)
    await broker.start()
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    await stopped.wait()
    await broker.shutdown()


if __name__ == "__main__":
    # amqtt logs every connection at INFO and every late PUBACK at WARNING.
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(_serve(int(sys.argv[1])))
