"""deploy/observability/prometheus/alerts.yml, evaluated by Prometheus's own promtool on
synthetic series (tests/deploy/alerts_test.yml): per-queue lag, stuck and unconsumed
queues, scrape targets down or absent."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.conftest import REPO
from tests.deploy.manifests import system_tool

ALERTS = REPO / "deploy" / "observability" / "prometheus" / "alerts.yml"
CASES = Path(__file__).with_name("alerts_test.yml")

#: The lag rule as it was: one queue's depth over the task rate of every queue.
GLOBAL_RATE_LAG = """max by (queue) (zoomq_queue_depth)
  / on () group_left
clamp_min(sum(rate(zoomq_tasks_total{outcome!="retried"}[5m])), 0.01)
  > 300"""


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    found = system_tool("promtool", "prometheus")
    return subprocess.run([found, *args], capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip


def test_the_rules_parse() -> None:
    done = _promtool("check", "rules", str(ALERTS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rules_fire_as_the_cases_expect() -> None:
    done = _promtool("test", "rules", str(CASES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_cases_catch_a_lag_rule_over_every_queue_s_rate(tmp_path: Path) -> None:
    """With the lag rule dividing by the task rate of all queues, the first case fails:
    the busy events worker hides the bulk backlog."""
    rules = yaml.safe_load(ALERTS.read_text())
    for rule in rules["groups"][0]["rules"]:
        if rule.get("alert") == "ZoomqQueueLag":
            rule["expr"] = GLOBAL_RATE_LAG
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules))
    cases = yaml.safe_load(CASES.read_text())
    cases["rule_files"] = [str(tmp_path / "alerts.yml")]
    (tmp_path / "cases.yml").write_text(yaml.safe_dump(cases))
    done = _promtool("test", "rules", str(tmp_path / "cases.yml"))
    assert done.returncode != 0
    assert "ZoomqQueueLag" in done.stdout + done.stderr


def test_every_scrape_job_the_rules_name_is_configured() -> None:
    """The `job` labels of the up/absent rules are the compose Prometheus's jobs."""
    prometheus = yaml.safe_load((REPO / "deploy/monitoring/prometheus.yml").read_text())
    jobs = {j["job_name"] for j in prometheus["scrape_configs"]}
    text = ALERTS.read_text()
    assert {"zoomq-receiver", "zoomq-worker"} <= jobs
    for job in jobs:
        assert f'up{{job="{job}"}} == 0' in text
        assert f'absent(up{{job="{job}"}})' in text
