"""Write a Workflow's ``status`` exactly as the Argo controller does, for tests without Argo.

Nothing here is invented: every shape is copied from Argo's source (argoproj/argo-workflows,
v4.1.2 unless a version is named; cited as ``repo:path``) for the Workflow ``workflows.build``
makes — a ``main`` DAG with ``retryStrategy: {limit: 0}`` whose four tasks reference the
ClusterWorkflowTemplate's steps, and ``spec.retryStrategy`` (backoff 10 s, factor 2, expression
``asInt(lastRetry.exitCode) != 2``) for every step.

The node tree (``workflow/controller/operator.go`` ``executeTemplate``/``initializeNode``,
``workflow/controller/dag.go``; the same tree as ``workflow/controller/testdata/
dag-exhausted-retries-xfail.yaml``)::

    <wf>                   Retry  templateName main  (the DAG has a retryStrategy: it is wrapped)
    └─ <wf>(0)             DAG    templateName main, nodeFlag {retried: true}
       ├─ <wf>(0).validate Retry  templateRef {qiskit-job-v1, validate, clusterScope}, boundaryID <wf>(0)
       │  ├─ <wf>(0).validate(0)  Pod, nodeFlag {retried: true}   one per attempt
       │  └─ <wf>(0).validate(1)  Pod ...
       │       └─ <wf>(0).schedule  (a task hangs off the last attempt of each task it depends on)
       ...
       └─ omitted tasks after a failure: type Skipped, phase Omitted, "omitted: depends condition not met"

* ids: the root's id is the Workflow's name; every other node's is ``<wf>-<fnv32a(node name)>``
  (``pkg/apis/workflow/v1alpha1/workflow_types.go`` ``Workflow.NodeID``).
* ``displayName``: the node name less its boundary node's name and the ``.`` (``initializeNode``):
  ``validate``, ``validate(0)``; the root and the DAG (no boundary) keep their names.
* ``templateName``/``templateRef``/``templateScope``/``boundaryID``: from the task that made the
  node (``initializeNode``); Retry nodes carry them too (as in the testdata above).
* ``finishedAt`` is ``null`` until a node finishes (``metav1.Time`` marshals its zero as null).
* ``outputs.exitCode``: the main container's exit code as a *string* (``getExitCode``;
  ``Outputs.ExitCode *string`` in workflow_types.go).
* ``outputs.parameters``: the template's output parameter with ``value`` set to the file the step
  wrote, one trailing newline trimmed (``workflow/executor/executor.go`` ``SaveParameters``);
  the template's ``valueFrom`` stays.
* ``outputs.artifacts``: the template's artifact (its ``artifactGC`` included) with the artifact
  repository's whole S3 location — ``bucket``, ``endpoint``, ``insecure``, the Secret references —
  copied in by ``art.SetType(artLocation)`` and the key ``<keyFormat>/<file>`` set by
  ``art.SetKey(path.Join(key, fileName))`` (argo-workflows v4.1.2 ``workflow/executor/executor.go``
  ``saveArtifactFromFile``; the location is ``S3ArtifactRepository.IntoArtifactLocation`` in
  ``pkg/apis/workflow/v1alpha1/artifact_repository_types.go``), ``keyFormat`` defaulting to
  ``{{workflow.name}}/{{pod.name}}``, the file the base name with ``archive: none``, else
  ``<name>.tgz`` (``stageArchiveFile``); pod names ``<wf>-<template>-<fnv32a(node name)>``
  (``workflow/util/pod_name.go`` ``GeneratePodName`` v2).
* A Retry node takes its last attempt's outputs when it succeeds, and one of these messages when
  it stops (``operator.go`` ``processNodeRetries``): ``Backoff for 10 seconds`` (phase still
  Running, between attempts; ``util/humanize/humanize.go``), ``No more retries left``,
  ``retryStrategy.expression evaluated to false`` (exit code 2 — after the backoff: Argo waits
  before it evaluates the expression), ``Max duration limit exceeded``, ``Backoff would exceed
  max duration limit``, ``retry exceeded workflow deadline <time>``, ``Stopped with strategy
  '<Stop|Terminate>'``.
* A failed pod's node message (``operator.go`` ``inferFailedReason``): the pod's own
  ``status.message`` when it has one (an eviction); else, for the first failed container,
  ``<container>: <Reason> (exit code N): <termination message>`` since **v3.7**
  (``v3.7.0:workflow/controller/operator.go``), ``<Reason> (exit code N): <termination message>``
  before (``v3.6.0:workflow/controller/operator.go``), without ``: <message>`` when the container
  wrote none; ``Reason`` is the kubelet's (``Error``, ``OOMKilled``). A container that never
  started: ``Pod failed before <container> container starts due to <Reason>: <message>``, phase
  Error. A pod that vanished: ``pod deleted``, phase Error (``podReconciliation``). A pending pod
  carries its waiting reason (``getPendingReason``: ``ImagePullBackOff: Back-off pulling image
  ...``). ``init``/``wait`` container failures are phase Error.
* Deadlines (``workflow/controller/exec_control.go`` ``applyExecutionControl``): running pods →
  ``Step exceeded its deadline``; pending nodes the same (``failNodesWithoutCreatedPodsAfterDeadlineOrShutdown``).
  ``argo stop``/``terminate`` set ``spec.shutdown``; running pods → ``workflow shutdown with
  strategy:  Stop`` (two spaces, as Argo writes it).
* The Workflow's ``status.message`` is the root node's message (``operator.go`` ``operate``),
  ``Stopped with strategy '<s>'`` after a shutdown; phase Failed for a failed DAG; a Workflow
  whose template cannot be resolved fails before any node exists with ``invalid spec: templates.
  main.tasks.validate template reference qiskit-job-v1.validate not found``
  (``operator.go`` ``setExecWorkflow``, ``workflow/validate/validate.go``). ``markWorkflowPhase``
  sets the ``workflows.argoproj.io/phase`` and ``/completed`` labels, ``startedAt``,
  ``finishedAt`` and the ``Completed`` condition.

Left out because nothing here reads them: ``inputs``, ``estimatedDuration``,
``taskResultsCompletionStatus``, ``storedTemplates``, ``artifactRepositoryRef`` and the
``PodRunning`` condition. ``test_status.py`` validates every status this fake writes against Argo's
own JSON schema (``../shared/schemas/argo-workflows.schema.json``, strict).

* A task whose ``when`` is false after substitution (``{{tasks.schedule.outputs.parameters.
  executor}} == aer`` with the schedule step's ``ibm``): a ``Skipped`` node, phase ``Skipped``,
  message ``when 'ibm == aer' evaluated false``, linked from its dependencies' outbound nodes
  (``workflow/controller/dag.go`` ``executeDAG``: ``connectDependencies`` then ``initializeNode
  (..., NodeTypeSkipped, ..., NodeSkipped, ..., skipReason)``). ``succeed_all`` takes the branch
  the schedule step's ``executor`` output chose.

* A fanned-out task (``withParam: '{{tasks.schedule.outputs.parameters.shards}}'``; ``workflow/
  controller/dag.go`` ``executeDAGTask``/``expandTask``, ``operator.go`` ``processItem``): a ``TaskGroup``
  node ``<dag>.<task>`` (phase Running, linked from its dependencies' outbound nodes), and one
  expanded task per item ``<dag>.<task>(<i>:<item>)`` (displayName ``<task>(<i>:<item>)``, a child of
  the group, itself a Retry node with attempts ``...(<i>:<item>)(0)``); the group turns Succeeded
  once every child is fulfilled, else takes a failed child's phase; its outbound nodes are its
  children's. A fanned-out task whose ``when`` is false never expands (its ``withParam`` stays
  unresolved, so ``expandTask`` finds no items): one ``Skipped`` node, phase Skipped, message
  ``Skipped, empty params``.
* Memoization (``operator.go`` ``executeTemplate``, ``initializeCacheNode``/``initializeCacheHitNode``;
  ``MemoizationStatus`` in ``pkg/apis/workflow/v1alpha1/workflow_types.go``): every node of a
  memoized template carries ``memoizationStatus: {hit, key, cacheName}``; a hit is a node of type
  ``Pod`` created Succeeded with the cached outputs and no pod, no attempts.
* ``progress`` (``workflow/progress/updater.go`` ``UpdateProgress``, ``pkg/apis/workflow/v1alpha1/
  progress.go``): a pod's is what its step wrote to ``ARGO_PROGRESS_FILE`` (``report_progress``),
  ``0/1`` until then, completed (``M/M``) once it succeeded; every other node's is the sum over
  the pods below it (``sumProgress``); the Workflow's the sum over all pods.

The step outputs below (``METRICS_JSON``...) are the exact files the real steps write for
``examples/bell.yaml``; ``test_status.py`` runs the steps and checks they still are. The IBM
ones (``SUBMISSION_JSON``, ``IBM_JSON``) follow the shared contract's file shapes
(submission.json, ibm.json: an ``IbmJobStatus`` dump with camelCase keys).
"""

