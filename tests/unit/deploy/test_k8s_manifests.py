"""deploy/k8s: every object `kubectl kustomize` renders is valid against its schema (Kubernetes' own, from
kubernetes-validate, offline; the operators' resources against deploy/k8s/schemas, derived from their
CRDs), and the installation keeps its promises: non-root, read-only, no capability, resources and
probes on every container; no secret value in the repository; one sealer; a quorum of queues; a
synchronous standby; PostgreSQL and RabbitMQ reachable only by the pods that need them.

Needs `kubectl` (its built-in kustomize) and the pinned `kubernetes-validate`: without them this
fails, naming what is missing, rather than skip."""
from __future__ import annotations

import copy
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import jsonschema
import pytest
import yaml

from confide_app.supervisor import SERVICES

REPO = Path(__file__).resolve().parents[3]
K8S = REPO / "deploy" / "k8s"
TREES = {"base": K8S / "base", "example": K8S / "overlays" / "example"}
#: the oldest Kubernetes release the manifests are checked against (endPort, policy/v1, seccompProfile)
KUBERNETES_VERSION = "1.30.0"
CUSTOM = {
    ("acid.zalan.do/v1", "postgresql"): K8S / "schemas" / "postgresql.acid.zalan.do_v1.schema.yaml",
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): K8S / "schemas" / "rabbitmq.com_v1beta1_rabbitmqcluster.schema.yaml",
}
REPLICATED = ("notes", "disclosures", "gateway", "web")
FRONT_DOORS = {"gateway": 8000, "web": 8080}
SINGLETON = "audit"  # the chain's sealer and the outbox relay


def _kubernetes_validate():
    try:
        import kubernetes_validate
    except ImportError:  # pragma: no cover - the failure itself is the message
        pytest.fail("kubernetes-validate is not installed: it is pinned in requirements.lock (deploy/setup.sh --venv)")
    return kubernetes_validate


