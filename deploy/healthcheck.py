"""The image's HEALTHCHECK: asks the zoomq process of this container whether it is alive.

One image runs every process, so the probe reads the container's command (PID 1's
argv, or argv given here) to know what to ask: the receiver's ``/healthz``, the
sandbox's ``/_sandbox/state``, a worker's metrics port when ``ZOOMQ_WORKER_METRICS_PORT``
is set (a worker without it has nothing to ask: healthy while it runs). Standard library
only, so a probe costs a few milliseconds and no zoomq import.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["main", "probe_url"]

DEFAULT_PORTS = {"receiver": 8000, "sandbox": 9100}
PATHS = {"receiver": "/healthz", "sandbox": "/_sandbox/state", "worker": "/metrics"}
_ANY_ADDRESS = {"0.0.0.0", "::", ""}  # noqa: S104 - a bind address, mapped to loopback


def _option(argv: list[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def probe_url(argv: list[str], environ: dict[str, str]) -> str | None:
    """The URL that answers 200 while this process is healthy; None: nothing to ask."""
    names = [Path(a).name for a in argv]
    if "zoomq" not in names:
        raise SystemExit(f"healthcheck: not a zoomq command: {' '.join(argv)!r}")
    rest = argv[names.index("zoomq") + 1 :]
    command = rest[0] if rest else ""
    if command == "worker":
        port = environ.get("ZOOMQ_WORKER_METRICS_PORT", "0").strip() or "0"
        return None if port == "0" else f"http://127.0.0.1:{int(port)}{PATHS['worker']}"
    if command not in DEFAULT_PORTS:
        return None  # a one-off command (dlq, action, ...): healthy while it runs
    host = _option(rest, "--host") or "127.0.0.1"
    host = "127.0.0.1" if host in _ANY_ADDRESS else host
    port = int(_option(rest, "--port") or DEFAULT_PORTS[command])
    return f"http://{host}:{port}{PATHS[command]}"


def _container_argv() -> list[str]:
    raw = Path("/proc/1/cmdline").read_bytes()
    return [a.decode() for a in raw.split(b"\0") if a]


def main(argv: list[str] | None = None) -> int:
    target = argv if argv else _container_argv()
    url = probe_url(target, dict(os.environ))
    if url is None:
        return 0
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - http to itself
            ok = response.status == 200
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1
    print(f"healthcheck: {url}: {'ok' if ok else 'not ok'}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
