"""deploy/k8s/ rendered as the cluster would receive it (`kubectl kustomize` of each
overlay) and checked: every object matches the Kubernetes API schema; every Deployment
has HTTP probes on the contract's health URL, requests and limits, and runs non-root
with a read-only root and no capabilities; only the gateway is behind the TLS Ingress;
the chat path autoscales; every service has a disruption budget; network policies
allow exactly the documented connections; secrets are referenced, documented and never
written into the manifests."""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.test_compose import SERVICES as COMPOSE_SERVICES
from tests.test_compose import env_vars_accepted, environment

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ["dev", "prod"]
# Port and health URL of each deployable (CONTRACT.md "Ports and commands").
HEALTH = {
    "gateway": (8000, "/health"),
    "core-banking": (8001, "/health"),
    "rasa": (5005, "/"),
    "actions": (5055, "/health"),
}
COMPOSE_NAME = {"core-banking": "core_banking"}
AUTOSCALED = {"gateway", "rasa", "actions"}
EXTERNAL = {"postgres-primary", "postgres-replica", "redis", "rabbitmq"}
# Who may connect to whom: in-namespace components, plus pods of other namespaces
# written as "namespace/app-name" (ingress-nginx's controller, Prometheus).
ALLOWED_PEERS = {
    "gateway": {"ingress-nginx/ingress-nginx", "actions", "monitoring/prometheus"},
    "rasa": {"gateway"},
    "actions": {"rasa", "monitoring/prometheus"},
    "core-banking": {"gateway", "actions", "monitoring/prometheus"},
}
# Read by Rasa itself rather than through bot/endpoints.yml.
RASA_RUNTIME_VARIABLES = {"RASA_TELEMETRY_ENABLED"}
SECRET_NAME = re.compile(r"(TOKEN|_KEY|PASSWORD|SECRET|DATABASE_URL|REDIS_URL)$")
UNPRIVILEGED_UID = 10001  # docker/*.Dockerfile `USER`
KUBERNETES_VERSION = "1.37.0"  # the schemas kubernetes-validate ships for

pytestmark = pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl (with kustomize) is not installed"
)


