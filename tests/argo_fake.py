"""Write a Workflow's ``status`` the way the Argo controller does, for tests without Argo.

The shapes follow Argo's own schema (``io.argoproj.workflow.v1alpha1.WorkflowStatus`` and
``NodeStatus`` in ``../shared/schemas/argo-workflows.schema.json``): nodes keyed by id, the root
DAG node named after the Workflow, one node per DAG task whose ``displayName`` is the task name
(a ``Retry`` node with ``Pod`` children ``validate(0)``... when the step has a retryStrategy),
``outputs.parameters`` values as strings, ``outputs.artifacts`` with their repository location,
and a failed pod's termination message as the node ``message``. ``test_status.py`` checks these
shapes against that schema, so the scenarios drive the controller with what Argo really writes.
"""

from __future__ import annotations

import copy
import json
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from qiskit_argo.steps import OUTPUTS_DIR, STEPS

__all__ = ["ArgoFake", "METRICS", "BACKEND", "SUMMARY", "ts"]

#: Outputs a Bell job's steps publish (the JSON shapes of the api models).
METRICS = {
    "numQubits": 2,
    "numClbits": 2,
    "depth": 3,
    "size": 4,
    "numParameters": 0,
    "countOps": {"h": 1, "cx": 1, "measure": 2},
    "hasMeasurements": True,
    "numBindings": 1,
}
BACKEND = {"name": "aer_simulator", "method": "stabilizer", "reason": "Clifford-only circuit: stabilizer is exact"}
SUMMARY = {"primitive": "sampler", "numPubs": 1, "shots": 1024, "topCounts": {"00": 517, "11": 507}, "truncated": False}