from __future__ import annotations

import copy
import functools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from qiskit_argo import workflows
from qiskit_argo.steps import SINGLE_PART, STEPS

__all__ = [
    "ArgoFake",
    "METRICS",
    "BACKEND",
    "SUMMARY",
    "METRICS_JSON",
    "BACKEND_JSON",
    "SUMMARY_JSON",
    "IBM_BACKEND",
    "IBM_BACKEND_JSON",
    "IBM_TARGET_JSON",
    "IBM_SCHEDULE",
    "SUBMISSION",
    "SUBMISSION_JSON",
    "IBM_JOB",
    "IBM_JSON",
    "ARTIFACT_REPOSITORY",
    "ARTIFACT_REPOSITORY_REF",
    "CHECKSUM",
    "CHECKSUM_JSON",
    "ts",
    "fnv32a",
    "node_id",
    "pod_name",
    "argo_time",
]

#: The files the real steps write for examples/bell.yaml (validate, schedule, execute-aer).
METRICS_JSON = (
    '{"numQubits": 2, "numClbits": 2, "depth": 3, "size": 4, "numParameters": 0, '
    '"countOps": {"measure": 2, "h": 1, "cx": 1}, "hasMeasurements": true, "numBindings": 1, "numPubs": 1}'
)
BACKEND_JSON = (
    '{"name": "aer", "rejected": [], "method": "automatic", '
    '"reason": "spec.backend.aer.method=automatic: Clifford-only circuit, Aer will use the stabilizer method"}'
)
SUMMARY_JSON = (
    '{"primitive": "sampler", "numPubs": 1, "numBindings": 1, "shots": 1024, '
    '"topCounts": {"00": 529, "11": 495}, "pubs": [{"index": 0, "numBindings": 1, "shots": 1024, '
    '"topCounts": {"00": 529, "11": 495}, "truncated": false}], "truncated": false}'
)
#: What the IBM branch writes for the same job on a QiskitBackend ``sherbrooke`` (fakeBackend
#: fake_sherbrooke): schedule's choice, ibm-submit's ``submission``, ibm-wait's ``ibm``.
IBM_BACKEND_JSON = (
    '{"name": "sherbrooke", "type": "ibm", "device": "fake_sherbrooke", '
    '"reason": "spec.backend.ref=sherbrooke", "rejected": []}'
)
#: The schedule step's other outputs for that choice (target.json; the Secret key placeholders
#: of a fake backend, which needs none; the semaphore key), as the contract names them.
IBM_TARGET_JSON = (
    '{"name": "sherbrooke", "device": "fake_sherbrooke", "fake": true, "channel": null, '
    '"instance": null, "sessionId": null, "mode": null}'
)
IBM_SCHEDULE: dict[str, str] = {
    "backend": IBM_BACKEND_JSON,
    "executor": "ibm",
    "target": IBM_TARGET_JSON,
    "credentials-secret": "qiskit-argo-no-credentials",
    "credentials-key": "token",
    "semaphore": "sherbrooke",
}
SUBMISSION_JSON = (
    '{"jobId": "d1k2mq8s0abc", "tag": "qiskit-argo.job.3f2a9c", "action": "Submitted", '
    '"duplicatesCancelled": [], "sessionId": null, "message": null}'
)
IBM_JSON = (
    '{"jobId": "d1k2mq8s0abc", "tag": "qiskit-argo.job.3f2a9c", "action": "Submitted", "state": "Done", '
    '"duplicatesCancelled": [], "created": "2026-01-01T12:00:10Z", "running": "2026-01-01T12:00:12Z", '
    '"finished": "2026-01-01T12:00:15Z", "quantumSeconds": 2.0, "estimatedQuantumSeconds": 1.5}'
)
METRICS: dict[str, Any] = json.loads(METRICS_JSON)
IBM_BACKEND: dict[str, Any] = json.loads(IBM_BACKEND_JSON)
SUBMISSION: dict[str, Any] = json.loads(SUBMISSION_JSON)
IBM_JOB: dict[str, Any] = json.loads(IBM_JSON)
BACKEND: dict[str, Any] = json.loads(BACKEND_JSON)
SUMMARY: dict[str, Any] = json.loads(SUMMARY_JSON)

#: An S3 artifact repository as Argo's quick-start configures it (``ArtifactRepository.ToArtifactLocation``
#: copied into each saved artifact by ``saveArtifactFromFile``, as in the testdata above).
ARTIFACT_REPOSITORY: dict[str, Any] = {
    "accessKeySecret": {"key": "accesskey", "name": "my-minio-cred"},
    "bucket": "my-bucket",
    "endpoint": "minio:9000",
    "insecure": True,
    "secretKeySecret": {"key": "secretkey", "name": "my-minio-cred"},
}
#: ``status.artifactRepositoryRef`` as Argo writes it when it picks the Workflow up: the Workflow's
#: ``spec.artifactRepositoryRef`` resolved in the Workflow's namespace, with the repository itself
#: (argo-workflows v4.1.2 ``workflow/controller/operator.go`` ``operate`` →
#: ``workflow/artifactrepositories/artifactrepositories.go`` ``Resolve``/``get``;
#: ``ArtifactRepositoryRefStatus`` in ``pkg/apis/workflow/v1alpha1/workflow_types.go``). ``namespace``
#: is filled in by ``ArgoFake.start``.
ARTIFACT_REPOSITORY_REF: dict[str, Any] = {
    "configMap": "artifact-repositories",
    "key": "default-v1",
    "artifactRepository": {"s3": {k: v for k, v in ARTIFACT_REPOSITORY.items()}},
}
#: The store-results step's ``checksum`` parameter for the Bell job's result.json (checksum.json).
CHECKSUM: dict[str, Any] = {"sha256": "5f1c3a8e" * 8, "size": 1893}
CHECKSUM_JSON = json.dumps(CHECKSUM, sort_keys=True)

