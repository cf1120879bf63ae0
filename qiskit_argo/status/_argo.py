"""Reading what Argo writes in a Workflow's status: its phase, its node tree, and why a step failed.

Pure functions over the JSON the Argo controller writes (argoproj/argo-workflows; the files named
are that repository's). They never raise on a strange Workflow: whatever Argo wrote, an answer
comes out. Nothing here knows a kind of ours: it reads any Workflow (formerly
``qiskit_argo.argo_nodes``).

**The node tree** of a job's Workflow (``workflow/controller/operator.go`` ``executeTemplate``,
``workflow/controller/dag.go``): the ``main`` DAG carries a retryStrategy, so the root node
(id = the Workflow's name) is a ``Retry`` node wrapping the DAG node ``<wf>(0)``; each DAG task is
a node named ``<dag>.<task>`` whose ``displayName`` is the task (= step) name — a ``Retry`` node
whose attempts are ``Pod`` nodes ``<task node>(0)``, ``(1)``... (a ``Pod`` itself without a
retryStrategy; type ``Skipped`` with phase ``Omitted`` or ``Skipped`` when it never ran).

**A fanned-out task** (``withParam``; ``dag.go`` ``executeDAGTask``/``expandTask``): a ``TaskGroup``
node ``<dag>.<task>`` (displayName the task) whose children are the expanded tasks
``<dag>.<task>(<i>:<item>)`` (``operator.go`` ``processItem``/``generateNodeName``), each a task node
as above (a Retry node and its attempts); the group is Running until every child is fulfilled,
then Succeeded, or the phase of a child that failed. A fanned-out task whose ``when`` is false is
one ``Skipped`` node (``Skipped, empty params``).

**Progress** (``pkg/apis/workflow/v1alpha1/progress.go``, ``workflow/progress/updater.go``): ``"N/M"``
on every node; a pod's from its ``ARGO_PROGRESS_FILE`` (``"0/1"`` until it writes one, ``M/M`` once
it succeeded), every other node's the sum of its children (a Retry node's over all its attempts).
**Memoization** (``operator.go`` ``executeTemplate``; ``MemoizationStatus`` in
``pkg/apis/workflow/v1alpha1/workflow_types.go``): a node of a memoized template carries
``memoizationStatus: {hit, key, cacheName}``; a hit is a node created Succeeded with the cached
outputs and no pod.

**Messages** this module understands:

* on a failed attempt (``operator.go`` ``inferFailedReason``): ``main: Error (exit code 2):
  InvalidCircuit: line 6: ...`` since Argo v3.7 — ``<container>: <kubelet reason> (exit code
  N): <termination message>`` — and ``Error (exit code 2): InvalidCircuit: ...`` before v3.7; no
  ``: <message>`` when the container wrote none; the pod's own message when it has one (an
  eviction: ``The node was low on resource: memory. ...``); ``Pod failed before main container
  starts due to ImagePullBackOff: ...``; ``pod deleted``; ``Step exceeded its deadline``;
  ``workflow shutdown with strategy:  Stop``. A step writes ``Reason: one line`` to its
  termination log (``qiskit_argo.steps``), so the step's own reason is found behind the prefix.
* on a Retry node (``operator.go`` ``processNodeRetries``): ``Backoff for 10 seconds`` (waiting
  for the next attempt), ``No more retries left``, ``retryStrategy.expression evaluated to
  false``, ``Max duration limit exceeded``, ``Backoff would exceed max duration limit``,
  ``retry exceeded workflow deadline <time>``, ``Stopped with strategy '<Stop|Terminate>'``.
* on the Workflow (``operator.go`` ``setExecWorkflow``/``operate``): ``invalid spec: ...`` (e.g.
  ``templates.main.tasks.validate template reference qiskit-job-v1.validate not found``), the
  root node's message, ``Stopped with strategy '<s>'``.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from qiskit_argo.reasons import Reason, reason_of

__all__ = [
    "WORKFLOW_DONE",
    "NODE_FAILED",
    "NODE_DONE",
    "ContainerMessage",
    "StepFailure",
    "get",
    "workflow_phase",
    "workflow_completed",
    "workflow_suspended",
    "workflow_nodes",
    "task_nodes",
    "attempts",
    "fan_out_children",
    "item_of",
    "Progress",
    "parse_progress",
    "node_progress",
    "memoization",
    "parse_container_message",
    "classify_message",
    "step_failure",
    "step_message",
    "workflow_failure",
    "uninformative",
]

WORKFLOW_DONE = frozenset({"Succeeded", "Failed", "Error"})
NODE_FAILED = frozenset({"Failed", "Error"})
NODE_DONE = frozenset({"Succeeded", "Skipped", "Omitted"})


def get(obj: Any, *path: str) -> Any:
    """``obj[path[0]][path[1]]...``, or None where a level is missing or not a mapping."""
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


# --------------------------------------------------------------------------- the Workflow


def workflow_phase(workflow: Mapping[str, Any] | None) -> str:
    """``status.phase`` of a Workflow: "" (not yet started), Pending, Running, Succeeded, Failed, Error."""
    phase = get(workflow, "status", "phase")
    return phase if isinstance(phase, str) else ""


def workflow_completed(workflow: Mapping[str, Any] | None) -> bool:
    return workflow_phase(workflow) in WORKFLOW_DONE


def workflow_suspended(workflow: Mapping[str, Any] | None) -> bool:
    """``spec.suspend`` is set and the Workflow has not finished (Argo keeps phase Running)."""
    return bool(get(workflow, "spec", "suspend")) and not workflow_completed(workflow)


def workflow_nodes(workflow: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``status.nodes`` by node id; decodes ``status.compressedNodes`` (gzip+base64) when Argo used it.

    Nodes offloaded to Argo's database (``offloadNodeStatusVersion``) are not readable here: the
    result is empty and the caller keeps what it knew before.
    """
    nodes = get(workflow, "status", "nodes")
    if isinstance(nodes, Mapping) and nodes:
        return {str(key): dict(value) for key, value in nodes.items() if isinstance(value, Mapping)}
    compressed = get(workflow, "status", "compressedNodes")
    if isinstance(compressed, str) and compressed:
        try:
            decoded = json.loads(gzip.decompress(base64.b64decode(compressed)))
        except (binascii.Error, OSError, ValueError, EOFError):
            return {}
        if isinstance(decoded, Mapping):
            return {str(key): dict(value) for key, value in decoded.items() if isinstance(value, Mapping)}
    return {}


