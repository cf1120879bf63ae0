"""What the deploy tests look at: kustomize builds, the pod templates in them, and the rules they obey.

``build(dir)`` runs the real ``kubectl kustomize`` (cached per directory for the session) and skips
with a one-line reason when kubectl is missing or when a directory the build needs has not been
written yet. ``pod_templates(objs)`` yields every pod the objects would create: Deployment pod
templates, and for Argo kinds the pod of each container template, assembled the way Argo does
(Workflow-level security context and volumes, template-level ones on top, plus Argo's own
``init``/``wait`` containers). ``restricted_violations(pod)`` checks a pod against the Pod Security
Standard "restricted", field by field.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
KUSTOMIZE = REPO / "kustomize"

#: Every directory a person or Argo CD builds with kustomize.
OVERLAYS = ("overlays/dev", "overlays/production")
PLATFORM_BUILDS = ("base", *OVERLAYS)
#: What a namespace that runs QiskitJobs applies (``kubectl apply -n NS -k``): Aer only, or with IBM
#: Quantum, or production's (IBM Quantum and the artifact repository ConfigMap).
JOB_NAMESPACE_BUILDS = ("job-namespace", "job-namespace-ibm", "overlays/production/job-namespace")
ALL_BUILDS = (*PLATFORM_BUILDS, *JOB_NAMESPACE_BUILDS, "argocd", "argocd/apps")

#: Directories written by other parts of the project that the platform builds include, and who.
FOREIGN_INPUTS = {
    "crds/kustomization.yaml": "the generated CRDs (make generate)",
    "workflowtemplates/kustomization.yaml": "the generated ClusterWorkflowTemplates (make generate)",
    "controller/rbac.yaml": "the controller's RBAC (controller/)",
}

ARGO_KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")
POD_OWNER_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet")


def _missing_inputs(directory: str) -> list[str]:
    if directory not in PLATFORM_BUILDS:
        return []
    return [f"{path} ({who})" for path, who in FOREIGN_INPUTS.items() if not (REPO / path).exists()]


@cache
def _kustomize(directory: str) -> tuple[bool, str]:
    done = subprocess.run(
        ["kubectl", "kustomize", str(KUSTOMIZE / directory)], capture_output=True, text=True, timeout=60
    )
    return done.returncode == 0, done.stdout if done.returncode == 0 else done.stderr


def build(directory: str) -> list[dict[str, Any]]:
    """The objects ``kubectl kustomize kustomize/<directory>`` prints (fresh copies)."""
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed: the kustomize builds are not checked")
    missing = _missing_inputs(directory)
    if missing:
        pytest.skip(f"kustomize/{directory} needs what has not landed yet: {', '.join(missing)}")
    ok, output = _kustomize(directory)
    if not ok:
        pytest.fail(f"kubectl kustomize kustomize/{directory} failed:\n{output}")
    return [copy.deepcopy(doc) for doc in yaml.safe_load_all(output) if doc]


def name_of(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata", {})
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')} {where}{meta.get('name')}"


def find(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for obj in objs:
        if obj.get("kind") == kind and obj.get("metadata", {}).get("name") == name:
            return obj
    raise AssertionError(f"no {kind} {name} in the build (have: {sorted(name_of(o) for o in objs)})")


def of_kind(objs: list[dict[str, Any]], *kinds: str) -> list[dict[str, Any]]:
    return [obj for obj in objs if obj.get("kind") in kinds]


def sync_wave(obj: dict[str, Any]) -> int:
    return int(obj.get("metadata", {}).get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0"))


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def crds() -> dict[str, dict[str, Any]]:
    """The CustomResourceDefinitions in crds/ (what the platform ships), by ``group/Kind``."""
    found = {}
    for path in sorted((REPO / "crds").glob("*.yaml")):
        for doc in load_yaml_documents(path):
            if doc.get("kind") == "CustomResourceDefinition":
                found[f"{doc['spec']['group']}/{doc['spec']['names']['kind']}"] = doc
    return found


# --------------------------------------------------------------------------- pods


@dataclass
class Pod:
    """A pod some object would create: where it comes from and its PodSpec-shaped dict."""

    origin: str
    spec: dict[str, Any]
    labels: dict[str, str]


def argo_executor_containers() -> list[dict[str, Any]]:
    """Argo's ``init`` and ``wait`` containers as this repository configures them (the executor
    patch for workflow-controller-configmap); Argo gives them no securityContext otherwise."""
    patch = load_yaml_documents(KUSTOMIZE / "argo-workflows" / "executor-security-context.yaml")[0]
    executor = yaml.safe_load(patch["data"]["executor"])
    containers = []
    for name in ("init", "wait"):
        container = {"name": name, "image": "quay.io/argoproj/argoexec"}
        container.update(copy.deepcopy(executor))
        containers.append(container)
    return containers


def _argo_pods(obj: dict[str, Any], workflow_spec: dict[str, Any] | None = None) -> Iterator[Pod]:
    """One pod per container/script template: Workflow-level settings, then the template's."""
    spec = obj.get("spec", {})
    outer = workflow_spec if workflow_spec is not None else spec
    for template in spec.get("templates", []):
        main = template.get("container") or template.get("script")
        if main is None:
            continue
        security_context = {**outer.get("securityContext", {}), **template.get("securityContext", {})}
        containers = [{"name": "main", **main}, *template.get("sidecars", [])]
        pod = {
            "securityContext": security_context,
            "initContainers": [*argo_executor_containers()[:1], *template.get("initContainers", [])],
            "containers": [*containers, argo_executor_containers()[1]],
            "volumes": [*outer.get("volumes", []), *template.get("volumes", [])],
            "hostNetwork": template.get("hostNetwork", outer.get("hostNetwork", False)),
            "automountServiceAccountToken": template.get(
                "automountServiceAccountToken", outer.get("automountServiceAccountToken")
            ),
        }
        labels = {
            **(outer.get("podMetadata") or {}).get("labels", {}),
            **template.get("metadata", {}).get("labels", {}),
        }
        yield Pod(f"{name_of(obj)} template {template.get('name')}", pod, labels)


