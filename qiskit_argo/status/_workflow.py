"""What a QiskitJob's Workflow says: its steps' nodes, their outputs, their progress, why it failed.

Built on ``_argo`` (Argo's shapes, kind-agnostic) and the step registry (``qiskit_argo.steps``):
this is where a DAG task becomes a step of ours (the phase it means is its ``StepSpec.phase``)
and an output becomes a status field. Outputs are read by their names in the steps' file
contract, from whichever steps declare them: ``metrics``, ``backend`` and ``summary``
parameters, the ``results`` artifact; where several steps output one (``summary``), the latest
that published it wins. The IBM job (``status.ibm``) is the ``submission`` parameter (the step
that submitted it: id, tag, how it got it, duplicates cancelled, session) overlaid with the
``ibm`` parameter (the step that waited for it: state, timestamps, usage); both are read
leniently (a key this version does not know is dropped, not the whole output).

``status.resultLocation`` is the ``results`` artifact as Argo recorded it in the node's outputs:
the executor copies the repository's whole S3 location (bucket, endpoint, insecure, Secret
references) into the artifact and sets its key to ``<keyFormat>/<file>`` (argo-workflows v4.1.2
``workflow/executor/executor.go`` ``saveArtifactFromFile``: ``art.SetType(artLocation)``,
``art.SetKey(path.Join(key, fileName))``; the location is ``S3ArtifactRepository.IntoArtifactLocation``
in ``pkg/apis/workflow/v1alpha1/artifact_repository_types.go``), plus the same node's ``checksum``
parameter (sha256 and size of result.json) and the repository the Workflow used, as Argo resolved
it into ``status.artifactRepositoryRef`` (``workflow/controller/operator.go``, ``operate``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel, ValidationError

from qiskit_argo.api import (
    BackendStatus,
    CircuitMetrics,
    IbmJobStatus,
    Phase,
    QiskitJobStatus,
    ResultLocation,
    ResultSummary,
    StepProgress,
)
from qiskit_argo.api.job import ArtifactRepositoryReference
from qiskit_argo.reasons import Reason
from qiskit_argo.status._argo import (
    NODE_DONE,
    NODE_FAILED,
    Progress,
    fan_out_children,
    get,
    memoization,
    node_progress,
    step_failure,
    step_message,
    task_nodes,
    workflow_failure,
    workflow_nodes,
    workflow_phase,
)
from qiskit_argo.status._messages import one_line
from qiskit_argo.steps import CACHE_KEY_PARAMETER, NO_CACHE_KEY, STEPS

__all__ = [
    "STEP_NAMES",
    "STEP_PHASE",
    "RESULTS_ARTIFACT",
    "CHECKSUM_PARAMETER",
    "StepNodes",
    "artifact_repository",
    "phase_step",
    "FailureAt",
    "Outputs",
    "WorkflowView",
    "step_nodes",
    "parse_time",
    "outputs",
    "latest_parameter",
    "latest_text",
    "ibm_job",
    "overlay_ibm",
    "waiting_step",
    "SUBMISSION_PARAMETER",
    "IBM_PARAMETER",
    "failure_reason",
    "PART_STEPS",
    "job_progress",
    "cache_status",
    "step_progress",
    "older_than_known",
]

#: The DAG's steps in the order they run; a node whose displayName is one of these is that step.
STEP_NAMES: tuple[str, ...] = tuple(STEPS)
#: Which job phase each step means while it is the one under way (``StepSpec.phase``).
STEP_PHASE: Mapping[str, Phase] = MappingProxyType({spec.name: Phase(spec.phase) for spec in STEPS.values()})
#: The steps that run the circuits (each writes a result part, ``StepSpec.part``): their progress
#: is the job's (bindings done / bindings in all) and their memoization its cache status.
PART_STEPS: tuple[str, ...] = tuple(spec.name for spec in STEPS.values() if spec.part is not None)
#: The output artifact that holds the full results directory (``status.resultLocation``).
RESULTS_ARTIFACT = "results"
#: The output parameter beside it: ``{"sha256", "size"}`` of its result.json (checksum.json).
CHECKSUM_PARAMETER = "checksum"
#: The output parameter of the step that submitted the IBM job (submission.json), and of the step
#: that waited for it (ibm.json: an ``IbmJobStatus`` dump); together ``status.ibm``.
SUBMISSION_PARAMETER = "submission"
IBM_PARAMETER = "ibm"


def phase_step(phase: Phase) -> str:
    """The step a phase follows (Validating: the step whose ``StepSpec.phase`` it is)."""
    return next(name for name, means in STEP_PHASE.items() if means == phase)


_M = TypeVar("_M", bound=BaseModel)


class FailureAt(NamedTuple):
    """Why a job failed: the reason, the message for a person, and the step that failed (or None)."""

    reason: Reason | str
    message: str
    step: str | None


class StepNodes(dict[str, dict[str, Any]]):
    """The task node of each step, keyed by step name, and the artifact repository the Workflow
    used (``repository``; None where unknown), which ``outputs`` puts into the result location."""

    repository: ArtifactRepositoryReference | None = None


def step_nodes(
    nodes: Mapping[str, Mapping[str, Any]], repository: ArtifactRepositoryReference | None = None
) -> StepNodes:
    """The task node of each DAG step, keyed by step name (see ``task_nodes``)."""
    found = StepNodes(task_nodes(nodes, STEP_NAMES))
    found.repository = repository
    return found


def artifact_repository(workflow: Mapping[str, Any]) -> ArtifactRepositoryReference | None:
    """The repository a Workflow stores its artifacts in: ``status.artifactRepositoryRef`` as Argo
    resolved it (configMap, key, namespace), else the ``spec.artifactRepositoryRef`` it asked for;
    None for the default repository of Argo's own configuration, or when neither is readable."""
    for where in (("status", "artifactRepositoryRef"), ("spec", "artifactRepositoryRef")):
        ref = get(workflow, *where)
        if not isinstance(ref, Mapping) or ref.get("default") is True:
            continue
        config_map, key, namespace = ref.get("configMap"), ref.get("key"), ref.get("namespace")
        fields = {
            "config_map": config_map if isinstance(config_map, str) and config_map else "artifact-repositories",
            "key": key if isinstance(key, str) and key else None,
            "namespace": namespace if isinstance(namespace, str) and namespace else None,
        }
        try:
            return ArtifactRepositoryReference(**fields)
        except ValidationError:
            continue
    return None