def task_nodes(nodes: Mapping[str, Mapping[str, Any]], tasks: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The node of each DAG task, keyed by task name: the node whose ``displayName`` is the task.

    That is the Retry node (its attempts are ``<task>(0)``...), the Pod without a retryStrategy,
    or the Skipped node of a task that never ran. Should a name appear more than once, the most
    recently started node wins.
    """
    wanted = set(tasks)
    found: dict[str, dict[str, Any]] = {}
    for node in nodes.values():
        name = node.get("displayName")
        if name not in wanted:
            continue
        current = found.get(name)
        if current is None or (str(node.get("startedAt") or ""), str(node.get("id") or "")) >= (
            str(current.get("startedAt") or ""),
            str(current.get("id") or ""),
        ):
            found[name] = dict(node)
    return found


_ATTEMPT = re.compile(r"\((\d+)\)$")


def attempts(node: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A task's attempts, oldest first: a Retry node's children named ``<its name>(<n>)``; a Pod is
    its own only attempt; anything else has none."""
    kind = node.get("type")
    if kind == "Pod":
        return [dict(node)]
    if kind != "Retry":
        return []
    return _numbered_children(node, nodes, _ATTEMPT)


def _numbered_children(
    node: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]], suffix: re.Pattern[str]
) -> list[dict[str, Any]]:
    """``node``'s children named ``<its name>(...)`` whose ``suffix`` (the name's end, group 1 a
    number) matches, in the order of that number: a Retry's attempts, a TaskGroup's expanded tasks."""
    prefix = f"{node.get('name')}("
    found: list[tuple[int, dict[str, Any]]] = []
    for child_id in node.get("children") or []:
        child = nodes.get(child_id)
        if child is None:
            continue
        name = str(child.get("name") or "")
        number = suffix.search(name)
        if name.startswith(prefix) and number and name.rfind("(", 0, number.start() + 1) == len(prefix) - 1:
            found.append((int(number.group(1)), dict(child)))
    return [child for _, child in sorted(found, key=lambda item: item[0])]


_EXPANDED = re.compile(r"\((\d+):(.*)\)$", re.DOTALL)


