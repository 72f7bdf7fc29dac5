"""docker-compose.yml: valid for the Compose Specification, and every command, variable,
port and volume in it is one zoomq's code reads."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import ValidationError

from tests.conftest import REPO
from tests.deploy.manifests import (
    COMPOSE_FILE,
    COMPOSE_ONLY,
    ENV_EXAMPLE,
    NOT_SETTINGS,
    THIRD_PARTY_ENV,
    WORKER_GRACE,
    compose_model,
    conf_directive,
    env_example,
    known_to_zoomq,
    parse_zoomq,
    raw_compose,
    redis_with_password,
    run_compose,
    size_bytes,
)
from zoomq.runtime.names import QUEUES
from zoomq.settings import Settings, env_vars

ZOOMQ_IMAGE = "zoomq:local"
#: Files of the observability work, mounted by the monitoring profile.
OBSERVABILITY = (
    "deploy/observability/prometheus/alerts.yml",
    "deploy/observability/grafana/zoomq.json",
)


def _services() -> dict[str, dict[str, Any]]:
    return dict(compose_model()["services"])


def _zoomq_services() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in _services().items() if s.get("image") == ZOOMQ_IMAGE}


def _commands() -> dict[str, tuple[str, dict[str, Any]]]:
    return {n: parse_zoomq(s["command"]) for n, s in _zoomq_services().items()}


def _seconds(duration: str) -> int:
    """A Go duration as compose prints it (``30m30s``) in seconds."""
    parts = re.findall(r"(\d+)([hms])", duration)
    assert "".join(n + u for n, u in parts) == duration, duration
    return sum(int(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


def _check_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_the_compose_file_validates_against_the_compose_specification() -> None:
    """check-jsonschema's copy of compose-spec.json accepts the file as written."""
    done = _check_schema(COMPOSE_FILE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_refuses_a_broken_file(tmp_path: Path) -> None:
    """The same check fails on a service key the specification does not have."""
    broken = raw_compose()
    broken["services"]["receiver"]["restart_policy"] = "always"
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    done = _check_schema(path)
    assert done.returncode == 1
    assert "restart_policy" in done.stdout


@pytest.mark.parametrize("profile", ["", "sandbox", "s3", "monitoring", "*"])
def test_docker_compose_itself_accepts_every_profile(profile: str) -> None:
    """`docker compose config` (Compose v2, no daemon needed) resolves each profile."""
    done = run_compose(*(["--profile", profile] if profile else []), "config", "--quiet")
    assert done.returncode == 0, done.stderr


def test_the_webhook_secret_is_required(tmp_path: Path) -> None:
    """Without ZOOM_WEBHOOK_SECRET_TOKEN compose refuses to start anything, naming it."""
    env = tmp_path / ".env"
    lines = ENV_EXAMPLE.read_text().splitlines()
    env.write_text("\n".join(x for x in lines if not x.startswith("ZOOM_WEBHOOK_SECRET_TOKEN")))
    done = run_compose("config", "--quiet", env_file=env)
    assert done.returncode != 0
    assert "ZOOM_WEBHOOK_SECRET_TOKEN" in done.stderr


def test_one_image_built_once() -> None:
    """Every zoomq service runs zoomq:local; exactly one of them builds it, from deploy/."""
    raw = raw_compose()["services"]
    zoomq = {n for n, s in raw.items() if s.get("image") == ZOOMQ_IMAGE}
    assert {"receiver", "worker", "worker-downloads", "worker-bulk", "sandbox"} <= zoomq
    builders = [n for n, s in raw.items() if "build" in s]
    assert builders == ["receiver"]
    build = raw["receiver"]["build"]
    assert (REPO / build["context"] / build["dockerfile"]).is_file()


def test_every_command_is_a_real_zoomq_command() -> None:
    """The CLI itself parses each service's command (unknown options and values fail)."""
    commands = _commands()
    assert commands["receiver"][0] == "receiver"
    assert commands["sandbox"][0] == "sandbox"
    workers = {n: p for n, (c, p) in commands.items() if c == "worker"}
    assert set(workers) == {"worker", "worker-downloads", "worker-bulk"}
    consumed = [q for p in workers.values() for q in p["queues"].split(",")]
    assert sorted(consumed) == sorted(QUEUES), "each queue consumed by exactly one service"
    assert workers["worker-downloads"]["queues"] == "downloads"
    assert workers["worker-bulk"]["queues"] == "bulk"


def test_every_variable_is_one_the_code_reads() -> None:
    """zoomq services get settings (or documented exceptions); other images their own."""
    for name, service in _services().items():
        env = service.get("environment") or {}
        if service.get("image") == ZOOMQ_IMAGE:
            unknown = sorted(v for v in env if not known_to_zoomq(v))
            assert unknown == [], f"{name}: no zoomq setting reads {unknown}"
            continue
        image = str(service["image"]).rsplit(":", 1)[0]
        prefixes = THIRD_PARTY_ENV.get(image, ())
        stray = sorted(v for v in env if not v.startswith(prefixes))
        assert stray == [], f"{name} ({image}): variables it does not read: {stray}"


def test_the_example_environment_gives_valid_settings_once_the_secret_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With .env.example, each zoomq service's environment is refused for its placeholders
    (the webhook secret, named) and accepted once real ones are set; REDIS_URL carries
    .env.example's REDIS_PASSWORD, Redis's requirepass."""
    monkeypatch.chdir(tmp_path)  # no .env of the working directory
    for name, service in _zoomq_services().items():
        if name == "sandbox":
            continue  # reads no Settings of its own
        env = {k: str(v) for k, v in service["environment"].items()}
        for variable in env_vars():
            monkeypatch.delenv(variable, raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        with pytest.raises(ValidationError, match="ZOOM_WEBHOOK_SECRET_TOKEN is a placeholder"):
            Settings()
        password = env_example()["REDIS_PASSWORD"]
        assert env["REDIS_URL"] == f"redis://:{password}@redis:6379/0", name
        assert _services()["redis"]["environment"]["REDISCLI_AUTH"] == password
        assert _services()["redis"]["command"][-2:] == ["--requirepass", password]
        real = "redis://:a-real-redis-password-0123456789@redis:6379/0"
        monkeypatch.setenv("REDIS_URL", real)
        monkeypatch.setenv("ZOOM_WEBHOOK_SECRET_TOKEN", "a-real-secret-for-this-test-0123456789")
        settings = Settings()
        assert settings.connection().account_id == env["ZOOM_ACCOUNT_ID"], name
        assert settings.redis_url == real


def test_ports_match_the_commands() -> None:
    """Published ports, health checks, the sandbox's URLs and the scrape targets all use
    the ports the commands listen on."""
    services, commands = _services(), _commands()
    receiver_port = commands["receiver"][1]["port"]
    assert [p["target"] for p in services["receiver"]["ports"]] == [receiver_port]
    health = " ".join(services["receiver"]["healthcheck"]["test"])
    assert f"http://127.0.0.1:{receiver_port}/readyz" in health

    sandbox = commands["sandbox"][1]
    assert [p["target"] for p in services["sandbox"]["ports"]] == [sandbox["port"]]
    hook = urlsplit(sandbox["webhook_url"])
    assert (hook.hostname, hook.port, hook.path) == ("receiver", receiver_port, "/webhooks/zoom")
    assert sandbox["host"] == services["sandbox"]["hostname"] == "sandbox"
    for name in ("worker", "worker-downloads", "worker-bulk", "receiver"):
        env = services[name]["environment"]
        base = urlsplit(env["ZOOM_API_BASE_URL"])
        assert (base.hostname, base.port) == ("sandbox", sandbox["port"])
        assert env["ZOOMQ_ARCHIVE_DOWNLOAD_HOSTS"] == f"sandbox:{sandbox['port']}"

    prometheus = yaml.safe_load((REPO / "deploy/monitoring/prometheus.yml").read_text())
    jobs = {j["job_name"]: j["dns_sd_configs"][0] for j in prometheus["scrape_configs"]}
    assert jobs["zoomq-receiver"]["port"] == receiver_port
    assert jobs["zoomq-receiver"]["names"] == ["receiver"]
    workers = sorted(n for n, (c, _) in commands.items() if c == "worker")
    assert sorted(jobs["zoomq-worker"]["names"]) == workers
    for name in workers:
        port = int(services[name]["environment"]["ZOOMQ_WORKER_METRICS_PORT"])
        assert port == jobs["zoomq-worker"]["port"]


def test_the_receiver_routes_named_exist() -> None:
    """/readyz and /webhooks/zoom, which compose probes and posts to, are receiver routes."""
    from receiver.app import create_app

    settings = Settings(_env_file=None, zoom_webhook_secret_token="a-real-secret-0123456789")
    paths = {getattr(r, "path", None) for r in create_app(settings).routes}
    assert {"/readyz", "/healthz", "/metrics", "/webhooks/zoom"} <= paths


def test_volumes_are_where_the_processes_look() -> None:
    """Redis gets deploy/redis.conf where its command reads it and /data for its AOF; the
    downloads worker's archive volume is its ZOOMQ_ARCHIVE_DEST; bind mounts exist."""
    services = _services()
    redis = services["redis"]
    mounts = {v["target"]: v for v in redis["volumes"]}
    config = redis["command"][1]
    assert Path(mounts[config]["source"]) == REPO / "deploy" / "redis.conf"
    assert mounts["/data"]["type"] == "volume"
    downloads = services["worker-downloads"]
    targets = {v["target"]: v for v in downloads["volumes"]}
    dest = downloads["environment"]["ZOOMQ_ARCHIVE_DEST"]
    assert targets[dest]["type"] == "volume"
    for name, service in services.items():
        for volume in service.get("volumes", []):
            if volume["type"] != "bind":
                continue
            source = Path(volume["source"]).relative_to(REPO).as_posix()
            if source in OBSERVABILITY and not (REPO / source).exists():
                continue  # written by the observability work, merged beside this one
            assert (REPO / source).exists(), f"{name} mounts {source}, which does not exist"


def test_the_monitoring_provisioning_points_at_the_mounts() -> None:
    """Prometheus loads the alert rules where compose mounts them; Grafana's provider reads
    the folder the dashboard is mounted into; the data source is the prometheus service."""
    services = _services()
    prom_mounts = {Path(v["source"]).relative_to(REPO).as_posix(): v["target"]
                   for v in services["prometheus"]["volumes"] if v["type"] == "bind"}  # fmt: skip
    prometheus = yaml.safe_load((REPO / "deploy/monitoring/prometheus.yml").read_text())
    assert prometheus["rule_files"] == [prom_mounts[OBSERVABILITY[0]]]
    assert (
        f"--config.file={prom_mounts['deploy/monitoring/prometheus.yml']}"
        in (services["prometheus"]["command"])
    )
    grafana = {Path(v["source"]).relative_to(REPO).as_posix(): v["target"]
               for v in services["grafana"]["volumes"] if v["type"] == "bind"}  # fmt: skip
    provisioning = REPO / "deploy/monitoring/grafana/provisioning"
    assert grafana["deploy/monitoring/grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = yaml.safe_load((provisioning / "dashboards/zoomq.yml").read_text())
    folder = provider["providers"][0]["options"]["path"]
    assert Path(grafana[OBSERVABILITY[1]]).parent == Path(folder)
    source = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())
    url = urlsplit(source["datasources"][0]["url"])
    assert url.hostname in services
    assert url.port == 9090


def test_restart_policies_and_stop_grace() -> None:
    """Long-running services restart; the bucket job runs once. Workers run the threads
    pool, where Celery enforces no task time limit: the grace period alone bounds the warm
    shutdown, longest for downloads, and below the visibility timeout (after which a
    killed worker's task is handed out again)."""
    for name, service in _services().items():
        expected = "no" if name == "minio-bucket" else "unless-stopped"
        assert service.get("restart") == expected, name
    workers = {n: p for n, (c, p) in _commands().items() if c == "worker"}
    assert set(workers) == set(WORKER_GRACE)
    for name, params in workers.items():
        service = _services()[name]
        assert params["pool"] == "threads", name
        grace = _seconds(service["stop_grace_period"])
        assert grace == WORKER_GRACE[name], name
        assert grace < int(service["environment"]["ZOOMQ_VISIBILITY_TIMEOUT"]), name
    assert max(WORKER_GRACE, key=WORKER_GRACE.__getitem__) == "worker-downloads"


def test_redis_maxmemory_is_below_its_memory_limit() -> None:
    """noeviction needs a finite maxmemory: compose passes one (REDIS_MAXMEMORY, by default
    deploy/redis.conf's) at ~75 % of the container's memory limit."""
    redis = _services()["redis"]
    command = redis["command"]
    maxmemory = size_bytes(command[command.index("--maxmemory") + 1])
    limit = size_bytes(redis["mem_limit"])
    assert 0 < maxmemory <= 0.8 * limit
    conf = (REPO / "deploy/redis.conf").read_text()
    assert size_bytes(conf_directive(conf, "maxmemory")) == maxmemory
    assert env_example()["REDIS_MAXMEMORY"] == conf_directive(conf, "maxmemory")


def test_only_loopback_ports_are_published() -> None:
    """Every published port, the receiver's included (plain HTTP: the TLS proxy goes in
    front), is bound to 127.0.0.1; Redis publishes none."""
    for name, service in _services().items():
        for port in service.get("ports", []):
            assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port}"
    assert "ports" not in _services()["redis"]


