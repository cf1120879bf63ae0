"""Every rendered Workflow and the ClusterWorkflowTemplate validate against Argo v4.1's schema, strictly."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from qiskit_argo import workflows
from qiskit_argo.api import QiskitJob
from qiskit_argo.manifests import load_job
from qiskit_argo.request import Limits
from tests.support.schemas import (
    SchemaError,
    argo_errors,
    run_argo_lint,
    run_kubeconform,
    validate_argo,
    validate_k8s,
)
from tests.support.submit import submitted_from_template

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))
UID = "0c5bd4a0-6b7e-4f43-9b8e-2d1f0a1c9e11"


def example_workflows() -> list[dict[str, Any]]:
    return [workflows.build(load_job(path)[0]) for path in EXAMPLES]


def variant(**changes: Any) -> QiskitJob:
    job, _ = load_job(EXAMPLES[0])
    document = job.model_dump(by_alias=True, exclude_none=True, mode="json")
    document["metadata"].update(changes.pop("metadata", {}))
    document["spec"].update(changes)
    return QiskitJob.model_validate(document)


def test_cluster_workflow_template_is_valid() -> None:
    validate_argo(workflows.cluster_workflow_template())


def test_cluster_workflow_template_entrypoint_dag_is_valid() -> None:
    template = workflows.cluster_workflow_template()
    (main,) = [t for t in template["spec"]["templates"] if t["name"] == template["spec"]["entrypoint"]]
    assert "dag" in main
    # Only the DAG: every error would be about it (a misspelled field there fails, too).
    template["spec"]["templates"] = [main]
    validate_argo(template)
    with pytest.raises(SchemaError, match="dependsOn"):
        validate_argo(_set(template, "spec/templates/0/dag/tasks/1", "dependsOn"))


def test_workflow_as_argo_submit_from_makes_it_is_valid() -> None:
    job, _ = load_job(EXAMPLES[0])
    validate_argo(submitted_from_template(workflows.job_json(job)))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_workflow_is_valid(example: Path) -> None:
    job, _ = load_job(example)
    validate_argo(workflows.build(job))


@pytest.mark.parametrize(
    "job",
    [
        variant(metadata={"uid": UID, "generation": 2, "namespace": "lab"}),
        variant(suspend=True, activeDeadlineSeconds=60),
        variant(resources={"requests": {"cpu": 2, "memory": "8Gi"}, "limits": {"ephemeral-storage": "1Gi"}}),
        variant(retry={"limit": 0, "backoff": {"duration": "1s", "factor": 1, "maxDuration": "10s"}}),
        variant(circuit={"configMapKeyRef": {"name": "circuits", "key": "bell.qasm"}}),
    ],
    ids=["owned", "suspended", "resources", "no-retries", "configmap"],
)
def test_workflow_variants_are_valid(job: QiskitJob) -> None:
    validate_argo(workflows.build(job))
    validate_argo(workflows.build(job, limits=Limits(max_qubits=10)))


def _set(obj: dict[str, Any], path: str, key: str) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    node: Any = obj
    for part in filter(None, path.split("/")):
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[key] = True
    return obj


@pytest.mark.parametrize(
    ("path", "misspelled"),
    [
        ("", "metdata"),
        ("spec", "entrypiont"),
        ("spec", "activeDeadlineSecond"),
        ("spec/retryStrategy", "retrypolicy"),
        ("spec/templates/0", "retryStrategyy"),
        ("spec/templates/0/dag/tasks/0", "dependsOn"),
        ("spec/templates/0/dag/tasks/0/templateRef", "clusterscope"),
        ("spec/templates/0/dag/tasks/0/arguments/artifacts/0", "rawData"),
        ("spec/podGC", "strategyy"),
        ("spec/securityContext", "runAsNonroot"),
    ],
)
def test_a_misspelled_workflow_field_fails(path: str, misspelled: str) -> None:
    workflow = example_workflows()[0]
    assert argo_errors(workflow) == []
    errors = argo_errors(_set(workflow, path, misspelled))
    assert errors and any(misspelled in error for error in errors), errors


@pytest.mark.parametrize(
    ("path", "misspelled"),
    [
        ("spec/templates/0/container", "imagePullPolicyy"),
        ("spec/templates/0/container/securityContext", "readOnlyRootFileSystem"),
        ("spec/templates/0/container/volumeMounts/0", "readonly"),
        ("spec/templates/0/outputs/parameters/0/valueFrom", "pth"),
        ("spec/templates/2/outputs/artifacts/0/s3", "keys"),
        ("spec/templates/3/memoize/cache", "configMapp"),
        ("spec/templates/2/inputs/artifacts/0", "paths"),
        ("spec/templates/1", "automountServiceAccountTokens"),
        ("spec/templates/3/metadata", "label"),
    ],
)
def test_a_misspelled_template_field_fails(path: str, misspelled: str) -> None:
    with pytest.raises(SchemaError, match=misspelled):
        validate_argo(_set(workflows.cluster_workflow_template(), path, misspelled))


def test_numbers_are_accepted_for_int_or_string_and_quantity() -> None:
    workflow = example_workflows()[0]
    workflow["spec"]["retryStrategy"]["limit"] = 3
    workflow["spec"]["retryStrategy"]["backoff"]["factor"] = 2
    validate_argo(workflow)
    template = workflows.cluster_workflow_template()
    template["spec"]["templates"][2]["container"]["resources"]["limits"]["cpu"] = 2.5
    validate_argo(template)


def test_wrong_kinds_and_types_fail() -> None:
    workflow = example_workflows()[0]
    assert argo_errors({**workflow, "kind": "Pod"})
    assert argo_errors({**workflow, "apiVersion": "argoproj.io/v1"})
    broken = copy.deepcopy(workflow)
    broken["spec"]["activeDeadlineSeconds"] = "an hour"
    assert argo_errors(broken)


def _pod(template: dict[str, Any], workflow: dict[str, Any], resources: dict[str, Any] | None) -> dict[str, Any]:
    """Roughly the Pod Argo creates for one step (main container only), with its podSpecPatch applied."""
    container = {**copy.deepcopy(template["container"]), "name": "main"}
    if resources is not None:
        container["resources"] = resources
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{workflow['metadata']['name']}-{template['name']}",
            "labels": template["metadata"]["labels"],
        },
        "spec": {
            "serviceAccountName": workflow["spec"]["serviceAccountName"],
            "automountServiceAccountToken": template["automountServiceAccountToken"],
            "securityContext": template["securityContext"],
            "containers": [container],
            "volumes": [*workflow["spec"]["volumes"], *template["volumes"]],
            "restartPolicy": "Never",
        },
    }


@pytest.mark.parametrize(
    "job",
    [*(load_job(path)[0] for path in EXAMPLES), variant(resources={"requests": {"memory": "8Gi", "cpu": 4}})],
    ids=[*(path.stem for path in EXAMPLES), "resources"],
)
def test_step_pods_are_valid_kubernetes_pods(job: QiskitJob) -> None:
    workflow = workflows.build(job)
    tasks = {t["name"]: t for t in workflow["spec"]["templates"][0]["dag"]["tasks"]}
    for template in workflows.cluster_workflow_template()["spec"]["templates"]:
        if "container" not in template:
            continue  # the entrypoint DAG
        parameters = tasks[template["name"]].get("arguments", {}).get("parameters", [])
        value = next((p["value"] for p in parameters if p["name"] == workflows.RESOURCES_PARAMETER), None)
        pod = _pod(template, workflow, json.loads(value) if value else None)
        validate_k8s(pod)
        validate_k8s(pod, use_kubernetes_validate=False)


def test_kubeconform_strict_when_installed() -> None:
    errors = run_kubeconform([workflows.cluster_workflow_template(), *example_workflows()])
    if errors is None:
        pytest.skip("kubeconform is not installed (or has no schemas offline)")
    assert errors == []


def test_argo_lint_offline_when_installed() -> None:
    errors = run_argo_lint([workflows.cluster_workflow_template(), *example_workflows()])
    if errors is None:
        pytest.skip("the argo CLI is not installed")
    assert errors == []


# --------------------------------------------------------------------------- IBM: catalogue, semaphores, services


def _with_catalogue(path: Path) -> dict[str, Any]:
    from qiskit_argo import generate

    job, _ = load_job(path)
    return workflows.build(job, catalogue=generate.example_catalogue(job))


def _service_workflows() -> dict[str, dict[str, Any]]:
    from qiskit_argo import generate

    return {path.stem: workflow for path, workflow in generate.golden_service_workflows().items()}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_workflow_with_the_example_catalogue_is_valid(example: Path) -> None:
    validate_argo(_with_catalogue(example))


@pytest.mark.parametrize("name", sorted(_service_workflows()))
def test_service_workflow_is_valid(name: str) -> None:
    validate_argo(_service_workflows()[name])


@pytest.mark.parametrize("name", sorted(_service_workflows()))
def test_service_step_pod_is_a_valid_kubernetes_pod(name: str) -> None:
    workflow = _service_workflows()[name]
    (template,) = [t for t in workflow["spec"]["templates"] if "container" in t]
    workflow = {**workflow, "spec": {**workflow["spec"], "volumes": []}}
    pod = _pod(template, workflow, None)
    validate_k8s(pod)
    validate_k8s(pod, use_kubernetes_validate=False)


def test_the_singular_semaphore_of_argo_v3_is_refused() -> None:
    template = workflows.cluster_workflow_template()
    index = next(i for i, t in enumerate(template["spec"]["templates"]) if "synchronization" in t)
    assert argo_errors(template) == []
    sync = template["spec"]["templates"][index]["synchronization"]
    sync["semaphore"] = sync["semaphores"][0]
    errors = argo_errors(template)
    assert errors and any("semaphore" in error for error in errors), errors


def test_a_misspelled_service_workflow_field_fails() -> None:
    workflow = _service_workflows()["probe-ibm-torino"]
    index = next(i for i, t in enumerate(workflow["spec"]["templates"]) if "container" in t)
    errors = argo_errors(_set(workflow, f"spec/templates/{index}/retryStrategy", "expresion"))
    assert errors and any("expresion" in error for error in errors), errors


def test_kubeconform_and_argo_lint_on_the_ibm_workflows_when_installed() -> None:
    objs = [*(_with_catalogue(path) for path in EXAMPLES), *_service_workflows().values()]
    for errors in (run_kubeconform(objs), run_argo_lint(objs)):
        if errors is not None:
            assert errors == []
