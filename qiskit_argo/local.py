"""Run a rendered Argo Workflow on this machine: the same DAG, templates, parameters and artifacts.

This is not a second implementation of the job: it interprets the Workflow that
``qiskit_argo.workflows.build`` renders, resolving ``templateRef``s against the generated
ClusterWorkflowTemplate (or a Workflow that only names that template in ``workflowTemplateRef``,
as ``argo submit --from`` makes it: its spec is joined over the template's), substituting
``{{...}}`` expressions, materialising ``raw`` and ``from`` artifacts, mounting volumes as
directories under a work directory, and running each container's command (a console script of
qiskit-argo's) with its arguments, environment and working directory in a *step worker*: a Python
process kept per image (``StepWorkers``; ``qiskit-argo run`` starts one per component, forked
from a process that imported Qiskit once), which has imported what its steps need
(``StepSpec.preload``) while the Workflow was being rendered (``Renderer``). A wrong parameter
reference or artifact name fails here exactly as it would in Argo. The DAG may branch: a task's
``depends`` (``&&``, ``||``, ``!``, ``.Succeeded``...; false: Omitted) and ``when`` (``A == B``;
false: Skipped) follow Argo's semantics (``qiskit_argo.expressions``), and an output with a
``globalName`` becomes ``{{workflow.outputs.parameters|artifacts.NAME}}`` for later tasks, as in
Argo (the last task that wrote it wins).

The features a sharded, cached job uses follow Argo too. A ``withParam`` task fans out into one
child per item of its JSON list (workflow/controller/dag.go, ``expandTask``): children named
``task(i:item)``, each with ``{{item}}`` and its own ``when``, run at once in parallel workers (at
most ``parallel``), in ``steps/<task>/<item>``; the task (a TaskGroup) Succeeds unless a child
Failed or Errored, and is Skipped for an empty list. Key-only ``s3`` artifacts
(docs/key-only-artifacts.md) live in a local repository (``LocalStore``): an output is copied to
``repository/<key>`` (``archive`` makes no difference here: files stay files), an input is copied
from there, a prefix as a folder of every object under it, ``optional`` ones may be absent; a
task argument's key-only artifact (the job's own files) comes from the ``sources`` directory.
When the run ends, what it uploaded with an artifactGC strategy other than Never is deleted, as
Argo's artifact GC does when the Workflow goes. A ``memoize`` template consults a cache file per
ConfigMap (entries shaped as Argo's ``cache.Entry``; workflow/controller/cache/configmap_cache.go):
an entry younger than ``maxAge`` (and whose artifacts are still in the repository) is a hit, and
the step does not run; its outputs are the entry's, and ``TaskRun.memoization`` records Argo's
``memoizationStatus``; a miss is saved when the step succeeds (operator.go). ``projected``
volumes of ``configMap`` sources (with ``items``) are materialised; ``{{workflow.uid}}`` is a
fresh uuid per run; each step gets ``ARGO_PROGRESS_FILE`` (``steps/<task>/progress``), whose
``N/M`` becomes ``TaskRun.progress`` (of a fan-out, the sum over its children, as Argo sums nodes).

A step ends as a container
does: its exit code, its stderr in ``steps/<task>/stderr.log``, the last line of which is the
step's message (its termination message); a step that crashes or is killed fails with
``Error (exit code N)``, N as a container runtime reports it (128 + the signal).

Whatever a Workflow says, the runner writes only under its work directory and its store's
repository and memoization folders, and reads artifacts only from those and the sources
directory: step and volume names, ConfigMap keys and every segment of an artifact key must be
single file names (``qiskit_argo.safeio.join_key``); container
paths (artifacts, output parameters, volume mounts, absolute arguments and environment values,
the working directory) are normalised as the container would see them and must land on a volume,
inside that step's directory, links resolved; only qiskit-argo's own step commands run.
``activeDeadlineSeconds`` is checked before each step, and a step still running when it passes
is stopped (its worker is killed) and fails, as Argo fails it.

What has no meaning on one machine is left out: ``synchronization`` (Argo's semaphores: one run
here is one job), ``retryStrategy`` (a failed step fails the run). A container's
``env.valueFrom.secretKeyRef`` for the IBM Quantum API key (``QISKIT_IBM_TOKEN``, on the steps
that talk to IBM) takes that variable from the environment of ``qiskit-argo run``; every other
step runs without it, as its pod would. ``LocalServices`` runs the service Workflows (probe a
QiskitBackend, open and close a QiskitSession) the same way, before and after a job.
"""

from __future__ import annotations

import contextlib
import enum
import importlib
import itertools
import json
import os
import posixpath
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qiskit_argo.api import QiskitBackend, QiskitBackendStatus, QiskitJob, QiskitSession
    from qiskit_argo.catalogue import Catalogue
    from qiskit_argo.errors import InvalidJobError
    from qiskit_argo.steps import StepRegistry

__all__ = [
    "LocalRunError",
    "LocalStore",
    "default_cache_dir",
    "key_path",
    "child_node_name",
    "parse_duration",
    "TaskRun",
    "WorkflowRun",
    "run_workflow",
    "join_workflow_spec",
    "substitute_known",
    "render",
    "render_service",
    "Rendered",
    "LocalServices",
    "Renderer",
    "RenderError",
    "Listener",
    "StepCall",
    "StepEnd",
    "StepExit",
    "StepWorkers",
    "STEPS_SHARE",
    "step_component",
    "step_preloads",
]

#: Argo's progress file: the variable that names it in a step's environment, and its name in the step's
#: directory here (a step writes "N/M" there; the runner reads it).
PROGRESS_ENV = "ARGO_PROGRESS_FILE"
PROGRESS_FILE = "progress"

#: ``{{ name }}``; the name is stripped in Python. (No lazy ``+?`` beside ``\s*``: that backtracks
#: quadratically on a long run of spaces after ``{{`` -- in a circuit, minutes.)
_EXPRESSION = re.compile(r"\{\{([^{}]*)\}\}")


class LocalRunError(Exception):
    """The Workflow cannot be interpreted (a dangling reference, a missing template or volume)."""


@dataclass
class TaskRun:
    """One DAG task as it ran here."""

    name: str
    template: str
    phase: str = "Pending"
    message: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, Path] = field(default_factory=dict)
    log: Path | None = None
    #: A fanned-out task (``withParam``; Argo's TaskGroup): one run per item, named as Argo names
    #: them (``execute-aer(0:0-of-4)``); its phase comes from theirs.
    children: list[TaskRun] = field(default_factory=list)
    #: Argo's ``memoizationStatus`` (``hit``, ``key``, ``cacheName``) of a memoized step.
    memoization: dict[str, Any] | None = None
    #: Argo's ``progress`` ("N/M") from the step's ``ARGO_PROGRESS_FILE``; of a fanned-out task,
    #: the sum over its children.
    progress: str | None = None

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


@dataclass
class WorkflowRun:
    """The outcome of a local run; ``phase`` uses Argo's words (Succeeded, Failed)."""

    name: str
    workdir: Path
    tasks: dict[str, TaskRun]
    phase: str = "Running"
    message: str = ""
    #: ``{{workflow.uid}}``: a fresh one per run.
    uid: str = ""

    @property
    def failed_task(self) -> TaskRun | None:
        return next((task for task in self.tasks.values() if task.phase in ("Failed", "Error")), None)


#: Called with each task whenever its phase changes (the CLI draws progress from this); a
#: fanned-out task also whenever one of its children changes, or their progress does.
Listener = Callable[[TaskRun], None]


@dataclass(frozen=True)
class LocalStore:
    """What lasts between local runs, under one directory (``qiskit-argo run --cache-dir``): the
    artifact repository that key-only ``s3`` artifacts are uploaded to and downloaded from
    (``repository/<key>``), and the memoization caches (``memo/<ConfigMap name>.json``: key ->
    an entry shaped as Argo's ``cache.Entry``)."""

    root: Path

    @property
    def repository(self) -> Path:
        return self.root / "repository"

    @property
    def memo(self) -> Path:
        return self.root / "memo"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/qiskit-argo``, else ``~/.cache/qiskit-argo``."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base and os.path.isabs(base) else Path.home() / ".cache") / "qiskit-argo"


# --------------------------------------------------------------------------- pure helpers


def _depends_logic(task: dict[str, Any]) -> str | None:
    """The task's ``depends``, or its ``dependencies`` as Argo reads them (``A && B``), or None."""
    if task.get("depends"):
        return str(task["depends"])
    if task.get("dependencies"):
        return " && ".join(str(name) for name in task["dependencies"])
    return None


def _dependencies(task: dict[str, Any]) -> list[str]:
    from qiskit_argo.expressions import ExpressionError, depends_tasks

    logic = _depends_logic(task)
    try:
        return depends_tasks(logic) if logic else []
    except ExpressionError as error:
        raise LocalRunError(f"task {task.get('name')!r}: {error}") from None


def topological_order(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The DAG's tasks, each after the tasks it depends on (Argo's order for a sequential run)."""
    by_name = {task["name"]: task for task in tasks}
    order: list[dict[str, Any]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    # Depth first without recursion: a long chain of tasks cannot exhaust Python's stack.
    for task in tasks:
        if state.get(task["name"]) == 2:
            continue
        state[task["name"]] = 1
        path: list[tuple[str, Iterator[str]]] = [(task["name"], iter(_dependencies(task)))]
        while path:
            name, pending = path[-1]
            dependency = next(pending, None)
            if dependency is None:
                state[name] = 2
                order.append(by_name[name])
                path.pop()
            elif state.get(dependency) == 1:
                chain = [step for step, _ in path]
                raise LocalRunError(f"DAG cycle: {' -> '.join((*chain[chain.index(dependency) :], dependency))}")
            elif state.get(dependency) != 2:
                if dependency not in by_name:
                    raise LocalRunError(f"task {name!r} depends on unknown task {dependency!r}")
                state[dependency] = 1
                path.append((dependency, iter(_dependencies(by_name[dependency]))))
    return order


def substitute(text: str, scope: dict[str, str], where: str) -> str:
    """Replace every ``{{name}}`` in ``text`` from ``scope``; an unknown name is an error, as in Argo."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1).strip()
        if not key:
            return match.group(0)
        if key not in scope:
            raise LocalRunError(f"{where}: unresolved reference {{{{{key}}}}}")
        return scope[key]

    return _EXPRESSION.sub(value, text)


def substitute_known(text: str, scope: dict[str, str]) -> str:
    """Replace the ``{{name}}``s that ``scope`` knows and keep the others as written, as Argo does
    when it substitutes a DAG task (e.g. in a ``raw`` artifact's data)."""
    return _EXPRESSION.sub(lambda match: scope.get(match.group(1).strip(), match.group(0)), text)


def _merge(base: Any, override: Any) -> Any:
    """``override`` over ``base`` the way Argo joins a Workflow's spec over its template's (a
    strategic merge): mappings merge key by key, lists of named items merge by name, the rest is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    named = isinstance(base, list) and isinstance(override, list)
    if named and all(isinstance(item, dict) and "name" in item for item in (*base, *override)):
        by_name = {item["name"]: item for item in base}
        for item in override:
            by_name[item["name"]] = _merge(by_name[item["name"]], item) if item["name"] in by_name else item
        return list(by_name.values())
    return override


def join_workflow_spec(workflow: dict[str, Any], templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The spec Argo runs for ``workflow``: its own, or with ``workflowTemplateRef`` its own joined
    over the referenced (Cluster)WorkflowTemplate's (the Workflow's values win)."""
    spec: dict[str, Any] = workflow["spec"]
    ref = spec.get("workflowTemplateRef")
    if ref is None:
        return spec
    owner = templates.get(ref["name"])
    if owner is None:
        kind = "ClusterWorkflowTemplate" if ref.get("clusterScope") else "WorkflowTemplate"
        raise LocalRunError(f"workflowTemplateRef: {kind} {ref['name']!r} not found")
    own = {key: value for key, value in spec.items() if key != "workflowTemplateRef"}
    joined: dict[str, Any] = _merge(owner["spec"], own)
    for volume in joined.get("volumes", []):
        if len(set(volume) - {"name"}) > 1:
            raise LocalRunError(
                f"volume {volume['name']!r}: the Workflow and {ref['name']!r} both declare it, and Argo merges "
                "the two into one volume with two sources; rename one of them"
            )
    return joined


