"""build(job) and the ClusterWorkflowTemplate: what a cluster (and a person in the Argo UI) sees."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from qiskit_argo import naming, workflows
from qiskit_argo.api import API_VERSION, KIND, QiskitJob, QiskitJobSpec
from qiskit_argo.expressions import depends_tasks
from qiskit_argo.manifests import load_job
from qiskit_argo.request import Limits
from qiskit_argo.steps import (
    CIRCUIT_SOURCE_MOUNT,
    EGRESS_NONE,
    ENTRY_POINT,
    INPUTS_DIR,
    OUTPUTS_DIR,
    SCRATCH_MOUNT,
    SOURCE_ARTIFACTS,
    SOURCES_DIR,
    STEPS,
)

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))
BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0], q[1];\nmeasure q -> c;\n'
_REFERENCE = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
#: What Argo substitutes in a template's own metrics besides its inputs (argo-workflows v4.1.2,
#: docs/variables.md, "Metrics"): the node's phase, its duration, and the Workflow's variables.
_METRIC_VARIABLES = frozenset({"status", "duration", "exitCode", "workflow.namespace", "workflow.name"})
#: The Workflow's variables a key-only artifact's key may name (the run's parts prefix).
_KEY_VARIABLES = frozenset({"workflow.namespace", "workflow.name", "workflow.uid"})


def make_job(
    name: str = "bell",
    *,
    uid: str | None = None,
    namespace: str = "default",
    generation: int | None = None,
    **spec: Any,
) -> QiskitJob:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if uid:
        metadata["uid"] = uid
    if generation is not None:
        metadata["generation"] = generation
    spec.setdefault("circuit", {"openqasm": BELL})
    return QiskitJob.model_validate({"metadata": metadata, "spec": spec})


def tasks(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (main,) = [t for t in workflow["spec"]["templates"] if t["name"] == workflow["spec"]["entrypoint"]]
    return {task["name"]: task for task in main["dag"]["tasks"]}


def templates() -> dict[str, dict[str, Any]]:
    """The ClusterWorkflowTemplate's step templates (not its entrypoint DAG)."""
    return {t["name"]: t for t in workflows.cluster_workflow_template()["spec"]["templates"] if "container" in t}


def argument(task: dict[str, Any], kind: str, name: str) -> dict[str, Any] | None:
    return next((a for a in task.get("arguments", {}).get(kind, []) if a["name"] == name), None)