@dataclass(frozen=True)
class WorkflowView:
    """One reading of the job's Workflow: its name and phase, its nodes, each step's node, and
    the step under way (the first one not done)."""

    name: str
    phase: str
    nodes: dict[str, dict[str, Any]]
    by_step: dict[str, dict[str, Any]]
    current: str | None

    @classmethod
    def of(cls, workflow: Mapping[str, Any], name: str) -> WorkflowView:
        nodes = workflow_nodes(workflow)
        by_step = step_nodes(nodes, artifact_repository(workflow))
        current = next((step for step in STEP_NAMES if (by_step.get(step) or {}).get("phase") not in NODE_DONE), None)
        return cls(name=name, phase=workflow_phase(workflow), nodes=nodes, by_step=by_step, current=current)

    @property
    def execute_step(self) -> str | None:
        """The step that ran the circuit (the last one whose message names the backend and that
        was not left out), or None."""
        left_out = (None, "Skipped", "Omitted")
        ran = [
            spec.name
            for spec in STEPS.values()
            if spec.shows_backend and (self.by_step.get(spec.name) or {}).get("phase") not in left_out
        ]
        return ran[-1] if ran else None


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time as Kubernetes writes it, or None."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


# --------------------------------------------------------------------------- outputs


def _output_parameter(node: Mapping[str, Any] | None, name: str) -> str | None:
    for parameter in get(node, "outputs", "parameters") or []:
        if isinstance(parameter, Mapping) and parameter.get("name") == name:
            value = parameter.get("value")
            return value if isinstance(value, str) else None
    return None


def _output_model(node: Mapping[str, Any] | None, name: str, model: type[_M]) -> _M | None:
    value = _output_parameter(node, name)
    if value is None:
        return None
    try:
        return model.model_validate_json(value)
    except ValidationError:
        return None


#: Where an artifact's key lives, per artifact repository kind (Argo's Artifact locations).
_ARTIFACT_KEYS: tuple[tuple[str, str], ...] = (
    ("s3", "key"),
    ("gcs", "key"),
    ("oss", "key"),
    ("azure", "blob"),
    ("hdfs", "path"),
    ("http", "url"),
    ("artifactory", "url"),
)


