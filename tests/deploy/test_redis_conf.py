"""deploy/redis.conf, as a real redis-server loads it: AOF fsynced every second, no
eviction; and the Kubernetes demo StatefulSet carries the same lines."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import REPO
from tests.deploy.manifests import of_kind, rendered
from zoomq.redis_server import find_redis_server, free_port

CONF = REPO / "deploy" / "redis.conf"


def _directives(text: str) -> list[str]:
    return [x.strip() for x in text.splitlines() if x.strip() and not x.lstrip().startswith("#")]


@pytest.fixture
def configured(tmp_path: Path) -> Iterator[redis.Redis]:
    """redis-server started on deploy/redis.conf (its port and dir moved to this test's)."""
    port = free_port()
    process = subprocess.Popen(
        [find_redis_server(), str(CONF), "--port", str(port), "--bind", "127.0.0.1",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port, socket_connect_timeout=0.2)
    try:
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert process.poll() is None, "redis-server refused deploy/redis.conf"
                time.sleep(0.05)
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(10)


def test_redis_keeps_what_it_acknowledged_and_never_evicts(configured: redis.Redis) -> None:
    """The running server has the AOF on, fsync every second, no RDB, noeviction."""
    config = configured.config_get("*")
    assert config["appendonly"] == "yes"
    assert config["appendfsync"] == "everysec"
    assert config["save"] == ""
    assert config["maxmemory-policy"] == "noeviction"
    configured.set("k", "v")
    info = configured.info("persistence")
    assert info["aof_enabled"] == 1


def test_the_kubernetes_redis_uses_the_same_configuration() -> None:
    """The StatefulSet's ConfigMap holds deploy/redis.conf's directives, and Redis reads it."""
    docs = rendered()
    config = next(c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"] == "redis-config")
    assert _directives(config["data"]["redis.conf"]) == _directives(CONF.read_text())
    redis_set = next(of_kind(docs, "StatefulSet"))
    container = redis_set["spec"]["template"]["spec"]["containers"][0]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "config")
    assert container["args"][:2] == ["redis-server", f"{mount['mountPath']}/redis.conf"]
    data = next(m for m in container["volumeMounts"] if m["name"] == "data")
    assert data["mountPath"] == "/data"  # the image's working directory, Redis's dir
    claims = redis_set["spec"]["volumeClaimTemplates"]
    assert [c["metadata"]["name"] for c in claims] == ["data"]