def strings(node: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        return [item for key, value in node.items() for item in strings(value, f"{path}.{key}")]
    if isinstance(node, list):
        return [item for index, value in enumerate(node) for item in strings(value, f"{path}[{index}]")]
    return [(path, node)] if isinstance(node, str) else []


def ancestors(dag: dict[str, dict[str, Any]], name: str) -> set[str]:
    found: set[str] = set()
    stack = [name]
    while stack:
        depends = dag[stack.pop()].get("depends", "")
        for parent in depends_tasks(depends):
            if parent not in found:
                found.add(parent)
                stack.append(parent)
    return found


# --------------------------------------------------------------------------- identity


@pytest.mark.parametrize(
    ("name", "uid", "namespace"),
    [
        ("bell", None, "default"),
        ("bell", "0c5bd4a0-6b7e-4f43-9b8e-2d1f0a1c9e11", "default"),
        ("bell", None, "team-a"),
        ("a" * 63, "9e3c1b55-0000-4000-8000-000000000001", "quantum"),
    ],
)
def test_name_is_deterministic_and_fits(name: str, uid: str | None, namespace: str) -> None:
    first = workflows.build(make_job(name, uid=uid, namespace=namespace))
    second = workflows.build(make_job(name, uid=uid, namespace=namespace))
    assert first == second
    assert first["metadata"]["name"] == naming.workflow_name(name, uid, namespace)
    assert len(first["metadata"]["name"]) <= 63
    assert first["metadata"]["namespace"] == namespace


def test_a_recreated_job_gets_a_new_workflow_name() -> None:
    old = workflows.build(make_job(uid="11111111-1111-4111-8111-111111111111"))
    new = workflows.build(make_job(uid="22222222-2222-4222-8222-222222222222"))
    assert old["metadata"]["name"] != new["metadata"]["name"]


@pytest.mark.parametrize("uid", [None, "0c5bd4a0-6b7e-4f43-9b8e-2d1f0a1c9e11"])
def test_labels_link_back_to_the_job(uid: str | None) -> None:
    workflow = workflows.build(make_job(uid=uid))
    expected = naming.job_labels("bell", uid)
    assert workflow["metadata"]["labels"] == expected
    assert workflow["spec"]["podMetadata"]["labels"] == expected


@pytest.mark.parametrize(("uid", "owned"), [(None, False), ("", False), ("0c5bd4a0-6b7e-4f43-9b8e-2d1f0a1c9e11", True)])
def test_owner_reference_present_iff_uid(uid: str | None, owned: bool) -> None:
    workflow = workflows.build(make_job(uid=uid))
    if not owned:
        assert "ownerReferences" not in workflow["metadata"]
        return
    assert workflow["metadata"]["ownerReferences"] == [
        {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": "bell",
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"shots": 4000}, ["sampler", "4000 shots", "Qiskit Aer"]),
        ({}, ["sampler", "1024 shots"]),
        (
            {"primitive": "estimator", "observables": [{"ZZ": 1}, {"XX": 1}], "precision": 0.01},
            ["estimator", "2 observable(s)", "precision 0.01"],
        ),
        ({"backend": {"aer": {"noiseModel": "FakeManilaV2", "seed": 5}}}, ["FakeManilaV2", "seed 5"]),
        ({"parameterValues": [[0.0], [1.0], [2.0]]}, ["3 parameter bindings"]),
    ],
)
def test_argo_ui_title_and_description_say_what_runs(spec: dict[str, Any], words: list[str]) -> None:
    annotations = workflows.build(make_job(**spec))["metadata"]["annotations"]
    title = annotations[naming.ANNOTATION_TITLE]
    description = annotations[naming.ANNOTATION_DESCRIPTION]
    assert title.startswith("bell: ")
    assert "Primitive." not in title + description
    for word in words:
        assert word in title + " " + description


# --------------------------------------------------------------------------- the job artifact


def test_raw_job_artifact_carries_spec_and_identity_only() -> None:
    job = QiskitJob.model_validate(
        {
            "metadata": {
                "name": "bell",
                "namespace": "lab",
                "uid": "0c5bd4a0-6b7e-4f43-9b8e-2d1f0a1c9e11",
                "generation": 4,
                "resourceVersion": "123",
                "labels": {"team": "q"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}"},
                "managedFields": [{"manager": "kubectl"}],
            },
            "spec": {"circuit": {"openqasm": BELL}, "shots": 10},
            "status": {"phase": "Running", "workflowName": "bell-abc123"},
        }
    )
    validate = tasks(workflows.build(job))["validate"]
    raw = argument(validate, "artifacts", workflows.JOB_ARTIFACT)
    assert raw is not None
    document = json.loads(raw["raw"]["data"])
    assert set(document) == {"apiVersion", "kind", "metadata", "spec"}
    assert document["metadata"] == {
        "name": "bell",
        "namespace": "lab",
        "uid": "0c5bd4a0-6b7e-4f43-9b8e-2d1f0a1c9e11",
        "generation": 4,
    }
    assert "last-applied" not in raw["raw"]["data"] and "managedFields" not in raw["raw"]["data"]
    assert QiskitJobSpec.model_validate(document["spec"]) == job.spec
    assert QiskitJob.model_validate(document).spec == job.spec


def test_only_the_job_and_the_catalogue_travel_raw_and_nothing_large_is_a_parameter() -> None:
    big = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\n' + "h q[0];\n" * 5000
    workflow = workflows.build(make_job(circuit={"openqasm": big}))
    raw = set()
    for task in tasks(workflow).values():
        for parameter in task.get("arguments", {}).get("parameters", []):
            assert len(parameter["value"]) < 1024, parameter
        for artifact in task.get("arguments", {}).get("artifacts", []):
            assert "raw" in artifact or "from" in artifact
            if "raw" in artifact:
                raw.add((task["name"], artifact["name"]))
    assert raw == {("validate", workflows.JOB_ARTIFACT), ("schedule", workflows.CATALOGUE_ARTIFACT)}


