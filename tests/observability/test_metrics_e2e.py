"""The workers' and the receiver's /metrics, scraped from real processes, against what the
dashboard and the alert rules ask of them."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner

from tests.e2e.conftest import (
    REPO,
    WEBHOOK_SECRET,
    fast_worker_env,
    registration_event,
    start_receiver,
    start_worker,
    stop_worker,
    wait_for,
)
from worker.app import create_celery
from zoomq.cli.worker import worker_command
from zoomq.clock import SystemClock
from zoomq.redis_server import RedisServer, free_port
from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.server import SandboxServer
from zoomq.sandbox.webhooks import build_headers, serialize
from zoomq.settings import Settings

pytestmark = pytest.mark.e2e

OBSERVABILITY = REPO / "deploy" / "observability"
DASHBOARD = OBSERVABILITY / "grafana" / "zoomq.json"
ALERTS = OBSERVABILITY / "prometheus" / "alerts.yml"
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def exported(page: str) -> set[str]:
    """Every metric name a /metrics page declares (``# TYPE``) or has a sample of."""
    names: set[str] = set()
    for line in page.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            names.add(name)
            if kind == "histogram":
                names.update(name + suffix for suffix in HISTOGRAM_SUFFIXES)
            if kind == "counter" and not name.endswith("_total"):
                names.add(name + "_total")
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def sample(page: str, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    total = 0.0
    for line in page.splitlines():
        head, _, value = line.rpartition(" ")
        if not (head == name or head.startswith(name + "{")):
            continue
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


def used_names() -> dict[str, set[str]]:
    """zoomq metric names in every dashboard expression and alert rule, by where they are."""
    pattern = re.compile(r"zoomq_[a-z0-9_]+")
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    rules = yaml.safe_load(ALERTS.read_text())
    alert_exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    return {
        "dashboard": {n for e in exprs for n in pattern.findall(e)},
        "alerts": {n for e in alert_exprs for n in pattern.findall(e)},
    }


@dataclass
class Stack:
    worker_metrics: str
    receiver_url: str
    settings: Settings
    redis: RedisServer


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Redis, the sandbox, a receiver and a threads-pool worker serving /metrics."""
    base = tmp_path_factory.mktemp("observability")
    with RedisServer(base / "redis") as server, SandboxServer(SandboxConfig(seed=5)) as sandbox:
        port = free_port()
        env = fast_worker_env(
            base, sandbox, server.url, ZOOMQ_WORKER_METRICS_PORT=str(port),
            ZOOMQ_WORKER_METRICS_HOST="127.0.0.1",
        )  # fmt: skip
        argv = [
            sys.executable, "-m", "celery", "-A", "worker.app", "worker", "--pool", "threads",
            "-c", "4", "-Q", "events,actions", "-n", "metrics@%h", "--loglevel", "INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        worker = start_worker(argv, env, base / "worker.log")
        try:
            receiver, url = start_receiver(
                base / "receiver", sandbox, server.url, base / "receiver.log"
            )
        except BaseException:
            stop_worker(worker)
            raise
        try:
            yield Stack(
                f"http://127.0.0.1:{port}/metrics",
                url,
                Settings(_env_file=None, redis_url=server.url),
                server,
            )
        finally:
            stop_worker(receiver)
            stop_worker(worker)


def test_every_name_the_dashboard_and_alerts_use_is_exported(stack: Stack) -> None:
    """Both processes scraped after real traffic: every zoomq_* name the dashboard and the
    rules query is on one of the two pages, and the counts move with the traffic."""
    body = serialize(registration_event("metrics@example.com"))
    webhook = stack.receiver_url + "/webhooks/zoom"
    good = build_headers(WEBHOOK_SECRET, body, SystemClock())
    assert httpx.post(webhook, content=body, headers=good, timeout=10).status_code == 200
    bad = build_headers("not-the-secret", body, SystemClock())
    assert httpx.post(webhook, content=body, headers=bad, timeout=10).status_code == 401

    def worker_page() -> str:
        page = httpx.get(stack.worker_metrics, timeout=5).text
        return page if sample(page, "zoomq_tasks_total", task="zoomq.events.handle") else ""

    page = wait_for(worker_page, 30, "the event task counted on the worker's /metrics")
    receiver = httpx.get(stack.receiver_url + "/metrics", timeout=5).text

    found = exported(page) | exported(receiver)
    for where, names in used_names().items():
        assert names, where
        missing = sorted(names - found)
        assert missing == [], f"{where} uses names no process exports: {missing}"
    # Worker and receiver names never collide.
    assert not {n for n in exported(page) & exported(receiver) if n.startswith("zoomq_")}

    assert sample(page, "zoomq_tasks_total", task="zoomq.events.handle", outcome="done") >= 1
    assert sample(page, "zoomq_task_duration_seconds_count", task="zoomq.events.handle") >= 1
    assert sample(page, "zoomq_redis_up") == 1
    assert 'zoomq_queue_depth{queue="events"}' in page
    assert 'zoomq_queue_depth{queue="actions"}' in page
    assert sample(receiver, "zoomq_webhook_signature_failures_total") >= 1


def test_the_alert_rules_parse() -> None:
    """promtool accepts the rules (when installed: Debian's ``prometheus``); else they are
    YAML of Prometheus's rule-file shape, every alert with an expression and a summary."""
    promtool = shutil.which("promtool")
    if promtool is not None:
        done = subprocess.run(
            [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
    rules = yaml.safe_load(ALERTS.read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert {r["alert"] for r in alerts} >= {
        "ZoomqQueueLag",
        "ZoomqDeadLettersGrowing",
        "ZoomqZoomRateLimited",
        "ZoomqWebhookSignatureFailures",
        "ZoomqRedisUnreachable",
        "ZoomqArchiveFallingBehind",
    }
    for rule in alerts:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert rule["expr"].strip(), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


def test_prefork_children_are_counted_by_the_main_process(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """`zoomq worker --pool prefork`: tasks run in the children; the main process's page
    shows their sum, read from PROMETHEUS_MULTIPROC_DIR (emptied of a previous run first)."""
    base = tmp_path_factory.mktemp("prefork")
    multiproc = base / "prometheus"
    multiproc.mkdir()
    (multiproc / "counter_999999.db").write_bytes(b"stale")  # a previous run's file
    with RedisServer(base / "redis") as server, SandboxServer(SandboxConfig(seed=6)) as sandbox:
        port = free_port()
        env = fast_worker_env(
            base, sandbox, server.url, ZOOMQ_WORKER_METRICS_PORT=str(port),
            ZOOMQ_WORKER_METRICS_HOST="127.0.0.1", PROMETHEUS_MULTIPROC_DIR=str(multiproc),
        )  # fmt: skip
        argv = [
            sys.executable, "-m", "zoomq", "worker", "--pool", "prefork", "-c", "2",
            "--queues", "actions", "-n", "prefork@%h", "--loglevel", "INFO",
        ]  # fmt: skip
        worker = start_worker(argv, env, base / "worker.log")
        try:
            settings = Settings(_env_file=None, redis_url=server.url)
            app = create_celery(settings)
            owner = sandbox.state.seeded.owner_user_id
            for n in range(8):
                app.send_task(
                    "zoomq.actions.getUser",
                    args=[{"userId": owner}],
                    kwargs={"connection": "default"},
                    task_id=f"prefork-{n}",
                )
            url = f"http://127.0.0.1:{port}/metrics"

            def counted() -> str:
                page = httpx.get(url, timeout=5).text
                done = sample(page, "zoomq_tasks_total", task="zoomq.actions.getUser")
                return page if done >= 8 else ""

            page = wait_for(counted, 30, "eight tasks counted")
        finally:
            stop_worker(worker)
    assert sample(page, "zoomq_tasks_total", task="zoomq.actions.getUser", outcome="done") == 8
    assert sample(page, "zoomq_task_duration_seconds_count", task="zoomq.actions.getUser") == 8
    writers = {p.name.rpartition("_")[2] for p in multiproc.glob("counter_*.db")}
    assert "999999.db" not in writers
    assert len(writers) >= 2  # the children (and the main process) each have their own


def test_prefork_metrics_without_a_multiprocess_dir_exit_2(tmp_path: Path) -> None:
    """Counts the parent could never see are refused up front, naming the variable."""
    result = CliRunner().invoke(
        worker_command,
        ["--pool", "prefork"],
        env={
            "ZOOMQ_WORKER_METRICS_PORT": "9808",
            "PROMETHEUS_MULTIPROC_DIR": None,
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "ZOOMQ_ARCHIVE_DEST": str(tmp_path / "archive"),
        },
    )
    assert result.exit_code == 2, result.output
    assert "PROMETHEUS_MULTIPROC_DIR" in result.output


def test_a_frozen_redis_is_reported_down_within_a_scrape_timeout(stack: Stack) -> None:
    """With Redis stopped (not refusing: silent, like a partition), the worker's page still
    answers well within Prometheus's 10 s scrape timeout, saying zoomq_redis_up 0."""
    assert stack.redis.process is not None
    assert sample(httpx.get(stack.worker_metrics, timeout=10).text, "zoomq_redis_up") == 1
    stack.redis.process.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        page = httpx.get(stack.worker_metrics, timeout=15).text
        took = time.monotonic() - started
    finally:
        stack.redis.process.send_signal(signal.SIGCONT)
    assert took < 8, took
    assert sample(page, "zoomq_redis_up") == 0
    wait_for(
        lambda: sample(httpx.get(stack.worker_metrics, timeout=10).text, "zoomq_redis_up") == 1,
        20,
        "Redis back up on the page",
    )