@lru_cache(maxsize=None)
def rendered(tree: str) -> tuple[dict, ...]:
    """The objects `kubectl kustomize` renders from ``tree`` (base or the example overlay)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not on PATH: deploy/k8s is rendered with its built-in kustomize")
    out = subprocess.run([kubectl, "kustomize", str(TREES[tree])], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"kubectl kustomize {TREES[tree]} failed:\n{out.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(out.stdout) if doc)


def of_kind(kind: str, tree: str = "example") -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in rendered(tree) if o["kind"] == kind}


def deployment(service: str) -> dict:
    return of_kind("Deployment")[f"confide-{service}"]


def workloads() -> list[dict]:
    return [*of_kind("Deployment").values(), *of_kind("Job").values()]


def containers(workload: dict) -> list[dict]:
    spec = workload["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


@lru_cache(maxsize=None)
def custom_schema(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def schema_errors(obj: dict) -> list[str]:
    """Why ``obj`` does not validate (empty when it does). Raises KeyError for a kind with no schema."""
    kv = _kubernetes_validate()
    key = (obj["apiVersion"], obj["kind"])
    if key in CUSTOM:
        validator = jsonschema.Draft202012Validator(custom_schema(CUSTOM[key]))
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]
        if obj["kind"] == "RabbitmqCluster":
            errors += embedded_core_errors(obj["spec"])
        return errors
    try:
        kv.validate(obj, KUBERNETES_VERSION, strict=True)
    except kv.SchemaNotFoundError:
        raise KeyError(f"no schema for {key}: add one under deploy/k8s/schemas") from None
    except kv.ValidationError as exc:
        return [str(exc).splitlines()[0]]
    return []


def embedded_core_errors(spec: dict) -> list[str]:
    """RabbitmqCluster's ``affinity`` and ``resources`` are Kubernetes' own types: checked in a Pod."""
    kv = _kubernetes_validate()
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "affinity-check"},
           "spec": {"affinity": spec.get("affinity", {}),
                    "containers": [{"name": "c", "image": "i", "resources": spec.get("resources", {})}]}}
    try:
        kv.validate(pod, KUBERNETES_VERSION, strict=True)
    except kv.ValidationError as exc:
        return [f"affinity/resources: {str(exc).splitlines()[0]}"]
    return []


# -- schemas ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("tree", sorted(TREES))
def test_every_rendered_object_is_valid_against_its_schema(tree):
    objects = rendered(tree)
    assert {o["kind"] for o in objects} >= {"Deployment", "Job", "RabbitmqCluster", "postgresql", "NetworkPolicy",
                                            "PodDisruptionBudget", "Ingress", "Service", "ConfigMap"}
    problems = {f"{o['kind']}/{o['metadata']['name']}": schema_errors(o) for o in objects}
    assert {name: errs for name, errs in problems.items() if errs} == {}


def test_the_validators_refuse_what_they_should():
    """The checks are not vacuous: a misspelt field, a wrong type, an operator field out of its enum
    and a bad affinity are each refused."""
    misspelt = copy.deepcopy(deployment("notes"))
    misspelt["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    wrong_type = copy.deepcopy(deployment("notes"))
    wrong_type["spec"]["replicas"] = "two"
    old_pg = copy.deepcopy(of_kind("postgresql")["confide-pg"])
    old_pg["spec"]["postgresql"]["version"] = "9.6"
    typo_pg = copy.deepcopy(of_kind("postgresql")["confide-pg"])
    typo_pg["spec"]["patroni"]["synchronous_mod"] = True
    bad_affinity = copy.deepcopy(of_kind("RabbitmqCluster")["confide-rabbitmq"])
    bad_affinity["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0][
        "topologyKeys"] = "x"
    for broken in (misspelt, wrong_type, old_pg, typo_pg, bad_affinity):
        assert schema_errors(broken), broken["kind"]


def test_derived_schemas_state_their_source_and_licence():
    for path in CUSTOM.values():
        header = path.read_text().split("$schema")[0]
        assert re.search(r"github\.com/\S+", header) and re.search(r"commit[\s#]+[0-9a-f]{40}", header), path
        assert "License" in header or "Licence" in header or "licence" in header, path


# -- what every container keeps to ------------------------------------------------------------------


def test_every_container_runs_unprivileged_on_a_read_only_root():
    for workload in workloads():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] > 0
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod.get("automountServiceAccountToken") is False, workload["metadata"]["name"]
        for c in containers(workload):
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["readOnlyRootFilesystem"] is True, c["name"]
            assert sc["allowPrivilegeEscalation"] is False, c["name"]
            assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add"), c["name"]
            assert sc["seccompProfile"]["type"] == "RuntimeDefault", c["name"]


def test_every_container_has_requests_and_limits():
    for workload in workloads():
        for c in containers(workload):
            for side in ("requests", "limits"):
                assert set(c["resources"][side]) >= {"cpu", "memory"}, (c["name"], side)


def test_every_service_runs_as_confide_serve_and_is_probed():
    """One Deployment per service `confide run` starts, each started as `confide serve <name>`; the
    front doors are ready on GET /health and alive on a page that asks no dependency; the RPC
    workers are ready once they hold a broker connection."""
    assert {f"confide-{s}" for s in SERVICES} == set(of_kind("Deployment"))
    for service in SERVICES:
        (c,) = containers(deployment(service))
        assert c["command"] == ["confide", "serve", service]
        assert "readinessProbe" in c, service
        if service in FRONT_DOORS:
            ready, alive = c["readinessProbe"]["httpGet"], c["livenessProbe"]["httpGet"]
            assert ready["path"] == "/health" and ready["port"] == FRONT_DOORS[service] and ready["scheme"] == "HTTPS"
            assert alive["path"] != "/health" and alive["port"] == FRONT_DOORS[service]
        else:
            assert c["readinessProbe"]["exec"]["command"][:2] == ["sh", "-c"]


@pytest.mark.parametrize("line, ready", [
    ("   3: 0A000105:B2C4 0A6001E2:1627 01 00000000:00000000 00:00000000 00000000 10001 0 1 1 0", True),
    ("   4: 0100007F:D1F0 0100007F:1628 01 00000000:00000000 00:00000000 00000000 10001 0 2 1 0", True),
    ("   5: 0A000105:B2C4 0A6001E2:1627 06 00000000:00000000 00:00000000 00000000 10001 0 3 1 0", False),
    ("   6: 00000000:1628 00000000:0000 0A 00000000:00000000 00:00000000 00000000 10001 0 4 1 0", False),
    ("   7: 0A000105:B2C4 0A6001E2:1538 01 00000000:00000000 00:00000000 00000000 10001 0 5 1 0", False),
])
def test_the_workers_readiness_probe_reads_an_established_amqp_connection(tmp_path, line, ready):
    """The probe's own command, run on /proc/net/tcp lines: established (01) to 5671 or 5672 is ready;
    a closing connection, a listener, another port is not."""
    (c,) = containers(deployment("notes"))
    script = c["readinessProbe"]["exec"]["command"][2]
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    (tmp_path / "tcp").write_text(header + line + "\n")
    (tmp_path / "tcp6").write_text(header)
    script = script.replace("/proc/net/tcp6", str(tmp_path / "tcp6")).replace("/proc/net/tcp ", f"{tmp_path / 'tcp'} ")
    assert "/proc" not in script
    assert (subprocess.run(["sh", "-c", script], timeout=10).returncode == 0) is ready


# -- secrets ----------------------------------------------------------------------------------------

URI_WITH_PASSWORD = re.compile(r"[a-z]+://[^/@\s:]+:([^/@\s]+)@")


def test_no_secret_value_is_shipped():
    """No Secret object at all (each is made at installation, deploy/k8s/README.md); no URI carrying
    a password except through a `$(VAR)` taken from a Secret; every env value that names a password
    comes from a Secret."""
    for tree in TREES:
        assert [o for o in rendered(tree) if o["kind"] == "Secret"] == []
    for workload in workloads():
        for c in containers(workload):
            env = {e["name"]: e for e in c.get("env", [])}
            for name, e in env.items():
                for password in URI_WITH_PASSWORD.findall(e.get("value", "")):
                    ref = re.fullmatch(r"\$\(([A-Z_]+)\)", password)
                    assert ref and "secretKeyRef" in env[ref.group(1)].get("valueFrom", {}), (c["name"], name)
                if "PASSWORD" in name:
                    assert "secretKeyRef" in e.get("valueFrom", {}), (c["name"], name)
    for config_map in of_kind("ConfigMap").values():
        for key, value in config_map["data"].items():
            assert not URI_WITH_PASSWORD.search(value), (config_map["metadata"]["name"], key)


# -- the topology -----------------------------------------------------------------------------------


def test_the_sealer_and_relay_run_as_one_pod_at_a_time():
    audit = deployment(SINGLETON)
    assert audit["spec"]["replicas"] == 1
    assert audit["spec"]["strategy"] == {"type": "Recreate"}


def test_the_replicated_services_keep_one_replica_through_a_drain():
    budgets = of_kind("PodDisruptionBudget").values()
    for service in REPLICATED:
        d = deployment(service)
        assert d["spec"]["replicas"] >= 2, service
        labels = d["spec"]["template"]["metadata"]["labels"]
        (budget,) = [b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert 1 <= budget["spec"]["minAvailable"] < d["spec"]["replicas"], service


def test_rabbitmq_has_three_nodes_and_quorum_queues_by_default():
    (cluster,) = of_kind("RabbitmqCluster").values()
    assert cluster["spec"]["replicas"] == 3
    config = dict(line.split("=", 1) for line in cluster["spec"]["rabbitmq"]["additionalConfig"].splitlines()
                  if "=" in line)
    assert {k.strip(): v.strip() for k, v in config.items()}["default_queue_type"] == "quorum"
    assert cluster["spec"]["tls"]["disableNonTLSListeners"] is True


def test_postgresql_commits_on_a_synchronous_standby():
    (pg,) = of_kind("postgresql").values()
    assert pg["spec"]["numberOfInstances"] >= 2
    patroni = pg["spec"]["patroni"]
    assert patroni["synchronous_mode"] is True and patroni["synchronous_mode_strict"] is True
    assert patroni.get("synchronous_node_count", 1) >= 1
    assert pg["spec"]["postgresql"]["parameters"].get("synchronous_commit", "on") in ("on", "remote_apply")
    dsn = of_kind("ConfigMap")["confide-env"]["data"]["CONFIDE_DB_DSN"]
    assert f"@{pg['metadata']['name']}:5432/" in dsn and "sslmode=verify-full" in dsn


def _allowed_from(policy: dict, port: int) -> list[dict]:
    return [peer for rule in policy["spec"].get("ingress", [])
            if any(p["port"] == port for p in rule.get("ports", [])) for peer in rule.get("from", [])]


def test_only_the_pods_that_need_them_reach_postgresql_and_rabbitmq():
    policies = of_kind("NetworkPolicy")
    assert policies["default-deny-ingress"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    (pg,) = of_kind("postgresql").values()
    (rabbit,) = of_kind("RabbitmqCluster").values()
    for policy_name, port, client_label in (("confide-postgres", 5432, "confide/postgres-client"),
                                            ("confide-rabbitmq", 5671, "confide/rabbitmq-client")):
        peers = _allowed_from(policies[policy_name], port)
        assert peers and all("ipBlock" not in p for p in peers)
        assert {"podSelector": {"matchLabels": {client_label: "true"}}} in peers
    assert policies["confide-postgres"]["spec"]["podSelector"]["matchLabels"]["cluster-name"] == pg["metadata"]["name"]
    assert policies["confide-rabbitmq"]["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": rabbit["metadata"]["name"]}
    # The gateway never logs in to PostgreSQL (it asks the audit service); the others do.
    for service in SERVICES:
        labels = deployment(service)["spec"]["template"]["metadata"]["labels"]
        assert (labels.get("confide/postgres-client") == "true") is (service != "gateway"), service
        assert labels.get("confide/rabbitmq-client") == "true", service
    # The management API: the set-up Job alone among Confide's pods.
    admins = [w["metadata"]["name"] for w in workloads()
              if w["spec"]["template"]["metadata"]["labels"].get("confide/rabbitmq-admin") == "true"]
    assert admins == ["confide-setup"]


def test_the_overlay_names_the_front_doors_everywhere_alike():
    front = of_kind("ConfigMap")["confide-front-doors"]["data"]
    ingress = of_kind("Ingress")["confide"]
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert hosts == set(ingress["spec"]["tls"][0]["hosts"])
    assert {front["gateway_url"].removeprefix("https://"), front["web_base_url"].removeprefix("https://")} == hosts
    assert set(front["web_allowed_hosts"].split(",")) == {front["web_base_url"].removeprefix("https://"), "localhost"}
