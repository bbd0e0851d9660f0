"""A plain-HTTP capture server: what a hostile endpoint would see (issue 13, F9).

It counts every connection and records every request (request line, headers, body) it gets,
and answers like SageMaker refusing the call, so a client that did send goes on as usual.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from hpo_operator.core.endpoints import is_loopback


class Capture(ThreadingHTTPServer):
    """Listens on `host` (any free port) in a thread while used as a context manager."""

    daemon_threads = True

    def __init__(self, host: str) -> None:
        self.seen: list[str] = []
        self.connections = 0
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, 0), _Handler)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else str(host)
        return f"http://{shown}:{port}"

    def __enter__(self) -> Capture:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    def setup(self) -> None:
        super().setup()
        server = self.server
        assert isinstance(server, Capture)
        server.connections += 1

    def _record(self) -> None:
        server = self.server
        assert isinstance(server, Capture)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode(errors="replace") if length else ""
        server.seen.append(f"{self.requestline}\n{self.headers}\n{body}")
        answer = b'{"__type": "ResourceNotFound", "message": "captured"}'
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_PUT = _record

    def log_message(self, *_: object) -> None:
        pass


def non_loopback_address() -> str | None:
    """An IPv4 address of this machine that is not loopback: the source address of its default
    route (a UDP connect sends no packet), else one its host name resolves to; None if none."""
    candidates: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            candidates.append(str(probe.getsockname()[0]))
        except OSError:
            pass
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        candidates += [str(info[4][0]) for info in infos]
    except OSError:
        pass
    for address in candidates:
        if not is_loopback(address) and address != "0.0.0.0":
            return address
    return None
