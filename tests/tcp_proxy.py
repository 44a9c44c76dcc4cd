"""A TCP proxy in front of the test PostgreSQL server, to cut the network under a running store.

``cut()`` drops every proxied connection and refuses new ones, as a crashed or unreachable
server would; ``restore()`` listens again on the same port. The shared server itself is never
touched, so other tests running against it do not notice.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit, urlunsplit


class TcpProxy:
    """Forward ``127.0.0.1:port`` to ``target`` (host, port) in background threads."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:  # a free port, kept across cut and restore
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []

    def url(self, url: str) -> str:
        """``url`` with its host and port replaced by the proxy's."""
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{self.port}"
        netloc[-1] = host
        return urlunsplit(parts._replace(netloc="@".join(netloc)))

    def restore(self) -> None:
        """Listen (again) and forward every connection made from now on."""
        listener = socket.create_server(("127.0.0.1", self.port))
        listener.settimeout(0.05)
        with self._lock:
            self._listener = listener
        self._spawn(self._accept, listener)

    def cut(self) -> None:
        """Drop every connection and refuse new ones (connection refused)."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        if listener is not None:
            listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.cut()
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            with self._lock:
                if self._listener is not listener:
                    return
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            self._spawn(_pump, client, upstream)
            self._spawn(_pump, upstream, client)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