def _find_template(name: str, templates: list[dict[str, Any]], where: str) -> dict[str, Any]:
    for template in templates:
        if template.get("name") == name:
            return template
    raise LocalRunError(f"{where}: no template named {name!r}")


@dataclass
class _Mount:
    container_path: PurePosixPath
    local_path: Path


def _container_path(value: Any, where: str) -> PurePosixPath:
    """An absolute container path as the container resolves it: ``..`` and ``.`` folded away."""
    if not isinstance(value, str) or not value.startswith("/") or "\0" in value:
        raise LocalRunError(f"{where}: {value!r} is not an absolute path")
    return PurePosixPath("/" + posixpath.normpath(value).lstrip("/"))


def _reroot(container_path: str, mounts: list[_Mount], where: str) -> Path:
    """Where a container path lives on this machine: under the deepest mount that holds it, and
    never outside that mount's directory (``..`` cannot climb out, nor can a symbolic link)."""
    from qiskit_argo.safeio import is_inside

    path = _container_path(container_path, where)
    best: _Mount | None = None
    for mount in mounts:
        if path == mount.container_path or mount.container_path in path.parents:
            if best is None or len(mount.container_path.parts) > len(best.container_path.parts):
                best = mount
    if best is None:
        raise LocalRunError(f"{where}: {container_path} is on no writable volume (the root filesystem is read-only)")
    local = best.local_path.joinpath(*path.relative_to(best.container_path).parts)
    if not is_inside(local, best.local_path):
        raise LocalRunError(f"{where}: {container_path} leaves its volume through a symbolic link")
    return local


def _reroot_args(args: list[str], mounts: list[_Mount], where: str) -> list[str]:
    """Absolute paths in ``args`` (``/p`` or ``--flag=/p``) moved onto the step's volumes.

    A path on no volume is an error: in a pod it would be on the read-only root filesystem, and
    here it would be a path on this machine, outside the work directory.
    """
    rerooted = []
    for arg in args:
        flag, equals, value = arg.partition("=") if arg.startswith("-") else ("", "", arg)
        if value.startswith("/"):
            arg = flag + equals + str(_reroot(value, mounts, f"{where} args"))
        rerooted.append(arg)
    return rerooted


def _secret_value(name: str, item: dict[str, Any], scope: dict[str, str], where: str) -> str | None:
    """A ``valueFrom.secretKeyRef`` variable here: only the IBM Quantum API key has a local source,
    the same variable in the environment of ``qiskit-argo run`` (its Secret's name and key are
    substituted, so a wrong reference fails as in Argo, but nothing is read from them; the
    placeholder Secret of a backend without credentials exists nowhere). ``None``: unset, as an
    ``optional`` reference to a missing key leaves it. The value is never printed."""
    from qiskit_argo.steps import CREDENTIALS_ENV, NO_CREDENTIALS_SECRET

    source = item["valueFrom"]
    ref = source.get("secretKeyRef") if isinstance(source, dict) and len(source) == 1 else None
    if not isinstance(ref, dict) or name != CREDENTIALS_ENV:
        raise LocalRunError(
            f"{where}: env {name}: valueFrom is not supported locally (only value, and {CREDENTIALS_ENV} from a Secret)"
        )
    secret = substitute(str(ref.get("name", "")), scope, f"{where} env {name} secretKeyRef name")
    substitute(str(ref.get("key", "")), scope, f"{where} env {name} secretKeyRef key")
    if secret == NO_CREDENTIALS_SECRET:  # no such Secret in a cluster either (a fake backend, Aer)
        return None
    value = os.environ.get(CREDENTIALS_ENV)
    if value is None and not ref.get("optional"):
        raise LocalRunError(f"{where}: env {name}: set {CREDENTIALS_ENV} in your environment (the pod reads a Secret)")
    return value


def _environment(container: dict[str, Any], scope: dict[str, str], mounts: list[_Mount], where: str) -> dict[str, str]:
    """The container's ``env`` (``name``/``value`` pairs, substituted), absolute values moved
    onto the step's volumes as absolute arguments are (``HOME=/tmp`` is the step's scratch
    volume here). Of ``valueFrom`` (Secrets, the downward API) only the IBM Quantum API key has a
    local source (``_secret_value``)."""
    env: dict[str, str] = {}
    for item in container.get("env", []) or []:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name or "=" in name or "\0" in name:
            raise LocalRunError(f"{where}: env {name!r} is not a variable name")
        if "valueFrom" in item:
            secret = _secret_value(name, item, scope, where)
            if secret is not None:
                env[name] = secret
            continue
        value = substitute(str(item.get("value", "")), scope, f"{where} env {name}")
        if "\0" in value:
            raise LocalRunError(f"{where}: env {name}: the value holds a NUL character")
        env[name] = str(_reroot(value, mounts, f"{where} env {name}")) if value.startswith("/") else value
    return env


#: Console scripts that are not steps: the command line itself (no run inside a run).
_NOT_STEPS = {"qiskit-argo"}


def _entry_point(command: str, where: str) -> str:
    """A step's command as ``module:function``: a console script of qiskit-argo's own (never pip,
    pytest or another tool that happens to be installed: a Workflow must not run arbitrary
    programs on this machine). Nothing is imported here; the step worker imports it."""
    from importlib.metadata import entry_points

    found = entry_points(group="console_scripts", name=command)
    if not found:
        raise LocalRunError(f"{where}: command {command!r} is not a console script installed here")
    entry = next(iter(found))
    if not entry.module.startswith("qiskit_argo.") or command in _NOT_STEPS:
        raise LocalRunError(f"{where}: command {command!r} is not a qiskit-argo step; only those run locally")
    return f"{entry.module}:{entry.attr}"


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def key_path(root: Path, key: Any, where: str) -> Path:
    """Where an artifact repository key (``a/b/c.json``; a trailing ``/`` names a prefix) lives
    under ``root``: each segment one safe file name (``safeio.join_key``), never a link out."""
    if not isinstance(key, str) or not key.rstrip("/"):
        raise LocalRunError(f"{where}: s3 key {key!r} is empty")
    if key.startswith("/"):
        raise LocalRunError(f"{where}: s3 key {key!r} is absolute; a key is relative to the repository")
    path = root
    for segment in key.rstrip("/").split("/"):
        path = _safe_join(path, segment, f"{where}: s3 key {key!r} segment")
    return path


