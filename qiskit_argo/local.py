"""Run a rendered Argo Workflow on this machine: the same DAG, templates, parameters and artifacts.

This is not a second implementation of the job: it interprets the Workflow that
``qiskit_argo.workflows.build`` renders, resolving ``templateRef``s against the generated
ClusterWorkflowTemplate (or a Workflow that only names that template in ``workflowTemplateRef``,
as ``argo submit --from`` makes it: its spec is joined over the template's), substituting
``{{...}}`` expressions, materialising ``raw`` and ``from`` artifacts, mounting volumes as
directories under a work directory, and running each container's command in this interpreter
through its console-script entry point (no new interpreter per step).
A wrong parameter reference or artifact name fails here exactly as it would in Argo.

Whatever a Workflow says, the runner writes only under its work directory: step and volume
names and ConfigMap keys must be single file names (``qiskit_argo.safeio.join_key``); container
paths (artifacts, output parameters, volume mounts, absolute arguments) are normalised as the
container would see them and must land on a volume, inside that step's directory, links
resolved; only qiskit-argo's own step commands run. ``activeDeadlineSeconds`` is checked before
each step (the CLI also stops a step that runs past it).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import multiprocessing
import posixpath
import re
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qiskit_argo.api import QiskitJob

__all__ = [
    "LocalRunError",
    "TaskRun",
    "WorkflowRun",
    "run_workflow",
    "join_workflow_spec",
    "substitute_known",
    "render_and_preload",
    "Rendered",
    "Listener",
]

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

    @property
    def failed_task(self) -> TaskRun | None:
        return next((task for task in self.tasks.values() if task.phase in ("Failed", "Error")), None)


#: Called with each task whenever its phase changes (the CLI draws progress from this).
Listener = Callable[[TaskRun], None]


# --------------------------------------------------------------------------- pure helpers


def _dependencies(task: dict[str, Any]) -> list[str]:
    if "dependencies" in task:
        return list(task["dependencies"])
    depends = task.get("depends")
    if not depends:
        return []
    names = re.findall(r"[A-Za-z0-9][-A-Za-z0-9_]*(?:\.[A-Za-z]+)?", depends)
    if "||" in depends or "!" in depends:
        raise LocalRunError(f"depends {depends!r}: only '&&' of task names is supported locally")
    return [name.split(".")[0] for name in names]


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


#: Console scripts that are not steps: the command line itself (no run inside a run).
_NOT_STEPS = {"qiskit-argo"}


def _entry_point(command: str, where: str) -> Callable[[], Any]:
    """A step's command: a console script of qiskit-argo's own (never pip, pytest or another tool
    that happens to be installed: a Workflow must not run arbitrary programs on this machine)."""
    found = entry_points(group="console_scripts", name=command)
    if not found:
        raise LocalRunError(f"{where}: command {command!r} is not a console script installed here")
    entry = next(iter(found))
    if not entry.value.startswith("qiskit_argo.") or command in _NOT_STEPS:
        raise LocalRunError(f"{where}: command {command!r} is not a qiskit-argo step; only those run locally")
    return entry.load()


@contextlib.contextmanager
def _argv(argv: list[str]) -> Iterator[None]:
    saved = sys.argv
    sys.argv = argv
    try:
        yield
    finally:
        sys.argv = saved


def _call(command: list[str], args: list[str], log: Path, where: str) -> int:
    """Run a console script in this interpreter as a container would run it; returns the exit code."""
    function = _entry_point(command[0], where)
    stderr = io.StringIO()
    code: int
    with _argv([*command, *args]), contextlib.redirect_stderr(stderr):
        try:
            result = function()
            code = int(result or 0)
        except SystemExit as exit_:
            if isinstance(exit_.code, int) or exit_.code is None:
                code = exit_.code or 0
            else:  # sys.exit("message"): Python prints it and exits 1
                print(exit_.code, file=sys.stderr)
                code = 1
        except KeyboardInterrupt:
            raise
        except BaseException:  # noqa: BLE001 - a crash (even a Rust panic) ends the step as in a pod: exit 1, traceback in the log
            traceback.print_exc()
            code = 1
    log.write_text(stderr.getvalue())
    return code


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


# --------------------------------------------------------------------------- the runner


class _Runner:
    def __init__(
        self,
        workflow: dict[str, Any],
        cluster_templates: dict[str, dict[str, Any]],
        config_maps: dict[str, dict[str, bytes]],
        workdir: Path,
        listener: Listener | None,
    ) -> None:
        self.workflow = workflow
        self.spec = join_workflow_spec(workflow, cluster_templates)
        self.cluster_templates = cluster_templates
        self.config_maps = config_maps
        self.workdir = workdir
        self.listener = listener or (lambda task: None)
        metadata = workflow["metadata"]
        self.name = metadata.get("name") or metadata.get("generateName", "workflow-") + "local"
        self.scope: dict[str, str] = {
            "workflow.name": self.name,
            "workflow.namespace": metadata.get("namespace", "default"),
        }
        for parameter in self.spec.get("arguments", {}).get("parameters", []):
            name = parameter["name"]
            if "value" not in parameter and "default" not in parameter:
                raise LocalRunError(f"spec.arguments.parameters: {name!r} has no value (argo submit -p {name}=...)")
            self.scope[f"workflow.parameters.{name}"] = str(parameter.get("value", parameter.get("default")))
        self.artifacts: dict[str, Path] = {}

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

    def _volume(self, name: str, template: dict[str, Any], step_dir: Path, where: str) -> Path:
        volumes = {v["name"]: v for v in (*self.spec.get("volumes", []), *template.get("volumes", []))}
        if name not in volumes:
            raise LocalRunError(f"{where}: volumeMount {name!r} has no volume in the template or the Workflow")
        volume = volumes[name]
        local = _safe_join(step_dir / "volumes", name, f"{where}: volume")
        local.mkdir(parents=True, exist_ok=True)
        if "configMap" in volume:
            source = volume["configMap"]
            data = self.config_maps.get(source["name"])
            if data is None:
                if source.get("optional"):
                    return local
                raise LocalRunError(
                    f"{where}: ConfigMap {source['name']!r} not found; put it in the job's YAML file "
                    "(as a second document) or create it in the cluster"
                )
            for key, content in data.items():
                _safe_join(local, key, f"{where}: ConfigMap {source['name']!r} key").write_bytes(content)
        elif "emptyDir" not in volume:
            raise LocalRunError(f"{where}: volume {name!r} kind is not supported locally (emptyDir, configMap)")
        return local

    def run_task(self, task: dict[str, Any], run: TaskRun) -> None:
        where = f"task {task['name']}"
        template = self.resolve_template(task)
        container = template.get("container")
        if container is None:
            raise LocalRunError(f"{where}: template {template['name']!r} has no container; not supported locally")
        step_dir = _safe_join(self.workdir / "steps", task["name"], "task name")  # never a link
        if step_dir.exists():
            shutil.rmtree(step_dir)
        step_dir.mkdir(parents=True)

        mounts = [
            _Mount(
                _container_path(m.get("mountPath"), f"{where} volumeMount {m.get('name')!r}"),
                self._volume(m["name"], template, step_dir, where),
            )
            for m in container.get("volumeMounts", [])
        ]

        # Inputs: arguments on the task, defaults on the template.
        scope = dict(self.scope)
        given_params = {p["name"]: p for p in task.get("arguments", {}).get("parameters", [])}
        for parameter in template.get("inputs", {}).get("parameters", []):
            name = parameter["name"]
            if name in given_params:
                value = substitute(str(given_params[name].get("value", "")), self.scope, f"{where} parameter {name}")
            elif "default" in parameter:
                value = str(parameter["default"])
            elif "value" in parameter:
                value = str(parameter["value"])
            else:
                raise LocalRunError(f"{where}: input parameter {name!r} has no value")
            scope[f"inputs.parameters.{name}"] = value
        given_artifacts = {a["name"]: a for a in task.get("arguments", {}).get("artifacts", [])}
        for artifact in template.get("inputs", {}).get("artifacts", []):
            name = artifact["name"]
            target = _reroot(artifact["path"], mounts, f"{where} input artifact {name}")
            target.parent.mkdir(parents=True, exist_ok=True)
            given = given_artifacts.get(name, {})
            if "raw" in given:
                target.write_text(substitute_known(given["raw"]["data"], self.scope))
            elif "raw" in artifact:
                target.write_text(artifact["raw"]["data"])
            elif "from" in given:
                key = _EXPRESSION.fullmatch(given["from"].strip())
                source = self.artifacts.get(key.group(1)) if key else None
                if source is None:
                    raise LocalRunError(f"{where}: input artifact {name!r} from {given['from']!r} does not exist")
                if source.is_dir():
                    shutil.copytree(source, target)
                else:
                    shutil.copyfile(source, target)
            elif not artifact.get("optional"):
                raise LocalRunError(f"{where}: input artifact {name!r} has no source")
            scope[f"inputs.artifacts.{name}.path"] = artifact["path"]

        warming = _WARMING.pop(template["name"], None)
        if warming is not None:
            warming.join()
        args = [substitute(arg, scope, f"{where} args") for arg in container.get("args", [])]
        command = [substitute(arg, scope, f"{where} command") for arg in container.get("command", [])]
        run.log = step_dir / "stderr.log"
        if not command:
            raise LocalRunError(f"{where}: the container has no command")
        run.exit_code = _call(command, _reroot_args(args, mounts, where), run.log, where)
        if run.exit_code != 0:
            run.phase = "Failed"
            run.message = _last_line(run.log.read_text()) or f"Error (exit code {run.exit_code})"
            return

        outputs = template.get("outputs", {})
        for parameter in outputs.get("parameters", []):
            path = _reroot(parameter["valueFrom"]["path"], mounts, f"{where} output parameter {parameter['name']}")
            if not path.is_file():  # a regular file only: a FIFO or a device would never end
                run.phase, run.message = "Failed", f"output parameter {parameter['name']!r}: {path} was not written"
                return
            run.parameters[parameter["name"]] = path.read_text().strip()
        for artifact in outputs.get("artifacts", []):
            path = _reroot(artifact["path"], mounts, f"{where} output artifact {artifact['name']}")
            if not path.exists() and not artifact.get("optional"):
                run.phase, run.message = "Failed", f"output artifact {artifact['name']!r}: {path} was not written"
                return
            run.artifacts[artifact["name"]] = path
        run.phase = "Succeeded"

    def publish(self, run: TaskRun) -> None:
        prefix = f"tasks.{run.name}.outputs"
        for name, value in run.parameters.items():
            self.scope[f"{prefix}.parameters.{name}"] = value
        for name, path in run.artifacts.items():
            self.artifacts[f"{prefix}.artifacts.{name}"] = path
        self.scope[f"tasks.{run.name}.status"] = run.phase

    def run(self) -> WorkflowRun:
        entry = _find_template(self.spec["entrypoint"], self.spec["templates"], "workflow")
        if "dag" not in entry:
            raise LocalRunError(f"entrypoint {entry['name']!r} is not a DAG; not supported locally")
        ordered = topological_order(entry["dag"]["tasks"])
        tasks = {
            task["name"]: TaskRun(name=task["name"], template=task.get("templateRef", task).get("template", ""))
            for task in ordered
        }
        result = WorkflowRun(name=self.name, workdir=self.workdir, tasks=tasks)
        deadline = _deadline(self.spec.get("activeDeadlineSeconds"))
        for task in ordered:
            run = tasks[task["name"]]
            if any(tasks[d].phase != "Succeeded" for d in _dependencies(task)):
                run.phase = "Omitted"
                self.listener(run)
                continue
            run.phase, run.started_at = "Running", time.perf_counter()
            self.listener(run)
            try:
                if deadline is not None and time.monotonic() > deadline:
                    run.phase, run.message = "Failed", "Step exceeded its deadline (spec.activeDeadlineSeconds)"
                else:
                    self.run_task(task, run)
            except LocalRunError as error:
                run.phase, run.message = "Error", str(error)
            except OSError as error:  # the work directory: unwritable, full, a name too long
                run.phase, run.message = "Error", f"{error.filename or self.workdir}: {error.strerror or error}"
            run.finished_at = time.perf_counter()
            self.publish(run)
            self.listener(run)
            if run.phase != "Succeeded" and not result.message:
                result.message = f"step {run.name} failed: {run.message}"
        result.phase = "Succeeded" if all(t.phase == "Succeeded" for t in tasks.values()) else "Failed"
        return result


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


def run_workflow(
    workflow: dict[str, Any],
    cluster_templates: dict[str, dict[str, Any]],
    workdir: Path,
    *,
    config_maps: dict[str, dict[str, bytes]] | None = None,
    listener: Listener | None = None,
) -> WorkflowRun:
    """Execute ``workflow``'s DAG here, in ``workdir``; each task's files stay in ``workdir/steps/<task>``.

    ``cluster_templates`` maps a (Cluster)WorkflowTemplate name to its manifest; ``config_maps``
    maps a ConfigMap name to its files, for ``configMap`` volumes.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    return _Runner(workflow, cluster_templates, config_maps or {}, workdir, listener).run()


