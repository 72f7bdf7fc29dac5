"""The webhook receiver's throughput and latency next to a bare Starlette app, in one run.

Run: ``.venv/bin/python bench/bench_receiver.py [--seconds 10] [--connections 64] [--enqueue-ab]``
(needs ``wrk``: ``apt-get install -y wrk``).

Method
------
Both apps run under uvicorn (1 worker, uvloop + httptools, access log off) in their own
process, against a private redis-server; wrk loads each in turn with the same requests:
realistic ~1.5 KB Zoom ``meeting.created`` bodies, each signed (``x-zm-signature``,
``x-zm-request-timestamp``, ``x-zm-request-id``). The bare app answers 200 without
looking at them; the receiver verifies, parses, builds the Celery message and answers only
once Redis has it.

Every request must be a *new* event, or the receiver would mostly measure its dedup path.
wrk cannot sign, so ``--bodies`` distinct signed requests are precomputed into a file that
the wrk Lua script loads (each wrk thread takes a disjoint share and cycles through it);
the receiver runs with a signature tolerance of a day (the signatures outlive the run) and
a dedup TTL of one second, shorter than one cycle through the bodies, so each request
finds its dedup key expired and takes the full path: EXISTS miss, LPUSH, SET. The report
shows the dedup hits counted by the receiver during each pass (expected: 0).

Passes alternate bare, receiver, bare, receiver (``--passes``) after a warm-up; rates are
medians, and the ratio is of medians from this same run (absolute rates on these shared
machines move 25-35 % between runs). The Redis list is emptied between passes.

"p99 at half load": wrk2 is not packaged in Debian, so the load is paced with wrk's
``delay()`` hook: each connection waits an exponentially distributed time (mean calibrated
once) between its requests, for about half the receiver's measured maximum. This is
closed-loop pacing: a stalled server also stalls the generator (coordinated omission), so
the p99 is a lower bound of what an open-loop client would see.

``--enqueue-ab`` adds a second receiver whose enqueuer sends the same script call through
redis-py's command layer (``Script.__call__``: pool checkout, per-argument encoding, its
own ``NoScriptError`` handling) instead of the hand-packed RESP on one kept connection; each
pass then loads bare, hand-packed and redis-py in turn (the order of the last two swapped
every pass), to decide whether the hand-packing is worth its code.

``--wait-ab`` gives the Redis a replica and adds a receiver with
``ZOOMQ_REDIS_WAIT_REPLICAS=1`` (each write round followed by ``WAIT 1``, what makes an
acknowledged webhook survive a Sentinel failover); each pass then loads both receivers,
the order swapped every pass.

"received → task started": a Celery worker (solo pool, subprocess) consumes the events
queue with a task recording ``time.time() - meta["received_at"]`` while the receiver gets
a paced ~``--task-rate`` events/s (below one worker's ~1k tasks/s, PERF_BASELINES.md).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import machine
from zoomq.redis_server import RedisServer, free_port

SECRET = "bench-webhook-secret"
PATH = "/webhooks/zoom"
BODY_SIZE = 1500

LUA = r"""
local path = "%(path)s"
local nthreads = %(threads)d
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
local reqs = {}
local idx = 0
function init(args)
  math.randomseed(tid + 1)
  local i = 0
  for line in io.lines(path) do
    if i %% nthreads == tid then
      local ts, sig, rid, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", "%(url_path)s", {
        ["Content-Type"] = "application/json; charset=utf-8",
        ["x-zm-request-timestamp"] = ts,
        ["x-zm-signature"] = sig,
        ["x-zm-request-id"] = rid,
      }, body)
    end
    i = i + 1
  end
  idx = math.random(#reqs) - 1
end
function request()
  idx = idx %% #reqs + 1
  return reqs[idx]
end
%(delay)s
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {\"requests\": %%d, \"duration_us\": %%d, \"p50_us\": %%d, \"p99_us\": %%d, " ..
    "\"non2xx\": %%d, \"socket_errors\": %%d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""

# Exponential think times (Poisson arrivals per connection): a fixed delay would keep the
# connections in step, answered in one batch, sleeping alike, firing together again.
DELAY = """
local mean_ms = %(mean)f
function delay()
  return math.floor(-mean_ms * math.log(1 - math.random()) + 0.5)
end
"""


# -- the processes under test -------------------------------------------------------------


async def _call_via_redis_py(self: Any, batch: list[Any]) -> list[Any]:
    """``BatchEnqueuer._call`` as plain redis-py would write it (the ``--enqueue-ab`` B side)."""
    from zoomq.runtime.enqueue import ENQUEUE_SCRIPT

    script = getattr(self, "_bench_script", None)
    if script is None:
        script = self._bench_script = self._redis.register_script(ENQUEUE_SCRIPT)
    keys: list[bytes] = list(self._ledger_keys)
    argv: list[bytes] = [repr(time.time()).encode("ascii")]
    for dedup, queue, ttl, message, _, _, tid in batch:
        keys += (dedup, queue)
        argv += (ttl, message, tid)
    reply = await script(keys=keys, args=argv)
    if not isinstance(reply, list) or len(reply) != len(batch):
        raise ValueError(f"unexpected reply from the enqueue script: {reply!r:.200}")
    return reply


def serve(kind: str, port: int, redis_url: str) -> None:
    """Server mode (run in a subprocess): the bare app or the receiver under uvicorn."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    if kind == "bare":

        async def ok(_: Request) -> Response:
            return Response(b"", status_code=200)

        app = Starlette(routes=[Route(PATH, ok, methods=["POST"])])
        gc.collect()
        gc.freeze()  # the same treatment as the receiver's (gc_freeze, as the CLI sets it)
    else:
        if kind == "receiver-redispy":
            from zoomq.runtime.enqueue import BatchEnqueuer

            BatchEnqueuer._call = _call_via_redis_py  # type: ignore[method-assign]
        from receiver import create_app
        from receiver.app import server_config
        from zoomq.settings import Settings

        settings = Settings(_env_file=None, zoom_webhook_secret_token=SECRET, redis_url=redis_url)
        # As `zoomq receiver` runs it (receiver.app.server_config), plus the two changes
        # that keep the precomputed signatures valid and make every request a new event.
        changes: dict[str, Any] = {"signature_tolerance": 86400.0, "dedup_ttl": 1}
        if kind == "receiver-wait":
            changes["wait_replicas"] = 1
        config = server_config(settings).model_copy(update=changes)
        app = create_app(settings, config)
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


def celery_worker(redis_url: str) -> None:
    """Worker mode (subprocess): record received → started for every event task."""
    from celery import Celery

    app = Celery("bench", broker=redis_url)
    app.conf.update(task_default_queue="events", broker_connection_retry_on_startup=True)
    client = redis.Redis.from_url(redis_url)

    @app.task(name="zoomq.events.handle")
    def handle(event: dict[str, Any], meta: dict[str, Any]) -> None:
        del event
        client.rpush("bench:latency", time.time() - meta["received_at"])

    app.worker_main(
        ["worker", "-P", "solo", "-Q", "events", "-l", "WARNING", "--without-heartbeat",
         "--without-gossip", "--without-mingle"]
    )  # fmt: skip


@contextmanager
def replica(master_port: int, folder: Path) -> Iterator[None]:
    """A redis-server replicating the bench's Redis, in sync before it yields."""
    from zoomq.redis_server import find_redis_server

    folder.mkdir()
    port = free_port()
    proc = subprocess.Popen(
        [find_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--dir", str(folder), "--replicaof", "127.0.0.1", str(master_port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.info("replication").get("master_link_status") == "up":
                    break
            except redis.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the replica did not sync")
            time.sleep(0.05)
        yield
    finally:
        client.close()
        proc.terminate()
        proc.wait(10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def subprocess_server(kind: str, redis_url: str) -> Iterator[tuple[str, int]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--port", str(port), "--redis-url", redis_url]
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    try:
        while True:
            try:
                httpx.get(url + "/healthz", timeout=0.5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"the {kind} server did not start") from None
                time.sleep(0.05)
        yield url, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)


# -- load ---------------------------------------------------------------------------------


def make_requests(path: Path, count: int) -> None:
    """``count`` distinct signed deliveries of ~1.5 KB, one per line: ts, sig, id, body.

    One realistic ``meeting.created`` from the webhooks package's builder, varied per line
    (meeting uuid and id, agenda text) and serialised compactly as Zoom does.
    """
    import copy
    import random
    import uuid

    from zoomq.sandbox.webhooks import build_event, serialize
    from zoomq.webhooks import sign

    rng = random.Random(7)
    timestamp = str(int(time.time()))
    base = build_event("meeting.created", rng=rng)
    pad = max(0, BODY_SIZE - len(serialize(base)) - 12)
    letters = "abcdefghijklmnopqrstuvwxyz "
    with path.open("w") as out:
        for n in range(count):
            event = copy.deepcopy(base)
            obj = event["payload"]["object"]
            obj["uuid"] = f"{uuid.UUID(int=rng.getrandbits(128))}"
            obj["id"] = 80_000_000_000 + n
            obj["agenda"] = "".join(rng.choices(letters, k=pad))
            body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
            signature = sign(SECRET, timestamp, body)
            out.write(f"{timestamp}\t{signature}\t{uuid.UUID(int=rng.getrandbits(128))}\t")
            out.write(body.decode("utf-8") + "\n")


def wrk(
    server: tuple[str, int],
    script_dir: Path,
    requests_file: Path,
    args: argparse.Namespace,
    **options: Any,
) -> dict[str, float]:
    """One wrk run: requests/s, p50/p99 (ms), non-2xx, socket errors, server CPU µs/request."""
    url, pid = server
    seconds = options.get("seconds", args.seconds)
    connections = options.get("connections", args.connections)
    delay_ms = options.get("delay_ms")
    script = script_dir / "load.lua"
    script.write_text(
        LUA
        % {
            "path": requests_file,
            "threads": args.threads,
            "url_path": PATH,
            "delay": DELAY % {"mean": delay_ms} if delay_ms else "",
        }
    )
    cpu_before = cpu_seconds(pid)
    result = subprocess.run(
        ["wrk", "-t", str(args.threads), "-c", str(connections), "-d", f"{seconds}s",
         "--timeout", "5s", "-s", str(script), url + PATH],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    cpu = cpu_seconds(pid) - cpu_before
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT "))
    data = json.loads(line[len("RESULT ") :])
    return {
        "cpu_us": cpu / max(1, data["requests"]) * 1e6,
        "rps": data["requests"] / (data["duration_us"] / 1e6),
        "p50": data["p50_us"] / 1000,
        "p99": data["p99_us"] / 1000,
        "non2xx": data["non2xx"],
        "socket_errors": data["socket_errors"],
        "requests": data["requests"],
    }


def scrape(url: str) -> dict[str, float]:
    """The receiver's own counters (a few of them) from /metrics."""
    found: dict[str, float] = {}
    for line in httpx.get(url + "/metrics").text.splitlines():
        if line.startswith("zoomq_webhook_dedup_hits_total"):
            found["dedup"] = float(line.split()[-1])
        elif line.startswith('zoomq_webhooks_total{outcome="enqueued"'):
            found["enqueued"] = found.get("enqueued", 0) + float(line.split()[-1])
        elif line.startswith("zoomq_enqueue_batches_total"):
            found["batches"] = float(line.split()[-1])
    return found


def row(name: str, rps: float, p50: float, p99: float, base: float, note: str = "") -> str:
    return f"{name:<44} {rps:>10,.0f} {p50:>8.2f} {p99:>8.2f} {rps / base:>7.2f}x  {note}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--bodies", type=int, default=40_000)
    parser.add_argument("--task-rate", type=float, default=300.0)
    parser.add_argument(
        "--enqueue-ab",
        action="store_true",
        help="also run a receiver enqueueing through redis-py's command layer, interleaved",
    )
    parser.add_argument(
        "--wait-ab",
        action="store_true",
        help="also run a receiver that WAITs for a replica after each round, interleaved",
    )
    parser.add_argument(
        "--serve",
        choices=["bare", "receiver", "receiver-redispy", "receiver-wait"],
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--celery-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.redis_url)
        return
    if args.celery_worker:
        celery_worker(args.redis_url)
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")

    with tempfile.TemporaryDirectory() as tmp, RedisServer(Path(tmp) / "redis") as rs:
        work = Path(tmp)
        requests_file = work / "requests.tsv"
        started = time.perf_counter()
        make_requests(requests_file, args.bodies)
        print(f"precomputed {args.bodies} signed bodies in {time.perf_counter() - started:.1f} s")
        r = redis.Redis.from_url(rs.url)
        bare_runs: list[dict[str, float]] = []
        recv_runs: list[dict[str, float]] = []
        plain_runs: list[dict[str, float]] = []
        wait_runs: list[dict[str, float]] = []
        notes: list[str] = []
        load_before = os.getloadavg()[0]
        waiting_server = (
            subprocess_server("receiver-wait", rs.url) if args.wait_ab else nullcontext(None)
        )
        with (
            subprocess_server("bare", rs.url) as bare,
            subprocess_server("receiver", rs.url) as recv,
            (
                subprocess_server("receiver-redispy", rs.url)
                if args.enqueue_ab
                else nullcontext(bare)
            ) as plain,
            replica(rs.port, work / "replica") if args.wait_ab else nullcontext(),
            waiting_server as waiting,
        ):
            wrk(bare, work, requests_file, args, seconds=2)  # warm-up
            wrk(recv, work, requests_file, args, seconds=2)
            if args.enqueue_ab:
                wrk(plain, work, requests_file, args, seconds=2)
            if args.wait_ab:
                wrk(waiting, work, requests_file, args, seconds=2)
            r.delete("events")
            for n in range(args.passes):
                bare_runs.append(wrk(bare, work, requests_file, args))
                if args.enqueue_ab and n % 2 == 0:
                    plain_runs.append(wrk(plain, work, requests_file, args))
                    r.delete("events")
                if args.wait_ab and n % 2 == 0:
                    wait_runs.append(wrk(waiting, work, requests_file, args))
                    r.delete("events")
                before = scrape(recv[0])
                run = wrk(recv, work, requests_file, args)
                after = scrape(recv[0])
                queued = r.llen("events")
                dedup = after["dedup"] - before["dedup"]
                enq = after["enqueued"] - before["enqueued"]
                batch = enq / max(1.0, after["batches"] - before["batches"])
                notes.append(
                    f"{run['requests']:,.0f} requests answered, {queued:,} queued, "
                    f"dedup hits {dedup:.0f}, non-2xx {run['non2xx']:.0f}, mean batch {batch:.1f}"
                )
                recv_runs.append(run)
                r.delete("events")
                if args.enqueue_ab and n % 2 == 1:
                    plain_runs.append(wrk(plain, work, requests_file, args))
                    r.delete("events")
                if args.wait_ab and n % 2 == 1:
                    wait_runs.append(wrk(waiting, work, requests_file, args))
                    r.delete("events")

            def med(runs: list[dict[str, float]], key: str) -> float:
                return statistics.median(x[key] for x in runs)

            base = med(bare_runs, "rps")
            top = med(recv_runs, "rps")
            # Half load: pace each connection; calibrate the delay once, then measure.
            target = top / 2
            conns = args.connections
            delay = max(0.0, conns / target * 1000 - med(recv_runs, "p50") / 2)
            calib = wrk(recv, work, requests_file, args, seconds=3, delay_ms=delay)
            delay = max(0.0, delay + (conns / target - conns / calib["rps"]) * 1000)
            r.delete("events")
            half = wrk(recv, work, requests_file, args, delay_ms=delay)
            r.delete("events")
            fewer = wrk(recv, work, requests_file, args, connections=8)
            r.delete("events")

            # received -> task started, at a paced rate a single worker keeps up with
            worker = subprocess.Popen(
                [sys.executable, __file__, "--celery-worker", "--redis-url", rs.url],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                time.sleep(3)  # let the worker connect before events arrive
                r.delete("bench:latency")
                pace_conns = 4
                pace = wrk(
                    recv,
                    work,
                    requests_file,
                    args,
                    seconds=min(args.seconds, 8),
                    connections=pace_conns,
                    delay_ms=pace_conns / args.task_rate * 1000,
                )
                deadline = time.monotonic() + 30
                while r.llen("events") and time.monotonic() < deadline:
                    time.sleep(0.1)
                time.sleep(0.5)
                lat = sorted(float(x) * 1000 for x in r.lrange("bench:latency", 0, -1))
            finally:
                worker.send_signal(signal.SIGTERM)
                worker.wait(15)
        load_after = os.getloadavg()[0]

    print(f"\n## Webhook receiver vs bare Starlette ({machine()})")
    print(
        f"wrk -t{args.threads} -c{args.connections} -d{args.seconds}s, {args.passes} passes "
        f"(medians), ~{BODY_SIZE} B signed bodies, every request a new event; "
        f"load average {load_before:.2f} before, {load_after:.2f} after"
    )
    print(f"{'':<44} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'vs bare':>8}  server CPU")
    cpu = "{:.0f} µs/request".format
    print(row("bare Starlette 200", base, med(bare_runs, "p50"), med(bare_runs, "p99"), base,
              cpu(med(bare_runs, "cpu_us"))))  # fmt: skip
    print(row("receiver (verify + parse + durable enqueue)", top, med(recv_runs, "p50"),
              med(recv_runs, "p99"), base, cpu(med(recv_runs, "cpu_us"))))  # fmt: skip
    print(row("receiver at ~half its max (paced)", half["rps"], half["p50"], half["p99"], base,
              cpu(half["cpu_us"])))  # fmt: skip
    print(row("receiver, 8 connections (unpaced)", fewer["rps"], fewer["p50"], fewer["p99"],
              base, cpu(fewer["cpu_us"])))  # fmt: skip
    if plain_runs:
        print(row("receiver, enqueue via redis-py's Script", med(plain_runs, "rps"),
                  med(plain_runs, "p50"), med(plain_runs, "p99"), base,
                  cpu(med(plain_runs, "cpu_us"))))  # fmt: skip
        for i, (rcv, pl) in enumerate(zip(recv_runs, plain_runs, strict=True)):
            print(f"  pass {i + 1}: hand-packed {rcv['rps']:,.0f}/s {rcv['cpu_us']:.0f} µs/req, "
                  f"redis-py {pl['rps']:,.0f}/s {pl['cpu_us']:.0f} µs/req "
                  f"({pl['rps'] / rcv['rps']:.3f}x)")  # fmt: skip
    if wait_runs:
        print(row("receiver, WAIT 1 replica after each round", med(wait_runs, "rps"),
                  med(wait_runs, "p50"), med(wait_runs, "p99"), base,
                  cpu(med(wait_runs, "cpu_us"))))  # fmt: skip
        for i, (rcv, wt) in enumerate(zip(recv_runs, wait_runs, strict=True)):
            print(f"  pass {i + 1}: no WAIT {rcv['rps']:,.0f}/s p99 {rcv['p99']:.2f} ms, "
                  f"WAIT 1 {wt['rps']:,.0f}/s p99 {wt['p99']:.2f} ms, non-2xx "
                  f"{wt['non2xx']:.0f} ({wt['rps'] / rcv['rps']:.3f}x)")  # fmt: skip
    for i, (b, rcv) in enumerate(zip(bare_runs, recv_runs, strict=True)):
        print(f"  pass {i + 1}: bare {b['rps']:,.0f}/s, receiver {rcv['rps']:,.0f}/s "
              f"({rcv['rps'] / b['rps']:.2f}x); {notes[i]}")  # fmt: skip
    if lat:
        p50 = statistics.median(lat)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(
            f"received -> task started at {pace['rps']:,.0f} events/s "
            f"({len(lat):,} tasks, one solo-pool worker): p50 {p50:.2f} ms, p99 {p99:.2f} ms"
        )
    else:
        print("received -> task started: no task ran (worker did not start?)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
