"""The sandbox Zoom's throughput on one core, next to a bare Starlette app in the same run.

Run: ``.venv/bin/python bench/bench_sandbox.py [--seconds 5] [--accounts 10]`` (needs
``wrk``: ``apt-get install wrk``). Every server is one uvicorn worker; wrk loads each in
turn. The sandbox must never be what limits the other benchmarks: compare its req/s with
theirs (bench_client's ZoomClient is ~1k req/s per thread; the bulk-job benchmarks ask
for 2,000 actions/s over 10 accounts).

The many-account rows serve ``--accounts`` accounts from one process, each request with
the next account's token (a wrk Lua script rotates them), with rate limits on but scaled
out of the way (so every request pays for its account's counters), and batch
registrations of 30 new people per call into each account's eligible meeting.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from starlette.applications import Starlette

from bench.harness import table, uvicorn_server, wrk

#: Accounts of the many-account sandbox (``accounts_app``; uvicorn imports it by name).
ACCOUNTS = 10
#: Budgets x1000: counted on every request, never refusing one in a benchmark's seconds.
RATE_SCALE = 1000.0

_ROTATE = """
local tokens = {%(tokens)s}
local paths = {%(paths)s}
local n = 0
local thread_id = math.random(1, 1000000000)
request = function()
  n = n + 1
  local k = (n %% #tokens) + 1
  local headers = {["Authorization"] = "Bearer " .. tokens[k]}
  if "%(method)s" == "GET" then
    return wrk.format("GET", paths[k], headers)
  end
  headers["Content-Type"] = "application/json"
  local people = {}
  for i = 1, 30 do
    people[i] = string.format(
      '{"email":"p%%d-%%d-%%d@bench.example.org","first_name":"P"}', thread_id, n, i)
  end
  local body = '{"registrants":[' .. table.concat(people, ",") .. ']}'
  return wrk.format("POST", paths[k], headers, body)
end
"""


def accounts_app() -> Starlette:
    """``ACCOUNTS`` sandbox accounts (Business), limits scaled out of the way (``--factory``)."""
    from zoomq.sandbox.app import create_sandbox_app
    from zoomq.sandbox.config import SandboxConfig

    return create_sandbox_app(
        SandboxConfig(accounts=ACCOUNTS, plan="business", rate_scale=RATE_SCALE)
    )


def _token(url: str, credentials: dict[str, str]) -> str:
    response = httpx.post(
        url + "/oauth/token",
        params={"grant_type": "account_credentials", "account_id": credentials["account_id"]},
        auth=(credentials["client_id"], credentials["client_secret"]),
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def wrk_rotating(
    url: str, method: str, tokens: list[str], paths: list[str], seconds: int
) -> tuple[float, float]:
    """``wrk`` with each request on the next token and its path (a Lua ``request``)."""
    script = _ROTATE % {
        "tokens": ",".join(f'"{t}"' for t in tokens),
        "paths": ",".join(f'"{p}"' for p in paths),
        "method": method,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        args = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", lua.name, url]
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    rps = float(next(ln for ln in lines if ln.startswith("Requests/sec")).split()[1])
    p99 = next(ln for ln in lines if ln.strip().startswith("99%")).split()[1]
    errors = [ln for ln in lines if "Non-2xx" in ln]
    if errors:
        sys.exit(f"the sandbox refused requests: {errors[0].strip()}")
    return rps, _ms(p99)


def _ms(value: str) -> float:
    for suffix, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


def many_accounts(seconds: int) -> list[tuple[str, float, str]]:
    with uvicorn_server("bench.bench_sandbox:accounts_app", factory=True) as url:
        accounts = httpx.get(url + "/_sandbox/accounts").json()["accounts"]
        tokens = [_token(url, a) for a in accounts]
        me = ["/v2/users/me"] * len(tokens)
        light, light_p99 = wrk_rotating(url, "GET", tokens, me, seconds)
        batch_paths = [
            f"/v2/meetings/{a['seeded']['batch_meeting_id']}/batch_registrants" for a in accounts
        ]
        batch, batch_p99 = wrk_rotating(url, "POST", tokens, batch_paths, seconds)
        after = httpx.get(url + "/_sandbox/accounts").json()["accounts"]
        limited = sum(sum(a["rate_limited"].values()) for a in after)
        if limited:
            sys.exit(f"{limited} requests were rate limited: raise RATE_SCALE")
    n = len(tokens)
    return [
        (f"{n} accounts GET /v2/users/me, p99 {light_p99:.1f} ms", light, "req/s"),
        (f"{n} accounts batch_registrants (30), p99 {batch_p99:.1f} ms", batch, "req/s"),
        (f"  = registrants/s over {n} accounts", batch * 30, "reg/s"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench_sandbox needs wrk: apt-get install wrk")
    with uvicorn_server("bench.servers:app") as bare_url:
        bare, bare_p99 = wrk(bare_url + "/", seconds=args.seconds)
    with uvicorn_server("bench.servers:sandbox_app", factory=True) as url:
        token = _token(
            url,
            {
                "account_id": "sandbox-account",
                "client_id": "sandbox-client",
                "client_secret": "sandbox-secret",
            },
        )
        auth = {"Authorization": f"Bearer {token}"}
        user, user_p99 = wrk(url + "/v2/users/me", seconds=args.seconds, headers=auth)
        users, users_p99 = wrk(url + "/v2/users?page_size=30", seconds=args.seconds, headers=auth)
    table(
        "Sandbox Zoom, one uvicorn worker, wrk -c32",
        [
            (f"bare Starlette 200 (baseline), p99 {bare_p99:.1f} ms", bare, "req/s"),
            (f"sandbox GET /v2/users/me, p99 {user_p99:.1f} ms", user, "req/s"),
            (f"sandbox GET /v2/users (30/page), p99 {users_p99:.1f} ms", users, "req/s"),
            *many_accounts(args.seconds),
        ],
        bare,
    )


if __name__ == "__main__":
    main()
