"""deploy/k8s: the overlay renders with kustomize, validates against the Kubernetes and
KEDA schemas, and names only commands, variables, ports and Redis lists zoomq uses."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis
from pydantic import ValidationError

from tests.deploy.manifests import (
    K8S,
    KUBERNETES_VERSION,
    OVERLAY,
    WORKER_DEPLOYMENTS,
    WORKER_GRACE,
    known_to_zoomq,
    of_kind,
    parse_zoomq,
    rendered,
    size_bytes,
)
from zoomq.runtime.ledger import BrokerKeys
from zoomq.runtime.names import QUEUES
from zoomq.settings import QueueSettings, Settings, env_vars

KEDA_KINDS = {"ScaledObject", "TriggerAuthentication"}
#: The metadata KEDA's redis scaler reads (keda pkg/scalers/redis_scaler.go).
REDIS_SCALER_FIELDS = {
    "address", "addresses", "host", "hosts", "port", "ports", "listName", "listLength",
    "activationListLength", "databaseIndex", "enableTLS", "unsafeSsl", "username",
    "usernameFromEnv", "passwordFromEnv", "addressFromEnv", "hostFromEnv", "portFromEnv",
}  # fmt: skip


def _by_name(kind: str, docs: tuple[dict[str, Any], ...] | None = None) -> dict[str, Any]:
    return {d["metadata"]["name"]: d for d in of_kind(docs or rendered(), kind)}


def _pod(deployment: dict[str, Any]) -> dict[str, Any]:
    return dict(deployment["spec"]["template"]["spec"])


def _zoomq_containers() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, deployment in _by_name("Deployment").items():
        for container in _pod(deployment)["containers"]:
            if container["image"].rsplit(":", 1)[0].endswith("zoomq"):
                found.append((name, container))
    return found


def _environment(container: dict[str, Any]) -> dict[str, str]:
    """The container's variables: envFrom ConfigMaps and Secrets, then env (expanded)."""
    maps, secrets = _by_name("ConfigMap"), _by_name("Secret")
    values: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            values.update(maps[source["configMapRef"]["name"]]["data"])
        else:
            secret = secrets[source["secretRef"]["name"]]
            values.update(secret.get("stringData", {}))
    for item in container.get("env", []):
        if "value" in item:
            values[item["name"]] = re.sub(r"\$\((\w+)\)", lambda m: values[m[1]], item["value"])
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            values[item["name"]] = secrets[ref["name"]]["stringData"][ref["key"]]
    return values


def _queues(deployment: dict[str, Any]) -> list[str]:
    command, params = parse_zoomq(_pod(deployment)["containers"][0]["command"])
    assert command == "worker"
    return [q for q in params["queues"].split(",") if q]


def test_the_base_and_the_example_overlay_render() -> None:
    """kubectl's kustomize renders both; the overlay adds its Ingress and image."""
    base = {(d["kind"], d["metadata"]["name"]) for d in rendered(K8S / "base")}
    overlay = {(d["kind"], d["metadata"]["name"]) for d in rendered(OVERLAY)}
    assert ("Ingress", "receiver") in overlay - base
    for name, container in _zoomq_containers():
        assert container["image"] == "registry.example.com/zoomq:0.1.0", name