# --------------------------------------------------------------------------- the DAG and its references


def _alternatives(first: str, second: str) -> bool:
    """Whether two steps can never both run: each runs ``when`` the same output is a different word."""
    one, other = STEPS[first].when, STEPS[second].when
    return one is not None and other is not None and one.parameter == other.parameter and one.equals != other.equals


def test_dag_follows_the_step_contract() -> None:
    workflow = workflows.build(make_job())
    dag = tasks(workflow)
    assert list(dag) == list(STEPS)
    for name, task in dag.items():
        assert task["templateRef"] == {"name": naming.TEMPLATE_NAME, "template": name, "clusterScope": True}
    # Every step waits for every earlier one, except an alternative (another branch), which it
    # never waits for: only one branch runs, the others are Skipped.
    order = list(STEPS)
    for index, later in enumerate(order):
        for earlier in order[:index]:
            waits = earlier in ancestors(dag, later)
            assert waits is not _alternatives(earlier, later), (earlier, later)
    assert _alternatives("execute-aer", "ibm-submit") and not _alternatives("ibm-submit", "ibm-wait")


def _globals(cwt: dict[str, dict[str, Any]], task: dict[str, Any], kind: str) -> set[str]:
    """The workflow-level outputs (``globalName``) of ``kind`` that ``task``'s template exports."""
    outputs = cwt[task["templateRef"]["template"]].get("outputs", {}).get(kind, [])
    return {o["globalName"] for o in outputs if "globalName" in o}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_reference_points_at_something_that_exists(example: Path) -> None:
    job, _ = load_job(example)
    workflow = workflows.build(job)
    cwt = templates()
    dag = tasks(workflow)
    for path, text in strings(workflow):
        for reference in _REFERENCE.findall(text):
            consumer = re.search(r"\.tasks\[(\d+)\]", path)
            assert consumer is not None, f"{path}: {{{{{reference}}}}} outside a task"
            consumer_name = list(dag)[int(consumer.group(1))]
            if reference == "item":  # the withParam item of a fanned-out task
                assert "withParam" in dag[consumer_name], f"{path}: {{{{item}}}} without withParam"
                continue
            waits = ancestors(dag, consumer_name)
            exported = re.fullmatch(r"workflow\.outputs\.(parameters|artifacts)\.([-a-z0-9]+)", reference)
            if exported:  # a global output: every task that may export it has ended before this one
                kind, output = exported.groups()
                exporters = {name for name, task in dag.items() if output in _globals(cwt, task, kind)}
                assert exporters, f"{path}: no task exports {kind} {output}"
                assert exporters <= waits, f"{consumer_name} does not wait for {exporters - waits}"
                continue
            match = re.fullmatch(r"tasks\.([-a-z0-9]+)\.outputs\.(parameters|artifacts)\.([-a-z0-9]+)", reference)
            assert match, f"{path}: unexpected reference {{{{{reference}}}}}"
            producer, kind, output = match.groups()
            assert producer in dag, f"{path}: no task {producer}"
            declared = [o["name"] for o in cwt[dag[producer]["templateRef"]["template"]]["outputs"].get(kind, [])]
            assert output in declared, f"{path}: {producer} has no output {kind} {output}"
            assert producer in waits, f"{consumer_name} does not wait for {producer}"
    for name, template in cwt.items():
        declared = {p["name"] for p in template.get("inputs", {}).get("parameters", [])}
        for path, text in strings(template):
            for reference in _REFERENCE.findall(text):
                if path.startswith(".metrics.") and reference in _METRIC_VARIABLES:
                    continue
                if ".s3.key" in path and reference in _KEY_VARIABLES:  # a key-only artifact's key
                    continue
                match = re.fullmatch(r"inputs\.parameters\.([-a-z0-9]+)", reference)
                assert match and match.group(1) in declared, f"template {name}{path}: {{{{{reference}}}}}"


