"""Every kustomize directory builds, and what it builds is valid and wired the way the platform needs."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import pytest

from qiskit_argo import naming, workflows
from qiskit_argo.steps import EGRESS_CLASSES, EGRESS_IBM_QUANTUM, EGRESS_NONE, STEPS
from tests.deploy.builds import (
    ALL_BUILDS,
    ARGO_KINDS,
    KUSTOMIZE,
    OVERLAYS,
    PLATFORM_BUILDS,
    REPO,
    build,
    crds,
    find,
    name_of,
    of_kind,
    pod_templates,
    sync_wave,
)
from tests.support.schemas import run_kubeconform, validate_against_crd, validate_argo, validate_k8s

NAMESPACE = "qiskit-argo"
#: Kinds checked elsewhere (tests/deploy/test_argocd.py): Argo CD has no schema beside the repo.
ARGO_CD_KINDS = ("Application", "AppProject")
PRIVATE = [ipaddress.ip_network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]


@pytest.mark.parametrize("directory", ALL_BUILDS)
def test_every_directory_builds(directory: str) -> None:
    objs = build(directory)
    assert objs, f"kustomize/{directory} builds nothing"
    names = [name_of(obj) for obj in objs]
    assert len(names) == len(set(names)), f"duplicate objects in kustomize/{directory}"


@pytest.mark.parametrize("directory", ALL_BUILDS)
def test_every_object_validates_strictly(directory: str) -> None:
    definitions = crds()
    checked = 0
    for obj in build(directory):
        group = obj["apiVersion"].rpartition("/")[0]
        if obj["kind"] in ARGO_KINDS:
            validate_argo(obj)
        elif f"{group}/{obj['kind']}" in definitions:
            validate_against_crd(obj, definitions[f"{group}/{obj['kind']}"])
        elif group == "argoproj.io" and obj["kind"] in ARGO_CD_KINDS:
            continue
        else:
            validate_k8s(obj)
        checked += 1
    assert checked or directory.startswith("argocd")


@pytest.mark.parametrize("directory", ALL_BUILDS)
def test_kubeconform_strict_where_installed(directory: str) -> None:
    objs = [obj for obj in build(directory) if obj["apiVersion"].rpartition("/")[0] != "argoproj.io"]
    problems = run_kubeconform(objs)
    if problems is None:
        pytest.skip("kubeconform is not installed (or has no schemas offline)")
    assert problems == []


@pytest.mark.parametrize("directory", PLATFORM_BUILDS)
def test_namespaced_objects_live_in_the_qiskit_argo_namespace(directory: str) -> None:
    objs = build(directory)
    namespace = find(objs, "Namespace", NAMESPACE)
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    cluster_scoped = {
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterWorkflowTemplate",
    }
    for obj in objs:
        if obj["kind"] in cluster_scoped:
            assert "namespace" not in obj["metadata"], name_of(obj)
        else:
            assert obj["metadata"].get("namespace") == NAMESPACE, name_of(obj)


@pytest.mark.parametrize("directory", PLATFORM_BUILDS)
def test_platform_contains_the_generated_crds_and_templates(directory: str) -> None:
    objs = build(directory)
    for crd in crds().values():
        find(objs, "CustomResourceDefinition", crd["metadata"]["name"])
    template = find(objs, "ClusterWorkflowTemplate", naming.TEMPLATE_NAME)
    generated = workflows.cluster_workflow_template()
    assert template["spec"] == generated["spec"], "the built ClusterWorkflowTemplate differs from the generated one"


@pytest.mark.parametrize("directory", PLATFORM_BUILDS)
def test_sync_waves_put_crds_and_templates_first(directory: str) -> None:
    objs = build(directory)
    waves: dict[str, list[int]] = {}
    for obj in objs:
        waves.setdefault(obj["kind"], []).append(sync_wave(obj))
    assert max(waves["CustomResourceDefinition"]) < min(waves["ClusterWorkflowTemplate"])
    assert max(waves["Namespace"]) < min(waves["ServiceAccount"])
    before_controller = (
        "ClusterWorkflowTemplate",
        "ServiceAccount",
        "Role",
        "ClusterRole",
        "RoleBinding",
        "ClusterRoleBinding",
        "NetworkPolicy",
        "Secret",
    )
    for kind in before_controller:
        if kind in waves:
            assert max(waves[kind]) < min(waves["Deployment"]), kind
    for kind in ("LimitRange", "ResourceQuota", "ConfigMap"):
        if kind in waves:
            assert max(waves[kind]) < min(waves["Deployment"]), kind


# --------------------------------------------------------------------------- images


def _our_images() -> set[str]:
    return {naming.image(component) for component in ("controller", "validator", "executor")}


@pytest.mark.parametrize("directory", PLATFORM_BUILDS)
def test_images_are_the_ones_the_makefile_builds(directory: str) -> None:
    objs = build(directory)
    used = {}
    for pod in pod_templates(objs):
        for container in pod.spec.get("containers", []) + pod.spec.get("initContainers", []):
            if container["name"] in ("init", "wait") and "argoproj" in container["image"]:
                continue
            used[f"{pod.origin} / {container['name']}"] = container["image"]
    ours = {where: img for where, img in used.items() if img.split("/")[0] == naming.IMAGE_REGISTRY}
    assert set(ours.values()) <= _our_images(), ours
    controller = find(objs, "Deployment", "qiskit-argo-controller")
    assert controller["spec"]["template"]["spec"]["containers"][0]["image"] == naming.image("controller")
    template = find(objs, "ClusterWorkflowTemplate", naming.TEMPLATE_NAME)
    for step in template["spec"]["templates"]:
        if "container" in step:
            assert step["container"]["image"] == naming.image(STEPS[step["name"]].component), step["name"]
    # Images from elsewhere are pinned to a release, never a floating tag.
    for where, img in used.items():
        if img in _our_images():
            continue
        assert re.search(r":[\w.-]*\d[\w.-]*$|@sha256:[0-9a-f]{64}$", img), f"{where}: {img} is not pinned"
        assert not img.endswith((":latest", ":main", ":master")), f"{where}: {img}"


# --------------------------------------------------------------------------- the controller


@pytest.mark.parametrize("directory", PLATFORM_BUILDS)
def test_controller_deployment(directory: str) -> None:
    objs = build(directory)
    deployment = find(objs, "Deployment", "qiskit-argo-controller")
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate", "exactly one kopf instance at a time"
    pod = spec["template"]["spec"]
    find(objs, "ServiceAccount", pod["serviceAccountName"])
    (container,) = pod["containers"]
    liveness = [a for a in container.get("args", []) + container.get("command", []) if a.startswith("--liveness=")]
    assert len(liveness) == 1, "the kopf health endpoint must be switched on with --liveness"
    match = re.fullmatch(r"--liveness=http://0\.0\.0\.0:(\d+)(/\S*)", liveness[0])
    assert match, liveness[0]
    port, path = int(match.group(1)), match.group(2)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("startupProbe", "livenessProbe"):
        http = container[probe]["httpGet"]
        assert http["path"] == path, probe
        assert ports.get(http["port"], http["port"]) == port, probe
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]], "a writable /tmp on a read-only root filesystem"


def test_production_turns_metrics_on_and_sets_limits() -> None:
    objs = build("overlays/production")
    container = find(objs, "Deployment", "qiskit-argo-controller")["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["cpu"] and container["resources"]["limits"]["memory"]
    metrics = {p["name"]: p["containerPort"] for p in container["ports"]}["metrics"]
    service = find(objs, "Service", "qiskit-argo-controller-metrics")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    assert any(
        port.get("port") == metrics
        for policy in of_kind(objs, "NetworkPolicy")
        for rule in policy["spec"].get("ingress", [])
        for port in rule.get("ports", [])
        if policy["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
        == "qiskit-argo-controller"
    ), "no NetworkPolicy opens the metrics port"
    find(objs, "LimitRange", "qiskit-argo-limits")
    find(objs, "ResourceQuota", "qiskit-argo-quota")


# --------------------------------------------------------------------------- network policies


def _selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"]
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        present = expression["key"] in labels
        if expression["operator"] == "Exists" and not present:
            return False
        if expression["operator"] == "In" and labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def _egress_cidrs(policies: list[dict[str, Any]]) -> set[tuple[str, int | None]]:
    allowed = set()
    for policy in policies:
        for rule in policy["spec"].get("egress", []):
            ports = [p.get("port") for p in rule.get("ports", [])] or [None]
            for peer in rule.get("to", []) or [{"ipBlock": {"cidr": "0.0.0.0/0"}}]:
                if "ipBlock" in peer:
                    for port in ports:
                        allowed.add((peer["ipBlock"]["cidr"], port))
    return allowed


def _step_labels(step: str) -> dict[str, str]:
    template = next(t for t in workflows.cluster_workflow_template()["spec"]["templates"] if t["name"] == step)
    return template["metadata"]["labels"]


@pytest.mark.parametrize("directory", PLATFORM_BUILDS)
def test_network_policies_fence_every_pod(directory: str) -> None:
    objs = build(directory)
    policies = of_kind(objs, "NetworkPolicy")
    deny = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}, "a default deny for the namespace"
    assert not deny[0]["spec"].get("ingress") and not deny[0]["spec"].get("egress")
    for pod in pod_templates(objs):
        assert any(_selects(p, pod.labels) for p in policies if p["spec"]["podSelector"]), f"{pod.origin}: no policy"


@pytest.mark.parametrize("directory", PLATFORM_BUILDS)
def test_steps_without_egress_never_reach_a_public_address(directory: str) -> None:
    objs = build(directory)
    policies = of_kind(objs, "NetworkPolicy")
    for step, spec in STEPS.items():
        egress_class = spec.egress
        labels = _step_labels(step)
        assert labels[workflows.LABEL_EGRESS] == egress_class
        selecting = [p for p in policies if p["spec"]["podSelector"] and _selects(p, labels)]
        if egress_class != EGRESS_NONE and directory != "overlays/production":
            continue  # a class with network (IBM Quantum) is opened only where its component is
        assert selecting, f"no NetworkPolicy selects the {step} pods ({workflows.LABEL_EGRESS}={egress_class})"
        if egress_class != EGRESS_NONE:
            continue
        for policy in selecting:
            assert "Egress" in policy["spec"]["policyTypes"] and not policy["spec"].get("ingress")
        for cidr, port in _egress_cidrs(selecting):
            network = ipaddress.ip_network(cidr)
            assert any(network.subnet_of(private) for private in PRIVATE), f"{step}: egress to {cidr}:{port}"
        for policy in selecting:
            for rule in policy["spec"].get("egress", []):
                assert rule.get("to"), f"{step}: an egress rule without `to` allows every address"


def _egress_classes(objs: list[dict[str, Any]]) -> set[str]:
    """The egress classes the NetworkPolicies among ``objs`` select on."""
    selected = (p["spec"]["podSelector"].get("matchLabels", {}) for p in of_kind(objs, "NetworkPolicy"))
    return {labels[workflows.LABEL_EGRESS] for labels in selected if workflows.LABEL_EGRESS in labels}


def test_network_policies_follow_the_step_registry() -> None:
    """The NetworkPolicies are static YAML; what they select follows the step registry: every
    egress class has its policy (``none`` in every namespace that runs jobs, the others in
    production through their components), no policy selects a class the registry does not know,
    and every registered step's class is one of them."""
    assert _egress_classes(build("job-namespace")) == {EGRESS_NONE}
    assert _egress_classes(build("overlays/production")) == set(EGRESS_CLASSES)
    assert _egress_classes(build("overlays/dev")) <= set(EGRESS_CLASSES)
    assert {spec.egress for spec in STEPS.values()} <= set(EGRESS_CLASSES)