@cache
def render(overlay: str) -> tuple[dict[str, Any], ...]:
    done = subprocess.run(
        ["kubectl", "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return tuple(d for d in yaml.safe_load_all(done.stdout) if d)


def of_kind(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in render(overlay) if d["kind"] == kind}


def pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


def all_containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(deployment)
    return [*spec.get("initContainers", []), *spec["containers"]]


def main_container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = pod_spec(deployment)["containers"]
    return container


def quantity(value: str | int) -> float:
    """CPU in cores or memory in bytes."""
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_manifests_match_the_kubernetes_schema(overlay: str) -> None:
    """Strict: an unknown or misspelt field (`livenessprobe:`) is an error, not ignored."""
    for document in render(overlay):
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            name = f"{document['kind']}/{document['metadata']['name']}"
            pytest.fail(f"{name}: {str(error).splitlines()[0]}")


def test_every_deployable_is_a_deployment_with_a_service(overlay: str) -> None:
    deployments = of_kind(overlay, "Deployment")
    services = of_kind(overlay, "Service")
    assert set(deployments) == set(HEALTH)
    for name, (port, _) in HEALTH.items():
        service = services[name]
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert matches({"matchLabels": service["spec"]["selector"]}, labels), name
        assert [p["port"] for p in service["spec"]["ports"]] == [port], name
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", name
        ports = main_container(deployments[name])["ports"]
        assert [(p["name"], p["containerPort"]) for p in ports] == [("http", port)], name


def test_no_service_is_exposed_but_through_the_ingress(overlay: str) -> None:
    for name, service in of_kind(overlay, "Service").items():
        kind = service["spec"].get("type", "ClusterIP")
        assert kind in {"ClusterIP", "ExternalName"}, (name, kind)


def test_probes_use_the_contract_health_urls(overlay: str) -> None:
    for name, deployment in of_kind(overlay, "Deployment").items():
        container = main_container(deployment)
        port, path = HEALTH[name]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            get = container[probe]["httpGet"]
            assert get["path"] == path, (name, probe)
            assert get["port"] in ("http", port), (name, probe)
        # A slow start must never be mistaken for a hang: the startup probe allows it.
        startup = container["startupProbe"]
        liveness = container["livenessProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 60, name
        assert liveness["failureThreshold"] >= 2, name


def test_every_container_has_requests_and_limits(overlay: str) -> None:
    for name, deployment in of_kind(overlay, "Deployment").items():
        for container in all_containers(deployment):
            resources = container.get("resources", {})
            for resource in ("cpu", "memory"):
                request = quantity(resources["requests"][resource])
                limit = quantity(resources["limits"][resource])
                assert 0 < request <= limit, (name, container["name"], resource)


def test_pods_run_unprivileged_with_read_only_roots(overlay: str) -> None:
    for name, deployment in of_kind(overlay, "Deployment").items():
        spec = pod_spec(deployment)
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] == UNPRIVILEGED_UID, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        assert not spec.get("hostNetwork") and not spec.get("hostPID"), name
        for container in all_containers(deployment):
            context = container["securityContext"]
            where = (name, container["name"])
            assert context["runAsNonRoot"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert not context.get("privileged"), where
            # A read-only root still needs somewhere to put temporary files.
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, where


def test_the_namespace_enforces_the_restricted_pod_security_profile(overlay: str) -> None:
    """The API server itself then refuses any pod that could run as root or escalate."""
    (namespace,) = of_kind(overlay, "Namespace").values()
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    name = namespace["metadata"]["name"]
    for document in render(overlay):
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == name, document["metadata"]["name"]


def test_images_run_as_the_uid_the_pods_demand() -> None:
    for dockerfile in (ROOT / "docker").glob("*.Dockerfile"):
        users = re.findall(r"^USER (\d+)", dockerfile.read_text(), re.M)
        assert users and int(users[-1]) == UNPRIVILEGED_UID, dockerfile.name


def test_only_the_gateway_is_behind_the_tls_ingress(overlay: str) -> None:
    (ingress,) = of_kind(overlay, "Ingress").values()
    spec = ingress["spec"]
    tls_hosts = {host for entry in spec["tls"] for host in entry["hosts"]}
    assert all(entry["secretName"] for entry in spec["tls"])
    assert "defaultBackend" not in spec
    paths = []
    for rule in spec["rules"]:
        assert rule["host"] in tls_hosts, rule["host"]
        for path in rule["http"]["paths"]:
            assert path["backend"]["service"]["name"] == "gateway", path
            paths.append(path["path"])
    assert "/ws" in paths and "/" in paths
    # Metrics and the service-token endpoints stay inside the cluster.
    assert not [p for p in paths if p.startswith(("/metrics", "/internal"))], paths
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/ssl-redirect"] == "true"


def test_the_chat_path_autoscales(overlay: str) -> None:
    autoscalers = of_kind(overlay, "HorizontalPodAutoscaler")
    assert set(autoscalers) == AUTOSCALED
    for name, hpa in autoscalers.items():
        spec = hpa["spec"]
        assert spec["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert 1 <= spec["minReplicas"] < spec["maxReplicas"], name
        if overlay == "prod":
            assert spec["minReplicas"] >= 2, f"{name}: one replica is no production"
        (metric,) = spec["metrics"]
        assert metric["resource"]["name"] == "cpu", name


def test_production_runs_every_service_twice_at_least() -> None:
    for name, deployment in of_kind("prod", "Deployment").items():
        assert deployment["spec"]["replicas"] >= 2, name
        image = main_container(deployment)["image"]
        assert re.search(r":\d+\.\d+\.\d+$", image), f"{name}: unpinned image {image}"


def test_every_service_has_a_disruption_budget_that_allows_drains(overlay: str) -> None:
    budgets = of_kind(overlay, "PodDisruptionBudget").values()
    for name, deployment in of_kind(overlay, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        (budget,) = [b for b in budgets if matches(b["spec"]["selector"], labels)]
        replicas = deployment["spec"]["replicas"]
        if "minAvailable" in budget["spec"]:
            assert budget["spec"]["minAvailable"] < replicas, name
        else:
            assert budget["spec"]["maxUnavailable"] >= 1, name


def allowed_peers(overlay: str, target: str) -> set[str]:
    """Everything the network policies let open a connection to `target`'s port."""
    deployments = of_kind(overlay, "Deployment")
    labels = deployments[target]["spec"]["template"]["metadata"]["labels"]
    port = HEALTH[target][0]
    peers: set[str] = set()
    for policy in of_kind(overlay, "NetworkPolicy").values():
        spec = policy["spec"]
        if not matches(spec["podSelector"], labels):
            continue
        assert "Ingress" in spec["policyTypes"]
        for rule in spec.get("ingress", []):
            if rule.get("ports") and port not in [p["port"] for p in rule["ports"]]:
                continue
            assert rule.get("from"), f"{policy['metadata']['name']} admits everyone"
            for peer in rule["from"]:
                assert "ipBlock" not in peer, policy["metadata"]["name"]
                pods = peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                namespace = peer.get("namespaceSelector")
                if namespace is None:
                    peers |= {n for n in deployments if n == pods}
                else:
                    name = namespace["matchLabels"]["kubernetes.io/metadata.name"]
                    peers.add(f"{name}/{pods}")
    return peers


def test_everything_is_denied_unless_allowed(overlay: str) -> None:
    policies = of_kind(overlay, "NetworkPolicy")
    deny = policies["default-deny-ingress"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}


@pytest.mark.parametrize("target", sorted(ALLOWED_PEERS))
def test_network_policies_allow_exactly_the_documented_connections(
    overlay: str, target: str
) -> None:
    assert allowed_peers(overlay, target) == ALLOWED_PEERS[target]


def test_only_the_gateway_is_reachable_from_the_ingress_controller(overlay: str) -> None:
    reachable = {t for t in HEALTH if "ingress-nginx/ingress-nginx" in allowed_peers(overlay, t)}
    assert reachable == {"gateway"}


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def test_environment_is_what_the_code_reads(overlay: str) -> None:
    for name, deployment in of_kind(overlay, "Deployment").items():
        service = COMPOSE_NAME.get(name, name)
        accepted = env_vars_accepted(service) | (
            RASA_RUNTIME_VARIABLES if name == "rasa" else set()
        )
        for container in all_containers(deployment):
            unknown = set(env_of(container)) - accepted
            assert not unknown, f"{name}/{container['name']} sets unread {unknown}"


def test_every_url_and_secret_compose_sets_is_set_here_too(overlay: str) -> None:
    """docker-compose.yml is checked against the code; the cluster must not lag it."""
    for name, deployment in of_kind(overlay, "Deployment").items():
        service = COMPOSE_NAME.get(name, name)
        wanted = {
            v
            for v in environment(service)
            if v.endswith("_URL") or SECRET_NAME.search(v) or v == "FORWARDED_ALLOW_IPS"
        }
        missing = wanted - set(env_of(main_container(deployment)))
        assert not missing, f"{name} lacks {missing}"


def secret_references(overlay: str) -> set[tuple[str, str]]:
    references = set()
    for deployment in of_kind(overlay, "Deployment").values():
        for container in all_containers(deployment):
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    references.add((ref["name"], ref["key"]))
        for volume in pod_spec(deployment).get("volumes", []):
            if "secret" in volume:
                for item in volume["secret"]["items"]:
                    references.add((volume["secret"]["secretName"], item["key"]))
    return references


def test_secrets_are_referenced_never_written(overlay: str) -> None:
    assert not of_kind(overlay, "Secret"), "a Secret would put its values in git"
    dev_values = {
        value
        for name in COMPOSE_SERVICES
        for key, value in environment(name).items()
        if SECRET_NAME.search(key)
    }
    for name, deployment in of_kind(overlay, "Deployment").items():
        for container in all_containers(deployment):
            for key, entry in env_of(container).items():
                if SECRET_NAME.search(key):
                    assert "secretKeyRef" in entry.get("valueFrom", {}), (name, key)
                value = str(entry.get("value", ""))
                assert value not in dev_values, (name, key)
                assert not re.search(r"://[^/@\s]+:[^/@\s]+@", value), (name, key)


def test_every_referenced_secret_is_documented(overlay: str) -> None:
    """docs/operations.md has the command that creates each secret and key used."""
    runbook = (ROOT / "docs" / "operations.md").read_text()
    for secret, key in secret_references(overlay):
        command = re.search(
            rf"kubectl -n \S+ create secret generic {secret}\b(.*?)(?:\n\n|```)", runbook, re.S
        )
        assert command, f"no `create secret generic {secret}` in docs/operations.md"
        assert re.search(rf"--from-(literal|file)={key}=", command.group(1)), (secret, key)
    for ingress in of_kind(overlay, "Ingress").values():
        for entry in ingress["spec"]["tls"]:
            assert f"create secret tls {entry['secretName']}" in runbook


def test_external_dependencies_are_named_services(overlay: str) -> None:
    services = of_kind(overlay, "Service")
    for name in EXTERNAL:
        assert services[name]["spec"]["type"] == "ExternalName", name
        assert services[name]["spec"]["externalName"], name