@pytest.mark.parametrize("limits", [None, Limits(max_qubits=5)])
def test_every_template_input_is_supplied_and_every_argument_is_declared(limits: Limits | None) -> None:
    workflow = workflows.build(make_job(resources={"limits": {"memory": "2Gi"}}), limits=limits)
    cwt = templates()
    for name, task in tasks(workflow).items():
        inputs = cwt[task["templateRef"]["template"]]["inputs"]
        for kind in ("artifacts", "parameters"):
            declared = {i["name"]: i for i in inputs.get(kind, [])}
            given = {a["name"] for a in task.get("arguments", {}).get(kind, [])}
            assert given <= set(declared), f"{name}: undeclared {kind} {given - set(declared)}"
            for missing in set(declared) - given:
                assert "default" in declared[missing] or declared[missing].get("optional"), f"{name}: {missing}"


def _latest_producers(producers: list[str]) -> tuple[str, ...]:
    """The earlier producers an input may come from, latest first: back to (and with) the latest one
    that always runs; the conditional ones after it are alternatives (execute-aer, ibm-wait)."""
    found: list[str] = []
    for name in reversed(producers):
        found.append(name)
        if STEPS[name].when is None:
            break
    return tuple(found)


def test_wiring_takes_each_input_from_the_latest_producer() -> None:
    """The latest producer, or when it may be skipped, every alternative back to one that always runs."""
    several = set()
    for task in workflows.wiring():
        spec = STEPS[task.name]
        earlier = list(STEPS)[: list(STEPS).index(task.name)]
        for name, source in task.artifacts.items():
            producers = [s for s in earlier if name in STEPS[s].output_artifacts]
            assert source.tasks == _latest_producers(producers), (task.name, name)
            several |= {(task.name, name)} if len(source.tasks) > 1 else set()
        for name, source in task.parameters.items():
            producers = [s for s in earlier if name in STEPS[s].output_parameters]
            assert source.tasks == _latest_producers(producers), (task.name, name)
            several |= {(task.name, name)} if len(source.tasks) > 1 else set()
        assert set(task.artifacts) == set(spec.input_artifacts)
        assert set(task.parameters) == set(spec.input_parameters)
    # store-results gathers the parts by key (StepSpec.gathers_parts): no input has two producers.
    assert several == set()


def test_limits_reach_the_validate_step_only_when_given() -> None:
    assert argument(tasks(workflows.build(make_job()))["validate"], "parameters", "limits") is None
    given = tasks(workflows.build(make_job(), limits=Limits(max_qubits=5)))["validate"]
    parameter = argument(given, "parameters", "limits")
    assert parameter is not None
    assert Limits.model_validate_json(parameter["value"]).max_qubits == 5


# --------------------------------------------------------------------------- retries, deadline, suspend, volumes


def _retried(expression: str, exit_code: str) -> bool:
    # Argo's expr language and Python agree on this expression's syntax; no builtins are reachable.
    scope = {"asInt": int, "lastRetry": type("LastRetry", (), {"exitCode": exit_code, "status": "Failed"})}
    return bool(eval(expression, {"__builtins__": {}}, scope))


@pytest.mark.parametrize(
    ("exit_code", "retried"),
    [("2", False), ("1", True), ("137", True), ("-1", True), ("0", True)],
)
def test_retry_expression_never_retries_a_permanent_failure(exit_code: str, retried: bool) -> None:
    strategy = workflows.build(make_job())["spec"]["retryStrategy"]
    assert _retried(strategy["expression"], exit_code) is retried