_EPOCH = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)

#: Messages of a Retry node that stopped retrying (``processNodeRetries``).
NO_MORE_RETRIES = "No more retries left"
EXPRESSION_FALSE = "retryStrategy.expression evaluated to false"
OMITTED = "omitted: depends condition not met"


def ts(seconds: float) -> str:
    """An Argo timestamp (RFC 3339, second precision, Z) ``seconds`` after a fixed epoch."""
    return (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def argo_time(seconds: float) -> str:
    """A ``time.Time`` as Go's ``%s`` prints it (``retry exceeded workflow deadline %s``)."""
    return (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def fnv32a(text: str) -> int:
    """FNV-1a, 32 bits (Go's ``hash/fnv.New32a``), as Argo hashes node names."""
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def node_id(workflow: str, node_name: str) -> str:
    """``Workflow.NodeID``: the root's id is the Workflow's name, the others ``<wf>-<fnv32a>``."""
    return workflow if node_name == workflow else f"{workflow}-{fnv32a(node_name)}"


def pod_name(workflow: str, node_name: str, template: str) -> str:
    """``GeneratePodName`` (pod names v2): ``<wf>-<template>-<fnv32a(node name)>``."""
    return f"{workflow}-{template}-{fnv32a(node_name)}"


@functools.cache
def _template_outputs() -> dict[str, dict[str, Any]]:
    """Each step template's ``outputs`` as the ClusterWorkflowTemplate declares them."""
    template = workflows.cluster_workflow_template()
    return {t["name"]: copy.deepcopy(t.get("outputs") or {}) for t in template["spec"]["templates"] if "container" in t}


@functools.cache
def _templates() -> dict[str, dict[str, Any]]:
    """Each step template as the ClusterWorkflowTemplate declares it."""
    template = workflows.cluster_workflow_template()
    return {t["name"]: t for t in template["spec"]["templates"] if "container" in t}


def _depends() -> dict[str, tuple[str, ...]]:
    """Each task's dependencies: every task its ``depends`` names (``GetTaskDependencies``)."""
    return {
        task.name: tuple(dict.fromkeys(name for clause in task.depends for name in clause.tasks))
        for task in workflows.wiring()
    }


#: What a bare dependency name accepts (``depends: "a"`` is ``a.Succeeded || a.Skipped || a.Daemoned``).
_BARE = ("Succeeded", "Skipped")
#: A node's phase as a ``depends`` result word (``Errored`` for Error: ``dag.go`` ``evaluateDependsLogic``).
_RESULT = {"Succeeded": "Succeeded", "Skipped": "Skipped", "Failed": "Failed", "Error": "Errored", "Omitted": "Omitted"}


def _clauses() -> dict[str, tuple[Any, ...]]:
    return {task.name: task.depends for task in workflows.wiring()}


class ArgoFake:
    """Mutates one Workflow dict as the Argo controller would, step by step.

    ``retries=False`` models a Workflow without any retryStrategy (a DAG root, Pod task nodes);
    ``workflows.build`` always sets one, so the default is the tree above. ``argo_version``
    ("3.6" or "3.7"+) chooses the node message format. Every method returns the Workflow dict.
    """

    def __init__(
        self,
        workflow: dict[str, Any],
        *,
        retries: bool = True,
        argo_version: str = "4.1",
        template: str = "qiskit-job-v1",
        node: str = "worker-1",
    ) -> None:
        self.workflow = workflow
        self.retries = retries
        self.argo_version = tuple(int(part) for part in argo_version.split("."))
        self.template = template
        self.host = node
        self.clock = 0.0
        self.workflow.setdefault("status", {})
        self.workflow.setdefault("metadata", {}).setdefault("labels", {})

    # -- names -----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return str(self.workflow["metadata"]["name"])

    @property
    def status(self) -> dict[str, Any]:
        return self.workflow["status"]  # type: ignore[no-any-return]

    @property
    def nodes(self) -> dict[str, dict[str, Any]]:
        return self.status.setdefault("nodes", {})  # type: ignore[no-any-return]

    @property
    def dag_name(self) -> str:
        """The DAG node's name: ``<wf>(0)`` inside the root Retry node, else the Workflow's."""
        return f"{self.name}(0)" if self.retries else self.name

    def _id(self, node_name: str) -> str:
        return node_id(self.name, node_name)

    def _node(self, node_name: str) -> dict[str, Any] | None:
        return self.nodes.get(self._id(node_name))

    def task(self, step: str) -> dict[str, Any] | None:
        """The task node of a step (Retry, or Pod without retries, or Skipped when omitted)."""
        return self._node(f"{self.dag_name}.{step}")

    def unit(self, step: str) -> dict[str, Any] | None:
        """The node that runs a step's attempts: its task node, or for a fanned-out step its first
        expanded task still under way (else the last one); what the single-step methods act on."""
        task = self.task(step)
        if task is None or task["type"] != "TaskGroup":
            return task
        children = self.shards(step)
        running = [child for child in children if child["phase"] in ("Running", "Pending")]
        return (running or children or [task])[0 if running else -1]

    def attempts(self, step: str) -> list[dict[str, Any]]:
        task = self.unit(step)
        if task is None:
            return []
        if task["type"] != "Retry":
            return [task] if task["type"] == "Pod" else []
        prefix = f"{task['name']}("
        return [self.nodes[c] for c in task.get("children", []) if self.nodes[c]["name"].startswith(prefix)]

    def _tick(self) -> str:
        self.clock += 1
        return ts(self.clock)

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(self.workflow)

    def _template_ref(self, step: str) -> dict[str, Any]:
        return {"name": self.template, "template": step, "clusterScope": True}

    def _scope(self) -> str:
        return f"local/{self.name}"

    def _progress(self) -> None:
        """``UpdateProgress``: a pod's own (``0/1`` by default, completed once it succeeded), every
        other node's the sum over the pods below it (``sumProgress``), the Workflow's over all pods."""

        def own(pod: dict[str, Any]) -> tuple[int, int]:
            done, _, total = str(pod.get("progress") or "0/1").partition("/")
            d, t = int(done), int(total)
            if pod["phase"] in ("Succeeded", "Skipped", "Omitted"):
                d = t
            return d, t

        pods = {nid: node for nid, node in self.nodes.items() if node["type"] == "Pod"}
        for pod in pods.values():
            d, t = own(pod)
            pod["progress"] = f"{d}/{t}"

        def below(node: dict[str, Any], seen: set[str]) -> tuple[int, int]:
            done = total = 0
            for child in node.get("children", []):
                if child in seen or child not in self.nodes:
                    continue
                seen.add(child)
                d, t = below(self.nodes[child], seen)
                if self.nodes[child]["type"] == "Pod":
                    cd, ct = own(self.nodes[child])
                    d, t = d + cd, t + ct
                done, total = done + d, total + t
            return done, total

        for node in self.nodes.values():
            if node["type"] != "Pod":
                done, total = below(node, set())
                node["progress"] = f"{done}/{total}"
        counted = [own(pod) for pod in pods.values()]
        self.status["progress"] = f"{sum(d for d, _ in counted)}/{sum(t for _, t in counted)}"

    # -- the Workflow ------------------------------------------------------------------------

    def _mark_workflow(self, phase: str, message: str | None = None) -> None:
        """``markWorkflowPhase``."""
        labels = self.workflow["metadata"].setdefault("labels", {})
        labels["workflows.argoproj.io/phase"] = phase
        labels.setdefault("workflows.argoproj.io/completed", "false")
        now = ts(self.clock)
        self.status["phase"] = phase
        if not self.status.get("startedAt") and phase != "Pending":
            self.status["startedAt"] = now
        if message is not None:
            self.status["message"] = message
        if phase in ("Succeeded", "Failed", "Error"):
            self.status["finishedAt"] = now
            labels["workflows.argoproj.io/completed"] = "true"
            conditions = [c for c in self.status.get("conditions", []) if c.get("type") != "Completed"]
            self.status["conditions"] = conditions + [{"type": "Completed", "status": "True"}]
        else:
            self.status.setdefault("finishedAt", None)

    def start(self) -> dict[str, Any]:
        """Argo picks the Workflow up: phase Running, the root node (and the DAG inside its Retry node)."""
        now = self._tick()
        self._mark_workflow("Running")
        self.status.setdefault("progress", "0/0")
        # Resolved once, before the first node (operator.go ``operate``); never changed after. Without
        # a ``spec.artifactRepositoryRef`` Argo takes the namespace's ``artifact-repositories`` at its
        # annotated default key (``Resolve`` → ``get``), which this fake's namespaces all have.
        resolved = {
            **copy.deepcopy(ARTIFACT_REPOSITORY_REF),
            **((self.workflow.get("spec") or {}).get("artifactRepositoryRef") or {}),
        }
        resolved["namespace"] = self.workflow["metadata"].get("namespace", "default")
        self.status.setdefault("artifactRepositoryRef", resolved)
        base: dict[str, Any] = {
            "templateName": "main",
            "templateScope": self._scope(),
            "phase": "Running",
            "startedAt": now,
            "finishedAt": None,
        }
        root: dict[str, Any] = {"id": self.name, "name": self.name, "displayName": self.name, "type": "DAG", **base}
        self.nodes[self.name] = root
        if self.retries:
            root["type"] = "Retry"
            dag_id = self._id(self.dag_name)
            root["children"] = [dag_id]
            self.nodes[dag_id] = {
                "id": dag_id,
                "name": self.dag_name,
                "displayName": self.dag_name,
                "type": "DAG",
                **base,
                "nodeFlag": {"retried": True},
            }
        self._progress()
        return self.workflow

    def _dag(self) -> dict[str, Any]:
        node = self._node(self.dag_name)
        assert node is not None, "the Workflow has not started"
        return node

    def _outbound(self, step: str) -> list[dict[str, Any]]:
        """``getOutboundNodes`` of a task: a Retry node's last attempt, else the node itself."""
        task = self.task(step)
        assert task is not None
        if task["type"] == "TaskGroup":
            return [node for shard in self.shards(step) for node in self._outbound_of(shard)]
        return self._outbound_of(task)

    def _outbound_of(self, task: dict[str, Any]) -> list[dict[str, Any]]:
        if task["type"] == "Retry":
            prefix = f"{task['name']}("
            tried = [self.nodes[c] for c in task.get("children", []) if self.nodes[c]["name"].startswith(prefix)]
            return [tried[-1]] if tried else [task]
        return [task]

    def _add_task(self, step: str, node_type: str, phase: str, message: str | None = None) -> dict[str, Any]:
        """``executeDAGTask``: a task node, linked from its dependencies' outbound nodes."""
        now = self._tick()
        name = f"{self.dag_name}.{step}"
        task: dict[str, Any] = {
            "id": self._id(name),
            "name": name,
            "displayName": step,
            "type": node_type,
            "templateRef": self._template_ref(step),
            "templateScope": self._scope(),
            "phase": phase,
            "boundaryID": self._dag()["id"],
            "startedAt": now,
            "finishedAt": now if phase in ("Omitted", "Skipped") else None,
        }
        if message:
            task["message"] = message
        self.nodes[task["id"]] = task
        depends = _depends()[step]
        parents = [self._dag()] if not depends else [n for dep in depends for n in self._outbound(dep)]
        for parent in parents:
            children = parent.setdefault("children", [])
            if task["id"] not in children:
                children.append(task["id"])
        return task

    def _add_attempt(self, step: str, phase: str = "Running", message: str | None = None) -> dict[str, Any]:
        task = self.unit(step)
        assert task is not None and task["type"] == "Retry"
        number = len(self.attempts(step))
        name = f"{task['name']}({number})"
        pod: dict[str, Any] = {
            "id": self._id(name),
            "name": name,
            "displayName": f"{task['displayName']}({number})",
            "type": "Pod",
            "templateRef": self._template_ref(step),
            "templateScope": self._scope(),
            "phase": phase,
            "boundaryID": task["boundaryID"],
            "startedAt": self._tick(),
            "finishedAt": None,
            "nodeFlag": {"retried": True},
            "taskResultSynced": False,
        }
        if phase == "Running":
            pod["hostNodeName"] = self.host
        if message:
            pod["message"] = message
        self.nodes[pod["id"]] = pod
        task.setdefault("children", []).append(pod["id"])
        task.pop("message", None)  # markNodePhase(..., "") once the backoff is over
        return pod

    def _pod(self, step: str) -> dict[str, Any]:
        tried = self.attempts(step)
        assert tried, f"step {step} never started"
        return tried[-1]

    def _settle(self) -> None:
        """Tasks Argo decides without running them, once their dependencies completed
        (``executeDAG``): ``when`` false → Skipped; ``depends`` false → Omitted."""
        done = {"Succeeded", "Skipped", "Omitted", "Failed", "Error"}
        for step in STEPS:
            if self.task(step) is not None:
                continue
            deps = _depends()[step]
            if any(self.task(dep) is None or self.task(dep)["phase"] not in done for dep in deps):  # type: ignore[index]
                continue
            holds = all(
                any(
                    _RESULT.get(str(self.task(task)["phase"])) in (clause.results or _BARE)  # type: ignore[index]
                    for task in clause.tasks
                )
                for clause in _clauses()[step]
            )
            if not holds:
                self._add_task(step, "Skipped", "Omitted", OMITTED)
                continue
            when = self.when_false(step)
            if when is not None:
                self.skip_step(step, when)

    def run_step(self, step: str) -> dict[str, Any]:
        """A DAG task starts: its Retry node and first attempt's pod, Running. A task Argo already
        decided without running it (Skipped by its ``when``, Omitted) stays as it is."""
        self._settle()
        task = self.task(step)
        if task is not None and task["type"] == "Skipped":
            return self.workflow
        if task is None and STEPS[step].fan_out is not None:
            return self.fan_out(step)
        if task is None:
            if self.retries:
                self._add_task(step, "Retry", "Running")
                self._add_attempt(step)
            else:
                task = self._add_task(step, "Pod", "Running")
                task["hostNodeName"] = self.host
                task["taskResultSynced"] = False
        else:
            self.retry_step(step)
        self._progress()
        return self.workflow

    def pending_step(self, step: str, message: str) -> dict[str, Any]:
        """The task starts but its pod waits (``getPendingReason``): Pending with the waiting reason."""
        if STEPS[step].fan_out is not None:
            self.fan_out(step)
            pod = self._pod(step)
            pod.update({"phase": "Pending", "message": message})
            pod.pop("hostNodeName", None)
            self._progress()
            return self.workflow
        self._add_task(step, "Retry" if self.retries else "Pod", "Running" if self.retries else "Pending")
        if self.retries:
            self._add_attempt(step, "Pending", message)
        else:
            task = self.task(step)
            assert task is not None
            task["message"] = message
        self._progress()
        return self.workflow

    def retry_step(self, step: str) -> dict[str, Any]:
        """The backoff is over: the next attempt ``<task>(n)`` starts."""
        assert self.retries
        self._add_attempt(step)
        self._progress()
        return self.workflow

    # -- fan-out and memoization -------------------------------------------------------------

    def shards(self, step: str) -> list[dict[str, Any]]:
        """The expanded tasks of a fanned-out step, in item order (``<dag>.<step>(<i>:<item>)``)."""
        group = self.task(step)
        if group is None or group["type"] != "TaskGroup":
            return []
        prefix = f"{group['name']}("
        return [self.nodes[c] for c in group.get("children", []) if self.nodes[c]["name"].startswith(prefix)]

    def shard(self, step: str, index: int) -> dict[str, Any]:
        return self.shards(step)[index]

    def _memoization(self, step: str, item: str, hit: bool) -> dict[str, Any] | None:
        """``MemoizationStatus`` of a node of a memoized template (``memoize.key`` substituted)."""
        memo = _templates()[step].get("memoize")
        if memo is None:
            return None
        key = self.output("schedule", "cache-key") or "none"
        resolved = memo["key"].replace("{{inputs.parameters.cache-key}}", key)
        resolved = resolved.replace("{{inputs.parameters.shard}}", item)
        return {"hit": hit, "key": resolved, "cacheName": memo["cache"]["configMap"]["name"]}

    def fan_out(self, step: str, items: list[str] | None = None, *, hits: tuple[int, ...] = ()) -> dict[str, Any]:
        """A fanned-out task starts: its ``TaskGroup`` node and one expanded task per item (default:
        the schedule step's ``shards``), each a Retry node with its first attempt Running, or, for
        the indices in ``hits``, a memoization hit (a Succeeded ``Pod`` node, no pod ran)."""
        self._settle()
        if self.task(step) is not None:
            return self.workflow
        if items is None:
            items = json.loads(self.output("schedule", "shards") or '["0-of-1"]')
        group = self._add_task(step, "TaskGroup", "Running")
        for index, item in enumerate(items):
            now = self._tick()
            name = f"{group['name']}({index}:{item})"
            hit = index in hits
            child: dict[str, Any] = {
                "id": self._id(name),
                "name": name,
                "displayName": f"{step}({index}:{item})",
                "type": "Pod" if hit else ("Retry" if self.retries else "Pod"),
                "templateRef": self._template_ref(step),
                "templateScope": self._scope(),
                "phase": "Succeeded" if hit else "Running",
                "boundaryID": group["boundaryID"],
                "startedAt": now,
                "finishedAt": now if hit else None,
            }
            memo = self._memoization(step, item, hit)
            if memo is not None:
                child["memoizationStatus"] = memo
            if hit:
                child["outputs"] = self._part_outputs(step, item, None)
            self.nodes[child["id"]] = child
            group.setdefault("children", []).append(child["id"])
            if not hit and self.retries:
                self._add_shard_attempt(child)
            elif not hit:
                child.update({"hostNodeName": self.host, "taskResultSynced": False})
        self._settle_groups()
        self._progress()
        return self.workflow

    def _add_shard_attempt(self, child: dict[str, Any]) -> dict[str, Any]:
        number = len([c for c in child.get("children", []) if self.nodes[c]["name"].startswith(child["name"] + "(")])
        name = f"{child['name']}({number})"
        pod: dict[str, Any] = {
            "id": self._id(name),
            "name": name,
            "displayName": f"{child['displayName']}({number})",
            "type": "Pod",
            "templateRef": child["templateRef"],
            "templateScope": child["templateScope"],
            "phase": "Running",
            "boundaryID": child["boundaryID"],
            "startedAt": self._tick(),
            "finishedAt": None,
            "nodeFlag": {"retried": True},
            "taskResultSynced": False,
            "hostNodeName": self.host,
        }
        if "memoizationStatus" in child:
            pod["memoizationStatus"] = copy.deepcopy(child["memoizationStatus"])
        self.nodes[pod["id"]] = pod
        child.setdefault("children", []).append(pod["id"])
        child.pop("message", None)
        return pod

    def _shard_pod(self, step: str, index: int) -> dict[str, Any]:
        child = self.shard(step, index)
        if child["type"] != "Retry":
            return child
        prefix = child["name"] + "("
        return [self.nodes[c] for c in child.get("children", []) if self.nodes[c]["name"].startswith(prefix)][-1]

    def report_progress(self, step: str, index: int, done: int, total: int) -> dict[str, Any]:
        """The shard's pod wrote ``done/total`` to its ``ARGO_PROGRESS_FILE`` (its task result)."""
        self._shard_pod(step, index)["progress"] = f"{done}/{total}"
        self._progress()
        return self.workflow

    def _part_outputs(self, step: str, item: str, pod: dict[str, Any] | None) -> dict[str, Any]:
        """The ``part`` artifact as saved: the template's key-only S3 artifact, its key substituted,
        the repository's location copied in (``saveArtifactFromFile``)."""
        outputs: dict[str, Any] = {"exitCode": "0"}
        artifacts = []
        for artifact in _templates()[step].get("outputs", {}).get("artifacts", []):
            saved = copy.deepcopy(artifact)
            key = str((artifact.get("s3") or {}).get("key", ""))
            for tag, value in (
                ("{{inputs.parameters.shard}}", item),
                ("{{inputs.parameters.cache-key}}", self.output("schedule", "cache-key") or "none"),
                ("{{workflow.namespace}}", self.workflow["metadata"].get("namespace", "default")),
                ("{{workflow.name}}", self.name),
                ("{{workflow.uid}}", self.workflow["metadata"].get("uid", "uid")),
            ):
                key = key.replace(tag, value)
            saved["s3"] = {**ARTIFACT_REPOSITORY, "key": key}
            artifacts.append(saved)
        if artifacts:
            outputs["artifacts"] = artifacts
        return outputs

    def succeed_shard(self, step: str, index: int) -> dict[str, Any]:
        """One expanded task's pod exits 0 (its part saved); the Retry node takes its outputs."""
        now = self._tick()
        child = self.shard(step, index)
        item = child["displayName"].split(":", 1)[1][:-1]
        pod = self._shard_pod(step, index)
        result = self._part_outputs(step, item, pod)
        pod.update({"phase": "Succeeded", "finishedAt": now, "outputs": result, "taskResultSynced": True})
        if child is not pod:
            child.update({"phase": "Succeeded", "finishedAt": now, "outputs": copy.deepcopy(result)})
        self._settle_groups()
        self._progress()
        return self.workflow

    def fail_shard(self, step: str, index: int, termination: str, *, exit_code: int = 2) -> dict[str, Any]:
        """One expanded task fails for good (exit 2: ``retryStrategy.expression evaluated to false``)."""
        now = self._tick()
        child = self.shard(step, index)
        pod = self._shard_pod(step, index)
        message = self.container_message(exit_code=exit_code, termination=termination)
        pod.update({"phase": "Failed", "finishedAt": now, "message": message, "taskResultSynced": True})
        pod["outputs"] = {"exitCode": str(exit_code)}
        if child is not pod:
            why = EXPRESSION_FALSE if exit_code == 2 else NO_MORE_RETRIES
            child.update(
                {"phase": "Failed", "finishedAt": now, "message": why, "outputs": copy.deepcopy(pod["outputs"])}
            )
        self._settle_groups()
        self._progress()
        return self.workflow

    def _settle_groups(self) -> None:
        """``executeDAGTask``: a TaskGroup whose children are all fulfilled is Succeeded, or takes
        the phase of a child that failed or errored."""
        done = {"Succeeded", "Skipped", "Omitted", "Failed", "Error"}
        for step in STEPS:
            group = self.task(step)
            if group is None or group["type"] != "TaskGroup" or group["phase"] != "Running":
                continue
            children = self.shards(step)
            if not children or any(child["phase"] not in done for child in children):
                continue
            failed = [child["phase"] for child in children if child["phase"] in ("Failed", "Error")]
            group.update({"phase": failed[-1] if failed else "Succeeded", "finishedAt": self._tick()})

    # -- outputs ---------------------------------------------------------------------------

    def _outputs(self, step: str, pod: dict[str, Any], files: dict[str, str]) -> dict[str, Any]:
        """``SaveParameters`` + ``SaveArtifacts`` + the exit code, as the pod's node records them."""
        declared = _template_outputs()[step]
        outputs: dict[str, Any] = {}
        parameters = []
        for parameter in declared.get("parameters", []):
            saved = copy.deepcopy(parameter)
            text = files.get(parameter["name"])
            if text is not None:
                saved["value"] = text[:-1] if text.endswith("\n") else text
            parameters.append(saved)
        if parameters:
            outputs["parameters"] = parameters
        artifacts = []
        key_format = f"{self.name}/{pod_name(self.name, pod['name'], step)}"
        for artifact in declared.get("artifacts", []):
            saved = copy.deepcopy(artifact)
            if (artifact.get("s3") or {}).get("key"):  # key-only: the template's key, substituted
                (part,) = self._part_outputs(step, SINGLE_PART, pod)["artifacts"]
                artifacts.append(part)
                continue
            base = artifact["path"].rsplit("/", 1)[-1]
            file = base if "none" in (artifact.get("archive") or {}) else f"{artifact['name']}.tgz"
            saved["s3"] = {**ARTIFACT_REPOSITORY, "key": f"{key_format}/{file}"}
            artifacts.append(saved)
        if artifacts:
            outputs["artifacts"] = artifacts
        outputs["exitCode"] = "0"
        return outputs

    def succeed_step(self, step: str, outputs: dict[str, Any] | None = None) -> dict[str, Any]:
        """The step's pod exits 0 and its outputs are saved; the Retry node takes them and succeeds.

        ``outputs`` maps an output parameter to the value the step wrote: a str is the file's text
        as it is, anything else is written as the step writes it (``json.dumps``). Missing: the
        Bell job's real outputs.
        """
        defaults = {
            "validate": {"metrics": METRICS_JSON},
            "schedule": {"backend": BACKEND_JSON, "executor": "aer", "shards": '["0-of-1"]', "cache-key": "none"},
            "execute-aer": {"summary": SUMMARY_JSON},
            "ibm-submit": {"submission": SUBMISSION_JSON},
            "ibm-wait": {"summary": SUMMARY_JSON, "ibm": IBM_JSON},
            "store-results": {"summary": SUMMARY_JSON, "checksum": CHECKSUM_JSON},
        }.get(step, {})
        given = dict(outputs if outputs is not None else defaults)
        if "executor" in STEPS[step].output_parameters and "executor" not in given and "backend" in given:
            # The schedule step writes executor.txt from its choice's type (backend.json ``type``).
            backend = given["backend"]
            try:
                chosen = json.loads(backend) if isinstance(backend, str) else backend
            except ValueError:
                chosen = None  # garbage in: the step would not have written an executor either way
            given["executor"] = "ibm" if isinstance(chosen, dict) and chosen.get("type") == "ibm" else "aer"
        files = {key: value if isinstance(value, str) else json.dumps(value) for key, value in given.items()}
        skipped = self.task(step)
        if skipped is not None and skipped["type"] == "Skipped":
            return self.workflow  # decided without running (``run_step``): nothing to succeed
        now = self._tick()
        pod = self._pod(step)
        result = self._outputs(step, pod, files)
        pod.update({"phase": "Succeeded", "finishedAt": now, "outputs": result, "taskResultSynced": True})
        pod["resourcesDuration"] = {"cpu": 1, "memory": 1}
        task = self.unit(step)
        assert task is not None
        if task is not pod:
            task.update({"phase": "Succeeded", "finishedAt": now, "outputs": copy.deepcopy(result)})
        self._settle_groups()
        self._settle()
        self._progress()
        return self.workflow

    # -- failures --------------------------------------------------------------------------

    def container_message(
        self, *, reason: str = "Error", exit_code: int = 2, termination: str | None = None, container: str = "main"
    ) -> str:
        """``inferFailedReason``: ``[<container>: ]<Reason> (exit code N)[: <termination message>]``."""
        message = f"{reason} (exit code {exit_code})"
        if termination:
            message = f"{message}: {termination}"
        if self.argo_version >= (3, 7):
            message = f"{container}: {message}"
        return message

    def fail_attempt(
        self,
        step: str,
        termination: str | None = None,
        *,
        exit_code: int = 2,
        reason: str = "Error",
        container: str = "main",
        pod_message: str | None = None,
        phase: str | None = None,
        message: str | None = None,
        backoff: str | None = "10 seconds",
    ) -> dict[str, Any]:
        """One attempt's pod fails.

        ``termination`` is what the step wrote to its termination log (``Reason: one line``);
        the node message is built from it as Argo does, unless ``pod_message`` (the pod's own
        ``status.message``, e.g. an eviction) or ``message`` (the whole node message) is given.
        ``init``/``wait`` container failures are phase Error. With retries, the Retry node then
        shows ``Backoff for <backoff>`` while it waits (None: it gives up at once).
        """
        now = self._tick()
        pod = self._pod(step)
        if message is None:
            message = pod_message or self.container_message(
                reason=reason, exit_code=exit_code, termination=termination, container=container
            )
        if phase is None:
            phase = "Error" if container in ("init", "wait") and not pod_message else "Failed"
        main_code = 0 if container in ("init", "wait") else exit_code
        pod.update({"phase": phase, "finishedAt": now, "message": message, "taskResultSynced": True})
        pod["outputs"] = {"exitCode": str(main_code)}
        pod["resourcesDuration"] = {"cpu": 1, "memory": 1}
        task = self.unit(step)
        if self.retries and backoff and task is not None and task is not pod:
            task["message"] = f"Backoff for {backoff}"
        self._progress()
        return self.workflow

    def give_up(self, step: str, why: str = NO_MORE_RETRIES) -> dict[str, Any]:
        """The Retry node stops with ``why`` and the last attempt's phase; the DAG fails."""
        now = self._tick()
        task = self.unit(step)
        assert task is not None
        last = self._pod(step)
        if task is not last:
            task.update({"phase": last["phase"], "finishedAt": now, "message": why})
            if "outputs" in last:
                task["outputs"] = copy.deepcopy(last["outputs"])
        self._settle_groups()
        return self._fail_dag()

    def _fail_dag(self, why: str = NO_MORE_RETRIES, *, workflow_message: str | None = None) -> dict[str, Any]:
        """Tasks left behind are omitted, the DAG fails (no message), the root Retry node gives up,
        and the Workflow fails with the root's message (``operate``)."""
        self._settle_groups()
        for step in STEPS:
            if self.task(step) is None:
                self._add_task(step, "Skipped", "Omitted", OMITTED)
        now = self._tick()
        dag = self._dag()
        dag.update({"phase": "Failed", "finishedAt": now})
        dag["outboundNodes"] = [node["id"] for node in self._outbound(list(STEPS)[-1])]
        message = None
        if self.retries:
            self.nodes[self.name].update({"phase": "Failed", "finishedAt": now, "message": why})
            message = why
        self._progress()
        self._mark_workflow("Failed", workflow_message if workflow_message is not None else message)
        return self.workflow

    def fail_step(
        self,
        step: str,
        termination: str | None = None,
        *,
        exit_code: int = 2,
        reason: str = "Error",
        container: str = "main",
        pod_message: str | None = None,
        phase: str | None = None,
        message: str | None = None,
        retried: int = 0,
    ) -> dict[str, Any]:
        """The step fails for good: ``retried`` transient attempts first, then the last one.

        Exit code 2 (permanent) ends with ``retryStrategy.expression evaluated to false`` after
        the backoff; any other code after the retry limit with ``No more retries left``.
        """
        for _ in range(retried if self.retries else 0):  # no retryStrategy, no retries
            self.fail_attempt(step, termination, exit_code=1 if exit_code == 2 else exit_code, reason=reason)
            self.retry_step(step)
        self.fail_attempt(
            step,
            termination,
            exit_code=exit_code,
            reason=reason,
            container=container,
            pod_message=pod_message,
            phase=phase,
            message=message,
        )
        if not self.retries:
            return self._fail_dag()
        return self.give_up(step, EXPRESSION_FALSE if exit_code == 2 and not pod_message else NO_MORE_RETRIES)

    def finish(self, phase: str = "Succeeded", message: str | None = None) -> dict[str, Any]:
        """The DAG completes: ``Succeeded`` after every step succeeded (else use ``give_up``)."""
        if phase != "Succeeded":
            return self._fail_dag(workflow_message=message)
        now = self._tick()
        dag = self._dag()
        dag.update({"phase": "Succeeded", "finishedAt": now})
        dag["outboundNodes"] = [node["id"] for node in self._outbound(list(STEPS)[-1])]
        if self.retries:
            self.nodes[self.name].update({"phase": "Succeeded", "finishedAt": now})
        self._progress()
        self.status["resourcesDuration"] = {"cpu": 4, "memory": 4}
        self._mark_workflow("Succeeded", message)
        return self.workflow

    def output(self, step: str, parameter: str) -> str | None:
        """The value of an output parameter a step saved, or None."""
        task = self.task(step)
        for saved in ((task or {}).get("outputs") or {}).get("parameters", []):
            if saved.get("name") == parameter:
                value = saved.get("value")
                return value if isinstance(value, str) else None
        return None

    def when_false(self, step: str) -> str | None:
        """The resolved ``when`` of a task that must be skipped (``ibm == aer``), or None when it runs."""
        spec = STEPS[step]
        if spec.when is None:
            return None
        producer = next(
            (
                name
                for name in reversed(list(STEPS)[: list(STEPS).index(step)])
                if spec.when.parameter in STEPS[name].output_parameters
            ),
            None,
        )
        value = self.output(producer, spec.when.parameter) if producer else None
        if value is None or value == spec.when.equals:
            return None
        return f"{value} == {spec.when.equals}"

    def skip_step(self, step: str, when: str) -> dict[str, Any]:
        """The task's ``when`` evaluated false: a Skipped node (``executeDAG`` in dag.go); a fanned-out
        task never expands (``expandTask``: no items), ``Skipped, empty params``."""
        why = "Skipped, empty params" if STEPS[step].fan_out is not None else f"when '{when}' evaluated false"
        self._add_task(step, "Skipped", "Skipped", why)
        self._progress()
        return self.workflow

    def succeed_all(self, *, summary: dict[str, Any] | None = None) -> dict[str, Any]:
        """The whole happy path: every step succeeds with the Bell outputs (the branch the schedule
        step's ``executor`` chose; the other branch Skipped), the Workflow succeeds."""
        if not self.status.get("phase"):
            self.start()
        for step in STEPS:
            self._settle()
            if self.task(step) is None:
                self.run_step(step)
            if self.task(step)["type"] == "Skipped":  # type: ignore[index]
                continue
            if self.task(step)["type"] == "TaskGroup":  # type: ignore[index]
                for index, shard in enumerate(self.shards(step)):
                    if shard["phase"] in ("Running", "Pending"):
                        self.succeed_shard(step, index)
                continue
            if self._pod(step)["phase"] in ("Running", "Pending"):
                summarizes = summary is not None and "summary" in STEPS[step].output_parameters
                self.succeed_step(step, {"summary": summary} if summarizes else None)
        return self.finish("Succeeded")

    def exceed_deadline(self) -> dict[str, Any]:
        """``activeDeadlineSeconds`` passed: running pods and pending nodes fail with ``Step exceeded
        its deadline`` (exec_control.go), their Retry nodes with ``retry exceeded workflow deadline``."""
        deadline = argo_time(self.clock)
        self._tick()
        for step in STEPS:
            task = self.unit(step)
            if task is None or task["phase"] not in ("Running", "Pending"):
                continue
            for pod in self.attempts(step):
                if pod["phase"] in ("Running", "Pending"):
                    message = "Step exceeded its deadline"
                    pod.update({"phase": "Failed", "finishedAt": ts(self.clock), "message": message})
            if task["type"] == "Retry":
                task.update(
                    {
                        "phase": "Failed",
                        "finishedAt": ts(self.clock),
                        "message": f"retry exceeded workflow deadline {deadline}",
                    }
                )
        return self._fail_dag(f"retry exceeded workflow deadline {deadline}")

    def shutdown(self, strategy: str = "Stop") -> dict[str, Any]:
        """``argo stop`` (Stop) / ``argo terminate`` (Terminate): ``spec.shutdown``; running pods are
        stopped with ``workflow shutdown with strategy:  <s>``; the Workflow fails with
        ``Stopped with strategy '<s>'``."""
        self.workflow.setdefault("spec", {})["shutdown"] = strategy
        stopped = f"Stopped with strategy '{strategy}'"
        self._tick()
        for step in STEPS:
            task = self.unit(step)
            if task is None or task["phase"] not in ("Running", "Pending"):
                continue
            for pod in self.attempts(step):
                if pod["phase"] in ("Running", "Pending"):
                    message = f"workflow shutdown with strategy:  {strategy}"
                    pod.update({"phase": "Failed", "finishedAt": ts(self.clock), "message": message})
            if task["type"] == "Retry":
                task.update({"phase": "Failed", "finishedAt": ts(self.clock), "message": stopped})
        return self._fail_dag(stopped, workflow_message=stopped)

    def template_missing(self) -> dict[str, Any]:
        """The ClusterWorkflowTemplate is not installed: validation fails before any node exists."""
        self._tick()
        self.status.pop("nodes", None)
        message = f"invalid spec: templates.main.tasks.validate template reference {self.template}.validate not found"
        self._mark_workflow("Failed", message)
        return self.workflow

    def error(self, message: str) -> dict[str, Any]:
        """Argo could not operate the Workflow at all (``markWorkflowError``): phase Error."""
        self._tick()
        root = self.nodes.get(self.name)
        if root is not None and root["phase"] == "Running":
            root.update({"phase": "Error", "message": "Workflow operation error"})
        self._mark_workflow("Error", message)
        return self.workflow


class ServiceFake:
    """A service Workflow (``workflows.service_workflow``: probe, cancel, session open/close) as
    the Argo controller writes its status.

    Its ``main`` DAG has no retryStrategy, so the root node (id = the Workflow's name) is the DAG
    itself; its one task, named after the step, runs the inline template that carries the
    retryStrategy: a ``Retry`` node ``<wf>.<step>`` whose attempts are the ``Pod`` nodes
    ``<wf>.<step>(0)``... (``executeTemplate``; ``initializeNode``). The step's output parameters
    carry ``globalName``: Argo copies them into the Workflow's ``status.outputs.parameters``
    (``operator.go`` ``addOutputsToGlobalScope``). Messages as ``ArgoFake`` writes them.
    """

    def __init__(
        self,
        workflow: dict[str, Any],
        *,
        argo_version: str = "4.1",
        node: str = "worker-1",
        epoch: datetime | None = None,
    ) -> None:
        self.workflow = workflow
        self.argo_version = tuple(int(part) for part in argo_version.split("."))
        self.host = node
        #: Where its clock starts (the fixed epoch of ``ts``; the scenarios pass the real time,
        #: since the controller compares a probe's ``finishedAt`` with its own clock).
        self.epoch = epoch or _EPOCH
        self.clock = 0.0
        self.workflow.setdefault("status", {})
        self.workflow.setdefault("metadata", {}).setdefault("labels", {})
        tasks = [t for t in workflow["spec"]["templates"] if t.get("name") == "main"][0]["dag"]["tasks"]
        self.step = str(tasks[0]["name"])
        self.template = [t for t in workflow["spec"]["templates"] if t.get("name") == tasks[0]["template"]][0]

    @property
    def name(self) -> str:
        return str(self.workflow["metadata"]["name"])

    @property
    def status(self) -> dict[str, Any]:
        return self.workflow["status"]  # type: ignore[no-any-return]

    @property
    def nodes(self) -> dict[str, dict[str, Any]]:
        return self.status.setdefault("nodes", {})  # type: ignore[no-any-return]

    def _ts(self, seconds: float) -> str:
        return (self.epoch + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _tick(self) -> str:
        self.clock += 1
        return self._ts(self.clock)

    def _mark(self, phase: str, message: str | None = None) -> None:
        labels = self.workflow["metadata"].setdefault("labels", {})
        labels["workflows.argoproj.io/phase"] = phase
        labels.setdefault("workflows.argoproj.io/completed", "false")
        self.status["phase"] = phase
        now = self._ts(self.clock)
        if not self.status.get("startedAt"):
            self.status["startedAt"] = now
        if message is not None:
            self.status["message"] = message
        if phase in ("Succeeded", "Failed", "Error"):
            self.status["finishedAt"] = now
            labels["workflows.argoproj.io/completed"] = "true"
            self.status["conditions"] = [{"type": "Completed", "status": "True"}]
        else:
            self.status.setdefault("finishedAt", None)

    def _node(self, name: str, kind: str, phase: str, **extra: Any) -> dict[str, Any]:
        display = name if name == self.name else name[len(self.name) + 1 :]
        node = {
            "id": node_id(self.name, name),
            "name": name,
            "displayName": display,
            "type": kind,
            "templateName": "main" if name == self.name else self.step,
            "templateScope": f"local/{self.name}",
            "phase": phase,
            "startedAt": self._tick(),
            "finishedAt": None,
            **extra,
        }
        self.nodes[node["id"]] = node
        return node

    @property
    def task(self) -> dict[str, Any] | None:
        return self.nodes.get(node_id(self.name, f"{self.name}.{self.step}"))

    def attempts(self) -> list[dict[str, Any]]:
        task = self.task
        return [self.nodes[c] for c in (task or {}).get("children", [])]

    def start(self) -> dict[str, Any]:
        """Argo picks it up: the DAG root node and the task's Retry node with its first attempt, Running."""
        root = self._node(self.name, "DAG", "Running")
        self._mark("Running")
        task = self._node(f"{self.name}.{self.step}", "Retry", "Running", boundaryID=root["id"])
        root["children"] = [task["id"]]
        return self.retry()

    def retry(self) -> dict[str, Any]:
        """The next attempt's pod starts."""
        task = self.task
        assert task is not None
        number = len(self.attempts())
        pod = self._node(
            f"{task['name']}({number})",
            "Pod",
            "Running",
            boundaryID=task["boundaryID"],
            hostNodeName=self.host,
            nodeFlag={"retried": True},
        )
        pod["displayName"] = f"{self.step}({number})"
        task.setdefault("children", []).append(pod["id"])
        task.pop("message", None)
        return self.workflow

    def succeed(self, outputs: dict[str, Any]) -> dict[str, Any]:
        """The step exits 0 with these output parameter files (str as written, else JSON); the
        task, the DAG and the Workflow succeed, and the global outputs are set."""
        now = self._tick()
        parameters = []
        for declared in (self.template.get("outputs") or {}).get("parameters", []):
            saved = copy.deepcopy(declared)
            if declared["name"] in outputs:
                value = outputs[declared["name"]]
                text = value if isinstance(value, str) else json.dumps(value)
                saved["value"] = text[:-1] if text.endswith("\n") else text
            parameters.append(saved)
        result = {"parameters": parameters, "exitCode": "0"}
        pod = self.attempts()[-1]
        pod.update({"phase": "Succeeded", "finishedAt": now, "outputs": result, "taskResultSynced": True})
        task = self.task
        assert task is not None
        task.update({"phase": "Succeeded", "finishedAt": now, "outputs": copy.deepcopy(result)})
        root = self.nodes[self.name]
        root.update({"phase": "Succeeded", "finishedAt": now, "outboundNodes": [pod["id"]]})
        globals_ = [
            {"name": p["globalName"], "value": p["value"]} for p in parameters if "globalName" in p and "value" in p
        ]
        if globals_:
            self.status["outputs"] = {"parameters": globals_}
        self._mark("Succeeded")
        return self.workflow

    def fail(self, termination: str | None, *, exit_code: int = 2) -> dict[str, Any]:
        """The attempt fails (``main: Error (exit code N): <termination>``) and Argo gives up
        (exit code 2: ``retryStrategy.expression evaluated to false``; else ``No more retries left``)."""
        now = self._tick()
        message = f"Error (exit code {exit_code})" + (f": {termination}" if termination else "")
        if self.argo_version >= (3, 7):
            message = f"main: {message}"
        pod = self.attempts()[-1]
        pod.update({"phase": "Failed", "finishedAt": now, "message": message, "outputs": {"exitCode": str(exit_code)}})
        task = self.task
        assert task is not None
        why = EXPRESSION_FALSE if exit_code == 2 else NO_MORE_RETRIES
        task.update({"phase": "Failed", "finishedAt": now, "message": why})
        self.nodes[self.name].update({"phase": "Failed", "finishedAt": now})
        self._mark("Failed")
        return self.workflow
