"""The sandbox Zoom's throughput on one core, next to a bare Starlette app in the same run.

Run: ``.venv/bin/python bench/bench_sandbox.py [--seconds 5]`` (needs ``wrk``:
``apt-get install wrk``). Both servers are one uvicorn worker; wrk loads each in turn.
The sandbox must never be what limits the other benchmarks: compare its req/s with
theirs (bench_client's ZoomClient is ~1k req/s per thread).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import table, uvicorn_server, wrk


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench_sandbox needs wrk: apt-get install wrk")
    with uvicorn_server("bench.servers:app") as bare_url:
        bare, bare_p99 = wrk(bare_url + "/", seconds=args.seconds)
    with uvicorn_server("bench.servers:sandbox_app", factory=True) as url:
        token = httpx.post(
            url + "/oauth/token",
            params={"grant_type": "account_credentials", "account_id": "sandbox-account"},
            auth=("sandbox-client", "sandbox-secret"),
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        user, user_p99 = wrk(url + "/v2/users/me", seconds=args.seconds, headers=auth)
        users, users_p99 = wrk(url + "/v2/users?page_size=30", seconds=args.seconds, headers=auth)
    table(
        "Sandbox Zoom, one uvicorn worker, wrk -c32",
        [
            (f"bare Starlette 200 (baseline), p99 {bare_p99:.1f} ms", bare, "req/s"),
            (f"sandbox GET /v2/users/me, p99 {user_p99:.1f} ms", user, "req/s"),
            (f"sandbox GET /v2/users (30/page), p99 {users_p99:.1f} ms", users, "req/s"),
        ],
        bare,
    )


if __name__ == "__main__":
    main()