def fan_out_children(node: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A ``TaskGroup``'s expanded tasks in item order: its children named ``<its name>(<i>:<item>)``;
    anything else has none."""
    if node.get("type") != "TaskGroup":
        return []
    return _numbered_children(node, nodes, _EXPANDED)


def item_of(node: Mapping[str, Any]) -> str | None:
    """The item of an expanded task node (``execute-aer(1:1-of-4)`` → ``1-of-4``), or None."""
    expanded = _EXPANDED.search(str(node.get("displayName") or node.get("name") or ""))
    return expanded.group(2) if expanded else None


class Progress(NamedTuple):
    """Argo's ``"N/M"``: N done of M."""

    done: int
    total: int

    def __add__(self, other: object) -> Progress:  # type: ignore[override]
        if not isinstance(other, Progress):
            return NotImplemented
        return Progress(self.done + other.done, self.total + other.total)

    def __str__(self) -> str:
        return f"{self.done}/{self.total}"


_PROGRESS = re.compile(r"^(\d+)/(\d+)$")


def parse_progress(value: Any) -> Progress | None:
    """``"N/M"`` when Argo counts it valid (``Progress.IsValid``: 0 <= N <= M, M > 0), else None."""
    match = _PROGRESS.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    done, total = int(match.group(1)), int(match.group(2))
    return Progress(done, total) if 0 <= done <= total and total > 0 else None


def node_progress(node: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]]) -> Progress | None:
    """How far one task has come, counting each piece of work once: a fanned-out task the sum over
    its expanded tasks; a Retry node its latest attempt (Argo's own sum over a Retry node counts a
    failed attempt's work again); a pod its own ``progress``; a memoization hit its ``progress``
    (Argo completes it); a node that never ran (Skipped, Omitted) None."""
    kind = node.get("type")
    if kind == "TaskGroup":
        parts = [node_progress(child, nodes) for child in fan_out_children(node, nodes)]
        known = [part for part in parts if part is not None]
        return sum(known[1:], known[0]) if known else None
    if kind == "Retry":
        tried = attempts(node, nodes)
        if tried:
            return parse_progress(tried[-1].get("progress"))
    if kind == "Skipped":
        return None
    return parse_progress(node.get("progress"))