_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _checksum(node: Mapping[str, Any] | None) -> tuple[str | None, int | None]:
    """The node's ``checksum`` parameter (``{"sha256", "size"}``): both, or neither when either is
    not well formed (a hex SHA-256 and a size in bytes)."""
    value = _output_parameter(node, CHECKSUM_PARAMETER)
    try:
        data = json.loads(value) if value is not None else None
    except ValueError:
        data = None
    if not isinstance(data, Mapping):
        return None, None
    sha256, size = data.get("sha256"), data.get("size")
    if not (isinstance(sha256, str) and _SHA256.match(sha256)):
        return None, None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return None, None
    return sha256, size


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _result_location(
    node: Mapping[str, Any] | None, repository: ArtifactRepositoryReference | None = None
) -> ResultLocation | None:
    for artifact in get(node, "outputs", "artifacts") or []:
        if not isinstance(artifact, Mapping) or artifact.get("name") != RESULTS_ARTIFACT:
            continue
        key = None
        for kind, field in _ARTIFACT_KEYS:
            value = get(artifact, kind, field)
            if isinstance(value, str) and value:
                key = value
                break
        found = artifact.get("s3")
        s3: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        insecure = s3.get("insecure")
        sha256, size = _checksum(node)
        return ResultLocation(
            artifact=RESULTS_ARTIFACT,
            key=key,
            path=_text(artifact.get("path")),
            bucket=_text(s3.get("bucket")),
            endpoint=_text(s3.get("endpoint")),
            insecure=insecure if isinstance(insecure, bool) else None,
            repository=repository.model_copy() if repository is not None else None,
            workflow=_workflow_of(node),
            node_id=_text(get(node, "id")),
            sha256=sha256,
            size=size,
        )
    return None


def _workflow_of(node: Mapping[str, Any] | None) -> str | None:
    """The Workflow a node belongs to: its id is ``<workflow>-<hash>`` (``Workflow.NodeID``) and its
    name starts with ``<workflow>`` (then ``(``, ``.`` or nothing)."""
    name, node_id = _text(get(node, "name")), _text(get(node, "id"))
    if name is None or node_id is None:
        return None
    head = re.split(r"[.(]", name, maxsplit=1)[0]
    return head if node_id == head or node_id.startswith(head + "-") else None


def _lenient(model: type[_M], value: str | None) -> _M | None:
    """``value`` (JSON) as ``model``, keeping what reads: unknown or unreadable keys are dropped."""
    if value is None:
        return None
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, Mapping):
        return None
    try:
        return model.model_validate(dict(data))
    except ValidationError:
        pass
    kept: dict[str, Any] = {}
    for key, item in data.items():
        candidate = {**kept, key: item}
        try:
            model.model_validate(candidate)
        except ValidationError:
            continue
        kept = candidate
    try:
        return model.model_validate(kept)
    except ValidationError:
        return None


def _latest_lenient(by_step: Mapping[str, Mapping[str, Any]], name: str, model: type[_M]) -> _M | None:
    for spec in reversed(STEPS.producers(name)):
        value = _lenient(model, _output_parameter(by_step.get(spec.name), name))
        if value is not None:
            return value
    return None


def ibm_job(by_step: Mapping[str, Mapping[str, Any]]) -> IbmJobStatus | None:
    """``status.ibm``: the submit step's ``submission`` overlaid with the wait step's ``ibm``
    (what the wait step says wins where it says something); None before either published."""
    submitted = _latest_lenient(by_step, SUBMISSION_PARAMETER, IbmJobStatus)
    waited = _latest_lenient(by_step, IBM_PARAMETER, IbmJobStatus)
    if submitted is None:
        return waited
    if waited is None:
        return submitted
    return overlay_ibm(submitted, waited)


def overlay_ibm(base: IbmJobStatus | None, newer: IbmJobStatus | None) -> IbmJobStatus | None:
    """``newer`` where it says something, ``base`` elsewhere — when both are the same IBM job;
    otherwise ``newer`` (or ``base`` when there is nothing newer)."""
    if newer is None or base is None or base.job_id != newer.job_id:
        return newer or base
    merged = base.model_copy(deep=True)
    for field, value in newer:
        if value is not None and value != []:
            setattr(merged, field, value)
    return merged


