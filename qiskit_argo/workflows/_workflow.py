"""``build(job)``: the Argo Workflow of one QiskitJob."""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from hera.workflows import Workflow

from qiskit_argo import api
from qiskit_argo.api import API_VERSION, KIND, QISKIT_JOB, Primitive, QiskitJob
from qiskit_argo.naming import argo_annotations, for_kind
from qiskit_argo.request import Limits
from qiskit_argo.steps import STEPS, StepRegistry, StepSpec
from qiskit_argo.workflows._template import (
    CIRCUIT_SOURCE_VOLUME,
    RESOURCES_PARAMETER,
    RETRY_EXPRESSION,
    TTL_AFTER_FAILURE,
    TTL_AFTER_SUCCESS,
    retry_strategy,
    workflow_settings,
)
from qiskit_argo.workflows._wiring import ENTRYPOINT, JOB_ARTIFACT, entrypoint_dag, outline, wiring

__all__ = [
    "ENTRYPOINT",
    "RETRY_EXPRESSION",
    "TTL_AFTER_SUCCESS",
    "TTL_AFTER_FAILURE",
    "job_document",
    "job_json",
    "quantity",
    "execute_resources",
    "build",
]

_SUFFIXES = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    **{s: Decimal(1000) ** (i + 1) for i, s in enumerate("kMGTPE")},
    **{f"{s}i": Decimal(1024) ** (i + 1) for i, s in enumerate("KMGTPE")},
}


# --------------------------------------------------------------------------- the job-independent part


#: Names, labels and the ownerReference of a QiskitJob's children.
_JOB = for_kind(QISKIT_JOB)


@cache
def _skeleton(steps: StepRegistry) -> str:
    """Everything that does not depend on the job, rendered once by Hera (JSON, copied per build)."""
    with Workflow(name="placeholder", entrypoint=ENTRYPOINT, **workflow_settings()) as workflow:
        entrypoint_dag(cluster_template=_JOB.template_name, steps=steps)
    return json.dumps(workflow.to_dict())


# --------------------------------------------------------------------------- the job-dependent part


def job_document(job: QiskitJob) -> dict[str, Any]:
    """What the validate step reads: the spec and the identifying metadata, nothing else."""
    metadata: dict[str, Any] = {"name": job.metadata.name, "namespace": job.metadata.namespace}
    if job.metadata.uid:
        metadata["uid"] = job.metadata.uid
    if job.metadata.generation is not None:
        metadata["generation"] = job.metadata.generation
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": job.spec.dump()}


#: What opens an Argo template tag (``{{workflow.name}}``, ``{{=expression}}``).
_ARGO_TAG = "{{"
#: The same two characters with the second one a JSON escape: the same JSON value, no tag.
_ESCAPED_TAG = "{\\u007b"


def job_json(job: QiskitJob) -> str:
    """``job_document(job)`` as the compact JSON the validate step receives (the ``job`` artifact).

    Argo substitutes ``{{...}}`` in a Workflow's templates, arguments and parameter values, and
    evaluates ``{{=...}}``; a circuit or any other user text must reach the step byte for byte
    whatever it holds. Compact JSON has no ``{{`` of its own (an object starts with ``{"``), so
    every ``{{`` is inside a string, where ``{\\u007b`` is the same two characters to any JSON
    reader and no tag to Argo.
    """
    text = json.dumps(job_document(job), separators=(",", ":"), sort_keys=True)
    return text.replace(_ARGO_TAG, _ESCAPED_TAG)


def quantity(value: str | int) -> Decimal:
    """The value of a Kubernetes quantity (``500m``, ``2``, ``4Gi``, ``1G``, ``1e3``), by the grammar
    ``qiskit_argo.api`` validates with."""
    match = re.match(api.QUANTITY_PATTERN, str(value))
    try:
        if match is None:
            raise InvalidOperation
        sign, number, suffix = match.group(1) or "", match.group(2), match.group(6) or ""
        if suffix[:1] in ("e", "E") and suffix not in _SUFFIXES:
            return Decimal(sign + number + suffix)
        return Decimal(sign + number) * _SUFFIXES.get(suffix, Decimal(1))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a Kubernetes quantity") from None


