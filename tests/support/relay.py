"""A TCP relay in front of a real server, so a test can drop every connection through it."""

from __future__ import annotations

import socket
import threading
from contextlib import suppress


class TcpRelay:
    """Listens on a free loopback port (or on `listen`) and relays to `upstream`; `cut()` drops
    every connection and refuses new ones until `restore()`."""

    def __init__(
        self, upstream_host: str, upstream_port: int, listen: tuple[str, int] = ("127.0.0.1", 0)
    ) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(listen)
        self.port: int = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._cut = False
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        """Drop every relayed connection now; refuse new ones."""
        with self._lock:
            self._cut = True
            for sock in self._open:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def restore(self) -> None:
        """Relay new connections again."""
        with self._lock:
            self._cut = False

    def close(self) -> None:
        """Stop listening and drop everything."""
        self._closed = True
        self.cut()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._cut:
                    client.close()
                    continue
            try:
                server = socket.create_connection(self._upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)  # the timeout was for connecting: an idle link stays up
            with self._lock:
                self._open += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def relayed_database(url: str) -> tuple[TcpRelay, str]:
    """A relay in front of the database server of `url`, and the URL that goes through it."""
    from sqlalchemy.engine import make_url

    target = make_url(url)
    relay = TcpRelay(target.host or "127.0.0.1", target.port or 5432)
    through = target.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    return relay, through
