"""deploy/redis.conf, as a real redis-server loads it: AOF fsynced every second, no
eviction at a finite maxmemory; the Kubernetes demo StatefulSet carries the same file,
refuses the placeholder password and probes for a real PONG."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import REPO
from tests.deploy.manifests import (
    K8S,
    conf_directive,
    of_kind,
    rendered,
    size_bytes,
    wait_for_redis,
)
from zoomq.redis_server import find_redis_server, free_port

CONF = REPO / "deploy" / "redis.conf"
#: The Kubernetes demo's copy (kustomize reads files below its directory only).
K8S_CONF = K8S / "base" / "redis.conf"


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
    assert int(config["maxmemory"]) == size_bytes(conf_directive(CONF.read_text(), "maxmemory"))
    assert int(config["maxmemory"]) > 0  # noeviction acts at maxmemory only
    configured.set("k", "v")
    info = configured.info("persistence")
    assert info["aof_enabled"] == 1


def _redis_set() -> dict[str, Any]:
    return next(of_kind(rendered(), "StatefulSet"))


def test_the_kubernetes_redis_uses_the_same_configuration() -> None:
    """The StatefulSet's ConfigMap is generated from a copy of deploy/redis.conf (with a
    content hash in its name, so an edit rolls Redis), and Redis reads it."""
    assert K8S_CONF.read_text() == CONF.read_text()
    redis_set = _redis_set()
    pod = redis_set["spec"]["template"]["spec"]
    (volume,) = (v for v in pod["volumes"] if v["name"] == "config")
    name = volume["configMap"]["name"]
    assert re.fullmatch(r"redis-config-[a-z0-9]{10}", name), name
    config = next(c for c in of_kind(rendered(), "ConfigMap") if c["metadata"]["name"] == name)
    assert _directives(config["data"]["redis.conf"]) == _directives(CONF.read_text())
    container = pod["containers"][0]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "config")
    assert container["command"] == ["sh", "-c"]
    assert f"exec redis-server {mount['mountPath']}/redis.conf " in container["args"][0]
    data = next(m for m in container["volumeMounts"] if m["name"] == "data")
    assert data["mountPath"] == "/data"  # the image's working directory, Redis's dir
    claims = redis_set["spec"]["volumeClaimTemplates"]
    assert [c["metadata"]["name"] for c in claims] == ["data"]


def test_maxmemory_is_below_the_kubernetes_memory_limit() -> None:
    """Redis refuses writes at maxmemory (noeviction) before the kubelet kills it at the
    container's limit: maxmemory is at most 80 % of it."""
    container = _redis_set()["spec"]["template"]["spec"]["containers"][0]
    limit = size_bytes(container["resources"]["limits"]["memory"])
    maxmemory = size_bytes(conf_directive(K8S_CONF.read_text(), "maxmemory"))
    assert 0 < maxmemory <= 0.8 * limit


def _start_script(conf: Path, port: int, tmp: Path) -> str:
    # The StatefulSet's script as written, on this test's port, directory and config.
    container = _redis_set()["spec"]["template"]["spec"]["containers"][0]
    script = str(container["args"][0])
    here = f"{conf} --port {port} --bind 127.0.0.1 --dir {tmp}"
    return script.replace("redis-server /etc/redis/redis.conf", f"{find_redis_server()} {here}")


@pytest.mark.parametrize("password", ["changeme", ""], ids=["placeholder", "empty"])
def test_the_kubernetes_redis_refuses_the_placeholder_password(
    tmp_path: Path, password: str
) -> None:
    """The StatefulSet's start script, run by sh, exits with a message for the example
    Secret's password and for none."""
    script = _start_script(K8S_CONF, free_port(), tmp_path)
    env = {"PATH": "/usr/bin:/bin", "REDIS_PASSWORD": password}
    done = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True,
                          timeout=10, check=False)  # fmt: skip
    assert done.returncode == 1
    assert "zoomq-redis password is empty or the example placeholder" in done.stderr


def test_the_kubernetes_redis_starts_with_a_real_password_and_probes_need_pong(
    tmp_path: Path,
) -> None:
    """With a real password the same script runs redis-server with requirepass; the
    startup, readiness and liveness probes pass with REDISCLI_AUTH (as the pod sets it)
    and fail on the NOAUTH error reply without it."""
    container = _redis_set()["spec"]["template"]["spec"]["containers"][0]
    password = "a-real-redis-password-0123456789"
    port = free_port()
    script = _start_script(K8S_CONF, port, tmp_path)
    auth = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert auth["REDISCLI_AUTH"] == auth["REDIS_PASSWORD"]
    env = {"PATH": "/usr/bin:/bin", "REDIS_PASSWORD": password}
    process = subprocess.Popen(
        ["sh", "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    try:
        wait_for_redis(port, password, process)
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            sh, flag, command = container[probe]["exec"]["command"]
            assert (sh, flag) == ("sh", "-c"), probe
            command = command.replace("redis-cli", f"redis-cli -p {port}")
            for env, passes in (({"REDISCLI_AUTH": password}, True), ({}, False)):
                done = subprocess.run(["sh", "-c", command], env={"PATH": "/usr/bin:/bin", **env},
                                      capture_output=True, timeout=10, check=False)  # fmt: skip
                assert (done.returncode == 0) is passes, (probe, env)
    finally:
        process.terminate()
        process.wait(10)
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 1800  # long AOF loads