def test_redis_is_reachable_only_from_the_backend_network() -> None:
    """Redis is on the internal backend network alone, with the zoomq processes and Flower;
    the sandbox, MinIO, Prometheus and Grafana are not on it."""
    model = compose_model()
    assert model["networks"]["backend"].get("internal") is True
    services = _services()
    on_backend = {n for n, s in services.items() if "backend" in (s.get("networks") or {})}
    assert on_backend == {"redis", "receiver", "worker", "worker-downloads", "worker-bulk",
                          "flower"}  # fmt: skip
    assert set(services["redis"]["networks"]) == {"backend"}
    flower = services["flower"]
    assert (
        flower["environment"]["CELERY_BROKER_URL"] == services["worker"]["environment"]["REDIS_URL"]
    )
    assert not any("redis://" in part for part in flower["command"])


def _probe(command: str, port: int) -> str:
    # The probe as written, aimed at the test's Redis instead of the default port.
    return command.replace("redis-cli", f"redis-cli -p {port}")


@pytest.mark.parametrize("auth", [True, False], ids=["password", "no-password"])
def test_the_redis_healthcheck_needs_a_pong(tmp_path: Path, auth: bool) -> None:
    """The health check, run by sh against a real redis-server with requirepass, passes
    with the password (REDISCLI_AUTH) and fails on the NOAUTH error reply without it."""
    redis = _services()["redis"]
    kind, command = redis["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    password = "a-real-redis-password-0123456789"
    with redis_with_password(password, tmp_path) as port:
        env = {"PATH": "/usr/bin:/bin", **({"REDISCLI_AUTH": password} if auth else {})}
        done = subprocess.run(["sh", "-c", _probe(command, port)], env=env, timeout=10,
                              capture_output=True, check=False)  # fmt: skip
    assert (done.returncode == 0) is auth


def test_the_example_lists_exactly_what_compose_reads() -> None:
    """.env.example names every variable the compose file interpolates, and nothing else;
    each one is a zoomq setting, a documented exception, or compose's own."""
    done = run_compose("config", "--variables", "--format", "json")
    assert done.returncode == 0, done.stderr
    referenced = set(yaml.safe_load(done.stdout))
    example = env_example()
    assert set(example) == referenced
    unknown = [n for n in example if not known_to_zoomq(n) and n not in COMPOSE_ONLY]
    assert unknown == []
    set_by_compose = set(NOT_SETTINGS) - {"REDIS_PASSWORD"}
    assert set(COMPOSE_ONLY) | set_by_compose <= set(example)


def test_the_example_holds_no_secret() -> None:
    """Secrets in .env.example are placeholders (or the sandbox's public demo credentials)."""
    public = {"ZOOM_CLIENT_SECRET": "sandbox-secret", "ZOOMQ_API_KEYS": "[]"}
    for name, value in env_example().items():
        if not re.search(r"SECRET|PASSWORD|TOKEN|AUTH|KEYS", name) or name.endswith("_URL"):
            continue
        assert value == public.get(name) or "changeme" in value, f"{name}={value}"