@pytest.mark.parametrize(
    ("retry", "expected"),
    [
        ({}, {"limit": "2", "backoff": {"duration": "10s", "factor": "2", "maxDuration": "5m"}}),
        (
            {"limit": 0, "backoff": {"duration": "1s", "factor": 3, "maxDuration": "1m"}},
            {"limit": "0", "backoff": {"duration": "1s", "factor": "3", "maxDuration": "1m"}},
        ),
        ({"limit": 5}, {"limit": "5", "backoff": {"duration": "10s", "factor": "2", "maxDuration": "5m"}}),
    ],
)
def test_retry_strategy_comes_from_the_spec(retry: dict[str, Any], expected: dict[str, Any]) -> None:
    workflow = workflows.build(make_job(retry=retry))
    strategy = workflow["spec"]["retryStrategy"]
    assert {k: strategy[k] for k in ("limit", "backoff")} == expected
    assert strategy["retryPolicy"] == "Always"
    main = workflow["spec"]["templates"][0]
    assert main["name"] == "main" and main["retryStrategy"] == {"limit": "0"}
    for template in templates().values():
        assert "retryStrategy" not in template  # or the workflow-level one would not apply


@pytest.mark.parametrize("seconds", [1, 600, 3600, 7 * 24 * 3600])
def test_deadline_comes_from_the_spec(seconds: int) -> None:
    assert workflows.build(make_job(activeDeadlineSeconds=seconds))["spec"]["activeDeadlineSeconds"] == seconds


@pytest.mark.parametrize("suspend", [False, True])
def test_suspend(suspend: bool) -> None:
    spec = workflows.build(make_job(suspend=suspend))["spec"]
    assert spec.get("suspend", False) is suspend
    if not suspend:
        assert "suspend" not in spec


@pytest.mark.parametrize(
    ("circuit", "volume"),
    [
        ({"openqasm": BELL}, {"name": "circuit-source", "emptyDir": {}}),
        ({"qpy": "UVBZ"}, {"name": "circuit-source", "emptyDir": {}}),
        (
            {"configMapKeyRef": {"name": "circuits", "key": "bell.qasm"}},
            {
                "name": "circuit-source",
                "projected": {
                    "sources": [
                        {
                            "configMap": {
                                "name": "circuits",
                                "items": [{"key": "bell.qasm", "path": "circuits/bell.qasm"}],
                                "optional": True,
                            }
                        }
                    ]
                },
            },
        ),
    ],
)
def test_circuit_source_volume(circuit: dict[str, Any], volume: dict[str, Any]) -> None:
    assert workflows.build(make_job(circuit=circuit))["spec"]["volumes"] == [volume]


def test_cleanup_keeps_failed_pods_for_a_while() -> None:
    spec = workflows.build(make_job())["spec"]
    assert spec["podGC"]["strategy"] == "OnPodSuccess"
    # The Workflow lives as long as its QiskitJob (the ownerReference deletes it, and with it the results).
    assert "ttlStrategy" not in spec and spec["artifactGC"]["strategy"] == "OnWorkflowCompletion"


def test_pods_run_as_the_workflow_service_account_with_a_restricted_context() -> None:
    spec = workflows.build(make_job())["spec"]
    assert spec["serviceAccountName"] == workflows.SERVICE_ACCOUNT
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert isinstance(spec["securityContext"]["runAsUser"], int) and spec["securityContext"]["runAsUser"] > 0
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