def test_ibm_quantum_pods_reach_only_https_on_the_internet() -> None:
    objs = build("overlays/production")
    labels = {workflows.LABEL_EGRESS: EGRESS_IBM_QUANTUM}
    selecting = [p for p in of_kind(objs, "NetworkPolicy") if p["spec"]["podSelector"] and _selects(p, labels)]
    assert selecting, "production has no NetworkPolicy for IBM Quantum execution"
    public = {(cidr, port) for cidr, port in _egress_cidrs(selecting) if cidr == "0.0.0.0/0"}
    assert public == {("0.0.0.0/0", 443)}
    assert not build("overlays/dev") or not any(
        _selects(p, labels) for p in of_kind(build("overlays/dev"), "NetworkPolicy") if p["spec"]["podSelector"]
    ), "dev is Aer only: nothing may open the Internet to IBM execution pods"


@pytest.mark.parametrize("directory", PLATFORM_BUILDS)
def test_controller_reaches_only_the_api_server(directory: str) -> None:
    objs = build(directory)
    labels = find(objs, "Deployment", "qiskit-argo-controller")["spec"]["template"]["metadata"]["labels"]
    selecting = [p for p in of_kind(objs, "NetworkPolicy") if p["spec"]["podSelector"] and _selects(p, labels)]
    assert selecting
    egress = _egress_cidrs(selecting)
    assert egress and {port for _, port in egress} <= {443, 6443}
    assert all(any(ipaddress.ip_network(c).subnet_of(p) for p in PRIVATE) for c, _ in egress)


