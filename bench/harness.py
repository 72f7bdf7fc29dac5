"""Benchmark plumbing: start servers as subprocesses, time loops, print ratio tables."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from zoomq.redis_server import free_port


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


@contextmanager
def uvicorn_server(
    app: str, *, env: dict[str, str] | None = None, factory: bool = False
) -> Iterator[str]:
    """Serve ``module:app`` with one uvicorn worker, access log off; yield its URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--no-access-log",
         "--log-level", "warning", *(["--factory"] if factory else [])],
        env={**os.environ, **(env or {})},
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    try:
        while True:
            try:
                httpx.get(url + "/", timeout=0.5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"{app} did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def wrk(
    url: str, *, seconds: int = 5, connections: int = 32, headers: dict[str, str] | None = None
) -> tuple[float, float]:
    """Requests/s and p99 latency (ms) from ``wrk`` (Debian's package) against ``url``."""
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for k, v in (headers or {}).items():
        args += ["-H", f"{k}: {v}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(next(ln for ln in out.splitlines() if ln.startswith("Requests/sec")).split()[1])
    p99 = next(ln for ln in out.splitlines() if ln.strip().startswith("99%")).split()[1]
    return rps, _ms(p99)


def _ms(value: str) -> float:
    """wrk's latency text (``850.00us``, ``6.01ms``, ``1.20s``) in milliseconds."""
    for suffix, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60_000.0)):
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


def rate(fn: Callable[[], object], n: int) -> float:
    """Calls per second of ``fn`` over ``n`` calls (after a short warm-up)."""
    for _ in range(min(200, n // 10)):
        fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - start)


def table(title: str, rows: list[tuple[str, float, str]], baseline: float) -> None:
    print(f"\n## {title}  ({machine()})")
    for name, value, unit in rows:
        print(f"{name:<48} {value:>12,.1f} {unit:<8} {value / baseline:>6.2f}x")