# --------------------------------------------------------------------------- resources


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        (None, None),
        (
            {"requests": {"cpu": "500m"}},
            {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
        ),
        (
            {"requests": {"memory": "8Gi"}},
            {"requests": {"cpu": "1", "memory": "8Gi"}, "limits": {"cpu": "2", "memory": "8Gi"}},
        ),
        (
            {"limits": {"memory": "512Mi", "cpu": 1}},
            {"requests": {"cpu": "1", "memory": "512Mi"}, "limits": {"cpu": 1, "memory": "512Mi"}},
        ),
        (
            {"requests": {"cpu": 4}, "limits": {"cpu": 8, "ephemeral-storage": "10Gi"}},
            {
                "requests": {"cpu": 4, "memory": "1Gi"},
                "limits": {"cpu": 8, "memory": "4Gi", "ephemeral-storage": "10Gi"},
            },
        ),
    ],
)
def test_resources_reach_the_execute_step(resources: dict[str, Any] | None, expected: dict[str, Any] | None) -> None:
    job = make_job(resources=resources)
    dag = tasks(workflows.build(job))
    for name, task in dag.items():
        given = argument(task, "parameters", workflows.RESOURCES_PARAMETER)
        if not STEPS[name].job_resources or expected is None:
            assert given is None
            continue
        assert given is not None
        if name != "execute-aer":  # the GPU steps' defaults differ (nvidia.com/gpu)
            continue
        assert given is not None
        assert json.loads(given["value"]) == expected
        # The template turns the value into a podSpecPatch of the main container.
        patch_template = templates()[name]["podSpecPatch"]
        patch = json.loads(
            patch_template.replace(f"{{{{inputs.parameters.{workflows.RESOURCES_PARAMETER}}}}}", given["value"])
        )
        assert patch == {"containers": [{"name": "main", "resources": expected}]}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", "0.5"),
        ("2", "2"),
        (2, "2"),
        ("1.5", "1.5"),
        (".5", "0.5"),
        ("1k", "1000"),
        ("1G", "1000000000"),
        ("4Gi", str(4 * 1024**3)),
        ("1e3", "1000"),
        ("1E", str(10**18)),
        ("+3Ki", "3072"),
        ("250n", "0.00000025"),
        ("5u", "0.000005"),
    ],
)
def test_quantity_reads_every_kubernetes_form(text: str | int, value: str) -> None:
    assert workflows.quantity(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "lots", "1GB", "1g", "Gi", "1.2.3", "1e1.5"])
def test_quantity_rejects_what_kubernetes_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        workflows.quantity(text)


@pytest.mark.parametrize(
    ("requests", "limit"),
    [
        ({"memory": "1G"}, "4Gi"),
        ({"memory": "5G"}, "5G"),
        ({"memory": "4294967296"}, "4Gi"),
        ({"memory": "1e10"}, "1e10"),
    ],
)
def test_decimal_and_exponent_memory_compare_with_binary_defaults(requests: dict[str, str], limit: str) -> None:
    resources = workflows.execute_resources(make_job(resources={"requests": requests}))
    assert resources is not None and resources["limits"]["memory"] == limit


def test_the_jobs_own_contradiction_is_kept_for_the_api_server_to_refuse() -> None:
    resources = workflows.execute_resources(make_job(resources={"requests": {"cpu": 4}, "limits": {"cpu": 1}}))
    assert resources is not None and resources["requests"]["cpu"] == 4 and resources["limits"]["cpu"] == 1


def test_default_resources_patch_is_a_no_op() -> None:
    for name, template in templates().items():
        if "podSpecPatch" not in template:
            continue
        (parameter,) = [p for p in template["inputs"]["parameters"] if p["name"] == workflows.RESOURCES_PARAMETER]
        patch = json.loads(
            template["podSpecPatch"].replace(
                f"{{{{inputs.parameters.{workflows.RESOURCES_PARAMETER}}}}}", parameter["default"]
            )
        )
        assert patch == {"containers": [{"name": "main", "resources": {}}]}, name


# --------------------------------------------------------------------------- the ClusterWorkflowTemplate