def execute_resources(job: QiskitJob, step: StepSpec | None = None) -> dict[str, dict[str, str | int]] | None:
    """The full requests/limits of ``step`` (default: the first registered step the job's
    ``spec.resources`` apply to, ``StepSpec.job_resources``): the job's values over the step's
    defaults, kept consistent.

    A request the job raises above the default limit lifts that limit; a limit it lowers below
    the default request lowers that request. Values the job gives itself are kept as written (a
    request above its own limit is for the API server to refuse, with its own message). Without
    ``spec.resources`` the answer is ``None``.
    """
    wanted = job.spec.resources
    if wanted is None:
        return None
    if step is None:
        step = next(spec for spec in STEPS.values() if spec.job_resources)
    asked_requests, asked_limits = wanted.requests or {}, wanted.limits or {}
    requests: dict[str, str | int] = {**step.resources.requests, **asked_requests}
    limits: dict[str, str | int] = {**step.resources.limits, **asked_limits}
    for resource in set(requests) & set(limits):
        try:
            fits = quantity(requests[resource]) <= quantity(limits[resource])
        except ValueError:
            continue
        if fits or (resource in asked_requests) == (resource in asked_limits):
            continue
        if resource in asked_requests:
            limits[resource] = requests[resource]
        else:
            requests[resource] = limits[resource]
    return {"requests": requests, "limits": limits}


def _describe(job: QiskitJob, steps: StepRegistry) -> tuple[str, str]:
    spec = job.spec
    primitive = Primitive(spec.primitive).value
    aer = spec.backend.aer
    backend = f"Qiskit Aer ({aer.method}"
    if aer.noise_model:
        backend += f", noise of {aer.noise_model}"
    if aer.seed is not None:
        backend += f", seed {aer.seed}"
    backend += ")"
    bindings = len(spec.parameter_values or []) or 1
    if primitive == Primitive.ESTIMATOR.value:
        what = f"estimator: {len(spec.observables or [])} observable(s)"
        if spec.precision is not None:
            what += f" at precision {spec.precision:g}"
    else:
        what = f"sampler: {spec.effective_shots} shots"
    if bindings > 1:
        what += f" x {bindings} parameter bindings"
    title = f"{job.name}: {primitive} on Qiskit Aer"
    description = (
        f"QiskitJob {job.namespace}/{job.name}: {what} on {backend}, optimization level "
        f"{spec.optimization_level}; qubits are known after validation. Steps: {outline(steps)}."
    )
    return title, description


def _tasks(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {task["name"]: task for task in workflow["spec"]["templates"][0]["dag"]["tasks"]}


def _add_argument(task: dict[str, Any], kind: str, argument: dict[str, Any]) -> None:
    task.setdefault("arguments", {}).setdefault(kind, []).append(argument)


def build(job: QiskitJob, *, limits: Limits | None = None, steps: StepRegistry | None = None) -> dict[str, Any]:
    """The Workflow for ``job`` as a plain dict, ready for ``kubectl create`` or ``argo submit``.

    ``limits`` (the platform's, when the controller is configured with some) are passed to the
    step that takes a ``limits`` parameter (validate); without them the step uses the built-in
    ``Limits()``. ``steps`` is the step registry (default: ``qiskit_argo.steps.STEPS``).
    """
    steps = STEPS if steps is None else steps
    workflow: dict[str, Any] = json.loads(_skeleton(steps))
    spec = job.spec
    name, uid = job.name, job.metadata.uid
    title, description = _describe(job, steps)
    metadata: dict[str, Any] = {
        "name": _JOB.child_name(name, uid, job.namespace),
        "namespace": job.namespace,
        "labels": _JOB.labels(name, uid),
        "annotations": argo_annotations(title, description),
    }
    if uid:
        metadata["ownerReferences"] = [_JOB.owner_reference(name, uid)]
    workflow["metadata"] = metadata

    body = workflow["spec"]
    body["podMetadata"] = {"labels": _JOB.labels(name, uid)}
    body["activeDeadlineSeconds"] = spec.active_deadline_seconds
    body["retryStrategy"] = retry_strategy(spec.retry)
    source = spec.circuit.config_map_key_ref
    body["volumes"] = [
        # optional: a missing ConfigMap reaches the validate step, which fails permanently and says
        # so, instead of leaving the pod in ContainerCreating until the deadline.
        {"name": CIRCUIT_SOURCE_VOLUME, "configMap": {"name": source.name, "optional": True}}
        if source is not None
        else {"name": CIRCUIT_SOURCE_VOLUME, "emptyDir": {}}
    ]
    if spec.suspend:
        body["suspend"] = True

    tasks = _tasks(workflow)
    for task in wiring(steps):
        if any(not source.tasks for source in task.artifacts.values()):  # only JOB_ARTIFACT (see wiring)
            _add_argument(tasks[task.name], "artifacts", {"name": JOB_ARTIFACT, "raw": {"data": job_json(job)}})
        if limits is not None and "limits" in task.parameters:
            _add_argument(tasks[task.name], "parameters", {"name": "limits", "value": json.dumps(limits.dump())})
        if steps[task.name].job_resources:
            resources = execute_resources(job, steps[task.name])
            if resources is not None:
                value = json.dumps(resources, separators=(",", ":"), sort_keys=True)
                _add_argument(tasks[task.name], "parameters", {"name": RESOURCES_PARAMETER, "value": value})
    return workflow
