"""The Zoom client's cost: limiter overhead per request, and requests/s next to plain httpx.

Run: ``.venv/bin/python bench/bench_client.py [-n 3000]``. Everything is measured in
this run against the same local server and the same private redis-server; compare ratios.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import rate, table, uvicorn_server
from zoomq.client import Budget, RedisRateLimiter, ZoomClient
from zoomq.redis_server import RedisServer
from zoomq.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=3000, help="requests per measurement")
    args = parser.parse_args()
    n = args.n
    with (
        tempfile.TemporaryDirectory() as tmp,
        RedisServer(Path(tmp)) as rs,
        uvicorn_server("bench.servers:app") as url,
    ):
        r = redis.Redis.from_url(rs.url)
        limiter = RedisRateLimiter(r)
        huge = Budget(1e9)
        ping_rate = rate(r.ping, n * 3)
        reserve_rate = rate(lambda: limiter.reserve("bench:light", huge, 10), n * 3)
        table(
            "Rate limiter: one reservation vs one Redis round trip",
            [
                ("redis PING (baseline)", 1e6 / ping_rate, "µs"),
                ("RedisRateLimiter.reserve (GCRA Lua)", 1e6 / reserve_rate, "µs"),
            ],
            1e6 / ping_rate,
        )

        plain = httpx.Client(base_url=url + "/v2/", headers={"Authorization": "Bearer x"})
        settings = Settings(
            _env_file=None,
            zoom_account_id="bench",
            zoom_client_id="bench",
            zoom_client_secret="bench-secret-value",
            zoom_api_base_url=url + "/v2",
            zoom_oauth_token_url=url + "/oauth/token",
        )
        conn = settings.connection().model_copy(update={"rate_limits": {"light": 1e9}})
        client = ZoomClient(settings, conn, redis_client=r)
        plain_rate = rate(lambda: plain.get("users/me"), n)
        client_rate = rate(lambda: client.request("GET", "/users/me"), n)
        table(
            "GET /users/me against a local server, one thread",
            [
                ("plain httpx.Client (baseline)", plain_rate, "req/s"),
                ("ZoomClient (limiter + shared token + retry loop)", client_rate, "req/s"),
            ],
            plain_rate,
        )
        per_req_us = 1e6 / client_rate - 1e6 / plain_rate
        print(
            f"\nzoomq overhead per request: {per_req_us:.0f} µs "
            f"(of which the limiter's Lua call ~{1e6 / reserve_rate:.0f} µs)"
        )
        client.close()
        plain.close()
        r.close()
    time.sleep(0.1)


if __name__ == "__main__":
    main()