def test_one_template_per_step_built_from_the_contract() -> None:
    cwt = workflows.cluster_workflow_template()
    assert cwt["kind"] == "ClusterWorkflowTemplate"
    assert cwt["metadata"]["name"] == naming.TEMPLATE_NAME and "namespace" not in cwt["metadata"]
    by_name = templates()
    assert list(by_name) == list(STEPS)
    for name, spec in STEPS.items():
        template = by_name[name]
        container = template["container"]
        assert container["image"] == naming.image(spec.component)
        assert container["command"] == [ENTRY_POINT]
        assert container["args"] == spec.argv()
        assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
        artifacts = {a["name"]: a["path"] for a in template["inputs"].get("artifacts", []) if "s3" not in a}
        sources = {f"source-{i}" for i in range(SOURCE_ARTIFACTS)} if spec.reads_sources else set()
        assert {a for a in artifacts if a not in sources} == set(spec.input_artifacts)
        assert artifacts == {a: f"{INPUTS_DIR}/{f}" for a, f in spec.input_artifacts.items()} | {
            a: f"{SOURCES_DIR}/{a.removeprefix('source-')}" for a in sources
        }
        by_key = {a["name"] for a in template["inputs"].get("artifacts", []) if "s3" in a}
        assert by_key == ({"parts", "cached-parts"} if spec.gathers_parts else set())
        parameters = {p["name"]: p for p in template["inputs"].get("parameters", [])}
        assert set(spec.input_parameters) <= set(parameters)
        assert parameters.get("limits", {"default": "{}"})["default"] == "{}"
        outputs = template.get("outputs", {})
        assert {a["name"]: a["path"] for a in outputs.get("artifacts", [])} == {
            a: f"{OUTPUTS_DIR}/{f}" for a, f in spec.output_artifacts.items()
        } | ({"part": f"{OUTPUTS_DIR}/part.json"} if spec.part is not None else {})
        assert ("memoize" in template) is spec.memoize
        assert {p["name"]: p["valueFrom"]["path"] for p in outputs.get("parameters", [])} == {
            p: f"{OUTPUTS_DIR}/{f}" for p, f in spec.output_parameters.items()
        }
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert mounts[workflows.SCRATCH_VOLUME]["mountPath"] == SCRATCH_MOUNT
        assert {"name": workflows.SCRATCH_VOLUME, "emptyDir": {}} in template["volumes"]
        if spec.mounts_circuit_source:
            assert mounts[workflows.CIRCUIT_SOURCE_VOLUME] == {
                "name": workflows.CIRCUIT_SOURCE_VOLUME,
                "mountPath": CIRCUIT_SOURCE_MOUNT,
                "readOnly": True,
            }
        else:
            assert workflows.CIRCUIT_SOURCE_VOLUME not in mounts