@dataclass(frozen=True)
class Rendered:
    """What a local run needs from the renderer: the Workflow (and its YAML) and its templates."""

    workflow: dict[str, Any]
    workflow_yaml: str
    cluster_templates: dict[str, dict[str, Any]]


def _render(job: QiskitJob) -> Rendered:
    from qiskit_argo import workflows

    workflow, template = workflows.build(job), workflows.cluster_workflow_template()
    return Rendered(workflow, workflows.to_yaml(workflow), {template["metadata"]["name"]: template})


#: Template name -> the thread still importing that step's modules; joined before the step runs.
_WARMING: dict[str, threading.Thread] = {}


def _import_all(modules: list[str]) -> None:
    for module in modules:
        importlib.import_module(module)


def render_and_preload(job: QiskitJob) -> Rendered:
    """The job's rendered Workflow and ClusterWorkflowTemplate, with the steps' heavy imports under way.

    Rendering needs Hera and the steps need Qiskit, Aer and matplotlib: independent imports of
    similar cost. Where ``fork`` exists, a forked process renders while this one imports what the
    first steps need (``StepSpec.preload``); the last step's modules (matplotlib, for the
    histogram) load in a background thread while the earlier steps run — Aer releases the GIL
    while it simulates — so a job pays for the slowest of these, not their sum. The runner waits
    for that thread before it starts the step (``_WARMING``): some libraries (matplotlib's
    ``use``) read ``sys.modules`` without the import lock and must not see a half-loaded module.
    """
    from qiskit_argo.steps import STEPS

    specs = list(STEPS.values())
    now = [module for spec in specs[:-1] for module in spec.preload]
    last = specs[-1]
    # Two threads must never import inside the same top-level package at once (a deadlock-avoiding
    # import may hand one of them a half-initialized module), so only new packages go to the thread.
    busy = {module.split(".")[0] for module in now}
    now += [module for module in last.preload if module.split(".")[0] in busy]
    later = [module for module in last.preload if module.split(".")[0] not in busy]

    def preload() -> None:
        _import_all(now)
        thread = threading.Thread(target=_import_all, args=(later,), name="preload", daemon=True)
        thread.start()
        _WARMING[last.name] = thread

    if "fork" not in multiprocessing.get_all_start_methods():
        rendered = _render(job)
        preload()
        return rendered
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork")) as pool:
        future = pool.submit(_render, job)
        preload()
        return future.result()