@pytest.mark.parametrize("path", [K8S / "base", OVERLAY], ids=["base", "overlay"])
def test_every_kubernetes_object_validates_against_its_schema(path: Path) -> None:
    """kubernetes-validate, strict (no unknown field), for the pinned Kubernetes version."""
    import kubernetes_validate

    for doc in rendered(path):
        if doc["kind"] in KEDA_KINDS:
            continue
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_kubernetes_validation_can_fail() -> None:
    """The same validation refuses a Deployment with a field Kubernetes does not have."""
    import kubernetes_validate

    bad = copy.deepcopy(_by_name("Deployment")["receiver"])
    bad["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def _keda_model(kind: str) -> Any:
    from cloudcoil.models.keda import v1alpha1

    return getattr(v1alpha1, kind)


def _keda_roundtrip(doc: dict[str, Any]) -> dict[str, Any]:
    model = _keda_model(doc["kind"]).model_validate(doc)
    return dict(model.model_dump(by_alias=True, exclude_none=True, mode="json"))


def test_keda_objects_match_keda_s_crd() -> None:
    """ScaledObjects and TriggerAuthentications parse with the models generated from KEDA's
    CRDs (cloudcoil-models-keda) and lose no field on the way: every field is KEDA's."""
    docs = [d for d in rendered() if d["kind"] in KEDA_KINDS]
    assert {d["kind"] for d in docs} == KEDA_KINDS
    for doc in docs:
        assert _keda_roundtrip(doc) == doc, doc["metadata"]["name"]


def test_the_keda_check_can_fail() -> None:
    """A misspelt ScaledObject field is dropped by the models, so the round trip differs;
    a wrong type is refused outright."""
    doc = copy.deepcopy(_by_name("ScaledObject")["worker-bulk"])
    doc["spec"]["minReplicas"] = 0
    assert _keda_roundtrip(doc) != doc
    doc = copy.deepcopy(_by_name("ScaledObject")["worker-bulk"])
    doc["spec"]["minReplicaCount"] = "none"
    with pytest.raises(ValidationError):
        _keda_roundtrip(doc)


def test_each_worker_scales_on_every_priority_list_of_its_queues() -> None:
    """Each worker Deployment has a ScaledObject whose redis triggers are exactly the lists
    kombu keeps its queues in (every priority step), summed by the formula."""
    deployments, scaled = _by_name("Deployment"), _by_name("ScaledObject")
    auths, secrets = _by_name("TriggerAuthentication"), _by_name("Secret")
    redis_service = _by_name("Service")["redis"]
    workers = {n: d for n, d in deployments.items() if n.startswith("worker-")}
    assert set(scaled) == set(workers)
    assert sorted(q for d in workers.values() for q in _queues(d)) == sorted(QUEUES)
    for name, obj in scaled.items():
        spec = obj["spec"]
        assert spec["scaleTargetRef"] == {"name": name}
        expected = [k for q in _queues(workers[name]) for k in BrokerKeys(lists=()).lists_of(q)]
        triggers = spec["triggers"]
        assert [t["metadata"]["listName"] for t in triggers] == expected
        assert {t["type"] for t in triggers} == {"redis"}
        formula = spec["advanced"]["scalingModifiers"]["formula"]
        assert sorted(re.findall(r"\w+", formula)) == sorted(t["name"] for t in triggers)
        for trigger in triggers:
            assert set(trigger["metadata"]) <= REDIS_SCALER_FIELDS
            host = trigger["metadata"]["address"].rsplit(":", 1)
            namespace = redis_service["metadata"]["namespace"]
            assert host == [f"redis.{namespace}.svc.cluster.local", "6379"]
            auth = auths[trigger["authenticationRef"]["name"]]
            for ref in auth["spec"]["secretTargetRef"]:
                assert ref["key"] in secrets[ref["name"]]["stringData"]


def test_the_triggers_count_the_messages_celery_puts_on_redis(redis_url: str) -> None:
    """Messages sent through zoomq's Celery app at every priority (0-9) to every queue land
    in the lists the ScaledObjects watch: each object counts all of its queues' messages."""
    from worker.app import create_celery

    app = create_celery(Settings(_env_file=None, redis_url=redis_url))
    try:
        for queue in QUEUES:
            for priority in range(10):
                app.send_task("zoomq.actions.getUser", args=[{}], queue=queue, priority=priority)
    finally:
        app.close()
    client = redis.Redis.from_url(redis_url)
    try:
        for name, obj in _by_name("ScaledObject").items():
            lists = [t["metadata"]["listName"] for t in obj["spec"]["triggers"]]
            queues = _queues(_by_name("Deployment")[name])
            assert sum(int(client.llen(k)) for k in lists) == 10 * len(queues), name
    finally:
        client.close()


def test_every_command_and_variable_is_one_zoomq_reads() -> None:
    """Each zoomq container's command is parsed by the CLI; every variable it gets is a
    setting or a documented exception."""
    names = {n for n, _ in _zoomq_containers()}
    assert names == {"receiver", "worker-events", "worker-downloads", "worker-bulk"}
    for name, container in _zoomq_containers():
        parse_zoomq(container["command"])
        assert "args" not in container
        unknown = sorted(v for v in _environment(container) if not known_to_zoomq(v))
        assert unknown == [], f"{name}: no zoomq setting reads {unknown}"


def test_the_example_secrets_fail_closed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The Secrets hold placeholders only, and zoomq refuses to start with them."""
    for secret in _by_name("Secret").values():
        for key, value in secret["stringData"].items():
            assert "changeme" in value or value.startswith("your-") or value == "[]", key
    monkeypatch.chdir(tmp_path)
    for name, container in _zoomq_containers():
        for variable in env_vars():
            monkeypatch.delenv(variable, raising=False)
        for key, value in _environment(container).items():
            monkeypatch.setenv(key, value)
        with pytest.raises(ValidationError, match="is a placeholder value"):
            Settings()
        monkeypatch.setenv("ZOOM_CLIENT_SECRET", "a-real-client-secret-for-the-test")
        monkeypatch.setenv("ZOOM_WEBHOOK_SECRET_TOKEN", "a-real-webhook-secret-for-the-test")
        # ... and the demo Redis password inside REDIS_URL is refused too.
        with pytest.raises(ValidationError, match="password is a placeholder"):
            Settings()
        assert _environment(container)["REDIS_URL"] == "redis://:changeme@redis:6379/0", name
        real = "redis://:a-real-redis-password-0123456789@redis:6379/0"
        monkeypatch.setenv("REDIS_URL", real)
        assert Settings().redis_url == real, name


def test_the_receiver_probes_ports_and_scaling() -> None:
    """Readiness on /readyz, liveness on /healthz, both on the port the command listens on;
    the Service, HPA and PDB point at the receiver's pods."""
    receiver = _by_name("Deployment")["receiver"]
    container = _pod(receiver)["containers"][0]
    _, params = parse_zoomq(container["command"])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": params["port"]}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    labels = receiver["spec"]["template"]["metadata"]["labels"]
    service = _by_name("Service")["receiver"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"].items() <= labels.items()
    hpa = _by_name("HorizontalPodAutoscaler")["receiver"]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "receiver",
    }
    assert hpa["minReplicas"] >= 2
    pdb = _by_name("PodDisruptionBudget")["receiver"]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()


def test_the_ingress_routes_only_receiver_paths() -> None:
    """The overlay's Ingress sends /webhooks/ and /oauth/ (and the jobs API's /v1/) to the
    receiver Service's port, and never /metrics."""
    from receiver.app import create_app

    settings = Settings(_env_file=None, zoom_webhook_secret_token="a-real-secret-0123456789")
    routes = [str(getattr(r, "path", "")) for r in create_app(settings).routes]
    ingress = _by_name("Ingress")["receiver"]
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert path["backend"]["service"] == {"name": "receiver", "port": {"name": "http"}}
            prefix = path["path"]
            assert prefix == "/v1/" or any(r.startswith(prefix) for r in routes), prefix
            assert not "/metrics".startswith(prefix)


def test_each_worker_type_gets_its_grace_period() -> None:
    """The workers run the threads pool, where Celery enforces no time limit: the grace
    period bounds the warm shutdown, per worker type as in compose (downloads longest),
    and stays below the visibility timeout (the settings model agrees with the limits)."""
    deployments = _by_name("Deployment")
    for service, name in WORKER_DEPLOYMENTS.items():
        pod = _pod(deployments[name])
        _, params = parse_zoomq(pod["containers"][0]["command"])
        assert params["pool"] == "threads", name
        env = _environment(pod["containers"][0])
        limits = QueueSettings(
            task_time_limit=int(env["ZOOMQ_TASK_TIME_LIMIT"]),
            visibility_timeout=int(env["ZOOMQ_VISIBILITY_TIMEOUT"]),
        )
        assert pod["terminationGracePeriodSeconds"] == WORKER_GRACE[service], name
        assert pod["terminationGracePeriodSeconds"] < limits.visibility_timeout, name


def test_no_worker_is_scaled_to_zero() -> None:
    """KEDA sees only the queue lists, not the messages being worked on (kombu's unacked):
    every ScaledObject keeps at least one replica, so a running job or download is never
    stopped for looking idle."""
    for name, obj in _by_name("ScaledObject").items():
        assert obj["spec"]["minReplicaCount"] >= 1, name


def test_only_the_receiver_gets_the_api_keys() -> None:
    """ZOOMQ_API_KEYS (read by the receiver's /v1 alone) is in a Secret no worker mounts;
    the S3 credentials only reach the downloads worker."""
    for name, container in _zoomq_containers():
        env = _environment(container)
        assert ("ZOOMQ_API_KEYS" in env) is (name == "receiver"), name
        assert ("AWS_SECRET_ACCESS_KEY" in env) is (name == "worker-downloads"), name


def test_the_ingress_takes_the_largest_body_the_receiver_accepts() -> None:
    """proxy-body-size is the largest NDJSON job (ZOOMQ_JOB_MAX_ITEMS lines of at most
    MAX_LINE_BYTES and a newline), rounded up to a MiB: above the JSON and webhook limits;
    nginx streams it unbuffered to the receiver, which enforces the real limits."""
    from receiver.jobs import MAX_JSON_BYTES, MAX_LINE_BYTES
    from zoomq.settings import JobsSettings, ReceiverSettings

    annotations = _by_name("Ingress")["receiver"]["metadata"]["annotations"]
    allowed = size_bytes(annotations["nginx.ingress.kubernetes.io/proxy-body-size"])
    largest = JobsSettings().max_items * (MAX_LINE_BYTES + 1)
    assert largest <= allowed < largest + (1 << 20)
    assert allowed > MAX_JSON_BYTES > ReceiverSettings().max_body_bytes
    assert annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "off"


def test_every_pod_runs_locked_down() -> None:
    """Non-root, no service account token, read-only root filesystem, no capabilities,
    no privilege escalation, the runtime's seccomp profile."""
    pods = [*_by_name("Deployment").values(), *_by_name("StatefulSet").values()]
    for workload in pods:
        pod = _pod(workload)
        name = workload["metadata"]["name"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert "memory" in container["resources"]["limits"], name


def test_network_policies_admit_only_what_the_stack_needs() -> None:
    """Ingress and egress denied by default; no rule admits every source; the receiver
    admits the ingress controller's and the monitoring namespaces; Redis zoomq's pods and
    KEDA; worker metrics monitoring. zoomq's pods may reach DNS, Redis and port 443;
    Redis nothing."""
    policies = _by_name("NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for name, policy in policies.items():
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("from"), f"{name} admits every source"

    def namespace(name: str) -> dict[str, Any]:
        return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}

    receiver = policies["receiver-ingress"]["spec"]
    assert receiver["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "receiver"
    assert receiver["ingress"] == [
        {"from": [namespace("ingress-nginx"), namespace("monitoring")],
         "ports": [{"port": 8000, "protocol": "TCP"}]}
    ]  # fmt: skip
    sources = policies["redis-ingress"]["spec"]["ingress"][0]["from"]
    zoomq_pods, keda = sources
    assert zoomq_pods["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "zoomq"
    assert keda == namespace("keda")
    metrics = policies["worker-metrics-ingress"]["spec"]["ingress"]
    assert metrics == [
        {"from": [namespace("monitoring")], "ports": [{"port": 9808, "protocol": "TCP"}]}
    ]
    egress = [p["spec"] for p in policies.values() if "Egress" in p["spec"]["policyTypes"]]
    allowing = [p for p in egress if p.get("egress")]
    assert [p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in allowing] == [
        "zoomq"
    ]
    ports = sorted((p["port"], p["protocol"]) for r in allowing[0]["egress"] for p in r["ports"])
    assert ports == [(53, "TCP"), (53, "UDP"), (443, "TCP"), (6379, "TCP")]
    redis_labels = _by_name("StatefulSet")["redis"]["spec"]["template"]["metadata"]["labels"]
    assert redis_labels.get("app.kubernetes.io/name") != "zoomq"  # no egress for Redis
    for _, deployment in _by_name("Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "zoomq"


def test_the_downloads_worker_refuses_the_placeholder_s3_secret() -> None:
    """The downloads worker's init container (run here as the same Python) exits naming
    AWS_SECRET_ACCESS_KEY for the example Secret's value or an empty one, and passes a
    real secret or none (a pod role)."""
    pod = _pod(_by_name("Deployment")["worker-downloads"])
    (init,) = pod["initContainers"]
    assert init["image"] == pod["containers"][0]["image"]
    assert init["securityContext"]["readOnlyRootFilesystem"] is True
    assert init["command"][0] == "python"
    env = _environment(init)
    cases = [(env["AWS_SECRET_ACCESS_KEY"], False), ("", False), ("a-real-s3-secret", True),
             (None, True)]  # fmt: skip
    for value, passes in cases:
        variables = {"PATH": "/usr/bin:/bin"}
        if value is not None:
            variables["AWS_SECRET_ACCESS_KEY"] = value
        done = subprocess.run([sys.executable, *init["command"][1:]], env=variables,
                              capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
        assert (done.returncode == 0) is passes, (value, done.stderr)
        if not passes:
            assert "AWS_SECRET_ACCESS_KEY is empty or the example placeholder" in done.stderr