#: Go's ``time.ParseDuration`` units (Argo's ``memoize.maxAge``).
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in a Go duration (``168h``, ``1h30m``, ``90s``), as ``time.ParseDuration`` reads it."""
    body = text.strip()
    sign = -1.0 if body.startswith("-") else 1.0
    body = body.lstrip("+-")
    if body == "0":
        return 0.0
    total, at = 0.0, 0
    for match in _DURATION.finditer(body):
        if match.start() != at:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        at = match.end()
    if not body or at != len(body):
        raise ValueError(f"invalid duration {text!r}")
    return sign * total


def _read_progress(path: Path) -> tuple[int, int] | None:
    """``N/M`` from a step's progress file (Argo's ``ARGO_PROGRESS_FILE``), or None."""
    try:
        return _parse_progress(path.read_text()[:64].strip())
    except (OSError, UnicodeDecodeError):
        return None


def _parse_progress(text: str | None) -> tuple[int, int] | None:
    done, slash, total = (text or "").partition("/")
    return (int(done), int(total)) if slash and done.isdigit() and total.isdigit() else None


def _item_value(item: Any) -> str:
    """``{{item}}`` as Argo substitutes it: a string as is, a number or bool as written, a list or
    map as JSON (``processItem``, workflow/controller/operator.go)."""
    if isinstance(item, str):
        return item
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int | float):
        return json.dumps(item)
    return json.dumps(item, separators=(",", ":"))


def _item_scope(item: Any) -> dict[str, str]:
    scope = {"item": _item_value(item)}
    if isinstance(item, dict):
        scope.update({f"item.{key}": _item_value(value) for key, value in item.items()})
    return scope


def child_node_name(task: str, index: int, item: Any) -> str:
    """The node name Argo gives the ``index``-th expansion of ``task`` (``generateNodeName``):
    ``task(index:item)``, parentheses dropped from the item, a map as its sorted ``key:value``s."""
    if isinstance(item, dict):
        described = ",".join(sorted(f"{key}:{_item_value(value)}" for key, value in item.items()))
    elif isinstance(item, list):
        described = "[" + " ".join(_item_value(value) for value in item) + "]"
    else:
        described = _item_value(item)
    return f"{task}({index}:{described.replace('(', '').replace(')', '')})"


def _child_dirs(items: Sequence[Any]) -> list[str]:
    """The step directory name of each child: its item when that is a safe, distinct file name
    (a shard id, ``0-of-4``), else its index."""
    from qiskit_argo.objectmeta import config_map_key_problem

    names = [item if isinstance(item, str) and not config_map_key_problem(item) else None for item in items]
    if None in names or len(set(names)) != len(names):
        return [str(index) for index in range(len(items))]
    return [str(name) for name in names]


def _now_rfc3339() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _age_seconds(stamp: Any) -> float | None:
    from datetime import datetime

    try:
        then = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    return time.time() - then.timestamp()


# --------------------------------------------------------------------------- the runner


class _Runner:
    def __init__(
        self,
        workflow: dict[str, Any],
        cluster_templates: dict[str, dict[str, Any]],
        config_maps: dict[str, dict[str, bytes]],
        workdir: Path,
        listener: Listener | None,
        workers: StepWorkers,
        *,
        store: LocalStore,
        sources: Path | None = None,
        parallel: int | None = None,
    ) -> None:
        self.workflow = workflow
        self.workers = workers
        #: When the run must end (``time.monotonic()``), from ``activeDeadlineSeconds``; set by ``run``.
        self.deadline: float | None = None
        self.spec = join_workflow_spec(workflow, cluster_templates)
        self.cluster_templates = cluster_templates
        self.config_maps = config_maps
        self.workdir = workdir
        self.listener = listener or (lambda task: None)
        self.store = store
        #: Where a task argument's key-only artifact (the job's own files) is read; else the repository.
        self.sources = sources
        self.parallel = max(1, parallel or os.cpu_count() or 1)
        #: The CPUs each child of the fan-out under way may use (``CPUS_ENV``); None: not set.
        self.child_cpus: int | None = None
        #: Guards what the children of a fan-out share: the scope's exported outputs, the
        #: memoization caches, the artifacts to collect.
        self.lock = threading.RLock()
        #: Repository paths this run uploaded whose artifactGC strategy is not Never: deleted at its end.
        self.collect: list[Path] = []
        metadata = workflow["metadata"]
        self.name = metadata.get("name") or metadata.get("generateName", "workflow-") + "local"
        self.uid = str(uuid.uuid4())
        self.scope: dict[str, str] = {
            "workflow.name": self.name,
            "workflow.namespace": metadata.get("namespace", "default"),
            "workflow.uid": self.uid,
        }
        for parameter in self.spec.get("arguments", {}).get("parameters", []):
            name = parameter["name"]
            if "value" not in parameter and "default" not in parameter:
                raise LocalRunError(f"spec.arguments.parameters: {name!r} has no value (argo submit -p {name}=...)")
            self.scope[f"workflow.parameters.{name}"] = str(parameter.get("value", parameter.get("default")))
        self.artifacts: dict[str, Path] = {}
        self.dag_tasks: list[dict[str, Any]] = []

    def resolve_template(self, task: dict[str, Any]) -> dict[str, Any]:
        where = f"task {task['name']}"
        if "templateRef" in task:
            ref = task["templateRef"]
            owner = self.cluster_templates.get(ref["name"])
            if owner is None:
                kind = "ClusterWorkflowTemplate" if ref.get("clusterScope") else "WorkflowTemplate"
                raise LocalRunError(f"{where}: {kind} {ref['name']!r} not found")
            return _find_template(ref["template"], owner["spec"]["templates"], where)
        return _find_template(task["template"], self.spec["templates"], where)

    # ------------------------------------------------------------------ volumes

    def _config_map_files(self, source: dict[str, Any], local: Path, where: str) -> None:
        """A ``configMap`` volume or projected source: every key at the top, or its ``items``
        (``key`` -> relative ``path``, folders allowed). A missing ConfigMap, or a missing key of
        its items, fails the step as the pod would not start, unless ``optional``."""
        name = source.get("name")
        data = self.config_maps.get(name) if isinstance(name, str) else None
        if data is None:
            if source.get("optional"):
                return
            raise LocalRunError(
                f"{where}: ConfigMap {name!r} not found; put it in the job's YAML file "
                "(as a second document) or create it in the cluster"
            )
        items = source.get("items")
        if not items:
            for key, content in data.items():
                _safe_join(local, key, f"{where}: ConfigMap {name!r} key").write_bytes(content)
            return
        for item in items:
            key, path = item.get("key"), item.get("path")
            if key not in data:
                if source.get("optional"):
                    continue
                raise LocalRunError(
                    f"{where}: ConfigMap {name!r} has no key {key!r}; add it to the ConfigMap "
                    "(in the job's YAML file or the cluster)"
                )
            target = key_path(local, path, f"{where}: ConfigMap {name!r} item path")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data[key])

    def _volume(self, name: str, template: dict[str, Any], step_dir: Path, where: str) -> Path:
        volumes = {v["name"]: v for v in (*self.spec.get("volumes", []), *template.get("volumes", []))}
        if name not in volumes:
            raise LocalRunError(f"{where}: volumeMount {name!r} has no volume in the template or the Workflow")
        volume = volumes[name]
        local = _safe_join(step_dir / "volumes", name, f"{where}: volume")
        local.mkdir(parents=True, exist_ok=True)
        if "configMap" in volume:
            self._config_map_files(volume["configMap"], local, where)
        elif "projected" in volume:
            for source in (volume["projected"] or {}).get("sources") or []:
                if set(source) != {"configMap"}:
                    kinds = ", ".join(sorted(source)) or "none"
                    raise LocalRunError(
                        f"{where}: volume {name!r}: projected {kinds} is not supported locally (configMap)"
                    )
                self._config_map_files(source["configMap"], local, where)
        elif "emptyDir" not in volume:
            raise LocalRunError(
                f"{where}: volume {name!r} kind is not supported locally (emptyDir, configMap, projected)"
            )
        return local

    # ------------------------------------------------------------------ artifacts

    def _download(self, root: Path, key: str, target: Path, optional: bool, where: str, what: str) -> bool:
        """Copy object ``key`` (a file) or every object under prefix ``key`` (a folder) from ``root``
        to ``target``; False when there is none and ``optional``."""
        source = key_path(root, key, where)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True, symlinks=True)
        elif source.is_file():
            shutil.copyfile(source, target)
        elif optional:
            return False
        else:
            raise LocalRunError(f"{where}: key {key!r} is not in {what} ({root}); put the file there")
        return True

    def _upload(self, path: Path, key: str, where: str) -> Path:
        """Copy an output (a file, or a folder as objects under ``key/``) to the repository."""
        target = key_path(self.store.repository, key, where)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif os.path.lexists(target):
            target.unlink()
        if path.is_dir():
            shutil.copytree(path, target, symlinks=True)
        else:
            shutil.copyfile(path, target)
        return target

    def _gc_strategy(self, artifact: dict[str, Any]) -> str:
        """Argo's ``GetArtifactGCStrategy``: the artifact's, else the Workflow's, else Never."""
        own = (artifact.get("artifactGC") or {}).get("strategy") or ""
        return own or (self.spec.get("artifactGC") or {}).get("strategy") or "Never"

    def collect_garbage(self) -> None:
        """Delete what this run uploaded with an artifactGC strategy other than Never (the
        Workflow, run here, is deleted when it ends), and the folders that leaves empty."""
        root = self.store.repository
        for path in self.collect:
            with contextlib.suppress(OSError):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            folder = path.parent
            while folder != root and root in folder.parents:
                try:
                    folder.rmdir()
                except OSError:
                    break
                folder = folder.parent
        self.collect.clear()

    # ------------------------------------------------------------------ memoization

    def _memo_file(self, template: dict[str, Any], scope: dict[str, str], where: str) -> tuple[Path, str, float | None]:
        """The memoization cache file, the key and the max age (seconds; None: none) of a
        ``memoize`` template, substituted; Argo's rules for the key (workflow/controller/cache/cache.go)."""
        memoize = template["memoize"]
        key = substitute(str(memoize.get("key", "")), scope, f"{where} memoize key")
        if not re.fullmatch(r"[a-zA-Z0-9][-a-zA-Z0-9]*", key):
            raise LocalRunError(f"{where}: invalid cache key: {key}")
        cache = substitute(
            str(((memoize.get("cache") or {}).get("configMap") or {}).get("name", "")), scope, f"{where} memoize cache"
        )
        max_age = None
        if memoize.get("maxAge"):
            try:
                max_age = parse_duration(substitute(str(memoize["maxAge"]), scope, f"{where} memoize maxAge"))
            except ValueError as error:
                raise LocalRunError(f"{where}: invalid maxAge: {error}") from None
        return _safe_join(self.store.memo, f"{cache}.json", f"{where}: memoize cache name"), key, max_age

    @staticmethod
    def _read_memo(path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write_memo(self, path: Path, data: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        temporary.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(temporary, path)

    def memo_hit(self, template: dict[str, Any], memo: tuple[Path, str, float | None], run: TaskRun) -> bool:
        """Argo's cache check before a memoized step runs (operator.go, executeTemplate): an entry
        younger than ``maxAge`` is a hit, its outputs become the step's, its last hit is recorded.
        Here an entry whose artifacts are no longer in the repository is a miss too."""
        path, key, max_age = memo
        with self.lock:
            data = self._read_memo(path)
            found = data.get(key)
            entry: dict[str, Any] = found if isinstance(found, dict) else {}
            hit = bool(entry.get("nodeID"))
            if hit and max_age is not None:
                age = _age_seconds(entry.get("creationTimestamp"))
                hit = age is not None and age <= max_age
            outputs = (entry.get("outputs") or {}) if hit else {}
            if not isinstance(outputs, dict):
                outputs = {}
            artifacts: dict[str, Path] = {}
            for artifact in outputs.get("artifacts") or []:
                key_only = (artifact.get("s3") or {}).get("key") if isinstance(artifact, dict) else None
                located = key_path(self.store.repository, key_only, "memoize") if key_only else None
                if located is not None and os.path.lexists(located):
                    artifacts[str(artifact.get("name"))] = located
            declared = template.get("outputs", {})
            needed = [a["name"] for a in declared.get("artifacts", []) if not a.get("optional")]
            hit = hit and all(name in artifacts for name in needed)
            run.memoization = {"hit": hit, "key": key, "cacheName": path.name.removesuffix(".json")}
            if not hit:
                return False
            parameters = {str(p.get("name")): str(p.get("value", "")) for p in outputs.get("parameters") or []}
            if any(p["name"] not in parameters for p in declared.get("parameters", [])):
                run.memoization["hit"] = False
                return False
            entry["lastHitTimestamp"] = _now_rfc3339()
            self._write_memo(path, data)
        run.parameters.update(parameters)
        run.artifacts.update(artifacts)
        self.export(template, run)
        return True

    def memo_save(self, memo: tuple[Path, str, float | None], run: TaskRun, keys: dict[str, str]) -> None:
        """Argo saves a memoized step's outputs when it succeeds: parameters, and artifacts by key."""
        path, key, _ = memo
        stamp = _now_rfc3339()
        entry = {
            "nodeID": f"{self.name}-{zlib.crc32(run.name.encode()):010d}",
            "outputs": {
                "parameters": [{"name": name, "value": value} for name, value in run.parameters.items()],
                "artifacts": [{"name": name, "s3": {"key": value}} for name, value in keys.items()],
            },
            "creationTimestamp": stamp,
            "lastHitTimestamp": stamp,
        }
        with self.lock:
            data = self._read_memo(path)
            data[key] = entry
            self._write_memo(path, data)

    # ------------------------------------------------------------------ one step

    def export(self, template: dict[str, Any], run: TaskRun) -> None:
        """Workflow-level outputs (``globalName``), as Argo exports them when the node completes."""
        outputs = template.get("outputs", {})
        with self.lock:
            for parameter in outputs.get("parameters", []):
                if parameter.get("globalName") and parameter["name"] in run.parameters:
                    self.scope[f"workflow.outputs.parameters.{parameter['globalName']}"] = run.parameters[
                        parameter["name"]
                    ]
            for artifact in outputs.get("artifacts", []):
                path = run.artifacts.get(artifact["name"])
                if artifact.get("globalName") and path is not None and path.exists():
                    self.artifacts[f"workflow.outputs.artifacts.{artifact['globalName']}"] = path

    def run_task(
        self, task: dict[str, Any], run: TaskRun, step_dir: Path | None = None, outer: dict[str, str] | None = None
    ) -> None:
        """Run one task (or one child of a fanned-out task: its own ``step_dir``, and ``outer``,
        the scope its arguments are substituted in, with ``item``)."""
        where = f"task {run.name}"
        outer = outer if outer is not None else dict(self.scope)
        template = self.resolve_template(task)
        container = template.get("container")
        if container is None:
            raise LocalRunError(f"{where}: template {template['name']!r} has no container; not supported locally")
        if step_dir is None:
            step_dir = _safe_join(self.workdir / "steps", task["name"], "task name")  # never a link
        if step_dir.exists():
            shutil.rmtree(step_dir)

        # Inputs: arguments on the task, defaults on the template.
        scope = dict(outer)
        given_params = {p["name"]: p for p in task.get("arguments", {}).get("parameters", [])}
        for parameter in template.get("inputs", {}).get("parameters", []):
            name = parameter["name"]
            if name in given_params:
                value = substitute(str(given_params[name].get("value", "")), outer, f"{where} parameter {name}")
            elif "default" in parameter:
                value = str(parameter["default"])
            elif "value" in parameter:
                value = str(parameter["value"])
            else:
                raise LocalRunError(f"{where}: input parameter {name!r} has no value")
            scope[f"inputs.parameters.{name}"] = value

        # A memoized step that hits its cache does not run (Argo checks before it makes the pod).
        memo = self._memo_file(template, scope, where) if template.get("memoize") else None
        if memo is not None and self.memo_hit(template, memo, run):
            run.phase = "Succeeded"
            return

        step_dir.mkdir(parents=True)
        mounts = [
            _Mount(
                _container_path(m.get("mountPath"), f"{where} volumeMount {m.get('name')!r}"),
                self._volume(m["name"], template, step_dir, where),
            )
            for m in container.get("volumeMounts", [])
        ]
        given_artifacts = {a["name"]: a for a in task.get("arguments", {}).get("artifacts", [])}
        for artifact in template.get("inputs", {}).get("artifacts", []):
            name = artifact["name"]
            target = _reroot(artifact["path"], mounts, f"{where} input artifact {name}")
            target.parent.mkdir(parents=True, exist_ok=True)
            given = given_artifacts.get(name, {})
            optional = bool(artifact.get("optional") or given.get("optional"))
            what = f"{where} input artifact {name}"
            if "raw" in given:
                target.write_text(substitute_known(given["raw"]["data"], outer))
            elif "raw" in artifact:
                target.write_text(artifact["raw"]["data"])
            elif "from" in given:
                key = _EXPRESSION.fullmatch(given["from"].strip())
                source = self.artifacts.get(key.group(1).strip()) if key else None
                if source is None:
                    raise LocalRunError(f"{where}: input artifact {name!r} from {given['from']!r} does not exist")
                if source.is_dir():
                    shutil.copytree(source, target)
                else:
                    shutil.copyfile(source, target)
            elif (given.get("s3") or {}).get("key"):  # the job's own files: the --artifacts directory
                s3_key = substitute(str(given["s3"]["key"]), outer, f"{what} s3 key")
                root = self.sources or self.store.repository
                self._download(root, s3_key, target, optional, what, "the artifacts directory")
            elif (artifact.get("s3") or {}).get("key"):
                s3_key = substitute(str(artifact["s3"]["key"]), scope, f"{what} s3 key")
                self._download(self.store.repository, s3_key, target, optional, what, "the local artifact repository")
            elif not optional:
                raise LocalRunError(f"{where}: input artifact {name!r} has no source")
            scope[f"inputs.artifacts.{name}.path"] = artifact["path"]

        args = [substitute(arg, scope, f"{where} args") for arg in container.get("args", [])]
        command = [substitute(arg, scope, f"{where} command") for arg in container.get("command", [])]
        run.log = step_dir / "stderr.log"
        if not command:
            raise LocalRunError(f"{where}: the container has no command")
        working_dir = container.get("workingDir")
        env = _environment(container, scope, mounts, where)
        env.setdefault(PROGRESS_ENV, str(step_dir / PROGRESS_FILE))
        if outer is not None and self.child_cpus:
            from qiskit_argo.steps._contract import CPUS_ENV

            # Shards side by side share the cores: each told its share, so that Aer's threads
            # (OpenMP, which spins while it waits) do not outnumber the cores.
            env.setdefault(CPUS_ENV, str(self.child_cpus))
        call = StepCall(
            entry=_entry_point(command[0], where),
            argv=(*command, *_reroot_args(args, mounts, where)),
            env=env,
            cwd=_reroot(working_dir, mounts, f"{where} workingDir") if working_dir else step_dir,
            stdout=step_dir / "stdout.log",
            stderr=run.log,
        )
        call.cwd.mkdir(parents=True, exist_ok=True)
        ended = self.workers.run(str(container.get("image", "")), call, deadline=self.deadline)
        with contextlib.suppress(OSError):
            if call.stdout.stat().st_size == 0:  # a step's stdout is kept only when it printed something
                call.stdout.unlink()
        self.read_progress(run, step_dir)
        run.exit_code = ended.code
        if ended.how is StepEnd.DEADLINE:
            run.phase, run.message = "Failed", self.deadline_message()
            return
        if ended.code != 0:
            run.phase = "Failed"
            # A step that returned has written its reason last (its termination message); a process
            # that died (a signal, os._exit) has none, and Argo says only how it ended.
            reason = _last_line(ended.stderr) if ended.how is StepEnd.EXITED else ""
            run.message = reason or f"Error (exit code {ended.code})"
            return

        outputs = template.get("outputs", {})
        for parameter in outputs.get("parameters", []):
            path = _reroot(parameter["valueFrom"]["path"], mounts, f"{where} output parameter {parameter['name']}")
            if not path.is_file():  # a regular file only: a FIFO or a device would never end
                run.phase, run.message = "Failed", f"output parameter {parameter['name']!r}: {path} was not written"
                return
            run.parameters[parameter["name"]] = path.read_text().strip()
        keys: dict[str, str] = {}
        for artifact in outputs.get("artifacts", []):
            what = f"{where} output artifact {artifact['name']}"
            path = _reroot(artifact["path"], mounts, what)
            if not path.exists():
                if not artifact.get("optional"):
                    run.phase, run.message = "Failed", f"output artifact {artifact['name']!r}: {path} was not written"
                    return
                continue
            run.artifacts[artifact["name"]] = path
            if (artifact.get("s3") or {}).get("key"):  # key-only: into the repository (archive or not: as is)
                keys[artifact["name"]] = substitute(str(artifact["s3"]["key"]), scope, f"{what} s3 key")
                uploaded = self._upload(path, keys[artifact["name"]], what)
                if self._gc_strategy(artifact) != "Never":
                    with self.lock:
                        self.collect.append(uploaded)
        self.export(template, run)
        if memo is not None:
            self.memo_save(memo, run, keys)
        run.phase = "Succeeded"

    @staticmethod
    def read_progress(run: TaskRun, step_dir: Path) -> bool:
        """The step's progress file into ``run.progress``; whether it changed."""
        found = _read_progress(step_dir / PROGRESS_FILE)
        progress = f"{found[0]}/{found[1]}" if found else run.progress
        changed, run.progress = progress != run.progress, progress
        return changed

    def deadline_message(self) -> str:
        seconds = self.spec.get("activeDeadlineSeconds")
        return f"Step exceeded its deadline (spec.activeDeadlineSeconds: {seconds} s)"

    def publish(self, run: TaskRun) -> None:
        prefix = f"tasks.{run.name}.outputs"
        for name, value in run.parameters.items():
            self.scope[f"{prefix}.parameters.{name}"] = value
        for name, path in run.artifacts.items():
            self.artifacts[f"{prefix}.artifacts.{name}"] = path
        if run.children:  # Argo's aggregate of a TaskGroup's outputs (processAggregateNodeOutputs)
            ran = [child for child in run.children if child.phase == "Succeeded"]
            self.scope[f"{prefix}.parameters"] = json.dumps([child.parameters for child in ran])
            for name in dict.fromkeys(name for child in ran for name in child.parameters):
                values = [child.parameters[name] for child in ran if name in child.parameters]
                self.scope[f"{prefix}.parameters.{name}"] = json.dumps(values)
        self.scope[f"tasks.{run.name}.status"] = run.phase

    def left_out(self, run: TaskRun, phase: str, message: str) -> None:
        """Mark a task Skipped (its ``when`` is false) or Omitted (its ``depends`` is): it never runs."""
        run.phase, run.message = phase, message
        self.publish(run)
        self.listener(run)

    def _error(self, run: TaskRun, where: str, error: Exception) -> None:
        from qiskit_argo.expressions import ExpressionError

        run.phase, run.message = "Error", f"{where}: {error}" if isinstance(error, ExpressionError) else str(error)

    def depends_hold(self, task: dict[str, Any], run: TaskRun, tasks: dict[str, TaskRun]) -> bool:
        """Argo's first check before a DAG task runs: its ``depends`` (else Omitted). An expression
        that cannot be evaluated is an Error."""
        from qiskit_argo.expressions import ExpressionError, evaluate_depends

        try:
            logic = _depends_logic(task)
            if logic is not None:
                phases = {name: other.phase for name, other in tasks.items()}
                continue_on = {t["name"]: t.get("continueOn") or {} for t in self.dag_tasks}
                if not evaluate_depends(logic, phases, continue_on):
                    self.left_out(run, "Omitted", "omitted: depends condition not met")
                    return False
        except (ExpressionError, LocalRunError) as error:
            self._error(run, f"task {task['name']}", error)
            self.publish(run)
            self.listener(run)
            return False
        return True

    def when_holds(self, task: dict[str, Any], run: TaskRun, scope: dict[str, str]) -> bool | None:
        """Argo's second check: the substituted ``when`` (False: Skipped; None: it cannot be
        evaluated, an Error). ``run`` is marked, not published."""
        from qiskit_argo.expressions import ExpressionError, when_holds

        if not task.get("when"):
            return True
        try:
            when = substitute(str(task["when"]), scope, f"task {run.name} when")
            if when_holds(when):
                return True
        except (ExpressionError, LocalRunError) as error:
            self._error(run, f"task {run.name}", error)
            return None
        run.phase, run.message = "Skipped", f"when '{when}' evaluated false"
        return False

    def should_run(self, task: dict[str, Any], run: TaskRun, tasks: dict[str, TaskRun]) -> bool:
        """Argo's two checks before a DAG task runs: its ``depends`` (else Omitted), then its
        substituted ``when`` (else Skipped). An expression that cannot be evaluated is an Error."""
        if not self.depends_hold(task, run, tasks):
            return False
        if self.when_holds(task, run, self.scope):
            return True
        self.publish(run)
        self.listener(run)
        return False

    def execute(
        self, task: dict[str, Any], run: TaskRun, step_dir: Path | None = None, outer: dict[str, str] | None = None
    ) -> None:
        """``run_task`` with the deadline checked first and the runner's errors as the step's Error."""
        with self.step_errors(run):
            if self.deadline is not None and time.monotonic() > self.deadline:
                run.phase, run.message = "Failed", self.deadline_message()
            else:
                self.run_task(task, run, step_dir, outer)
        run.finished_at = time.perf_counter()

    @contextlib.contextmanager
    def step_errors(self, run: TaskRun) -> Iterator[None]:
        """The runner's own failures while it runs ``run`` (a missing ConfigMap, an unsafe key, the
        work directory unwritable, full, a name too long) become the step's Error, as in Argo."""
        try:
            yield
        except LocalRunError as error:
            run.phase, run.message = "Error", str(error)
        except OSError as error:
            run.phase, run.message = "Error", f"{error.filename or self.workdir}: {error.strerror or error}"

    # ------------------------------------------------------------------ fan-out

    def fan_out(self, task: dict[str, Any], run: TaskRun) -> None:
        """A ``withParam`` task as Argo expands it (dag.go, expandTask): one child per item of the
        JSON list, named ``task(i:item)``, each with ``{{item}}`` and its own ``when`` (false:
        that child is Skipped); the children run at once, at most ``parallel`` together. The task
        (a TaskGroup) is Skipped for an empty list, else Succeeded unless a child Failed or Errored
        (the last such child's phase)."""
        where = f"task {task['name']}"
        text = substitute(str(task["withParam"]), self.scope, f"{where} withParam")
        try:
            items = json.loads(text)
            if not isinstance(items, list):
                raise ValueError("not a list")
        except ValueError as error:
            if self.when_holds(task, TaskRun(run.name, run.template), self.scope) is not False:
                raise LocalRunError(
                    f"{where}: withParam value could not be parsed as a JSON list: {text.strip()[:200]}: {error}"
                ) from None
            items = []
        if not items:
            run.phase, run.message = "Skipped", "Skipped, empty params"
            return
        group = _safe_join(self.workdir / "steps", task["name"], "task name")
        if group.exists():
            shutil.rmtree(group)
        body = {key: value for key, value in task.items() if key != "withParam"}
        pending: list[tuple[TaskRun, dict[str, str], Path]] = []
        for index, (item, folder) in enumerate(zip(items, _child_dirs(items), strict=True)):
            child = TaskRun(name=child_node_name(task["name"], index, item), template=run.template)
            run.children.append(child)
            outer = {**self.scope, **_item_scope(item)}
            if self.when_holds(body, child, outer):
                pending.append((child, outer, _safe_join(group, folder, "item")))
        self.listener(run)
        # A child that needs a worker while the others are busy gets a new one then (not ahead:
        # a child whose result is in the cache needs none).
        ended: queue.SimpleQueue[TaskRun] = queue.SimpleQueue()
        running: dict[str, tuple[TaskRun, Path]] = {}

        def drive(child: TaskRun, outer: dict[str, str], step_dir: Path) -> None:
            try:
                self.execute(body, child, step_dir, outer)
            finally:
                ended.put(child)

        waiting = list(pending)
        together = max(1, min(self.parallel, len(pending)))
        self.child_cpus = max(1, (os.cpu_count() or 1) // together)
        while waiting or running:
            while waiting and len(running) < self.parallel:
                child, outer, step_dir = waiting.pop(0)
                child.phase, child.started_at = "Running", time.perf_counter()
                running[child.name] = (child, step_dir)
                threading.Thread(
                    target=drive, args=(child, outer, step_dir), name=f"qiskit-argo {child.name}", daemon=True
                ).start()
            self.listener(run)
            try:
                done = ended.get(timeout=0.25)
            except queue.Empty:
                if any(self.read_progress(child, folder) for child, folder in running.values()):
                    self._sum_progress(run)
                    self.listener(run)
                continue
            running.pop(done.name, None)
            self._sum_progress(run)
        self._sum_progress(run)
        failed = [child for child in run.children if child.phase in ("Failed", "Error")]
        run.phase = failed[-1].phase if failed else "Succeeded"
        if failed:
            run.message = f"{failed[0].name}: {failed[0].message}"
            run.exit_code = failed[0].exit_code
        hits = [child.memoization for child in run.children if child.memoization]
        if hits:
            run.memoization = {**hits[0], "hit": all(hit.get("hit") for hit in hits)}

    @staticmethod
    def _sum_progress(run: TaskRun) -> None:
        """A TaskGroup's progress: the sum of its children's (Argo sums nodes' ``N/M``)."""
        done = total = 0
        for child in run.children:
            found = _parse_progress(child.progress)
            if found:
                done, total = done + found[0], total + found[1]
        run.progress = f"{done}/{total}" if total else run.progress

    # ------------------------------------------------------------------ the DAG

    def run(self) -> WorkflowRun:
        entry = _find_template(self.spec["entrypoint"], self.spec["templates"], "workflow")
        if "dag" not in entry:
            raise LocalRunError(f"entrypoint {entry['name']!r} is not a DAG; not supported locally")
        self.dag_tasks = entry["dag"]["tasks"]
        ordered = topological_order(self.dag_tasks)
        tasks = {
            task["name"]: TaskRun(name=task["name"], template=task.get("templateRef", task).get("template", ""))
            for task in ordered
        }
        result = WorkflowRun(name=self.name, workdir=self.workdir, tasks=tasks, uid=self.uid)
        self.deadline = _deadline(self.spec.get("activeDeadlineSeconds"))
        try:
            for task in ordered:
                run = tasks[task["name"]]
                # A fanned-out task's ``when`` is each item's (fan_out); its ``depends`` is the task's.
                fanned = "withParam" in task
                if not (self.depends_hold(task, run, tasks) if fanned else self.should_run(task, run, tasks)):
                    if run.phase == "Error" and not result.message:
                        result.message = f"step {run.name} failed: {run.message}"
                    continue
                run.phase, run.started_at = "Running", time.perf_counter()
                self.listener(run)
                if fanned:
                    with self.step_errors(run):
                        self.fan_out(task, run)
                    run.finished_at = time.perf_counter()
                else:
                    self.execute(task, run)
                self.publish(run)
                self.listener(run)
                if run.phase in ("Failed", "Error") and not result.message:
                    result.message = f"step {run.name} failed: {run.message}"
        finally:
            self.collect_garbage()
        result.phase = _dag_phase(ordered, tasks)
        return result


def _dag_phase(ordered: list[dict[str, Any]], tasks: dict[str, TaskRun]) -> str:
    """The DAG's phase as Argo assesses it: from its leaf tasks (those no task depends on), a task
    left out (Skipped, Omitted) taking its parents' phase, Failed or Error first."""
    branch: dict[str, str] = {}
    depended_on: set[str] = set()
    for task in ordered:  # parents first
        parents = _dependencies(task)
        depended_on.update(parents)
        phase = tasks[task["name"]].phase
        if phase not in ("Succeeded", "Failed", "Error"):
            inherited = [branch[parent] for parent in parents if parent in branch]
            phase = next((p for p in inherited if p in ("Failed", "Error")), "Succeeded")
        branch[task["name"]] = phase
    leaves = [name for name in branch if name not in depended_on]
    return "Failed" if any(branch[name] in ("Failed", "Error") for name in leaves) else "Succeeded"


def _deadline(seconds: Any) -> float | None:
    """When a run that starts now must end, from ``activeDeadlineSeconds`` (None: no deadline)."""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        return None
    return time.monotonic() + value if value == value and value > 0 else None  # value == value: not NaN


def _safe_join(directory: Path, key: Any, what: str) -> Path:
    """``safeio.join_key`` with the runner's error."""
    from qiskit_argo.safeio import UnsafePathError, join_key

    try:
        return join_key(directory, key, what)
    except UnsafePathError as error:
        raise LocalRunError(str(error)) from None


# --------------------------------------------------------------------------- step workers


#: What every step imports (its inputs' models): imported once, by the zygote, for all workers.
STEPS_SHARE = ("qiskit_argo.api",)


def step_preloads(steps: StepRegistry | None = None) -> dict[str, tuple[str, ...]]:
    """Component -> the modules its warm steps (``StepSpec.warm``) import on first use
    (``StepSpec.preload``: the heavy ones, then the step's own ``qiskit_argo`` module), in step order: the warm workers
    ``StepWorkers.for_steps()`` starts, one per component (per image)."""
    from qiskit_argo.steps import STEPS

    plan: dict[str, tuple[str, ...]] = {}
    for spec in (STEPS if steps is None else steps).values():
        known = plan.setdefault(spec.component, ())
        if not spec.warm:
            continue
        plan[spec.component] = (*known, *(module for module in spec.preload if module not in known))
    return plan


def step_component(image: str, steps: StepRegistry | None = None) -> str:
    """The component whose image ``image`` is (``naming.image``), or ``image`` itself for any other."""
    from qiskit_argo.naming import image as image_of
    from qiskit_argo.steps import STEPS

    specs = (STEPS if steps is None else steps).values()
    return next((spec.component for spec in specs if image_of(spec.component) == image), image)


@dataclass(frozen=True)
class StepCall:
    """One step as a worker runs it: what a container runtime would be given."""

    #: The step's console script as ``module:function`` (vetted by the runner: a qiskit-argo step).
    entry: str
    #: The step's ``sys.argv``: the command, then its arguments.
    argv: tuple[str, ...]
    #: Variables set over the worker's environment while the step runs (the container's ``env``).
    env: Mapping[str, str]
    #: The step's working directory.
    cwd: Path
    #: Where the step's file descriptors 1 and 2 go: its log. The last line on stderr is its message.
    stdout: Path
    stderr: Path

    def to_json(self) -> str:
        # ensure_ascii: a path that is not UTF-8 (surrogate escapes) travels as \udcXX and comes back.
        return json.dumps(
            {
                "entry": self.entry,
                "argv": list(self.argv),
                "env": dict(self.env),
                "cwd": str(self.cwd),
                "stdout": str(self.stdout),
                "stderr": str(self.stderr),
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> StepCall:
        data = json.loads(text)
        return cls(
            entry=data["entry"],
            argv=tuple(data["argv"]),
            env=dict(data["env"]),
            cwd=Path(data["cwd"]),
            stdout=Path(data["stdout"]),
            stderr=Path(data["stderr"]),
        )


class StepEnd(enum.Enum):
    """How a step ended."""

    #: The step's function returned (or raised, or called ``sys.exit``): ``code`` is its exit code.
    EXITED = "exited"
    #: The worker process died during the step (a signal, ``os._exit``), as a crashed container:
    #: ``code`` is what a container runtime reports (the exit status, or 128 + the signal).
    CRASHED = "crashed"
    #: Still running when the run's deadline passed; its worker was killed. ``code`` is None.
    DEADLINE = "deadline"


@dataclass(frozen=True)
class StepExit:
    """A step's end: how, its exit code and (the last 64 KiB of) its stderr."""

    how: StepEnd
    code: int | None
    stderr: str


#: How much of a step's stderr comes back with its exit (the message is its last line).
_STDERR_TAIL = 64 * 1024
#: What a spawned worker and the zygote run (``python -P -c``: the current directory is not on sys.path).
_WORKER_MAIN = "from qiskit_argo.local import _spawned_worker_main; _spawned_worker_main()"
_ZYGOTE_MAIN = "from qiskit_argo.local import _zygote_main; _zygote_main()"


#: How helper processes start: in a session of their own, so that the terminal's signals (Ctrl-C,
#: Ctrl-Z) reach only this process, which ends them; and with nothing on the terminal: a step's
#: output goes to its log files, and what a worker prints between steps (an import's warning) is
#: nobody's business.
_HELPER: dict[str, Any] = {"stderr": subprocess.DEVNULL, "start_new_session": True}


def _stderr_tail(path: Path) -> str:
    try:
        with open(path, "rb") as stream:
            stream.seek(max(0, stream.seek(0, os.SEEK_END) - _STDERR_TAIL))
            return stream.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _exit_code(status: int) -> int:
    """A ``Popen.returncode`` as a container runtime reports it: -N (killed by signal N) is 128 + N."""
    return 128 - status if status < 0 else status


def _can_fork_workers() -> bool:
    """Whether workers may be forked from a zygote: Linux only (macOS frameworks are not fork-safe,
    Windows has no fork), where ``PR_SET_PDEATHSIG`` also ends them with their parent."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and hasattr(os, "waitid")


def _shared_packages(preload: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The top-level packages every worker's preload is in (``qiskit``), in the order they appear."""
    per_key = [{module.split(".")[0] for module in modules} for modules in preload.values()]
    common = set.intersection(*per_key) if per_key else set()
    ordered = (module.split(".")[0] for modules in preload.values() for module in modules)
    return tuple(dict.fromkeys(package for package in ordered if package in common))


class _DeadlinePassed(Exception):
    pass


class _Zygote:
    """The process the planned workers are forked from, once it has imported what they share.

    ``preload`` maps each planned worker's name (a key, or a spare's ``key#N``) to its modules;
    the workers are forked in that order. It reports on its stdout, a JSON object a line,
    ``{"forked": key, "pid": N}`` and ``{"exited": key, "code": N}``; it reads ``{"kill": key}``
    on its stdin, and at the end of its stdin kills the workers it forked, reaps them and exits.
    It is their parent: it alone waits for them, so no process id is ever signalled after it was
    reaped.
    """

    def __init__(self, preload: Mapping[str, tuple[str, ...]], shared: Sequence[str]) -> None:
        self.sockets: dict[str, socket.socket] = {}
        theirs: dict[str, socket.socket] = {}
        for key in preload:
            self.sockets[key], theirs[key] = socket.socketpair()
        plan = {
            "shared": list(dict.fromkeys(shared)),
            "workers": [
                {"key": key, "modules": list(modules), "fd": theirs[key].fileno()} for key, modules in preload.items()
            ],
        }
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-P", "-c", _ZYGOTE_MAIN, str(os.getpid()), json.dumps(plan)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                **_HELPER,
                pass_fds=[sock.fileno() for sock in theirs.values()],
            )
        finally:
            for sock in theirs.values():
                sock.close()
        self.pids: dict[str, int] = {}
        self.exits: dict[str, int] = {}
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, name=f"qiskit-argo zygote {self.process.pid}", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        with contextlib.suppress(OSError, ValueError):
            for line in stream:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    event = json.loads(line)
                    if "forked" in event:
                        self.pids[str(event["forked"])] = int(event["pid"])
                    if "exited" in event:
                        with self.changed:
                            self.exits[str(event["exited"])] = int(event["code"])
                            self.changed.notify_all()
        with self.changed:
            self.exits.setdefault("", 0)  # "" marks the zygote's own end
            self.changed.notify_all()

    def kill(self, key: str) -> None:
        stream = self.process.stdin
        assert stream is not None
        with contextlib.suppress(OSError, ValueError):
            stream.write(json.dumps({"kill": key}).encode() + b"\n")
            stream.flush()

    def exit_code(self, key: str, timeout: float = 10.0) -> int:
        """The exit code of the worker for ``key`` once the zygote has reaped it (137 if unknown)."""
        with self.changed:
            self.changed.wait_for(lambda: key in self.exits or "" in self.exits, timeout)
            return self.exits.get(key, 137)

    def close(self) -> None:
        """End the zygote and every worker it forked (they are killed, then reaped by it)."""
        for sock in self.sockets.values():
            sock.close()
        with contextlib.suppress(OSError, ValueError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # never expected; its workers die with it (PR_SET_PDEATHSIG)
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(OSError, ValueError):
            if self.process.stdout is not None:
                self.process.stdout.close()
        self.reader.join(timeout=5)


class _Worker:
    """One worker process as the pool sees it: a channel for requests and replies, a way to end it
    and its exit code. Either spawned here (``Popen``) or forked by the zygote."""

    def __init__(
        self,
        name: str,
        requests: IO[bytes],
        replies: IO[bytes],
        process: subprocess.Popen[bytes] | _Zygote,
        key: str | None = None,
    ) -> None:
        #: Its name in the pool (and the zygote's), and the key of the steps it runs.
        self.name, self.key = name, key or name
        self.requests = requests
        self.process = process
        self.replies: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self.reader = threading.Thread(
            target=self._read, args=(replies,), name=f"qiskit-argo step worker {name}", daemon=True
        )
        self.reader.start()

    @classmethod
    def spawn(cls, name: str, preload: Sequence[str], key: str | None = None) -> _Worker:
        """A fresh interpreter that imports ``preload``, then serves steps on its stdin/stdout."""
        process = subprocess.Popen(
            [sys.executable, "-P", "-c", _WORKER_MAIN, str(os.getpid()), *preload],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            **_HELPER,
        )
        assert process.stdin is not None and process.stdout is not None
        return cls(name, process.stdin, process.stdout, process, key)

    @classmethod
    def forked(cls, name: str, zygote: _Zygote, key: str | None = None) -> _Worker:
        """The worker the zygote forks under ``name`` (its key's, or a spare's: ``key#N``)."""
        sock = zygote.sockets[name]
        return cls(name, sock.makefile("wb"), sock.makefile("rb"), zygote, key)

    def _read(self, stream: IO[bytes]) -> None:
        with contextlib.suppress(OSError, ValueError), stream:
            for line in stream:
                with contextlib.suppress(ValueError):  # not a reply (nothing else writes here)
                    reply = json.loads(line)
                    if isinstance(reply, dict):
                        self.replies.put(reply)
        self.replies.put(None)

    def send(self, call: StepCall) -> bool:
        """Hand the worker a step; False when the worker has already ended."""
        try:
            self.requests.write(call.to_json().encode() + b"\n")
            self.requests.flush()
        except (OSError, ValueError):
            return False
        return True

    def reply(self, deadline: float | None) -> dict[str, Any] | None:
        """The next reply, or None when the worker has ended; ``_DeadlinePassed`` at the deadline."""
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            return self.replies.get(timeout=timeout)
        except queue.Empty:
            raise _DeadlinePassed from None

    @property
    def pid(self) -> int | None:
        """Its process id, once known (a forked worker's comes from the zygote)."""
        if isinstance(self.process, _Zygote):
            return self.process.pids.get(self.name)
        return self.process.pid

    def kill(self) -> None:
        if isinstance(self.process, _Zygote):
            self.process.kill(self.name)
        else:
            with contextlib.suppress(OSError):
                self.process.kill()

    def end(self) -> int:
        """Kill the worker if it still runs, wait for it; its exit code as a container reports it."""
        self.kill()
        return self.reap()

    def reap(self) -> int:
        """Wait until the worker has ended; its exit code. Its channel is closed."""
        self.detach()
        if isinstance(self.process, _Zygote):
            code = self.process.exit_code(self.name)
        else:
            code = _exit_code(self.process.wait())
        self.reader.join(timeout=5)
        return code

    def detach(self) -> None:
        """Close this side of the channel (the worker, if it still runs, sees its input end)."""
        with contextlib.suppress(OSError, ValueError):
            self.requests.close()


class _Spawner:
    """A thread that starts worker processes for steps driven from other threads.

    On Linux a worker is killed when the *thread* that started it ends (``PR_SET_PDEATHSIG``
    follows the thread): a worker started by a thread that drives one shard of a fan-out would die
    with that thread. Workers needed on such a thread are started here instead, by a thread that
    lives as long as the pool.
    """

    def __init__(self) -> None:
        self.requests: queue.SimpleQueue[tuple[Callable[[], _Worker], queue.SimpleQueue[Any]] | None] = (
            queue.SimpleQueue()
        )
        self.thread = threading.Thread(target=self._serve, name="qiskit-argo step spawner", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while (request := self.requests.get()) is not None:
            start, answer = request
            try:
                answer.put(start())
            except BaseException as error:  # noqa: BLE001 - handed to the caller, raised there
                answer.put(error)

    def start(self, start: Callable[[], _Worker]) -> _Worker:
        answer: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.requests.put((start, answer))
        value = answer.get()
        if isinstance(value, BaseException):
            raise value
        assert isinstance(value, _Worker)
        return value

    def close(self) -> None:
        self.requests.put(None)
        self.thread.join(timeout=10)


class StepWorkers:
    """Warm processes that run steps: one or more per key (an image, or what ``key`` makes of it:
    ``for_steps`` keys them by component), each running one step at a time.

    ``preload`` maps a key to the modules its steps import (``step_preloads()``): a worker for
    each is started at once and imports them while the caller does other work (renders the
    Workflow); a step waits until its worker has imported them. On Linux these workers are
    forked from one *zygote* process that has imported once what they share (the top-level
    packages common to all, e.g. Qiskit, then ``shared``); elsewhere each is a fresh interpreter.
    ``spares`` plans more workers for a key from the start (``key#1``, ``key#2``...: for the
    shards of a fan-out that will run at once), started as those are (forked, where the others
    are); a step takes an idle one before a new one is started. A worker for a key without a
    plan, one that replaces a worker that has ended, or a further one for a key whose workers are
    all busy (``reserve`` starts them ahead) is a fresh interpreter started when a step needs it.
    Workers are named by their key, the second and later ones ``key#1``, ``key#2``... (``pids``);
    ``starts`` records how each was started.

    A worker runs a step as a container runs its command: argv, environment and working
    directory as given, file descriptors 1 and 2 on the step's log files. A worker that dies
    during a step fails the step (``StepEnd.CRASHED``, with the exit code a container runtime
    would report); one that ended while idle is replaced; a step still running at its deadline
    is stopped by killing its worker (``StepEnd.DEADLINE``).

    Use it as a context manager: every worker ends with the block, normally, on an error or on
    Ctrl-C (workers run in a session of their own, so the terminal's Ctrl-C reaches only this
    process, which ends them). Should this process die, idle workers end at the end of their
    input, and on Linux busy ones are killed with it (``PR_SET_PDEATHSIG``, which follows the
    *thread* that started them: workers are started by the thread that made the pool, or, for
    ``run`` on another thread, by a thread of the pool's own). ``run`` may be called from several
    threads at once; ``close`` from the thread that made the pool.
    """

    def __init__(
        self,
        preload: Mapping[str, Sequence[str]] | None = None,
        *,
        key: Callable[[str], str] | None = None,
        shared: Sequence[str] = (),
        spares: Mapping[str, int] | None = None,
    ) -> None:
        self._key = key or (lambda image: image)
        self._preload = {name: tuple(modules) for name, modules in (preload or {}).items()}
        self._shared = tuple(shared)
        self._owner = threading.get_ident()
        self._lock = threading.Lock()
        #: Worker name -> worker, for every worker not ended; ``_busy``: the names running a step.
        self._workers: dict[str, _Worker] = {}
        self._busy: set[str] = set()
        #: How each worker was started, in order: (name, "forked" | "spawned").
        self._starts: list[tuple[str, str]] = []
        self._spawner: _Spawner | None = None
        self._zygote: _Zygote | None = None
        self._closed = False
        # The planned workers, name -> key: one per key with a plan, then the spares of those keys.
        planned = {name: name for name in self._preload}
        for name, count in (spares or {}).items():
            if name in self._preload:
                planned.update({f"{name}#{n}": name for n in range(1, max(0, count) + 1)})
        try:
            if planned and _can_fork_workers():
                plan = {name: self._preload[of] for name, of in planned.items()}
                self._zygote = _Zygote(plan, (*_shared_packages(self._preload), *shared))
                for name, of in planned.items():
                    self._workers[name] = _Worker.forked(name, self._zygote, of)
                    self._starts.append((name, "forked"))
            else:
                for name, of in planned.items():
                    self._workers[name] = self._spawn_here(of, name)
        except BaseException:
            self.close()
            raise

    @classmethod
    def for_steps(cls, spares: int = 0) -> StepWorkers:
        """A warm worker for each component of qiskit-argo's steps (each image), importing what its
        steps need, and ``spares`` more for the executor (``executor#1``...: for shards that will
        run at once). (Keyed by component, so that nothing heavy is imported before they start.)"""
        return cls(step_preloads(), key=step_component, shared=STEPS_SHARE, spares={"executor": spares})

    def __enter__(self) -> StepWorkers:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def pids(self) -> dict[str, int]:
        """Worker name (its key; ``key#N`` for the N-th more) -> process id, for the workers running
        now (whose id is known)."""
        with self._lock:
            workers = dict(self._workers)
        return {name: pid for name, worker in workers.items() if (pid := worker.pid) is not None}

    def starts(self) -> list[tuple[str, str]]:
        """Every worker this pool has started, in order: its name and how, ``"forked"`` (by the
        zygote) or ``"spawned"`` (a fresh interpreter)."""
        with self._lock:
            return list(self._starts)

    def reserve(self, image: str, count: int) -> None:
        """Have at least ``count`` workers for ``image``'s key, starting the missing ones now (each
        imports what its steps need while the caller goes on): for ``count`` steps run at once."""
        key = self._key(image)
        while True:
            with self._lock:
                if self._closed or sum(1 for worker in self._workers.values() if worker.key == key) >= count:
                    return
                name = self._free_name(key)
                self._busy.add(name)  # reserved while it starts
            try:
                worker = self._spawn(key, name)
            finally:
                with self._lock:
                    self._busy.discard(name)
            with self._lock:
                self._workers[name] = worker

    def run(self, image: str, call: StepCall, *, deadline: float | None = None) -> StepExit:
        """Run ``call`` in an idle worker for ``image`` (a container's image; a worker for its key);
        ``deadline`` is a ``time.monotonic()`` time."""
        key = self._key(image)
        name, worker = self._taken(key, call, deadline)
        if isinstance(worker, StepExit):
            return worker
        try:
            reply = worker.reply(deadline)
        except _DeadlinePassed:
            self._end(name)
            return StepExit(StepEnd.DEADLINE, None, _stderr_tail(call.stderr))
        if reply is None:
            return StepExit(StepEnd.CRASHED, self._end(name), _stderr_tail(call.stderr))
        self._release(name)
        return StepExit(StepEnd.EXITED, int(reply["exit"]), _stderr_tail(call.stderr))

    def _free_name(self, key: str) -> str:
        """A worker name for ``key`` that no worker has (lock held)."""
        taken = set(self._workers) | self._busy
        return next(name for n in itertools.count() if (name := key if n == 0 else f"{key}#{n}") not in taken)

    def _claim(self, key: str) -> tuple[str, _Worker | None]:
        """An idle worker for ``key`` marked busy, or a free name (marked busy) to start one under."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the step workers are closed")
            for name, worker in self._workers.items():
                if worker.key == key and name not in self._busy:
                    self._busy.add(name)
                    return name, worker
            name = self._free_name(key)
            self._busy.add(name)
            return name, None

    def _taken(self, key: str, call: StepCall, deadline: float | None) -> tuple[str, _Worker | StepExit]:
        """The worker that has taken ``call`` (it says so first). One that had ended before it could
        take it is replaced, once. A deadline that passes meanwhile (still importing) stops the step."""
        code = 0
        for _ in range(2):
            name, worker = self._claim(key)
            if worker is None:
                try:
                    worker = self._spawn(key, name)
                except BaseException:
                    self._release(name)
                    raise
                with self._lock:
                    self._workers[name] = worker
            if worker.send(call):
                try:
                    if worker.reply(deadline) is not None:
                        return name, worker
                except _DeadlinePassed:
                    self._end(name)
                    return name, StepExit(StepEnd.DEADLINE, None, "")
            code = self._end(name)
        raise LocalRunError(f"the step process for {key!r} ended before it began the step (exit code {code})")

    def _spawn_here(self, key: str, name: str) -> _Worker:
        planned = self._preload.get(key, ())
        worker = _Worker.spawn(name, (*self._shared, *planned) if planned else (), key=key)
        with self._lock:
            self._starts.append((name, "spawned"))
        return worker

    def _spawn(self, key: str, name: str) -> _Worker:
        """A fresh worker, started by the thread that made the pool or by the pool's own thread."""
        if threading.get_ident() == self._owner:
            return self._spawn_here(key, name)
        with self._lock:
            if self._closed:
                raise RuntimeError("the step workers are closed")
            if self._spawner is None:
                self._spawner = _Spawner()
            spawner = self._spawner
        return spawner.start(lambda: self._spawn_here(key, name))

    def _release(self, name: str) -> None:
        with self._lock:
            self._busy.discard(name)

    def _end(self, name: str) -> int:
        with self._lock:
            worker = self._workers.pop(name, None)
        try:
            return worker.end() if worker is not None else 137
        finally:
            self._release(name)

    def close(self) -> None:
        """End every worker now (a step in progress is killed) and wait for them. Idempotent.

        Spawned workers are killed and reaped here; the zygote, at the end of its input, kills and
        reaps the workers it forked (or, still importing, forks none) and ends."""
        with self._lock:
            self._closed = True
            workers, self._workers = list(self._workers.values()), {}
            spawner, self._spawner = self._spawner, None
        if spawner is not None:
            spawner.close()
        spawned = [worker for worker in workers if not isinstance(worker.process, _Zygote)]
        for worker in spawned:  # all signalled first, so that they end together
            worker.kill()
        for worker in workers:
            worker.detach()
        if self._zygote is not None:
            self._zygote.close()
            self._zygote = None
        for worker in spawned:
            worker.reap()
        for worker in workers:
            worker.reader.join(timeout=5)


# --------------------------------------------------------------------------- inside a worker


def _private(fd: int) -> int:
    """A private copy of ``fd`` (0 or 1), with ``fd`` itself pointed at /dev/null: a step that reads
    stdin or writes stdout between steps can never touch the worker's channel."""
    copy = os.dup(fd)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, fd)
    os.close(devnull)
    return copy


def _die_with(parent: int) -> None:
    """On Linux, be killed when ``parent`` dies (even by SIGKILL); anywhere, end if it already has."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(0)


def _import_quietly(module: str) -> None:
    with contextlib.suppress(Exception):  # only a head start: the step imports it (and reports why) itself
        importlib.import_module(module)


def _spawned_worker_main() -> None:
    """``python -c`` of a spawned worker: ``sys.argv`` is the runner's process id, then the modules."""
    runner, preload = int(sys.argv[1]), sys.argv[2:]
    requests, replies = _private(0), _private(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner ends us (and its session keeps Ctrl-C away)
    _die_with(runner)
    _serve(os.fdopen(requests, "rb"), os.fdopen(replies, "wb"), preload)


def _zygote_main() -> None:
    """``python -c`` of the zygote: ``sys.argv`` is the runner's process id, then the plan (JSON:
    the shared packages, and per key its modules and the socket its worker talks on)."""
    import gc

    runner, plan = int(sys.argv[1]), json.loads(sys.argv[2])
    commands, events_fd = _private(0), _private(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with(runner)
    events = os.fdopen(events_fd, "w", encoding="utf-8")
    lock = threading.Lock()
    alive: dict[str, int] = {}  # worker key -> pid, while not reaped
    cancelled: set[str] = set()
    ending = threading.Event()

    def report(event: dict[str, Any]) -> None:
        with lock, contextlib.suppress(OSError, ValueError):
            events.write(json.dumps(event) + "\n")
            events.flush()

    def obey() -> None:  # the runner's commands; the end of them ends everything
        for line in os.fdopen(commands, "rb"):
            with contextlib.suppress(ValueError, KeyError, TypeError), lock:
                key = str(json.loads(line)["kill"])
                if key in alive:
                    os.kill(alive[key], signal.SIGKILL)
                else:  # not forked yet (still importing): it never will be
                    cancelled.add(key)
        with lock:
            ending.set()
            for pid in alive.values():
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            if not alive:  # nothing forked yet (still importing): nothing to reap, no reason to finish
                os._exit(0)

    threading.Thread(target=obey, name="commands", daemon=True).start()
    gc.disable()  # the pattern of gc.freeze's documentation: no collections before the forks, ...
    for package in plan["shared"]:
        _import_quietly(package)
    gc.freeze()  # ... and the shared imports frozen, so the workers' collections never visit them
    zygote, fds = os.getpid(), [worker["fd"] for worker in plan["workers"]]
    for worker in plan["workers"]:
        with lock:
            skip = ending.is_set() or worker["key"] in cancelled
        if skip:
            os.close(worker["fd"])
            report({"exited": worker["key"], "code": 128 + int(signal.SIGKILL)})
            continue
        pid = os.fork()
        if pid == 0:  # the worker: only its own socket stays open
            code = 1
            try:
                for fd in (*fds, commands, events_fd):
                    if fd != worker["fd"]:
                        with contextlib.suppress(OSError):
                            os.close(fd)
                _die_with(zygote)
                channel = socket.socket(fileno=worker["fd"])
                _serve(channel.makefile("rb"), channel.makefile("wb"), worker["modules"])
                code = 0
            finally:
                os._exit(code)
        os.close(worker["fd"])
        with lock:
            alive[worker["key"]] = pid
            if ending.is_set():  # the end came while it was being forked
                os.kill(pid, signal.SIGKILL)
        report({"forked": worker["key"], "pid": pid})
    while alive:  # reap: learn who ended without reaping it, forget it, then reap it (never kill a reused pid)
        try:
            ended = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            break
        if ended is None:
            continue
        with lock:
            key = next((name for name, pid in alive.items() if pid == ended.si_pid), None)
            alive.pop(key or "", None)
        status = os.waitpid(ended.si_pid, 0)[1]
        if key is not None:
            report({"exited": key, "code": _exit_code(os.waitstatus_to_exitcode(status))})
    os._exit(0)


def _serve(requests: IO[bytes], replies: IO[bytes], preload: Sequence[str]) -> None:
    """A worker's loop: import ``preload``, then run the steps the runner sends, one at a time,
    until the end of ``requests``. A request is a ``StepCall`` on a line; the replies are
    ``{"started": true}`` once it is taken and ``{"exit": N}`` once it has ended."""
    import faulthandler
    import gc

    faulthandler.enable()  # a hard crash leaves its Python stack in the step's stderr.log
    gc.disable()  # imports make few cycles and many objects: no collections while they run ...
    for module in preload:
        _import_quietly(module)
    gc.freeze()  # ... and what they made is kept out of later ones; the steps run with the usual GC
    gc.enable()

    def reply(message: dict[str, Any]) -> None:
        replies.write(json.dumps(message).encode() + b"\n")
        replies.flush()

    while line := requests.readline():
        call = StepCall.from_json(line)
        reply({"started": True})
        reply({"exit": _run_step(call)})


@contextlib.contextmanager
def _redirected(fd: int, target: int) -> Iterator[None]:
    """File descriptor ``fd`` (1 or 2) pointed at ``target`` for the block, as a container's log is:
    what C code, Rust or a crash handler writes lands there too, not only ``sys.stdout``."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = os.dup(fd)
    os.dup2(target, fd)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os.dup2(saved, fd)
        os.close(saved)


#: ``qiskit_argo.steps.CREDENTIALS_ENV`` (kept here: a worker imports nothing it does not need).
_CREDENTIALS_ENV = "QISKIT_IBM_TOKEN"


def _run_step(call: StepCall) -> int:
    """Run one step in this process as a container would run its command; its exit code."""
    saved_cwd, saved_env, saved_argv = os.getcwd(), dict(os.environ), sys.argv
    try:
        with (
            open(call.stdout, "wb") as stdout,
            open(call.stderr, "wb") as stderr,
            _redirected(1, stdout.fileno()),
            _redirected(2, stderr.fileno()),
        ):
            try:
                os.chdir(call.cwd)
                # As in a pod, a step sees the API key only when its container names it (call.env).
                os.environ.pop(_CREDENTIALS_ENV, None)
                os.environ.update(call.env)
                sys.argv = list(call.argv)
                module, _, name = call.entry.partition(":")
                if not module.startswith("qiskit_argo."):
                    raise LocalRunError(f"{call.entry} is not a qiskit-argo step")
                function: Any = importlib.import_module(module)
                for attribute in name.split("."):
                    function = getattr(function, attribute)
            except BaseException:  # noqa: BLE001 - the step could not even start: a crash, in its log
                traceback.print_exc()
                return 1
            return _exit_status(function)
    except OSError:  # its log cannot be opened: say so on the terminal, fail the step
        traceback.print_exc()
        return 1
    finally:
        sys.argv = saved_argv
        with contextlib.suppress(OSError):
            os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def _exit_status(function: Callable[[], Any]) -> int:
    """What ``sys.exit(function())`` in a console script would leave as the process's exit status."""
    try:
        value = function()
    except SystemExit as exit_:
        value = exit_.code
    except BaseException:  # noqa: BLE001 - a crash (even a Rust panic) ends the step as in a pod: exit 1, traceback in the log
        traceback.print_exc()
        return 1
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)  # sys.exit("message"): Python prints it and exits 1
    return 1


def run_workflow(
    workflow: dict[str, Any],
    cluster_templates: dict[str, dict[str, Any]],
    workdir: Path,
    *,
    config_maps: dict[str, dict[str, bytes]] | None = None,
    listener: Listener | None = None,
    workers: StepWorkers | None = None,
    store: LocalStore | None = None,
    sources: Path | None = None,
    parallel: int | None = None,
) -> WorkflowRun:
    """Execute ``workflow``'s DAG here, in ``workdir``; each task's files stay in ``workdir/steps/<task>``
    (a fanned-out task's children in ``workdir/steps/<task>/<item>``).

    ``cluster_templates`` maps a (Cluster)WorkflowTemplate name to its manifest; ``config_maps``
    maps a ConfigMap name to its files, for ``configMap`` volumes and projected sources. The steps
    run in ``workers`` (which the caller closes); without it, in workers started as the steps need
    them and ended before this returns. Key-only ``s3`` artifacts and memoization caches live in
    ``store`` (without it, a temporary one that ends with the run: nothing is reused); a task
    argument's key-only artifact is read from ``sources`` (else the store's repository). The
    children of a fanned-out task run at most ``parallel`` at once (default: the CPU count).
    """
    workdir = workdir.absolute()  # the steps run elsewhere, each in its own working directory
    workdir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if store is None:
            store = LocalStore(Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qiskit-argo-store-"))))
        if workers is None:
            workers = stack.enter_context(StepWorkers())
        runner = _Runner(
            workflow,
            cluster_templates,
            config_maps or {},
            workdir,
            listener,
            workers,
            store=LocalStore(store.root.absolute()),
            sources=sources.absolute() if sources is not None else None,
            parallel=parallel,
        )
        return runner.run()


@dataclass(frozen=True)
class Rendered:
    """What a local run needs from the renderer: the Workflow (and its YAML) and its templates."""

    workflow: dict[str, Any]
    workflow_yaml: str
    cluster_templates: dict[str, dict[str, Any]]


def render(job: QiskitJob, catalogue: Catalogue | None = None) -> Rendered:
    """The job's Workflow (as ``qiskit-argo render`` prints it, with ``catalogue`` as the schedule
    step's snapshot) and the ClusterWorkflowTemplate it uses."""
    from qiskit_argo import workflows

    workflow, template = workflows.build(job, catalogue=catalogue), workflows.cluster_workflow_template()
    return Rendered(workflow, workflows.to_yaml(workflow), {template["metadata"]["name"]: template})


def render_service(what: str, *args: Any) -> dict[str, Any]:
    """A service Workflow: ``probe`` (``workflows.probe_workflow(backend)``) or ``session``
    (``workflows.session_workflow(session, backend, action)``)."""
    from qiskit_argo import workflows

    if what == "probe":
        return workflows.probe_workflow(*args)
    if what == "session":
        return workflows.session_workflow(*args)
    raise ValueError(f"no service Workflow {what!r}")


# --------------------------------------------------------------------------- service Workflows


def _probe_status(backend: QiskitBackend, probe: Mapping[str, Any]) -> QiskitBackendStatus:
    """What the controller would write into ``backend``'s status from its probe's ``probe.json``."""
    from qiskit_argo.api import BackendCapabilities, BackendPhase, QiskitBackendStatus

    usable = bool(probe.get("credentialsValid", True)) and probe.get("operational") is not False
    usable = usable and not probe.get("reason")
    device = probe.get("device") or backend.spec.fake_backend or backend.spec.backend
    message = probe.get("message") or (f"{device}: {probe.get('numQubits')} qubits" if usable else None)
    return QiskitBackendStatus(
        phase=BackendPhase.READY if usable else BackendPhase.NOT_READY,
        message=message,
        device=device,
        capabilities=BackendCapabilities(
            num_qubits=probe.get("numQubits"),
            basis_gates=list(probe.get("basisGates") or []),
            operational=probe.get("operational"),
            pending_jobs=probe.get("pendingJobs"),
            status_message=probe.get("statusMessage"),
        ),
    )


def _aer_status() -> QiskitBackendStatus:
    from qiskit_argo.api import BackendPhase, QiskitBackendStatus
    from qiskit_argo.catalogue import AER_DEVICE

    return QiskitBackendStatus(phase=BackendPhase.READY, message="Qiskit Aer, in the step's pod", device=AER_DEVICE)


def _needs_catalogue(job: QiskitJob, what: str) -> InvalidJobError:
    from qiskit_argo.errors import InvalidJobError

    return InvalidJobError(
        f"{what}: pass the catalogue with --catalogue PATH (QiskitBackend and QiskitSession manifests, "
        "a file or a directory, e.g. --catalogue examples/catalogue)"
    )


class LocalServices:
    """The service Workflows of a local run, run here like the job's (``run_workflow``): probe the
    QiskitBackends a job may use, open the QiskitSession it names, and close that session again.

    ``catalogue_for`` returns the snapshot the job's schedule step gets, as the controller would
    make it; ``close`` (or the end of the ``with`` block) closes a session it opened. Each
    Workflow's files stay under ``workdir/<workflow name>/steps/<step>``; ``note`` is told one line
    per Workflow run (never a secret: the API key is in no output).
    """

    def __init__(
        self, renderer: Renderer, workers: StepWorkers, workdir: Path, note: Callable[[str], None] | None = None
    ) -> None:
        self.renderer, self.workers, self.workdir = renderer, workers, workdir
        self.note = note or (lambda line: None)
        self._opened: tuple[QiskitSession, QiskitBackend] | None = None

    def __enter__(self) -> LocalServices:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, workflow: dict[str, Any], output: str) -> dict[str, Any]:
        """Run a one-step service Workflow; its output parameter ``output``, parsed. Raises
        ``LocalRunError`` with the step's own message when it fails."""
        name = workflow["metadata"]["name"]
        started = time.perf_counter()
        run = run_workflow(workflow, {}, _safe_join(self.workdir, name, "service Workflow name"), workers=self.workers)
        (task,) = run.tasks.values()
        seconds = time.perf_counter() - started
        if run.phase != "Succeeded" or output not in task.parameters:
            self.note(f"{task.name} ({name}): failed after {seconds:.1f} s")
            raise LocalRunError(f"{task.name} failed: {task.message or run.message}")
        try:
            value = json.loads(task.parameters[output])
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            raise LocalRunError(f"{task.name}: output {output!r} is not a JSON object")
        self.note(f"{task.name} ({name}): {seconds:.1f} s")
        return value

    def probe(self, backend: QiskitBackend) -> QiskitBackend:
        """``backend`` with the status its probe finds (an aer backend needs none: it is Ready)."""
        from qiskit_argo.api import BackendPhase, QiskitBackendStatus

        if not backend.spec.enabled:
            status = QiskitBackendStatus(phase=BackendPhase.DISABLED, message="spec.enabled is false")
        elif backend.spec.type != "ibm":
            status = _aer_status()
        else:
            status = _probe_status(backend, self._run(self.renderer.service("probe", backend), "probe"))
        return backend.model_copy(update={"status": status})

    def open_session(self, session: QiskitSession, backend: QiskitBackend) -> QiskitSession:
        """Open ``session`` on ``backend`` (a session-open Workflow); the session with its id."""
        from qiskit_argo.api import QiskitSessionStatus, SessionPhase

        opened = self._run(self.renderer.service("session", session, backend, "open"), "session")
        session_id = opened.get("sessionId")
        if not isinstance(session_id, str) or not session_id:
            raise LocalRunError(f"session-open: QiskitSession {session.name} got no session id")
        status = QiskitSessionStatus(
            phase=SessionPhase.READY, session_id=session_id, state=opened.get("state"), device=opened.get("device")
        )
        session = session.model_copy(update={"status": status})
        self._opened = (session, backend)
        return session

    def close(self) -> None:
        """Close the session ``open_session`` opened, if any (once)."""
        if self._opened is None:
            return
        session, backend = self._opened
        self._opened = None
        self._run(self.renderer.service("session", session, backend, "close"), "session")

    def catalogue_for(
        self, job: QiskitJob, backends: Sequence[QiskitBackend], sessions: Sequence[QiskitSession], *, given: bool
    ) -> Catalogue:
        """The snapshot ``job``'s schedule step gets: the backends it may use probed (the one it
        names, its session's, or every one for a selector), its session opened. ``given``: whether
        ``--catalogue`` was passed at all. Bad input raises ``InvalidJobError`` (one line)."""
        from qiskit_argo.catalogue import snapshot
        from qiskit_argo.errors import InvalidJobError

        spec = job.spec
        by_name = {backend.name: backend for backend in backends}
        session = None
        if spec.session_ref is not None:
            if not given:
                raise _needs_catalogue(job, f"spec.sessionRef names QiskitSession {spec.session_ref}")
            session = next((item for item in sessions if item.name == spec.session_ref), None)
            if session is None:
                known = ", ".join(sorted(item.name for item in sessions)) or "none"
                raise InvalidJobError(
                    f"spec.sessionRef: no QiskitSession {spec.session_ref!r} in the catalogue (QiskitSessions there: "
                    f"{known}); add its manifest to --catalogue"
                )
            if session.spec.backend_ref not in by_name:
                raise InvalidJobError(
                    f"QiskitSession {session.name}: spec.backendRef names QiskitBackend {session.spec.backend_ref!r}, "
                    "which is not in the catalogue; add its manifest to --catalogue"
                )
            wanted = [session.spec.backend_ref]
        elif spec.backend.ref is not None:
            if not given:
                raise _needs_catalogue(job, f"spec.backend.ref names QiskitBackend {spec.backend.ref}")
            wanted = [spec.backend.ref] if spec.backend.ref in by_name else []
        elif spec.backend.selector is not None:
            kind = spec.backend.selector.type
            wanted = [backend.name for backend in backends if kind is None or backend.spec.type == kind]
        else:
            wanted = []
        probed = {name: self.probe(by_name[name]) for name in wanted}
        chosen = [probed.get(backend.name, backend) for backend in backends]
        if session is not None:
            backend = probed[session.spec.backend_ref]
            if backend.spec.type != "ibm":
                raise InvalidJobError(
                    f"QiskitSession {session.name}: QiskitBackend {backend.name} is of type {backend.spec.type}; "
                    "a session needs a type ibm backend (fix the session's spec.backendRef)"
                )
            status = backend.status
            if status is None or status.phase != "Ready":
                phase = status.phase if status else "not probed"
                why = f": {status.message}" if status and status.message else ""
                raise InvalidJobError(
                    f"QiskitSession {session.name}: QiskitBackend {backend.name} is {phase}{why}; "
                    "the session cannot be opened (fix the backend, or its credentials)"
                )
            session = self.open_session(session, backend)
        return snapshot(chosen, session)


class RenderError(Exception):
    """The render process failed (a bug: ``render`` raised, or the process died); the message says how."""


_RENDER_MAIN = "from qiskit_argo.local import _render_main; _render_main()"
#: The render process's requests, by name (nothing else is called there).
_RENDER_CALLS: dict[str, Callable[..., Any]] = {"render": render, "service": render_service}
_FRAME = 8  # bytes of a frame's length, big-endian


def _send_frame(stream: IO[bytes], payload: bytes) -> None:
    stream.write(len(payload).to_bytes(_FRAME, "big") + payload)
    stream.flush()


def _read_frame(stream: IO[bytes]) -> bytes | None:
    """The next frame's payload, or ``None`` at the end of the stream."""
    header = stream.read(_FRAME)
    if len(header) < _FRAME:
        return None
    size = int.from_bytes(header, "big")
    payload = stream.read(size)
    if len(payload) < size:
        return None
    return payload


class Renderer:
    """``render(job, catalogue)`` and the service Workflows, in a process of its own that imports
    Hera as soon as it starts.

    A local run renders a Workflow or a few; Hera costs about half a second of CPU to import and
    more to tear down at exit, and the process that runs the steps would then sit idle. Started
    first, the render process imports Hera while the caller reads the job file and the step
    workers import Qiskit; each call hands it a request (pickled, framed) and returns what it
    rendered. It leaves without tearing Hera down. Use it as a context manager: the process ends
    with the block, always.
    """

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-c", _RENDER_MAIN, str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,  # its last line is the message when it fails
            start_new_session=True,
        )

    def __enter__(self) -> Renderer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, name: str, *args: Any) -> Any:
        import pickle

        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        try:
            _send_frame(stdin, pickle.dumps((name, args)))
            reply = _read_frame(stdout)
        except (OSError, ValueError) as error:  # it has already ended, or was closed
            raise RenderError(f"the render process is gone ({error})") from None
        if reply is None:  # it died: its last line on stderr says why
            try:
                errors = self.process.stderr.read() if self.process.stderr else b""
            except (OSError, ValueError):
                errors = b""
            self.close()
            reason = _last_line(errors.decode("utf-8", "replace"))
            code = _exit_code(self.process.returncode or 0)
            raise RenderError(reason or f"the render process ended with exit code {code}")
        ok, value = pickle.loads(reply)  # from our own child, through its own pipe
        if not ok:
            raise RenderError(str(value))
        return value

    def render(self, job: QiskitJob, catalogue: Catalogue | None = None) -> Rendered:
        """The job rendered by the render process (``render``)."""
        rendered = self._call("render", job, catalogue)
        assert isinstance(rendered, Rendered)
        return rendered

    def service(self, what: str, *args: Any) -> dict[str, Any]:
        """A service Workflow rendered by the render process (``render_service``)."""
        workflow = self._call("service", what, *args)
        assert isinstance(workflow, dict)
        return workflow

    def close(self) -> None:
        """End the render process if it still runs (it may be importing still), and reap it."""
        if self.process.returncode is None:
            with contextlib.suppress(OSError):
                self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def _render_main() -> None:
    """``python -c`` of the render process: import Hera, then answer framed pickled requests
    ``(name, args)`` on stdin with framed pickled ``(ok, value)`` on stdout until stdin ends, and
    leave at once (``os._exit``: no teardown of Hera's models)."""
    import gc
    import pickle

    gc.disable()  # a short life spent importing and rendering: no cyclic garbage worth collecting
    runner, output = int(sys.argv[1]), _private(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner ends us
    _die_with(runner)
    code = 1
    try:
        import qiskit_argo.workflows  # noqa: F401 - Hera, while the runner reads the job file

        with os.fdopen(output, "wb") as stream:
            while (request := _read_frame(sys.stdin.buffer)) is not None:
                name, args = pickle.loads(request)
                try:
                    answer: tuple[bool, Any] = (True, _RENDER_CALLS[name](*args))
                except Exception as error:  # noqa: BLE001 - a bug: the caller's one-line message
                    answer = (False, _last_line(f"{type(error).__name__}: {error}"))
                _send_frame(stream, pickle.dumps(answer))
        code = 0
    except BaseException:  # noqa: BLE001 - its last line is the runner's message
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os._exit(code)