# --------------------------------------------------------------------------- secrets


def _strings(node: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        return [item for key, value in node.items() for item in _strings(value, f"{path}.{key}")]
    if isinstance(node, list):
        return [item for i, value in enumerate(node) for item in _strings(value, f"{path}[{i}]")]
    return [(path, node)] if isinstance(node, str) else []


@pytest.mark.parametrize("directory", ALL_BUILDS)
def test_no_credential_is_written_into_a_manifest(directory: str) -> None:
    objs = build(directory)
    for secret in of_kind(objs, "Secret"):
        assert not secret.get("data") and not secret.get("stringData"), f"{name_of(secret)} holds a literal value"
        assert secret.get("type") == "kubernetes.io/service-account-token", name_of(secret)
    for pod in pod_templates(objs):
        for container in pod.spec.get("containers", []) + pod.spec.get("initContainers", []):
            for env in container.get("env", []):
                if re.search(r"TOKEN|PASSWORD|SECRET_KEY|API_KEY|ROOT_USER", env["name"]) and not env["name"].endswith(
                    ("_SECRET_NAME", "_SECRET_KEY")
                ):
                    assert "value" not in env, f"{pod.origin}: {env['name']} is a literal; use valueFrom.secretKeyRef"
    for obj in objs:
        for path, value in _strings(obj):
            assert not re.search(r"\b[0-9a-f]{64,}\b|\b[A-Za-z0-9_-]{100,}\b", value) or "lua" in path, (
                f"{name_of(obj)} {path} looks like a credential"
            )


def test_production_references_the_ibm_token_by_secret_name_only() -> None:
    objs = build("overlays/production")
    config = find(objs, "ConfigMap", "qiskit-argo-ibm-quantum")["data"]
    assert set(config) == {"enabled", "channel", "tokenSecretName", "tokenSecretKey"}
    assert not of_kind(objs, "Secret") or all(
        s["metadata"]["name"] != config["tokenSecretName"] for s in of_kind(objs, "Secret")
    )
    env = {
        e["name"]: e
        for e in find(objs, "Deployment", "qiskit-argo-controller")["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["QISKIT_ARGO_IBM_TOKEN_SECRET_NAME"]["valueFrom"]["configMapKeyRef"]["key"] == "tokenSecretName"
    assert "QISKIT_ARGO_IBM_ENABLED" not in {
        e["name"]
        for e in find(build("overlays/dev"), "Deployment", "qiskit-argo-controller")["spec"]["template"]["spec"][
            "containers"
        ][0].get("env", [])
    }


# --------------------------------------------------------------------------- the job namespace unit


def test_job_namespace_works_in_any_namespace() -> None:
    objs = build("job-namespace")
    for obj in objs:
        assert "namespace" not in obj["metadata"], f"{name_of(obj)} pins a namespace; kubectl apply -n must decide"
    account = find(objs, "ServiceAccount", workflows.SERVICE_ACCOUNT)
    assert account.get("automountServiceAccountToken") is False
    token = find(objs, "Secret", f"{workflows.SERVICE_ACCOUNT}.service-account-token")
    assert token["metadata"]["annotations"]["kubernetes.io/service-account.name"] == workflows.SERVICE_ACCOUNT
    binding = find(objs, "RoleBinding", workflows.SERVICE_ACCOUNT)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": workflows.SERVICE_ACCOUNT}]


def test_the_workflow_service_account_is_the_one_the_templates_use() -> None:
    template = workflows.cluster_workflow_template()
    for step in template["spec"]["templates"]:
        if "container" in step:
            assert step["executor"]["serviceAccountName"] == workflows.SERVICE_ACCOUNT
            assert step["automountServiceAccountToken"] is False, f"{step['name']}: the step itself gets no token"


def test_dev_artifact_repository_points_at_its_minio() -> None:
    objs = build("overlays/dev")
    config = find(objs, "ConfigMap", "artifact-repositories")
    default = config["metadata"]["annotations"]["workflows.argoproj.io/default-artifact-repository"]
    import yaml

    repository = yaml.safe_load(config["data"][default])["s3"]
    service = find(objs, "Service", "minio")
    assert repository["endpoint"] == f"minio.{NAMESPACE}.svc:{service['spec']['ports'][0]['port']}"
    minio = find(objs, "Deployment", "minio")["spec"]["template"]["spec"]["containers"][0]
    secret_refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in minio["env"] if "valueFrom" in e}
    assert secret_refs == {repository["accessKeySecret"]["name"], repository["secretKeySecret"]["name"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_only_add_to_the_base(overlay: str) -> None:
    base = {name_of(obj) for obj in build("base")}
    assert base <= {name_of(obj) for obj in build(overlay)}


def test_every_kustomization_is_built_by_a_test() -> None:
    built = {KUSTOMIZE / d for d in ALL_BUILDS}
    components = {KUSTOMIZE / "components" / "ibm", KUSTOMIZE / "components" / "sync-waves"}
    nested = {KUSTOMIZE / "overlays" / "dev" / "minio", KUSTOMIZE / "base" / "namespaced"}
    for kustomization in KUSTOMIZE.rglob("kustomization.yaml"):
        assert kustomization.parent in built | components | nested, f"{kustomization} is never built by a test"


def test_production_gives_the_controller_the_platform_limits() -> None:
    import json

    from qiskit_argo.request import Limits

    objs = build("overlays/production")
    pod = find(objs, "Deployment", "qiskit-argo-controller")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (flag,) = [a for a in container["args"] if a.startswith("--limits=")]
    path = flag.removeprefix("--limits=")
    mount = next(m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/"))
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    config = find(objs, "ConfigMap", volume["configMap"]["name"])
    limits = Limits.model_validate(json.loads(config["data"][path.rsplit("/", 1)[1]]))
    assert limits.max_qubits >= 1


@pytest.mark.parametrize("directory", PLATFORM_BUILDS)
def test_controller_flags_are_ones_the_controller_understands(directory: str) -> None:
    import sys

    if str(REPO / "controller") not in sys.path and not (REPO / "controller" / "pyproject.toml").exists():
        sys.path.append(str(REPO / "controller"))
    cli = pytest.importorskip("qiskit_argo_controller.cli", reason="the controller package is not importable")
    container = find(build(directory), "Deployment", "qiskit-argo-controller")["spec"]["template"]["spec"][
        "containers"
    ][0]
    args = [a for a in container["args"] if not a.startswith("--limits=")]
    options, parsed = cli.parse_args(args)
    assert options.standalone, "one replica and Recreate: no peering"
    assert options.liveness
    assert (parsed.metrics_port != 0) == (directory == "overlays/production"), "metrics are on in production only"
