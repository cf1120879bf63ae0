"""Every pod qiskit-argo creates satisfies the Pod Security Standard "restricted", field by field.

The pods: the Deployments of every overlay, each step pod of the ClusterWorkflowTemplate as Argo
assembles it (the Workflow's pod-level settings, the template's, Argo's own init/wait containers
configured by kustomize/argo-workflows), and the Workflows the controller builds for the examples.
The namespace enforces the same profile, so a pod that fails here would be rejected by the cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qiskit_argo import workflows
from qiskit_argo.manifests import load_manifests
from tests.deploy.builds import (
    PLATFORM_BUILDS,
    REPO,
    Pod,
    argo_executor_containers,
    build,
    containers_of,
    pod_templates,
    restricted_violations,
)

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))

#: The only pods allowed a service-account token in their own containers: they call the API.
NEEDS_API = {"Deployment qiskit-argo/qiskit-argo-controller"}


def _compliant() -> dict[str, Any]:
    return {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "c",
                "image": "x:1",
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }


# The checker itself, table-driven: each row breaks the compliant pod in one way.
BREAKS = [
    ("hostNetwork", lambda p: p.update(hostNetwork=True), "hostNetwork"),
    ("hostPID", lambda p: p.update(hostPID=True), "hostPID"),
    ("hostIPC", lambda p: p.update(hostIPC=True), "hostIPC"),
    ("hostPath volume", lambda p: p["volumes"].append({"name": "h", "hostPath": {"path": "/"}}), "hostPath"),
    ("privileged", lambda p: p["containers"][0]["securityContext"].update(privileged=True), "privileged"),
    (
        "escalation",
        lambda p: p["containers"][0]["securityContext"].pop("allowPrivilegeEscalation"),
        "allowPrivilegeEscalation",
    ),
    ("no drop ALL", lambda p: p["containers"][0]["securityContext"]["capabilities"].update(drop=["NET_RAW"]), "drop"),
    (
        "adds SYS_ADMIN",
        lambda p: p["containers"][0]["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]),
        "adds",
    ),
    ("root allowed", lambda p: p["securityContext"].pop("runAsNonRoot"), "runAsNonRoot"),
    ("container root", lambda p: p["containers"][0]["securityContext"].update(runAsNonRoot=False), "runAsNonRoot"),
    ("uid 0", lambda p: p["containers"][0]["securityContext"].update(runAsUser=0), "runAsUser"),
    ("no seccomp", lambda p: p["securityContext"].pop("seccompProfile"), "seccompProfile"),
    (
        "unconfined",
        lambda p: p["containers"][0]["securityContext"].update(seccompProfile={"type": "Unconfined"}),
        "seccomp",
    ),
    ("hostPort", lambda p: p["containers"][0].update(ports=[{"containerPort": 80, "hostPort": 80}]), "hostPort"),
    ("procMount", lambda p: p["containers"][0]["securityContext"].update(procMount="Unmasked"), "procMount"),
    ("sysctl", lambda p: p["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "1"}]), "sysctl"),
    ("init container", lambda p: p.update(initContainers=[{"name": "i", "image": "x:1"}]), "container i"),
]


def test_a_compliant_pod_passes() -> None:
    assert restricted_violations(_compliant()) == []


@pytest.mark.parametrize(("case", "breaks", "expected"), BREAKS, ids=[row[0] for row in BREAKS])
def test_each_broken_field_is_caught(case: str, breaks: Any, expected: str) -> None:
    pod = _compliant()
    breaks(pod)
    problems = restricted_violations(pod)
    assert any(expected in problem for problem in problems), problems


# --------------------------------------------------------------------------- the real pods


def _assert_restricted(pods: list[Pod]) -> None:
    assert pods
    failures = {pod.origin: restricted_violations(pod.spec) for pod in pods}
    assert {origin: problems for origin, problems in failures.items() if problems} == {}


@pytest.mark.parametrize("directory", PLATFORM_BUILDS)
def test_every_pod_template_of_every_build_is_restricted(directory: str) -> None:
    pods = list(pod_templates(build(directory)))
    origins = {pod.origin for pod in pods}
    assert "Deployment qiskit-argo/qiskit-argo-controller" in origins
    assert any("ClusterWorkflowTemplate" in origin for origin in origins)
    _assert_restricted(pods)


@pytest.mark.parametrize("directory", PLATFORM_BUILDS)
def test_every_container_has_a_read_only_root_filesystem_and_resources(directory: str) -> None:
    """Ours all do. Argo's own init/wait containers are the exception: they stage archives in their
    /tmp, and Argo leaves their root filesystem writable even when locking pods down (#10787)."""
    for pod in pod_templates(build(directory)):
        for container in containers_of(pod.spec):
            if container in argo_executor_containers():
                assert "readOnlyRootFilesystem" not in container["securityContext"]
            else:
                assert container.get("securityContext", {}).get("readOnlyRootFilesystem") is True, (
                    f"{pod.origin} / {container['name']}"
                )
            assert container.get("resources", {}).get("limits", {}).get("memory"), f"{pod.origin} / {container['name']}"


@pytest.mark.parametrize("directory", PLATFORM_BUILDS)
def test_only_the_controller_gets_a_service_account_token(directory: str) -> None:
    for pod in pod_templates(build(directory)):
        if pod.origin in NEEDS_API:
            assert pod.spec.get("automountServiceAccountToken") is not False, pod.origin
        else:
            assert pod.spec.get("automountServiceAccountToken") is False, f"{pod.origin} mounts an API token"


def test_argo_executor_containers_are_restricted() -> None:
    """Argo's init/wait containers get their context from workflow-controller-configmap only."""
    pod = _compliant()
    pod["containers"] = argo_executor_containers()
    assert restricted_violations(pod) == []
    for container in argo_executor_containers():
        assert "runAsUser" not in container["securityContext"], (
            "Argo's containers must run as the pod's user, to share /var/run/argo with the step"
        )


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_workflows_built_for_the_examples_are_restricted(example: Path) -> None:
    """The Workflow the controller submits, with the template it references, as Argo makes its pods."""
    template = workflows.cluster_workflow_template()
    for job in load_manifests(example).jobs:
        workflow = workflows.build(job)
        spec = workflow["spec"]
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(field)
        assert all(
            set(volume) - {"name"} <= {"configMap", "emptyDir", "secret", "projected"}
            for volume in spec.get("volumes", [])
        )
        # The Workflow's own templates (the DAG) run no pod; its steps run the template's containers
        # under the Workflow's pod-level settings.
        pods = list(pod_templates([{**template, "spec": {**template["spec"]}}]))
        merged = [
            Pod(
                pod.origin,
                {
                    **pod.spec,
                    "securityContext": {**spec.get("securityContext", {}), **pod.spec["securityContext"]},
                    "volumes": [*spec.get("volumes", []), *pod.spec["volumes"]],
                },
                pod.labels,
            )
            for pod in pods
        ]
        _assert_restricted(merged)
        assert spec["serviceAccountName"] == workflows.SERVICE_ACCOUNT


def _service_workflows() -> dict[str, dict[str, Any]]:
    from qiskit_argo import generate

    return {path.stem: workflow for path, workflow in generate.golden_service_workflows().items()}


@pytest.mark.parametrize("name", sorted(_service_workflows()))
def test_service_workflows_are_restricted(name: str) -> None:
    """The probe, cancel and session Workflows the controller creates: their one step pod is as
    locked down as the job steps' (the API key is its only extra, by Secret reference)."""
    workflow = _service_workflows()[name]
    spec = workflow["spec"]
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        assert not spec.get(field)
    pods = list(pod_templates([workflow]))
    assert len(pods) == 1
    _assert_restricted(pods)
    assert spec["serviceAccountName"] == workflows.SERVICE_ACCOUNT
    (pod,) = pods
    for container in pod.spec["containers"]:
        for env in container.get("env", []):
            assert "value" not in env or env["name"] != "QISKIT_IBM_TOKEN", "the key is never a literal"
