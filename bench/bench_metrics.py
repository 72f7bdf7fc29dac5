"""What the worker's task metrics cost per task, against the same task without them.

Run: ``.venv/bin/python bench/bench_metrics.py [-n 20000] [--passes 5]``.

A no-op Celery task is run through Celery's tracer (``Task.apply``: the same
``task_prerun``/``task_postrun`` signals a worker sends) with zoomq's metric handlers
disconnected (the baseline) and connected, passes alternating in one process (which goes
first swapped every pass); the difference of the fastest passes is the hooks' cost per
task (the medians are printed too: on a shared machine they move with its load). The same
again in a child process with ``PROMETHEUS_MULTIPROC_DIR`` set (prefork workers: every
count is written to a memory-mapped file). The Zoom client's observer (limiter waits,
429s) is timed on its own, per call.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import machine


def measure(n: int, passes: int) -> dict[str, float]:
    """µs per task without and with the hooks (medians), and per observer call."""
    from celery import Celery
    from celery.signals import task_postrun, task_prerun, task_retry

    from worker.signals import connect_task_metrics
    from zoomq.metrics import CLIENT_OBSERVER

    app = Celery("bench", set_as_current=False)
    app.conf.update(task_ignore_result=True, task_store_eager_result=False)

    @app.task(name="zoomq.bench.noop")
    def noop() -> dict[str, str]:
        return {"status": "done"}

    def per_task() -> float:
        for _ in range(200):
            noop.apply()
        started = time.perf_counter()
        for _ in range(n):
            noop.apply()
        return (time.perf_counter() - started) / n * 1e6

    def disconnect() -> None:
        task_prerun.disconnect(dispatch_uid="zoomq.metrics.prerun")
        task_postrun.disconnect(dispatch_uid="zoomq.metrics.postrun")
        task_retry.disconnect(dispatch_uid="zoomq.metrics.retry")

    off: list[float] = []
    on: list[float] = []
    per_task()  # warm-up
    for n_pass in range(passes):
        # Alternate which side goes first, so a drift in the machine's load hits both.
        for side in (0, 1) if n_pass % 2 == 0 else (1, 0):
            if side:
                connect_task_metrics()
                on.append(per_task())
            else:
                disconnect()
                off.append(per_task())
    disconnect()

    calls = n * 5
    started = time.perf_counter()
    for _ in range(calls):
        CLIENT_OBSERVER.waited("light", 0.001)
    observer = (time.perf_counter() - started) / calls * 1e6
    return {
        "off": min(off),
        "on": min(on),
        "off_median": statistics.median(off),
        "on_median": statistics.median(on),
        "observer": observer,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=20_000, help="tasks per pass")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.n, args.passes)))
        return
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        modes = {
            "in-process registry (threads pool)": {},
            "multiprocess files (prefork)": {"PROMETHEUS_MULTIPROC_DIR": folder},
        }
        for mode, extra in modes.items():
            env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
            out = subprocess.run(
                [sys.executable, __file__, "--child", "-n", str(args.n),
                 "--passes", str(args.passes)],
                env={**env, **extra}, capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            results[mode] = json.loads(out.strip().splitlines()[-1])
    print(f"\n## Task metrics: cost per task ({machine()})")
    print(f"{args.passes} alternating passes of {args.n:,} no-op tasks through Celery's tracer")
    print(f"{'':<38} {'no hooks':>10} {'hooks':>10} {'cost':>10} {'ratio':>7} {'observer':>10}")
    for mode, r in results.items():
        print(
            f"{mode:<38} {r['off']:>8.1f}µs {r['on']:>8.1f}µs {r['on'] - r['off']:>8.1f}µs "
            f"{r['on'] / r['off']:>6.2f}x {r['observer']:>8.2f}µs"
        )
        print(
            f"{'  medians':<38} {r['off_median']:>8.1f}µs {r['on_median']:>8.1f}µs "
            f"{r['on_median'] - r['off_median']:>8.1f}µs"
        )


if __name__ == "__main__":
    main()