def waiting_step(name: str | None) -> bool:
    """Whether step ``name`` waits for a submitted IBM job (it takes the ``submission`` parameter)."""
    spec = STEPS.get(name or "")
    return spec is not None and SUBMISSION_PARAMETER in spec.input_parameters


def latest_parameter(by_step: Mapping[str, Mapping[str, Any]], name: str, model: type[_M]) -> _M | None:
    """The output parameter ``name`` of the latest step that declares it and published it readably."""
    for spec in reversed(STEPS.producers(name)):
        value = _output_model(by_step.get(spec.name), name, model)
        if value is not None:
            return value
    return None


def _latest_results(
    by_step: Mapping[str, Mapping[str, Any]], repository: ArtifactRepositoryReference | None = None
) -> ResultLocation | None:
    for spec in reversed(STEPS.producers(RESULTS_ARTIFACT, artifact=True)):
        location = _result_location(by_step.get(spec.name), repository)
        if location is not None:
            return location
    return None


class Outputs(NamedTuple):
    """What the steps have published so far (None: not yet, or unreadable)."""

    circuit: CircuitMetrics | None
    backend: BackendStatus | None
    result: ResultSummary | None
    result_location: ResultLocation | None
    ibm: IbmJobStatus | None = None


def outputs(by_step: Mapping[str, Mapping[str, Any]], repository: ArtifactRepositoryReference | None = None) -> Outputs:
    """The circuit metrics (``metrics``), the chosen backend (``backend``), the result summary
    (``summary``: the final one, else the execute step's), where the full result is (the
    ``results`` artifact, its checksum and the artifact repository: ``repository``, else the one
    ``by_step`` carries when it is a ``StepNodes``) and the IBM job (``ibm_job``)."""
    if repository is None and isinstance(by_step, StepNodes):
        repository = by_step.repository
    return Outputs(
        circuit=latest_parameter(by_step, "metrics", CircuitMetrics),
        backend=latest_parameter(by_step, "backend", BackendStatus),
        result=latest_parameter(by_step, "summary", ResultSummary),
        result_location=_latest_results(by_step, repository),
        ibm=ibm_job(by_step),
    )


# --------------------------------------------------------------------------- why it failed


def failure_reason(workflow: Mapping[str, Any]) -> FailureAt:
    """Why a Failed/Error Workflow failed: ``(Reason, message for a person, failed step or None)``.

    The first failed step decides (``step_failure``: the step's own reason behind Argo's
    ``main: Error (exit code N):`` prefix, an OOM kill, a deadline...); without one, the
    Workflow's own message or any failed node's.
    """
    nodes = workflow_nodes(workflow)
    by_step = step_nodes(nodes)
    phase = workflow_phase(workflow)
    fallback = Reason.WORKFLOW_ERROR if phase == "Error" else Reason.WORKFLOW_FAILED
    for step in STEP_NAMES:
        node = by_step.get(step)
        if node is None or node.get("phase") not in NODE_FAILED:
            continue
        failure = step_failure(node, nodes)
        return FailureAt(failure.reason, one_line(f"{step} failed: {failure.detail}"), step)
    # Not a step (the template could not be resolved, the Workflow was stopped before a step ran...).
    reason, detail = workflow_failure(workflow, nodes)
    if reason is not None or detail:
        return FailureAt(reason or fallback, one_line(f"Workflow {phase.lower() or 'failed'}: {detail}"), None)
    name = get(workflow, "metadata", "name") or "the Workflow"
    return FailureAt(fallback, f"Workflow {name} ended {phase or 'Failed'} without a message", None)


# --------------------------------------------------------------------------- progress


def job_progress(
    by_step: Mapping[str, Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, Any]],
    total: int | None = None,
    part_steps: tuple[str, ...] = PART_STEPS,
) -> str | None:
    """``status.progress``: ``"N/M"``, bindings done of bindings in all, summed over the execute
    steps' tasks (each shard's pod writes ``0/M`` when it starts and ``M/M`` when done: its
    ``ARGO_PROGRESS_FILE``); None before any of them reports.

    A shard that came from Argo's memoization cache ran no pod, so Argo counts it ``1/1``; with
    ``total`` (``status.circuit.numBindings``) known, those shards count as the bindings the others
    do not hold, all done."""
    counted: Progress | None = None
    hits = 0
    for step in part_steps:
        node = by_step.get(step)
        if node is None:
            continue
        for shard in fan_out_children(node, nodes) or [dict(node)]:
            memo = memoization(shard, nodes)
            if memo is not None and memo["hit"] and shard.get("phase") == "Succeeded":
                hits += 1
                continue
            found = node_progress(shard, nodes)
            if found is not None:
                counted = found if counted is None else counted + found
    if hits:
        ran = counted or Progress(0, 0)
        if total is not None and total >= ran.total:
            counted = Progress(ran.done + total - ran.total, total)
        else:
            counted = ran + Progress(hits, hits)
    return str(counted) if counted is not None else None