def memoization(node: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """A task node's ``memoizationStatus`` (``{hit, key, cacheName}``), on the node itself or on
    its latest attempt; None when its template is not memoized (or it never ran)."""
    for candidate in (node, *reversed(attempts(node, nodes))):
        found = candidate.get("memoizationStatus")
        if isinstance(found, Mapping) and isinstance(found.get("key"), str):
            return {"hit": found.get("hit") is True, "key": found["key"], "cacheName": found.get("cacheName")}
    return None


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class ContainerMessage:
    """``[<container>: ]<kubelet reason> (exit code N)[: <termination message>]`` taken apart."""

    container: str | None
    reason: str
    exit_code: int
    termination: str | None


_CONTAINER_MESSAGE = re.compile(
    r"^(?:(?P<container>[a-z0-9](?:[-a-z0-9]*[a-z0-9])?): )?"
    r"(?P<reason>[A-Za-z][A-Za-z0-9]*) \(exit code (?P<code>-?\d+)\)(?:: (?P<termination>.*))?$",
    re.DOTALL,
)
_NOT_STARTED = re.compile(r"^Pod failed before (?P<container>\S+) container starts due to (?P<rest>.*)$", re.DOTALL)


def parse_container_message(message: str) -> ContainerMessage | None:
    """The parts of Argo's message for a container that exited non-zero (v3.7+ and older), or None."""
    match = _CONTAINER_MESSAGE.match(message.strip())
    if match is None:
        return None
    termination = (match.group("termination") or "").strip() or None
    return ContainerMessage(match.group("container"), match.group("reason"), int(match.group("code")), termination)


#: The kubelet's waiting/terminated reasons Argo copies into a node message; normalized.
_CONTAINER_REASONS: tuple[tuple[re.Pattern[str], Reason], ...] = (
    (re.compile(r"^(ErrImagePull|ImagePullBackOff|InvalidImageName|ErrImageNeverPull)\b"), Reason.IMAGE_PULL_FAILED),
    (
        re.compile(
            r"^(CreateContainerConfigError|CreateContainerError|RunContainerError|ContainerCannotRun|StartError)\b"
        ),
        Reason.CONTAINER_ERROR,
    ),
    (re.compile(r"^Unschedulable\b"), Reason.UNSCHEDULABLE),
)
#: ``Reason: one line`` written by a step to its termination log (see ``qiskit_argo.steps``).
_STEP_REASON = re.compile(r"^([A-Z][A-Za-z0-9]+): (.+)$", re.DOTALL)
#: Messages the Argo controller, its executor or the kubelet write, recognized anywhere in the text.
_PATTERNS: tuple[tuple[re.Pattern[str], Reason], ...] = (
    (re.compile(r"OOMKilled"), Reason.OUT_OF_MEMORY),
    (
        re.compile(
            r"exceeded its deadline|longer than the specified deadline|DeadlineExceeded|"
            r"Max duration limit exceeded|would exceed max duration limit|exceeded workflow deadline|active deadline",
            re.IGNORECASE,
        ),
        Reason.DEADLINE_EXCEEDED,
    ),
    (
        re.compile(r"strategy '?Terminate'?|strategy:\s+Terminate|Workflow (was )?terminated", re.IGNORECASE),
        Reason.WORKFLOW_TERMINATED,
    ),
    (re.compile(r"strategy '?Stop'?|strategy:\s+Stop", re.IGNORECASE), Reason.WORKFLOW_STOPPED),
    (re.compile(r"pod deleted|pod was deleted|pod .* not found", re.IGNORECASE), Reason.POD_DELETED),
    (re.compile(r"Evicted|node was low on resource", re.IGNORECASE), Reason.POD_EVICTED),
    (
        re.compile(
            r"workflowtemplates?\.argoproj\.io .*not found|workflow template .* not found|"
            r"template reference .* not found|template .* not found",
            re.IGNORECASE,
        ),
        Reason.TEMPLATE_NOT_FOUND,
    ),
    (re.compile(r"^invalid spec", re.IGNORECASE), Reason.INVALID_WORKFLOW),
    (
        re.compile(
            r"failed to (save|load|put|get) (outputs|artifacts?|file)|artifact .*(not found|failed)|"
            r"required artifact",
            re.IGNORECASE,
        ),
        Reason.ARTIFACT_ERROR,
    ),
)

#: Messages that say a node stopped but not why (the why is on a child, or nowhere).
_UNINFORMATIVE = re.compile(
    r"^(|No more retries left|retryStrategy\.expression evaluated to false|child '.*' (failed|errored)|"
    r"Backoff for .*|omitted: depends condition not met|Workflow operation error)$"
)


def uninformative(message: str | None) -> bool:
    """Whether a message says only *that* a node stopped, not why."""
    return bool(_UNINFORMATIVE.match((message or "").strip()))


def classify_message(message: str) -> tuple[Reason | str | None, str]:
    """Map one failure message to ``(Reason, detail)``; ``Reason`` is None when nothing matched
    (a step's own word that is not a ``Reason`` member comes back as written: ``reason_of``).

    Argo's container prefix is taken off first (``main: Error (exit code 2): InvalidCircuit:
    line 3: ...`` and the pre-v3.7 ``Error (exit code 2): ...``); then the step's own ``Reason:
    text`` wins (``InvalidCircuit: line 3: ...`` → ``InvalidCircuit``, detail ``line 3: ...``),
    except the kubelet's container reasons, which are normalized (ImagePullBackOff →
    ImagePullFailed); an OOM kill is OutOfMemory; a failed ``init`` or ``wait`` container
    (loading or saving artifacts) is ArtifactError; a container that exited non-zero without a
    word is StepFailed. Otherwise the messages the Argo controller and the kubelet write
    (deadline, stop/terminate, eviction, pod deleted, template not found...).
    """
    text = message.strip()
    parsed = parse_container_message(text)
    if parsed is not None:
        if parsed.reason == "OOMKilled":
            return Reason.OUT_OF_MEMORY, text
        if parsed.container in ("init", "wait"):
            return Reason.ARTIFACT_ERROR, parsed.termination or text
        if parsed.termination is None:
            return Reason.STEP_FAILED, text
        reason, detail = classify_message(parsed.termination)
        if reason is not None:
            return reason, detail
        return Reason.STEP_FAILED, parsed.termination
    not_started = _NOT_STARTED.match(text)
    if not_started is not None:
        reason, _ = classify_message(not_started.group("rest"))
        return reason or Reason.CONTAINER_ERROR, text
    for pattern, known in _CONTAINER_REASONS:
        if pattern.search(text):
            return known, text
    match = _STEP_REASON.match(text)
    if match:
        return reason_of(match.group(1)), match.group(2).strip()
    for pattern, known in _PATTERNS:
        if pattern.search(text):
            return known, text
    return None, text


@dataclass(frozen=True)
class StepFailure:
    """Why a step failed: the reason, a one-line detail, and (retried steps) how many attempts ran."""

    reason: Reason | str
    detail: str
    attempts: int = 1


#: Why a Retry node stopped retrying that is the reason itself (the last attempt's stays in the detail).
_STOPPED_RETRYING = frozenset({Reason.DEADLINE_EXCEEDED, Reason.WORKFLOW_STOPPED, Reason.WORKFLOW_TERMINATED})


def _attempt_failure(node: Mapping[str, Any]) -> tuple[Reason | str | None, str]:
    message = str(node.get("message") or "").strip()
    if not message:
        return None, ""
    return classify_message(message)


def step_failure(node: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]]) -> StepFailure:
    """Why a failed task node failed.

    The last attempt says what went wrong (the step's own reason, an OOM kill, an eviction...);
    the Retry node says why there was no further attempt. A deadline that stopped the retries
    (``Max duration limit exceeded``, ``retry exceeded workflow deadline``) is the reason — the
    last attempt's failure stays in the detail; so is a shutdown; otherwise the attempt's.
    """
    children = fan_out_children(node, nodes)
    failed = [child for child in children if child.get("phase") in NODE_FAILED]
    if failed:  # a fanned-out task: the first of its tasks that failed says why
        failure = step_failure(failed[0], nodes)
        detail = _for_item(failed[0], failure.detail) if len(children) > 1 else failure.detail
        return StepFailure(failure.reason, detail, failure.attempts)
    tried = attempts(node, nodes)
    last = tried[-1] if tried else None
    attempt_reason, attempt_detail = _attempt_failure(last) if last is not None else (None, "")
    own = str(node.get("message") or "").strip()
    if node.get("type") == "Retry" and own and not uninformative(own):
        reason, detail = classify_message(own)
        if reason in _STOPPED_RETRYING and attempt_reason != reason:
            if attempt_detail:
                shown = f"{attempt_reason}: {attempt_detail}" if attempt_reason else attempt_detail
                detail = f"{detail}; the last attempt failed with {shown}"
            return StepFailure(reason, detail, len(tried))
        if attempt_reason is None:
            return StepFailure(reason or Reason.STEP_FAILED, detail, len(tried))
    if attempt_reason is not None or attempt_detail:
        return StepFailure(attempt_reason or Reason.STEP_FAILED, attempt_detail, max(len(tried), 1))
    if own and not uninformative(own):
        reason, detail = classify_message(own)
        return StepFailure(reason or Reason.STEP_FAILED, detail, max(len(tried), 1))
    return StepFailure(Reason.STEP_FAILED, f"it ended {str(node.get('phase') or 'Failed').lower()} without a message")


