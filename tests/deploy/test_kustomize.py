"""Every kustomize directory builds, and what it builds is valid and wired the way the platform needs."""

from __future__ import annotations

import copy
import ipaddress
import re
from typing import Any

import pytest
import yaml

from qiskit_argo import naming, workflows
from qiskit_argo.steps import EGRESS_CLASSES, EGRESS_IBM_QUANTUM, SERVICE_STEPS, STEPS
from tests.deploy.builds import (
    ALL_BUILDS,
    ARGO_KINDS,
    JOB_NAMESPACE_BUILDS,
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
    built = copy.deepcopy(template["spec"])
    for step in built["templates"]:  # what components/gpu adds (test_gpu_component_...)
        if step["name"] in _gpu_templates():
            step.pop("nodeSelector", None)
            step.pop("tolerations", None)
    assert built == generated["spec"], "the built ClusterWorkflowTemplate differs from the generated one"


def _gpu_templates() -> set[str]:
    return {spec.name for spec in STEPS.values() if spec.component == GPU_COMPONENT}


GPU_COMPONENT = "executor-gpu"
GPU_NODE_SELECTOR = {"nvidia.com/gpu.present": "true"}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def test_gpu_component_schedules_exactly_the_gpu_templates_on_gpu_nodes() -> None:
    """components/gpu (in production) gives the templates that run on the executor-gpu image, and
    only those, the GPU nodes' selector and toleration; its JSON patch tests each index's name."""
    assert _gpu_templates(), "no step runs on the GPU image"
    generated = [step["name"] for step in workflows.cluster_workflow_template()["spec"]["templates"]]
    patch = yaml.safe_load((KUSTOMIZE / "components" / "gpu" / "gpu-scheduling.yaml").read_text())
    tested = {generated[int(op["path"].split("/")[3])]: op["value"] for op in patch if op["op"] == "test"}
    assert tested == {name: name for name in _gpu_templates()}, "components/gpu patches other template indices"
    template = find(build("overlays/production"), "ClusterWorkflowTemplate", naming.TEMPLATE_NAME)
    for step in template["spec"]["templates"]:
        if step["name"] in _gpu_templates():
            assert step["nodeSelector"] == GPU_NODE_SELECTOR and step["tolerations"] == [GPU_TOLERATION]
            assert step["container"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
        else:
            assert "nodeSelector" not in step and "tolerations" not in step, step["name"]


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
    return {naming.image(component) for component in ("controller", "validator", "executor", GPU_COMPONENT)}


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
    """The pod labels of a job step (from the ClusterWorkflowTemplate) or a service step (from
    the template its one-step Workflows carry)."""
    if step in SERVICE_STEPS:
        return workflows.step_labels(SERVICE_STEPS[step])
    template = next(t for t in workflows.cluster_workflow_template()["spec"]["templates"] if t["name"] == step)
    return template["metadata"]["labels"]


#: Every step, job and service, with its egress class.
EVERY_STEP = {**{name: spec.egress for name, spec in STEPS.items()}, **{n: s.egress for n, s in SERVICE_STEPS.items()}}
#: Where the Internet is open to pods of class ibm-quantum (HTTPS only): the namespaces with IBM Quantum.
IBM_BUILDS = ("overlays/production", "job-namespace-ibm", "overlays/production/job-namespace")
#: Every build that prepares a namespace for QiskitJobs.
NAMESPACE_BUILDS = (*PLATFORM_BUILDS, *JOB_NAMESPACE_BUILDS)


@pytest.mark.parametrize("directory", NAMESPACE_BUILDS)
def test_network_policies_fence_every_pod(directory: str) -> None:
    objs = build(directory)
    policies = of_kind(objs, "NetworkPolicy")
    deny = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}, "a default deny for the namespace"
    assert not deny[0]["spec"].get("ingress") and not deny[0]["spec"].get("egress")
    for pod in pod_templates(objs):
        assert any(_selects(p, pod.labels) for p in policies if p["spec"]["podSelector"]), f"{pod.origin}: no policy"
    for step in EVERY_STEP:
        labels = _step_labels(step)
        assert any(_selects(p, labels) for p in policies if p["spec"]["podSelector"]), f"{step} pods: no policy"


@pytest.mark.parametrize("directory", NAMESPACE_BUILDS)
def test_step_pods_reach_the_internet_only_where_ibm_quantum_is_enabled(directory: str) -> None:
    """Every step pod may reach what Argo's own containers need, on private addresses; only a pod
    of class ibm-quantum, and only where IBM Quantum is enabled, reaches a public address: port 443."""
    objs = build(directory)
    policies = of_kind(objs, "NetworkPolicy")
    for step, egress_class in EVERY_STEP.items():
        labels = _step_labels(step)
        assert labels[workflows.LABEL_EGRESS] == egress_class
        selecting = [p for p in policies if p["spec"]["podSelector"] and _selects(p, labels)]
        assert selecting, f"no NetworkPolicy selects the {step} pods ({workflows.LABEL_EGRESS}={egress_class})"
        for policy in selecting:
            assert "Egress" in policy["spec"]["policyTypes"] and not policy["spec"].get("ingress")
            for rule in policy["spec"].get("egress", []):
                assert rule.get("to"), f"{step}: an egress rule without `to` allows every address"
        public = {
            (cidr, port)
            for cidr, port in _egress_cidrs(selecting)
            if not any(ipaddress.ip_network(cidr).subnet_of(private) for private in PRIVATE)
        }
        if egress_class == EGRESS_IBM_QUANTUM and directory in IBM_BUILDS:
            assert public == {("0.0.0.0/0", 443)}, f"{step}: {public}"
        else:
            assert public == set(), f"{step} ({egress_class}) reaches public addresses in {directory}: {public}"


def _egress_classes(objs: list[dict[str, Any]]) -> set[str]:
    """The egress classes the NetworkPolicies among ``objs`` name (matchLabels or matchExpressions)."""
    named: set[str] = set()
    for policy in of_kind(objs, "NetworkPolicy"):
        selector = policy["spec"]["podSelector"]
        if workflows.LABEL_EGRESS in selector.get("matchLabels", {}):
            named.add(selector["matchLabels"][workflows.LABEL_EGRESS])
        for expression in selector.get("matchExpressions", []):
            if expression["key"] == workflows.LABEL_EGRESS:
                named.update(expression.get("values", []))
    return named


def test_network_policies_follow_the_step_registry() -> None:
    """The NetworkPolicies are static YAML; what they select follows the step registry: every
    egress class has its policy in every namespace that runs jobs, no policy names a class the
    registry does not know, and every registered step's class (job and service steps) is one of them."""
    for directory in NAMESPACE_BUILDS:
        assert _egress_classes(build(directory)) == set(EGRESS_CLASSES), directory
    assert set(EVERY_STEP.values()) <= set(EGRESS_CLASSES)
    assert {spec.egress for spec in SERVICE_STEPS.values()} == {EGRESS_IBM_QUANTUM}


def _internet_policies(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        p
        for p in of_kind(objs, "NetworkPolicy")
        if any(cidr == "0.0.0.0/0" for cidr, _ in _egress_cidrs([p])) and p["spec"]["podSelector"]
    ]


@pytest.mark.parametrize("directory", IBM_BUILDS)
def test_the_ibm_quantum_policy_selects_exactly_the_pods_that_talk_to_ibm(directory: str) -> None:
    objs = build(directory)
    (policy,) = _internet_policies(objs)
    assert policy["spec"]["podSelector"] == {"matchLabels": {workflows.LABEL_EGRESS: EGRESS_IBM_QUANTUM}}
    for step, egress_class in EVERY_STEP.items():
        assert _selects(policy, _step_labels(step)) == (egress_class == EGRESS_IBM_QUANTUM), step
    for pod in pod_templates(objs):
        talks_to_ibm = pod.labels.get(workflows.LABEL_EGRESS) == EGRESS_IBM_QUANTUM
        assert _selects(policy, pod.labels) == talks_to_ibm, pod.origin


def test_every_job_namespace_gets_the_same_ibm_quantum_policy() -> None:
    (platform,) = _internet_policies(build("overlays/production"))
    (team,) = _internet_policies(build("job-namespace-ibm"))
    assert platform["spec"] == team["spec"] and platform["metadata"]["name"] == team["metadata"]["name"]
    assert "namespace" not in team["metadata"]
    assert not _internet_policies(build("job-namespace")) and not _internet_policies(build("overlays/dev"))


def test_every_namespace_of_a_service_workflow_step_is_fenced() -> None:
    """The service Workflows (probe, cancel, sessions) run in the owner's namespace; their pods carry
    class ibm-quantum and the owner's labels, and the namespace's policies select them."""
    from qiskit_argo.catalogue import load_catalogue

    backends, _ = load_catalogue([REPO / "examples" / "catalogue"])
    workflow = workflows.probe_workflow(next(b for b in backends if b.spec.type == "ibm"))
    (template,) = [t for t in workflow["spec"]["templates"] if "container" in t]
    labels = {**workflow["spec"]["podMetadata"]["labels"], **template["metadata"]["labels"]}
    for directory in IBM_BUILDS:
        (policy,) = _internet_policies(build(directory))
        assert _selects(policy, labels), directory


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


@pytest.mark.parametrize("directory", PLATFORM_BUILDS)
def test_the_controller_never_gets_an_ibm_api_key(directory: str) -> None:
    """Everything that talks to IBM runs in a step whose pod alone gets the key (from the
    QiskitBackend's credentialsSecretRef); the controller mounts no Secret and reads none from env."""
    spec = find(build(directory), "Deployment", "qiskit-argo-controller")["spec"]["template"]["spec"]
    for container in spec["containers"] + spec.get("initContainers", []):
        for env in container.get("env", []):
            assert "secretKeyRef" not in env.get("valueFrom", {}), env["name"]
            assert "IBM" not in env["name"], env["name"]
        assert not any("secretRef" in source for source in container.get("envFrom", []))
    assert not any("secret" in volume for volume in spec.get("volumes", []))


# --------------------------------------------------------------------------- the job namespace unit


@pytest.mark.parametrize("directory", JOB_NAMESPACE_BUILDS)
def test_job_namespace_works_in_any_namespace(directory: str) -> None:
    objs = build(directory)
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
    components = {KUSTOMIZE / "components" / d for d in ("ibm", "sync-waves", "monitoring", "gpu")}
    nested = {
        KUSTOMIZE / "overlays" / "dev" / "minio",
        KUSTOMIZE / "overlays" / "production" / "artifact-repository",
        KUSTOMIZE / "base" / "namespaced",
    }
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