_EPOCH = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def ts(seconds: float) -> str:
    """An Argo timestamp (RFC 3339, second precision, Z) ``seconds`` after a fixed epoch."""
    return (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _node_id(workflow: str, node_name: str) -> str:
    # Argo derives ids from a hash of the node name; any stable hash keeps the shape.
    return f"{workflow}-{zlib.crc32(node_name.encode())}"


class ArgoFake:
    """Mutates one Workflow dict as the Argo controller would, step by step.

    ``retries=True`` models steps with a retryStrategy: the task node is a ``Retry`` node whose
    attempts are ``Pod`` children. Every method returns the Workflow dict for chaining.
    """

    def __init__(self, workflow: dict[str, Any], *, retries: bool = True, template: str = "qiskit-job-v1") -> None:
        self.workflow = workflow
        self.retries = retries
        self.template = template
        self.clock = 0.0
        self.workflow.setdefault("status", {})

    # -- helpers ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return str(self.workflow["metadata"]["name"])

    @property
    def status(self) -> dict[str, Any]:
        return self.workflow["status"]  # type: ignore[no-any-return]

    @property
    def nodes(self) -> dict[str, dict[str, Any]]:
        return self.status.setdefault("nodes", {})  # type: ignore[no-any-return]

    def _tick(self) -> str:
        self.clock += 1
        return ts(self.clock)

    def _root(self) -> dict[str, Any]:
        return self.nodes[self.name]

    def _task(self, step: str) -> dict[str, Any] | None:
        return self.nodes.get(_node_id(self.name, f"{self.name}.{step}"))

    def _progress(self) -> None:
        pods = [node for node in self.nodes.values() if node["type"] == "Pod"]
        done = [node for node in pods if node["phase"] == "Succeeded"]
        self.status["progress"] = f"{len(done)}/{len(pods)}"
        self._root()["progress"] = self.status["progress"]

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(self.workflow)

    # -- the workflow ----------------------------------------------------------------------

    def start(self) -> dict[str, Any]:
        """Argo picked the Workflow up: phase Running, the root DAG node."""
        now = self._tick()
        self.status.update({"phase": "Running", "startedAt": now, "finishedAt": None, "progress": "0/0"})
        self.nodes[self.name] = {
            "id": self.name,
            "name": self.name,
            "displayName": self.name,
            "type": "DAG",
            "templateName": "main",
            "templateScope": f"local/{self.name}",
            "phase": "Running",
            "startedAt": now,
            "finishedAt": None,
            "progress": "0/0",
            "children": [],
        }
        self.workflow.setdefault("metadata", {}).setdefault("labels", {})["workflows.argoproj.io/phase"] = "Running"
        return self.workflow

    def run_step(self, step: str) -> dict[str, Any]:
        """A DAG task starts: its node (and first attempt's pod) Running."""
        now = self._tick()
        task_name = f"{self.name}.{step}"
        task_id = _node_id(self.name, task_name)
        task = {
            "id": task_id,
            "name": task_name,
            "displayName": step,
            "type": "Retry" if self.retries else "Pod",
            "templateRef": {"name": self.template, "template": step},
            "templateScope": f"local/{self.name}",
            "phase": "Running",
            "boundaryID": self.name,
            "startedAt": now,
            "finishedAt": None,
            "progress": "0/1",
        }
        if not self.retries:
            task["hostNodeName"] = "worker-1"
        self.nodes[task_id] = task
        # DAG edges: the next task hangs off the previous task's outbound node (its last attempt).
        previous = self._previous_task(step)
        if previous is None:
            parent = self._root()
        elif self.retries and previous.get("children"):
            parent = self.nodes[previous["children"][-1]]
        else:
            parent = previous
        parent.setdefault("children", []).append(task_id)
        if self.retries:
            self._attempt(step, 0)
        self._progress()
        return self.workflow

    def _previous_task(self, step: str) -> dict[str, Any] | None:
        order = list(STEPS)
        index = order.index(step)
        return self._task(order[index - 1]) if index > 0 else None

    def _attempt(self, step: str, number: int) -> dict[str, Any]:
        task = self._task(step)
        assert task is not None
        name = f"{self.name}.{step}({number})"
        pod_id = _node_id(self.name, name)
        pod = {
            "id": pod_id,
            "name": name,
            "displayName": f"{step}({number})",
            "type": "Pod",
            "templateRef": {"name": self.template, "template": step},
            "templateScope": f"local/{self.name}",
            "phase": "Running",
            "boundaryID": self.name,
            "startedAt": self._tick(),
            "finishedAt": None,
            "hostNodeName": "worker-1",
            "progress": "0/1",
        }
        self.nodes[pod_id] = pod
        task.setdefault("children", []).append(pod_id)
        return pod

    def _current_pod(self, step: str) -> dict[str, Any]:
        task = self._task(step)
        assert task is not None, f"step {step} never started"
        if not self.retries:
            return task
        attempts = [self.nodes[child] for child in task.get("children", []) if child in self.nodes]
        attempts = [node for node in attempts if node["displayName"].startswith(f"{step}(")]
        return attempts[-1]

    def _outputs(self, step: str, values: dict[str, Any]) -> dict[str, Any]:
        spec = STEPS[step]
        parameters = []
        for name, filename in spec.output_parameters.items():
            if name in values:
                value = values[name]
                parameters.append(
                    {
                        "name": name,
                        "value": value if isinstance(value, str) else json.dumps(value),
                        "valueFrom": {"path": f"{OUTPUTS_DIR}/{filename}"},
                    }
                )
        artifacts = []
        for name, filename in spec.output_artifacts.items():
            artifacts.append(
                {
                    "name": name,
                    "path": f"{OUTPUTS_DIR}/{filename}",
                    "s3": {"key": f"{self.name}/{self.name}-{step}/{name}.tgz"},
                }
            )
        outputs: dict[str, Any] = {"exitCode": "0"}
        if parameters:
            outputs["parameters"] = parameters
        if artifacts:
            outputs["artifacts"] = artifacts
        return outputs

    def succeed_step(self, step: str, outputs: dict[str, Any] | None = None) -> dict[str, Any]:
        """The step's pod exits 0; Argo records its outputs on the pod and the task node."""
        now = self._tick()
        pod = self._current_pod(step)
        result = self._outputs(step, outputs or {})
        pod.update({"phase": "Succeeded", "finishedAt": now, "outputs": result, "progress": "1/1"})
        pod["resourcesDuration"] = {"cpu": 1, "memory": 1}
        task = self._task(step)
        assert task is not None
        task.update({"phase": "Succeeded", "finishedAt": now, "outputs": copy.deepcopy(result), "progress": "1/1"})
        self._progress()
        return self.workflow

    def fail_attempt(self, step: str, message: str, *, phase: str = "Failed", exit_code: str = "2") -> dict[str, Any]:
        """One attempt fails with ``message`` (a step writes ``Reason: text`` to its termination log)."""
        now = self._tick()
        pod = self._current_pod(step)
        pod.update({"phase": phase, "finishedAt": now, "message": message, "outputs": {"exitCode": exit_code}})
        return self.workflow

    def retry_step(self, step: str) -> dict[str, Any]:
        """Argo's retryStrategy starts the next attempt."""
        task = self._task(step)
        assert task is not None and self.retries
        attempts = [child for child in task.get("children", []) if self.nodes[child]["displayName"].startswith(step)]
        self._attempt(step, len(attempts))
        self._progress()
        return self.workflow

    def fail_step(self, step: str, message: str, *, phase: str = "Failed", retried: bool = True) -> dict[str, Any]:
        """The step fails for good: its last attempt fails, the task node gives up, so does the DAG.

        With retries Argo leaves ``No more retries left`` on the Retry node; the reason is on the pod.
        """
        self.fail_attempt(step, message, phase=phase)
        now = self._tick()
        task = self._task(step)
        assert task is not None
        if self.retries:
            task.update({"phase": phase, "finishedAt": now, "message": "No more retries left" if retried else message})
        root = self._root()
        root.update({"phase": "Failed", "finishedAt": now, "message": f"child '{task['id']}' failed"})
        return self.finish("Failed", f"child '{task['id']}' failed")

    def finish(self, phase: str = "Succeeded", message: str | None = None) -> dict[str, Any]:
        """The Workflow completes (Succeeded, Failed or Error)."""
        now = self._tick()
        root = self._root() if self.name in self.nodes else None
        if root is not None and root["phase"] == "Running":
            root.update({"phase": phase if phase != "Error" else "Error", "finishedAt": now})
        self.status.update({"phase": phase, "finishedAt": now})
        if message is not None:
            self.status["message"] = message
        self.workflow["metadata"].setdefault("labels", {})["workflows.argoproj.io/completed"] = "true"
        self.workflow["metadata"]["labels"]["workflows.argoproj.io/phase"] = phase
        return self.workflow

    def succeed_all(self, *, summary: dict[str, Any] | None = None) -> dict[str, Any]:
        """The whole happy path: every step succeeds with the Bell outputs, the Workflow succeeds."""
        if not self.status.get("phase"):
            self.start()
        outputs = {
            "validate": {"metrics": METRICS},
            "schedule": {"backend": BACKEND},
            "execute-aer": {"summary": summary or SUMMARY},
            "store-results": {"summary": summary or SUMMARY},
        }
        for step in STEPS:
            if self._task(step) is None:
                self.run_step(step)
            if self._task(step)["phase"] == "Running":  # type: ignore[index]
                self.succeed_step(step, outputs[step])
        return self.finish("Succeeded")

    def exceed_deadline(self) -> dict[str, Any]:
        """activeDeadlineSeconds passed: running steps fail with Argo's deadline message."""
        now = self._tick()
        for node in self.nodes.values():
            if node["phase"] in ("Running", "Pending") and node["type"] != "DAG":
                node.update({"phase": "Failed", "finishedAt": now, "message": "Step exceeded its deadline"})
        return self.finish("Failed", "Step exceeded its deadline")

    def error(self, message: str) -> dict[str, Any]:
        """Argo could not run the Workflow at all (e.g. its WorkflowTemplate is missing)."""
        self.status.pop("nodes", None)
        now = self._tick()
        self.status.update({"phase": "Error", "startedAt": self.status.get("startedAt") or now, "message": message})
        return self.finish("Error", message)
