"""A tiny HTTP listener on 127.0.0.1 that records every request and answers from a script."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Seen:
    """One request as the listener received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


Answer = tuple[int, dict[str, str], bytes]
Script = Callable[[Seen], Answer]


def _ok(_: Seen) -> Answer:
    return 200, {"Content-Type": "application/json"}, b"{}"


class Listener:
    """``with Listener(script) as trap:`` serves on ``trap.url``; ``trap.seen`` lists requests."""

    def __init__(self, script: Script = _ok) -> None:
        self.seen: list[Seen] = []
        lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                seen = Seen(self.command, self.path, headers, body)
                with lock:
                    owner.seen.append(seen)
                status, answer_headers, body = script(seen)
                self.send_response(status)
                for name, value in answer_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _any  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test asserts on ``seen``."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