def _for_item(node: Mapping[str, Any], text: str) -> str:
    item = item_of(node)
    return f"{item}: {text}" if item else text


def step_message(node: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]]) -> str | None:
    """What a person should read about one step now, or None.

    Failed: ``Reason: detail``. Waiting between attempts: the failed attempt and the backoff.
    Running or pending: the current attempt's message (e.g. why its pod waits). Otherwise None.
    """
    phase = node.get("phase")
    if phase in NODE_FAILED:
        failure = step_failure(node, nodes)
        return f"{failure.reason}: {failure.detail}"
    if phase in NODE_DONE:
        return None
    children = fan_out_children(node, nodes)
    for child in children:  # a fanned-out task: the first of its tasks with news
        said = step_message(child, nodes)
        if said is not None:
            return _for_item(child, said) if len(children) > 1 else said
    tried = attempts(node, nodes)
    own = str(node.get("message") or "").strip()
    last = tried[-1] if tried else None
    if own.startswith("Backoff for") and last is not None and last.get("phase") in NODE_FAILED:
        reason, detail = _attempt_failure(last)
        what = f"{reason}: {detail}" if reason else (detail or "it failed")
        return f"attempt {len(tried)} failed ({what}); retrying: {own}"
    if last is not None and last.get("message") and last.get("phase") in ("Pending", "Running"):
        return str(last["message"]).strip()
    if own and not uninformative(own):
        return own
    return None


def workflow_failure(
    workflow: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]]
) -> tuple[Reason | str | None, str]:
    """``(Reason, detail)`` from the Workflow's own message, then any failed node's; (None, "") if none tells."""
    candidates = [str(get(workflow, "status", "message") or "")]
    failed = [node for node in nodes.values() if node.get("phase") in NODE_FAILED and node.get("message")]
    failed.sort(key=lambda node: str(node.get("finishedAt") or ""))
    candidates += [str(node.get("message")) for node in failed]
    for text in candidates:
        if text and not uninformative(text):
            return classify_message(text)
    return None, ""