def cache_status(
    by_step: Mapping[str, Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, Any]],
    part_steps: tuple[str, ...] = PART_STEPS,
) -> dict[str, Any] | None:
    """``status.cache`` (camelCase): whether the execute step's shards came from the simulator cache
    (Argo ``memoize``, each shard's ``memoizationStatus``): ``hit`` when every shard did, ``key``
    the schedule step's cache key, ``shards`` and ``shardsHit``; None when no memoized step ran."""
    for step in part_steps:
        node = by_step.get(step)
        if node is None or node.get("type") == "Skipped":
            continue
        shards = fan_out_children(node, nodes) or [dict(node)]
        found = [memoization(shard, nodes) for shard in shards]
        if not any(memo is not None for memo in found):
            continue
        key = latest_text(by_step, CACHE_KEY_PARAMETER)
        if key is None or key == NO_CACHE_KEY:
            memo_key = next(str(memo["key"]) for memo in found if memo is not None)
            key = memo_key.split("-", 1)[0]
        hit = sum(1 for memo in found if memo is not None and memo["hit"])
        return {"hit": hit == len(shards), "key": key, "shards": len(shards), "shardsHit": hit}
    return None


def latest_text(by_step: Mapping[str, Mapping[str, Any]], name: str) -> str | None:
    """The output parameter ``name`` (text as written) of the latest step that declares and published it."""
    for spec in reversed(STEPS.producers(name)):
        value = _output_parameter(by_step.get(spec.name), name)
        if value is not None:
            return value.strip()
    return None


def step_progress(
    by_step: Mapping[str, Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, Any]],
    previous: list[StepProgress],
    terminal: bool,
) -> list[StepProgress]:
    """Each step's phase, times and message; unreadable nodes keep what the status knew."""
    if not by_step and previous:
        return [step.model_copy(deep=True) for step in previous]  # nodes unreadable: keep what we knew
    steps: list[StepProgress] = []
    for name in STEP_NAMES:
        node = by_step.get(name)
        if node is None:
            steps.append(StepProgress(name=name, phase="Omitted" if terminal else "Pending"))
            continue
        message = step_message(node, nodes)
        row = StepProgress(
            name=name,
            phase=str(node.get("phase") or "Pending"),
            started_at=parse_time(node.get("startedAt")),
            finished_at=parse_time(node.get("finishedAt")),
            message=one_line(message) if message else None,
        )
        if name in PART_STEPS:
            found = node_progress(node, nodes)
            row.progress = str(found) if found is not None else None
        steps.append(row)
    return steps


#: How far a step has come, as the status shows it (``Pending`` there may mean "no node yet").
_STATUS_RANK = {"Running": 1, "Succeeded": 2, "Failed": 2, "Error": 2, "Skipped": 2, "Omitted": 2}
#: How far a step has come, as a node shows it.
_NODE_RANK = {"Pending": 0, "Running": 1, "Succeeded": 2, "Failed": 2, "Error": 2, "Skipped": 2, "Omitted": 2}


def older_than_known(previous: QiskitJobStatus, workflow: Mapping[str, Any]) -> bool:
    """Whether this Workflow is older than what the status shows: a step it shows started or
    finished is absent, or not as far, in its nodes."""
    nodes = workflow_nodes(workflow)
    if not nodes:
        return False  # not started, or nodes unreadable (offloaded): nothing to compare
    by_step = step_nodes(nodes)
    for step in previous.steps:
        shown = _STATUS_RANK.get(str(step.phase), -1)
        if shown < 0:
            continue
        node = by_step.get(step.name)
        seen = -1 if node is None else _NODE_RANK.get(str(node.get("phase")), -1)
        if seen < shown:
            return True
    return False
