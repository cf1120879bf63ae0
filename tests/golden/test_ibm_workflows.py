"""What the IBM Quantum work renders, checked on the rendered dicts (Hera drops a field it does not
know without a word, so only the output proves a key is there): the API key reaches exactly the
pods that talk to IBM, semaphores are template-level ``synchronization.semaphores``, the catalogue
travels raw and escaped, the IBM steps are wired to the schedule step, and the service Workflows
are owned, named, fenced and bounded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qiskit_argo import generate, workflows
from qiskit_argo.api import GROUP, QiskitBackend, QiskitJob
from qiskit_argo.catalogue import Catalogue, CatalogueEntry, load_catalogue, snapshot
from qiskit_argo.manifests import load_job
from qiskit_argo.naming import for_kind
from qiskit_argo.steps import (
    CREDENTIALS_ENV,
    EGRESS_IBM_QUANTUM,
    SEMAPHORE_CONFIGMAP,
    SERVICE_STEPS,
    STEPS,
    Condition,
    StepRegistry,
    StepSpec,
)

REPO = Path(__file__).resolve().parents[2]
BACKENDS, SESSIONS = load_catalogue([REPO / "examples" / "catalogue"])
BY_NAME = {backend.name: backend for backend in BACKENDS}
UID = "0c5bd4a0-6b7e-4f43-9b8e-2d1f0a1c9e11"


def _job(example: str) -> QiskitJob:
    return load_job(REPO / "examples" / example)[0]


def _templates() -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in workflows.cluster_workflow_template()["spec"]["templates"] if "container" in t}


def _tasks(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (dag,) = [t for t in workflow["spec"]["templates"] if "dag" in t]
    return {task["name"]: task for task in dag["dag"]["tasks"]}


def _argument(task: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    (found,) = [a for a in task.get("arguments", {}).get(kind, []) if a["name"] == name]
    return found


def _walk(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [node, *(item for value in node.values() for item in _walk(value))]
    if isinstance(node, list):
        return [item for value in node for item in _walk(value)]
    return []


# --------------------------------------------------------------------------- the step templates


def test_the_ibm_steps_are_registered_with_credentials_and_a_semaphore() -> None:
    ibm = [name for name, spec in STEPS.items() if spec.egress == EGRESS_IBM_QUANTUM]
    assert ibm == ["ibm-submit", "ibm-wait"]
    assert all(STEPS[name].credentials and STEPS[name].semaphore for name in ibm)


@pytest.mark.parametrize("step", list(STEPS))
def test_the_api_key_reaches_exactly_the_steps_with_credentials(step: str) -> None:
    template = _templates()[step]
    env = {item["name"]: item for item in template["container"]["env"]}
    if not STEPS[step].credentials:
        assert CREDENTIALS_ENV not in env
        assert not any("secretKeyRef" in node for node in _walk(template))
        return
    assert env[CREDENTIALS_ENV] == {
        "name": CREDENTIALS_ENV,
        "valueFrom": {
            "secretKeyRef": {
                "name": "{{inputs.parameters.credentials-secret}}",
                "key": "{{inputs.parameters.credentials-key}}",
                "optional": True,
            }
        },
    }
    assert template["metadata"]["labels"][workflows.LABEL_EGRESS] == EGRESS_IBM_QUANTUM


@pytest.mark.parametrize("step", list(STEPS))
def test_a_semaphore_is_a_template_level_list_keyed_by_the_input_parameter(step: str) -> None:
    template = _templates()[step]
    if not STEPS[step].semaphore:
        assert "synchronization" not in template
        return
    assert template["synchronization"] == {
        "semaphores": [{"configMapKeyRef": {"name": SEMAPHORE_CONFIGMAP, "key": "{{inputs.parameters.semaphore}}"}}]
    }
    assert "semaphore" in {p["name"] for p in template["inputs"]["parameters"]}
    # Argo v4 has no singular form: it would be dropped, or refused.
    assert not any("semaphore" in node for node in _walk(workflows.cluster_workflow_template()))


def test_a_new_step_with_credentials_and_a_semaphore_renders_both() -> None:
    spec = StepSpec(
        name="probe-extra",
        function=lambda **_: None,
        component="executor",
        phase="Running",
        activity="Probing",
        input_parameters=("backend", "credentials-secret", "credentials-key", "semaphore"),
        egress=EGRESS_IBM_QUANTUM,
        credentials=True,
        semaphore=True,
        when=Condition("executor", "ibm"),
    )
    registry = StepRegistry([*STEPS.values()]).with_step(spec, after="ibm-wait")
    (template,) = [
        t for t in workflows.cluster_workflow_template(registry)["spec"]["templates"] if t["name"] == "probe-extra"
    ]
    assert template["synchronization"]["semaphores"][0]["configMapKeyRef"]["name"] == SEMAPHORE_CONFIGMAP
    assert any(item["name"] == CREDENTIALS_ENV for item in template["container"]["env"])


# --------------------------------------------------------------------------- the job's Workflow


def test_the_catalogue_travels_raw_to_the_schedule_step_only() -> None:
    job = _job("ibm-by-ref.yaml")
    catalogue = snapshot(BACKENDS)
    tasks = _tasks(workflows.build(job, catalogue=catalogue))
    raw = _argument(tasks["schedule"], "artifacts", workflows.CATALOGUE_ARTIFACT)["raw"]["data"]
    assert raw == workflows.catalogue_json(catalogue)
    assert Catalogue.model_validate(json.loads(raw)) == catalogue
    for name, task in tasks.items():
        names = {a["name"] for a in task.get("arguments", {}).get("artifacts", [])}
        assert (workflows.CATALOGUE_ARTIFACT in names) == (name == "schedule")


def test_no_catalogue_is_an_empty_one() -> None:
    tasks = _tasks(workflows.build(_job("bell.yaml")))
    raw = _argument(tasks["schedule"], "artifacts", workflows.CATALOGUE_ARTIFACT)["raw"]["data"]
    assert Catalogue.model_validate(json.loads(raw)) == Catalogue()


def test_argo_tags_in_the_catalogue_reach_the_step_as_written() -> None:
    tag = "{{workflow.name}} {{=sprig.env('HOME')}}"
    catalogue = Catalogue(entries=[CatalogueEntry(name="odd", type="ibm", device="fake_sherbrooke", message=tag)])
    tasks = _tasks(workflows.build(_job("ibm-by-ref.yaml"), catalogue=catalogue))
    raw = _argument(tasks["schedule"], "artifacts", workflows.CATALOGUE_ARTIFACT)["raw"]["data"]
    assert "{{" not in raw
    assert json.loads(raw)["entries"][0]["message"] == tag


def test_the_ibm_steps_take_their_inputs_from_the_schedule_step_and_each_other() -> None:
    tasks = _tasks(workflows.build(_job("ibm-by-ref.yaml"), catalogue=snapshot(BACKENDS)))
    submit, wait, store = tasks["ibm-submit"], tasks["ibm-wait"], tasks["store-results"]
    for task in (submit, wait):
        assert task["when"] == "{{tasks.schedule.outputs.parameters.executor}} == ibm"
        for name in ("backend", "target", "credentials-secret", "credentials-key", "semaphore"):
            assert _argument(task, "parameters", name)["value"] == f"{{{{tasks.schedule.outputs.parameters.{name}}}}}"
    assert _argument(wait, "parameters", "submission")["value"] == "{{tasks.ibm-submit.outputs.parameters.submission}}"
    assert _argument(wait, "artifacts", "ibm-jobs")["from"] == "{{tasks.ibm-submit.outputs.artifacts.ibm-jobs}}"
    assert "ibm-submit.Succeeded" in wait["depends"]
    # store-results reads the parts by key (not from a task) and waits for whichever step wrote them.
    assert "arguments" not in wait or not any(a["name"] == "shard" for a in wait["arguments"].get("parameters", []))
    assert "withParam" not in wait
    assert _argument(store, "parameters", "cache-key")["value"] == "{{tasks.schedule.outputs.parameters.cache-key}}"
    assert _argument(store, "parameters", "shards")["value"] == "{{tasks.schedule.outputs.parameters.shards}}"
    assert store["depends"].endswith(
        "(execute-aer.Succeeded || execute-aer-cached.Succeeded || execute-aer-gpu.Succeeded"
        " || execute-aer-gpu-cached.Succeeded || ibm-wait.Succeeded)"
    )


def test_every_workflow_parameter_value_is_small_and_holds_no_secret() -> None:
    catalogue = snapshot(BACKENDS)
    for example in ("ibm-by-ref.yaml", "ibm-session.yaml", "selector-fallback.yaml"):
        workflow = workflows.build(_job(example), catalogue=catalogue)
        for task in _tasks(workflow).values():
            for parameter in task.get("arguments", {}).get("parameters", []):
                assert len(parameter["value"]) < 1024
        text = json.dumps(workflow)
        assert "api-key" in text  # the reference, in the catalogue: which key of which Secret
        assert CREDENTIALS_ENV not in text  # the variable is only in the step templates


@pytest.mark.parametrize(
    ("example", "says"),
    [
        ("ibm-by-ref.yaml", "QiskitBackend fake-sherbrooke (fake_sherbrooke)"),
        ("ibm-session.yaml", "QiskitSession session-sherbrooke on QiskitBackend fake-sherbrooke"),
        ("selector-fallback.yaml", "type ibm, at least 1000 qubits, else Qiskit Aer"),
        ("bell.yaml", "Qiskit Aer (automatic, seed 1234)"),
    ],
)
def test_the_description_says_where_the_job_runs(example: str, says: str) -> None:
    job = _job(example)
    annotations = workflows.build(job, catalogue=generate.example_catalogue(job))["metadata"]["annotations"]
    assert says in annotations["workflows.argoproj.io/description"]
    assert annotations["workflows.argoproj.io/title"].startswith(f"{job.name}: ")


# --------------------------------------------------------------------------- service Workflows


def _owned(backend: QiskitBackend, uid: str = UID) -> QiskitBackend:
    return backend.model_copy(update={"metadata": backend.metadata.model_copy(update={"uid": uid})})


def _container_template(workflow: dict[str, Any]) -> dict[str, Any]:
    (template,) = [t for t in workflow["spec"]["templates"] if "container" in t]
    return template


def test_a_real_backend_s_probe_gets_its_own_key_and_a_fake_one_none() -> None:
    real = _container_template(workflows.probe_workflow(BY_NAME["ibm-torino"]))
    (env,) = [item for item in real["container"]["env"] if item["name"] == CREDENTIALS_ENV]
    assert env["valueFrom"] == {"secretKeyRef": {"name": "ibm-quantum", "key": "api-key", "optional": True}}
    fake = workflows.probe_workflow(BY_NAME["fake-sherbrooke"])
    assert not any("secretKeyRef" in node for node in _walk(fake))
    task = _tasks(fake)["ibm-probe"]
    assert _argument(task, "parameters", "credentials-secret")["value"] == workflows.NO_CREDENTIALS_SECRET


def _service_workflows() -> dict[str, dict[str, Any]]:
    job = _job("ibm-by-ref.yaml")
    job = job.model_copy(update={"metadata": job.metadata.model_copy(update={"uid": UID, "generation": 2})})
    session = SESSIONS[0].model_copy(update={"metadata": SESSIONS[0].metadata.model_copy(update={"uid": UID})})
    opened = type(session).model_validate({**session.dump(), "status": {"sessionId": "s-1"}})
    backend = _owned(BY_NAME["fake-sherbrooke"])
    torino = BY_NAME["ibm-torino"]
    return {
        "ibm-probe": workflows.probe_workflow(backend),
        "ibm-cancel": workflows.cancel_workflow(
            job, workflows.target_of(torino), credentials=torino.spec.credentials_secret_ref
        ),
        "session-open": workflows.session_workflow(session, backend, "open"),
        "session-close": workflows.session_workflow(opened, backend, "close"),
    }


@pytest.mark.parametrize("step", list(SERVICE_STEPS))
def test_a_service_workflow_is_one_fenced_bounded_step(step: str) -> None:
    workflow = _service_workflows()[step]
    template = _container_template(workflow)
    spec = SERVICE_STEPS[step]
    assert template["name"] == step and list(_tasks(workflow)) == [step]
    assert template["metadata"]["labels"][workflows.LABEL_EGRESS] == EGRESS_IBM_QUANTUM
    assert workflow["metadata"]["labels"][workflows.LABEL_SERVICE] == step
    assert 0 < workflow["spec"]["activeDeadlineSeconds"] <= workflows.SERVICE_DEADLINE
    ttl = workflow["spec"]["ttlStrategy"]
    assert ttl["secondsAfterSuccess"] <= ttl["secondsAfterFailure"] <= 24 * 3600  # probes repeat: none piles up
    retry = template["retryStrategy"]
    assert retry["expression"] == workflows.RETRY_EXPRESSION and int(retry["limit"]) == workflows.SERVICE_RETRIES
    # Same security as the job steps.
    job_step = _templates()["ibm-submit"]
    for key in ("securityContext", "automountServiceAccountToken", "executor"):
        assert template[key] == job_step[key], key
    assert template["container"]["securityContext"] == job_step["container"]["securityContext"]
    assert workflow["spec"]["securityContext"] == workflows.pod_security_context()
    assert workflow["spec"]["serviceAccountName"] == workflows.SERVICE_ACCOUNT
    # Every input parameter has a value; every output is also a workflow-level output.
    given = {p["name"] for p in _tasks(workflow)[step]["arguments"]["parameters"]}
    assert given == set(spec.input_parameters)
    assert {p["globalName"] for p in template["outputs"]["parameters"]} == set(spec.output_parameters)


@pytest.mark.parametrize("step", list(SERVICE_STEPS))
def test_a_service_workflow_is_owned_and_named_for_its_owner(step: str) -> None:
    workflow = _service_workflows()[step]
    metadata = workflow["metadata"]
    (owner,) = metadata["ownerReferences"]
    kind = {"ibm-probe": "QiskitBackend", "ibm-cancel": "QiskitJob"}.get(step, "QiskitSession")
    assert owner["kind"] == kind and owner["uid"] == UID and owner["controller"] is True
    names = {
        "QiskitBackend": for_kind_named("QiskitBackend"),
        "QiskitJob": for_kind_named("QiskitJob"),
        "QiskitSession": for_kind_named("QiskitSession"),
    }[kind]
    assert metadata["labels"][names.owner_label] == owner["name"]
    assert workflow["spec"]["podMetadata"]["labels"][names.owner_label] == owner["name"]
    assert metadata["name"] == _service_workflows()[step]["metadata"]["name"], "deterministic"
    assert len(metadata["name"]) <= 63


def for_kind_named(kind: str) -> Any:
    from qiskit_argo import api

    found = api.kind_named(kind)
    assert found is not None
    return for_kind(found)


def test_service_workflow_names_differ_by_role_and_round() -> None:
    backend = _owned(BY_NAME["fake-sherbrooke"])
    names = {
        workflows.probe_workflow(backend)["metadata"]["name"],
        workflows.probe_workflow(backend, round=1)["metadata"]["name"],
        workflows.probe_workflow(backend, round=2)["metadata"]["name"],
        *(w["metadata"]["name"] for w in _service_workflows().values()),
    }
    assert len(names) == 3 + len(SERVICE_STEPS) - 1  # the probe above is the same as the first


def test_the_cancel_workflow_carries_the_identity_it_cancels() -> None:
    from qiskit_argo.ibm.tags import JobIdentity

    workflow = _service_workflows()["ibm-cancel"]
    identity = json.loads(_argument(_tasks(workflow)["ibm-cancel"], "parameters", "identity")["value"])
    assert identity == {"namespace": "default", "name": "bell-sherbrooke", "uid": UID, "generation": 2}
    job = _job("ibm-by-ref.yaml")
    other = workflows.cancel_workflow(
        job, workflows.target_of(BY_NAME["fake-sherbrooke"]), JobIdentity("default", job.name, None, 7)
    )
    assert "-cancel-7-" in other["metadata"]["name"]
    assert not any("secretKeyRef" in node for node in _walk(other))  # a fake backend: no key


def test_service_workflow_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="no service step"):
        workflows.service_workflow("ibm-submit", BY_NAME["fake-sherbrooke"], parameters={}, credentials=None, name="x")
    with pytest.raises(ValueError, match="missing parameters"):
        workflows.service_workflow("ibm-probe", BY_NAME["fake-sherbrooke"], parameters={}, credentials=None, name="x")
    with pytest.raises(ValueError, match="only ibm backends"):
        workflows.probe_workflow(BY_NAME["aer"])
    with pytest.raises(ValueError, match="nothing to close"):
        workflows.session_workflow(SESSIONS[0], BY_NAME["fake-sherbrooke"], "close")


def test_the_service_labels_are_in_the_group() -> None:
    assert workflows.LABEL_SERVICE.startswith(f"{GROUP}/")


def test_the_outline_shows_the_alternative_branches_in_order() -> None:
    assert workflows.outline() == (
        "validate → schedule → (execute-aer | execute-aer-cached | execute-aer-gpu | execute-aer-gpu-cached"
        " | ibm-submit → ibm-wait) → store-results"
    )
    description = workflows.build(_job("bell.yaml"))["metadata"]["annotations"]["workflows.argoproj.io/description"]
    assert description.endswith(f"Steps: {workflows.outline()}.")