@pytest.mark.parametrize("step", list(STEPS))
def test_every_step_is_locked_down(step: str) -> None:
    template = templates()[step]
    container = template["container"]["securityContext"]
    assert container["runAsNonRoot"] is True and isinstance(container["runAsUser"], int)
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert container["seccompProfile"] == {"type": "RuntimeDefault"}
    pod = template["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert template["automountServiceAccountToken"] is False
    assert template["executor"] == {"serviceAccountName": workflows.SERVICE_ACCOUNT}
    resources = template["container"]["resources"]
    assert set(resources) == {"requests", "limits"} and {"cpu", "memory"} <= set(resources["requests"])


def test_network_policy_can_tell_aer_pods_from_the_others() -> None:
    labels = {name: t["metadata"]["labels"] for name, t in templates().items()}
    assert labels["execute-aer"][workflows.LABEL_STEP] == "execute-aer"
    assert labels["execute-aer"][workflows.LABEL_EGRESS] == EGRESS_NONE
    for name, pod_labels in labels.items():
        assert pod_labels[workflows.LABEL_STEP] == name
        assert pod_labels[workflows.LABEL_COMPONENT] == STEPS[name].component
        assert pod_labels[workflows.LABEL_EGRESS] == STEPS[name].egress


def test_cluster_workflow_template_is_a_fresh_copy() -> None:
    first = workflows.cluster_workflow_template()
    first["spec"]["templates"].clear()
    assert workflows.cluster_workflow_template()["spec"]["templates"]


# --------------------------------------------------------------------------- YAML and speed


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_yaml_round_trips(example: Path) -> None:
    job, _ = load_job(example)
    workflow = workflows.build(job)
    text = workflows.to_yaml(workflow)
    assert "&id" not in text and "*id" not in text
    assert yaml.safe_load(text) == workflow
    both = workflows.to_yaml([workflow, workflows.cluster_workflow_template()])
    assert [d["kind"] for d in yaml.safe_load_all(both)] == ["Workflow", "ClusterWorkflowTemplate"]


def test_build_does_not_share_state_between_calls() -> None:
    first = workflows.build(make_job())
    first["spec"]["templates"][0]["dag"]["tasks"].clear()
    first["metadata"]["labels"]["x"] = "y"
    second = workflows.build(make_job())
    assert second["spec"]["templates"][0]["dag"]["tasks"] and "x" not in second["metadata"]["labels"]


# --------------------------------------------------------------------------- argo submit --from


def _as_template_reference(task: dict[str, Any]) -> dict[str, Any]:
    """A job Workflow's task as the ClusterWorkflowTemplate's DAG carries it: ``template:`` for
    ``templateRef``, and the raw job and catalogue artifacts' data as workflow parameter references."""
    task = json.loads(json.dumps(task))
    ref = task.pop("templateRef")
    assert ref == {"name": naming.TEMPLATE_NAME, "template": task["name"], "clusterScope": True}
    task["template"] = ref["template"]
    job = argument(task, "artifacts", workflows.JOB_ARTIFACT)
    if job is not None:
        job["raw"]["data"] = f"{{{{workflow.parameters.{workflows.JOB_PARAMETER}}}}}"
    if "arguments" in task:  # the job's own artifact sources and resources are passed per job only
        for kind in ("artifacts", "parameters"):
            kept = [
                a
                for a in task["arguments"].get(kind, [])
                if not a["name"].startswith("source-") and a["name"] != workflows.RESOURCES_PARAMETER
            ]
            if kept:
                task["arguments"][kind] = kept
            else:
                task["arguments"].pop(kind, None)
    catalogue = argument(task, "artifacts", workflows.CATALOGUE_ARTIFACT)
    if catalogue is not None:
        assert task["name"] == "schedule" and "raw" in catalogue, task
        catalogue["raw"]["data"] = f"{{{{workflow.parameters.{workflows.CATALOGUE_PARAMETER}}}}}"
    return task


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_template_entrypoint_has_the_workflows_tasks(example: Path) -> None:
    cwt = workflows.cluster_workflow_template()
    spec = cwt["spec"]
    assert spec["entrypoint"] == workflows.ENTRYPOINT
    assert spec["arguments"]["parameters"][0]["name"] == workflows.JOB_PARAMETER
    assert "value" not in spec["arguments"]["parameters"][0]  # argo submit refuses to start without -p job=...
    # ... but runs without -p catalogue=...: no QiskitBackends, the built-in Aer.
    assert spec["arguments"]["parameters"][1] | {"description": ""} == {
        "name": workflows.CATALOGUE_PARAMETER,
        "value": "{}",
        "description": "",
    }
    (main,) = [t for t in spec["templates"] if t["name"] == spec["entrypoint"]]
    workflow = workflows.build(load_job(example)[0])
    (own_main,) = [t for t in workflow["spec"]["templates"] if t["name"] == workflows.ENTRYPOINT]
    assert main["retryStrategy"] == own_main["retryStrategy"] == {"limit": "0"}
    assert main["dag"]["tasks"] == [_as_template_reference(task) for task in own_main["dag"]["tasks"]]
    step_names = set(templates())
    assert {task["template"] for task in main["dag"]["tasks"]} == step_names


def test_template_workflow_settings_are_the_workflows() -> None:
    spec = workflows.cluster_workflow_template()["spec"]
    own = workflows.build(make_job())["spec"]
    shared = ("serviceAccountName", "securityContext", "podGC", "retryStrategy", "activeDeadlineSeconds")
    for key in shared:
        assert spec[key] == own[key], key
    # The job Workflow brings its own circuit-source volume; this one serves only `argo submit --from`.
    assert spec["volumes"] == [{"name": workflows.CIRCUIT_SOURCE_VOLUME, "emptyDir": {}}]


def test_job_json_is_the_validate_tasks_raw_artifact() -> None:
    job = make_job()
    document = workflows.job_json(job)
    assert json.loads(document) == workflows.job_document(job)
    validate = tasks(workflows.build(job))["validate"]
    assert argument(validate, "artifacts", workflows.JOB_ARTIFACT) == {"name": "job", "raw": {"data": document}}