def pod_templates(objs: list[dict[str, Any]]) -> Iterator[Pod]:
    """Every pod the objects describe (Deployments and friends, Pods, Argo templates)."""
    for obj in objs:
        kind = obj.get("kind")
        if kind in POD_OWNER_KINDS:
            template = obj["spec"]["template"]
            yield Pod(name_of(obj), template["spec"], template.get("metadata", {}).get("labels", {}))
        elif kind == "CronJob":
            template = obj["spec"]["jobTemplate"]["spec"]["template"]
            yield Pod(name_of(obj), template["spec"], template.get("metadata", {}).get("labels", {}))
        elif kind == "Pod":
            yield Pod(name_of(obj), obj["spec"], obj.get("metadata", {}).get("labels", {}))
        elif kind in ARGO_KINDS:
            yield from _argo_pods(obj)


def containers_of(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod.get("containers", []), *pod.get("ephemeralContainers", [])]


# --------------------------------------------------------------------------- Pod Security "restricted"

#: Volume types the restricted profile allows.
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
#: Sysctls the baseline/restricted profiles allow.
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}


def _effective(pod: dict[str, Any], container: dict[str, Any], field: str) -> Any:
    """A security setting as the kubelet resolves it: the container's, else the pod's."""
    own = container.get("securityContext", {}) or {}
    if field in own:
        return own[field]
    return (pod.get("securityContext", {}) or {}).get(field)


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """Every way ``pod`` (a PodSpec) breaks the Pod Security Standard "restricted" (latest)."""
    problems: list[str] = []
    pod_sc = pod.get("securityContext", {}) or {}
    # Baseline: host namespaces, host ports, hostPath, privileged, capabilities, /proc, sysctls...
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            problems.append(f"spec.{field} is true")
    if (pod_sc.get("windowsOptions") or {}).get("hostProcess"):
        problems.append("securityContext.windowsOptions.hostProcess is true")
    for sysctl in pod_sc.get("sysctls", []) or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            problems.append(f"sysctl {sysctl.get('name')} is not in the safe set")
    selinux = pod_sc.get("seLinuxOptions") or {}
    if selinux.get("user") or selinux.get("role"):
        problems.append("pod seLinuxOptions sets user/role")
    for volume in pod.get("volumes", []) or []:
        types = set(volume) - {"name"}
        if not types <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume.get('name')} has type {sorted(types - RESTRICTED_VOLUME_TYPES)}")
    if (pod_sc.get("seccompProfile") or {}).get("type") == "Unconfined":
        problems.append("pod seccompProfile is Unconfined")
    if pod_sc.get("runAsUser") == 0:
        problems.append("pod runAsUser is 0")

    for container in containers_of(pod):
        where = f"container {container.get('name')}"
        sc = container.get("securityContext", {}) or {}
        if sc.get("privileged"):
            problems.append(f"{where}: privileged")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            problems.append(f"{where}: hostProcess")
        for port in container.get("ports", []) or []:
            if port.get("hostPort"):
                problems.append(f"{where}: hostPort {port['hostPort']}")
        if sc.get("procMount", "Default") != "Default":
            problems.append(f"{where}: procMount {sc['procMount']}")
        c_selinux = sc.get("seLinuxOptions") or {}
        if c_selinux.get("user") or c_selinux.get("role"):
            problems.append(f"{where}: seLinuxOptions sets user/role")
        # Restricted
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation is not false")
        if _effective(pod, container, "runAsNonRoot") is not True:
            problems.append(f"{where}: runAsNonRoot is not true (container or pod)")
        if _effective(pod, container, "runAsUser") == 0:
            problems.append(f"{where}: runAsUser is 0")
        seccomp = (_effective(pod, container, "seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{where}: seccompProfile is {seccomp!r}, not RuntimeDefault or Localhost")
        capabilities = sc.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            problems.append(f"{where}: capabilities.drop does not contain ALL")
        added = set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}
        if added:
            problems.append(f"{where}: adds capabilities {sorted(added)}")
    return problems
