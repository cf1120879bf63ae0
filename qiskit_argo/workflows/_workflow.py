"""``build(job)``: the Argo Workflow of one QiskitJob."""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import TYPE_CHECKING, Any

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
    SOURCE_ARTIFACT_PREFIX,
    artifact_settings,
    retry_strategy,
    workflow_settings,
)
from qiskit_argo.workflows._wiring import (
    CATALOGUE_ARTIFACT,
    ENTRYPOINT,
    JOB_ARTIFACT,
    entrypoint_dag,
    outline,
    wiring,
)

if TYPE_CHECKING:
    from qiskit_argo.budget import Need
    from qiskit_argo.catalogue import Catalogue

__all__ = [
    "ENTRYPOINT",
    "RETRY_EXPRESSION",
    "job_document",
    "job_json",
    "catalogue_json",
    "escape_tags",
    "quantity",
    "execute_resources",
    "RESERVED_PARAMETER",
    "MAX_EXECUTION_TIME_PARAMETER",
    "reservation_parameters",
    "circuit_source_volume",
    "source_arguments",
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
    with Workflow(name="placeholder", entrypoint=ENTRYPOINT, **workflow_settings(), **artifact_settings()) as workflow:
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


def escape_tags(document: Any) -> str:
    """``document`` as compact JSON in which Argo sees no template tag.

    Argo substitutes ``{{...}}`` in a Workflow's templates, arguments and parameter values, and
    evaluates ``{{=...}}``; a circuit or any other user text must reach the step byte for byte
    whatever it holds. Compact JSON has no ``{{`` of its own (an object starts with ``{"``), so
    every ``{{`` is inside a string, where ``{\\u007b`` is the same two characters to any JSON
    reader and no tag to Argo.
    """
    text = json.dumps(document, separators=(",", ":"), sort_keys=True)
    return text.replace(_ARGO_TAG, _ESCAPED_TAG)


def job_json(job: QiskitJob) -> str:
    """``job_document(job)`` as the compact JSON the validate step receives (the ``job`` artifact),
    Argo's tags escaped (``escape_tags``)."""
    return escape_tags(job_document(job))


def catalogue_json(catalogue: Catalogue | None) -> str:
    """The catalogue snapshot as the compact JSON the schedule step receives (the ``catalogue``
    artifact), Argo's tags escaped: status messages and names are user text too. ``None``: an
    empty catalogue (the built-in Aer simulator only)."""
    from qiskit_argo.catalogue import Catalogue

    return escape_tags((catalogue or Catalogue()).dump())


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


def _selector_words(job: QiskitJob) -> str:
    selector = job.spec.backend.selector
    assert selector is not None
    words = [f"type {selector.type}" if selector.type else "any type"]
    if selector.min_qubits is not None:
        words.append(f"at least {selector.min_qubits} qubits")
    if selector.max_price is not None:
        words.append(f"estimated cost at most {selector.max_price}")
    if selector.preference:
        more = "..." if len(selector.preference) > 3 else ""
        words.append("preferring " + ", ".join(selector.preference[:3]) + more)
    if selector.allow_simulator_fallback:
        words.append("else Qiskit Aer")
    return ", ".join(words)


def _backend_words(job: QiskitJob, catalogue: Catalogue | None) -> tuple[str, str]:
    """Where the job asks to run: a short form for the title and a longer one for the description."""
    spec = job.spec
    if spec.session_ref is not None:
        session = catalogue.session if catalogue is not None else None
        backend = f" on QiskitBackend {session.backend_ref}" if session is not None else ""
        return f"QiskitSession {spec.session_ref}", f"QiskitSession {spec.session_ref}{backend}"
    if spec.backend.ref is not None:
        entry = catalogue.entry(spec.backend.ref) if catalogue is not None else None
        device = f" ({entry.device})" if entry is not None else ""
        return f"QiskitBackend {spec.backend.ref}", f"QiskitBackend {spec.backend.ref}{device}"
    if spec.backend.selector is not None:
        return "a QiskitBackend by selector", f"the QiskitBackend the schedule step picks ({_selector_words(job)})"
    aer = spec.backend.aer
    backend = f"Qiskit Aer ({aer.method}"
    if aer.noise_model:
        backend += f", noise of {aer.noise_model}"
    if aer.seed is not None:
        backend += f", seed {aer.seed}"
    return "Qiskit Aer", backend + ")"


def _describe(job: QiskitJob, steps: StepRegistry, catalogue: Catalogue | None = None) -> tuple[str, str]:
    spec = job.spec
    primitive = Primitive(spec.primitive).value
    short, backend = _backend_words(job, catalogue)
    pubs = spec.pub_specs()
    inline = [
        len(pub.parameter_values or []) or 1 for pub in pubs if getattr(pub, "parameter_values_from", None) is None
    ]
    from_sources = len(pubs) - len(inline)
    if primitive == Primitive.ESTIMATOR.value:
        what = f"estimator: {sum(len(pub.observables or []) for pub in pubs)} observable(s)"
        if spec.precision is not None:
            what += f" at precision {spec.precision:g}"
    else:
        what = f"sampler: {spec.effective_shots} shots"
    if len(pubs) > 1:
        what += f", {len(pubs)} PUBs"
    if sum(inline) > len(inline):
        what += f" x {sum(inline)} parameter bindings"
    if from_sources:
        what += f", parameter values of {from_sources} PUB(s) from storage"
    title = f"{job.name}: {primitive} on {short}"
    description = (
        f"QiskitJob {job.namespace}/{job.name}: {what} on {backend}, optimization level "
        f"{spec.optimization_level}; qubits are known after validation. Steps: {outline(steps)}."
    )
    return title, description


def _tasks(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {task["name"]: task for task in workflow["spec"]["templates"][0]["dag"]["tasks"]}


def _add_argument(task: dict[str, Any], kind: str, argument: dict[str, Any]) -> None:
    task.setdefault("arguments", {}).setdefault(kind, []).append(argument)


#: The schedule step's parameter: what the controller reserved (``{}``: no budget).
RESERVED_PARAMETER = "reserved"
#: The ibm-submit step's parameter: the reserved seconds IBM stops the job at (``0``: none).
MAX_EXECUTION_TIME_PARAMETER = "max-execution-time"


def reservation_parameters(reservation: Need | None) -> dict[str, str]:
    """The values of ``reserved`` and ``max-execution-time`` for ``reservation`` (``None``: ``{}`` and ``0``)."""
    if reservation is None:
        return {RESERVED_PARAMETER: "{}", MAX_EXECUTION_TIME_PARAMETER: "0"}
    reserved = {
        "quantumSeconds": f"{reservation.quantum_seconds.normalize():f}",
        "amount": f"{reservation.amount.normalize():f}",
        "currency": reservation.currency,
    }
    return {
        RESERVED_PARAMETER: json.dumps(reserved, separators=(",", ":"), sort_keys=True),
        MAX_EXECUTION_TIME_PARAMETER: str(max(0, int(reservation.max_execution_time))),
    }


def circuit_source_volume(job: QiskitJob) -> dict[str, Any]:
    """The Workflow's ``circuit-source`` volume: one ``projected`` volume of every ConfigMap key the
    job's circuits and parameter values name (all PUBs), each at ``<ConfigMap name>/<key>``, in the
    order of first mention; an empty directory when it names none.

    ``optional``: a missing ConfigMap (or key) reaches the validate step, which fails permanently and
    says which, instead of leaving the pod in ContainerCreating until the deadline.
    """
    wanted: dict[str, dict[str, None]] = {}
    for pub in job.spec.pub_specs():
        values = pub.parameter_values_from
        for ref in (pub.circuit.config_map_key_ref, values.config_map_key_ref if values is not None else None):
            if ref is not None:
                wanted.setdefault(ref.name, {})[ref.key] = None
    if not wanted:
        return {"name": CIRCUIT_SOURCE_VOLUME, "emptyDir": {}}
    sources = [
        {
            "configMap": {
                "name": name,
                "items": [{"key": key, "path": f"{name}/{key}"} for key in keys],
                "optional": True,
            }
        }
        for name, keys in wanted.items()
    ]
    return {"name": CIRCUIT_SOURCE_VOLUME, "projected": {"sources": sources}}


def source_arguments(job: QiskitJob) -> list[dict[str, Any]]:
    """The validate task's artifact arguments for the job's artifact sources: ``source-<i>``, a
    key-only S3 artifact (the namespace's artifact repository, that key) for the i-th of
    ``api.artifact_keys(job.spec)``; the step reads it at ``SOURCES_DIR/<i>``."""
    return [
        {"name": f"{SOURCE_ARTIFACT_PREFIX}{index}", "s3": {"key": key}}
        for index, key in enumerate(api.artifact_keys(job.spec))
    ]


def build(
    job: QiskitJob,
    *,
    catalogue: Catalogue | None = None,
    reservation: Need | None = None,
    limits: Limits | None = None,
    steps: StepRegistry | None = None,
) -> dict[str, Any]:
    """The Workflow for ``job`` as a plain dict, ready for ``kubectl create`` or ``argo submit``.

    ``catalogue`` (the snapshot of the namespace's QiskitBackends and the job's QiskitSession,
    ``qiskit_argo.catalogue.snapshot``) reaches the schedule step as its raw ``catalogue``
    artifact; ``None`` passes an empty one (the built-in Aer simulator only). ``limits`` (the
    platform's, when the controller is configured with some) are passed to the step that takes a
    ``limits`` parameter (validate); without them the step uses the built-in ``Limits()``.
    ``reservation`` (the controller's, ``qiskit_argo.budget.Need``) reaches the schedule step as
    ``reserved`` and the ibm-submit step as ``max-execution-time``; ``None`` passes neither: the
    template's default ``{}`` means no budget to both steps.
    ``steps`` is the step registry (default: ``qiskit_argo.steps.STEPS``).
    """
    steps = STEPS if steps is None else steps
    workflow: dict[str, Any] = json.loads(_skeleton(steps))
    spec = job.spec
    name, uid = job.name, job.metadata.uid
    title, description = _describe(job, steps, catalogue)
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
    body["volumes"] = [circuit_source_volume(job)]
    if spec.suspend:
        body["suspend"] = True

    tasks = _tasks(workflow)
    raw = {JOB_ARTIFACT: lambda: job_json(job), CATALOGUE_ARTIFACT: lambda: catalogue_json(catalogue)}
    # Without a reservation the template's defaults stand ("{}": no budget, none reserved).
    reserved = reservation_parameters(reservation) if reservation is not None else {}
    sources = source_arguments(job)
    for task in wiring(steps):
        if sources and steps[task.name].reads_sources:
            for argument in sources:
                _add_argument(tasks[task.name], "artifacts", argument)
        for artifact, wired in task.artifacts.items():
            if not wired.tasks:  # a raw artifact (``RAW_ARTIFACTS``, see wiring)
                _add_argument(tasks[task.name], "artifacts", {"name": artifact, "raw": {"data": raw[artifact]()}})
        if limits is not None and "limits" in task.parameters:
            _add_argument(tasks[task.name], "parameters", {"name": "limits", "value": json.dumps(limits.dump())})
        for parameter, value in reserved.items():
            if parameter in task.parameters and task.parameters[parameter].output is None:
                _add_argument(tasks[task.name], "parameters", {"name": parameter, "value": value})
        if steps[task.name].job_resources:
            resources = execute_resources(job, steps[task.name])
            if resources is not None:
                value = json.dumps(resources, separators=(",", ":"), sort_keys=True)
                _add_argument(tasks[task.name], "parameters", {"name": RESOURCES_PARAMETER, "value": value})
    return workflow
