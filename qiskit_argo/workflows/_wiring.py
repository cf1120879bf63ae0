"""How the DAG's tasks feed each other: data derived from the step registry (``qiskit_argo.steps``).

One task per step, named after it. An input named like an earlier step's output comes from the
latest such step. A step may run only ``when`` an earlier step's output parameter has a value
(``StepSpec.when``); such a step, and one that needs its outputs, may end Skipped or Omitted
without anything failing: an input whose latest producer may be skipped comes from the latest
producer *that ran*, looking back to one that always runs — for execute steps that are
alternatives (``when`` the schedule step's ``executor`` is ``aer``, or ``ibm``), from whichever
ran. ``job`` (the QiskitJob itself) and ``catalogue`` (the snapshot of the namespace's
QiskitBackends) come from the Workflow as raw artifacts; an input parameter
no step produces (``limits``) falls back to the template's default unless the caller passes a value.

How that reads in the rendered DAG (Argo v4.1's semantics; ``qiskit_argo.local`` runs the same):

* ``when: '{{tasks.schedule.outputs.parameters.executor}} == aer'`` — substituted, then evaluated
  by govaluate, which reads a bare word as a string; false: the task is Skipped.
* ``depends`` — a bare task name means ``(T.Succeeded || T.Skipped || T.Daemoned)``; a task that
  needs the outputs of one that may be skipped waits for ``T.Succeeded``, and for alternatives
  ``(A.Succeeded || B.Succeeded)``; when that is false, the task is Omitted.
* an input with several possible producers is a workflow-level output: each of them exports it
  (``globalName`` on the template's output, ``global_outputs``) and the task reads
  ``{{workflow.outputs.artifacts.result}}`` or ``{{workflow.outputs.parameters.summary}}``,
  which holds what the latest of them that ran wrote. (Argo v4.1 rejects ``fromExpression`` in a
  task's arguments — argoproj/argo-workflows#6207 — and an expression tag cannot name an
  artifact; a global output works for both kinds, in validation and at run time.)
* a step that fans out (``StepSpec.fan_out``: the execute steps, one task per shard) carries
  ``withParam: '{{tasks.schedule.outputs.parameters.shards}}'`` and the argument ``shard:
  '{{item}}'``: Argo makes a ``TaskGroup`` node ``<dag>.execute-aer`` with one child per item,
  ``<dag>.execute-aer(0:0-of-4)``..., and the group's phase is Succeeded once every child is, else
  the failed child's (``workflow/controller/dag.go`` ``executeDAGTask``). A fanned-out task whose
  ``when`` is false never expands: its ``withParam`` is left unresolved, so the task is one
  ``Skipped`` node (``expandTask`` finds no items: ``Skipped, empty params``), and ``.Succeeded``
  stays false for an alternative that did not run.
* a step that gathers the parts (``StepSpec.gathers_parts``: store-results) waits for every step
  that writes one (``StepSpec.part``) as alternatives: ``(execute-aer.Succeeded || ... ||
  ibm-wait.Succeeded)``; it reads the parts from the artifact repository by key, not from a task.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Literal

from qiskit_argo.steps import STEPS, StepRegistry, StepSpec

__all__ = [
    "ENTRYPOINT",
    "JOB_ARTIFACT",
    "JOB_PARAMETER",
    "CATALOGUE_ARTIFACT",
    "CATALOGUE_PARAMETER",
    "RAW_ARTIFACTS",
    "Source",
    "When",
    "Dependency",
    "FanOutWiring",
    "ITEM",
    "TaskWiring",
    "wiring",
    "global_outputs",
    "outline",
    "entrypoint_dag",
]

#: The DAG template that runs a job: in each job's Workflow, and in the ClusterWorkflowTemplate
#: (for ``argo submit --from clusterworkflowtemplate/...``).
ENTRYPOINT = "main"
#: The input artifact that carries the QiskitJob JSON into the first step.
JOB_ARTIFACT = "job"
#: The ClusterWorkflowTemplate's workflow parameter holding that JSON when it is submitted itself.
JOB_PARAMETER = "job"
#: The input artifact that carries the catalogue snapshot (``qiskit_argo.catalogue.Catalogue``
#: JSON) into the schedule step, and the ClusterWorkflowTemplate's parameter holding it (``{}``:
#: no QiskitBackends, the built-in Aer simulator only).
CATALOGUE_ARTIFACT = "catalogue"
CATALOGUE_PARAMETER = "catalogue"
#: Input artifacts no step produces: the Workflow passes each as a ``raw`` artifact.
RAW_ARTIFACTS = (JOB_ARTIFACT, CATALOGUE_ARTIFACT)

Kind = Literal["parameters", "artifacts"]

#: The value of a fanned-out task's item argument: Argo's tag for the current ``withParam`` item.
ITEM = "{{item}}"


@dataclass(frozen=True)
class Source:
    """Where one input of one task comes from: the output ``output`` of ``tasks`` (several: the
    latest producer first, then earlier ones back to one that always runs; the value is the one
    the latest of them that ran wrote), or, with no tasks, nothing (a default, or the raw job)."""

    output: str | None
    tasks: tuple[str, ...] = ()

    @property
    def is_global(self) -> bool:
        """Whether the value travels as a workflow-level output (several possible producers)."""
        return len(self.tasks) > 1

    def reference(self, kind: Kind) -> str:
        """The Argo tag for the value: ``{{tasks.validate.outputs.artifacts.request}}`` from one
        task, ``{{workflow.outputs.artifacts.result}}`` from several."""
        if self.output is None or not self.tasks:
            raise ValueError("an input with no producing task has no reference")
        if self.is_global:
            return f"{{{{workflow.outputs.{kind}.{self.output}}}}}"
        return f"{{{{tasks.{self.tasks[0]}.outputs.{kind}.{self.output}}}}}"


@dataclass(frozen=True)
class When:
    """A task's ``when``: the output parameter ``parameter`` of ``task`` equals the word ``equals``."""

    task: str
    parameter: str
    equals: str

    def render(self) -> str:
        return f"{{{{tasks.{self.task}.outputs.parameters.{self.parameter}}}}} == {self.equals}"


@dataclass(frozen=True)
class Dependency:
    """One ``&&`` clause of a task's ``depends``: any of ``tasks`` ended in any of ``results``;
    no results: the bare name (Argo's default: Succeeded, Skipped or Daemoned)."""

    tasks: tuple[str, ...]
    results: tuple[str, ...] = ()

    def render(self) -> str:
        if not self.results:
            (task,) = self.tasks
            return task
        terms = [f"{task}.{result}" for task in self.tasks for result in self.results]
        return terms[0] if len(terms) == 1 else "(" + " || ".join(terms) + ")"


@dataclass(frozen=True)
class FanOutWiring:
    """A fanned-out task: one task per item of the JSON list ``items`` (Argo ``withParam``), each
    getting its item as input parameter ``item`` (``'{{item}}'``)."""

    items: Source
    item: str

    @property
    def with_param(self) -> str:
        """``withParam`` as Argo reads it: ``{{tasks.schedule.outputs.parameters.shards}}``."""
        return self.items.reference("parameters")


@dataclass(frozen=True)
class TaskWiring:
    """One DAG task: the step it runs, where each input comes from, what it waits for, and when it runs."""

    name: str
    artifacts: Mapping[str, Source]
    parameters: Mapping[str, Source]
    depends: tuple[Dependency, ...]
    when: When | None = None
    #: Whether it may end Skipped or Omitted with nothing failed (it has a ``when``, or needs the
    #: outputs of one task that may).
    skippable: bool = False
    #: One task per item (``StepSpec.fan_out``); None: one task.
    fan_out: FanOutWiring | None = None

    @property
    def depends_expression(self) -> str | None:
        """``depends`` as Argo reads it, e.g. ``validate && schedule && execute-aer.Succeeded``."""
        return " && ".join(dependency.render() for dependency in self.depends) or None


def _clauses(group: tuple[str, ...], skippable: set[str], order: Mapping[str, int]) -> list[Dependency]:
    """What waiting for one input's producers means (``group``: latest first, at most one that always runs)."""
    maybe = tuple(sorted((task for task in group if task in skippable), key=order.__getitem__))
    always = [task for task in group if task not in skippable]
    if not maybe:
        return [Dependency((always[0],))]
    if not always:  # alternatives: exactly one of them is expected to run
        return [Dependency(maybe, ("Succeeded",))]
    # A step that always runs, and later ones that may override its output: wait for each of
    # those to succeed or to be left out, never for one that failed.
    return [Dependency((always[0],)), *(Dependency((task,), ("Succeeded", "Skipped", "Omitted")) for task in maybe)]


def _producers(
    steps: StepRegistry, earlier: list[str], skippable: set[str], output: str, *, artifact: bool
) -> tuple[str, ...]:
    """The earlier steps an input named ``output`` comes from: the latest producer, and while that
    one may be skipped, the producers before it, back to one that always runs (latest first)."""
    found: list[str] = []
    for name in reversed(earlier):
        outputs = steps[name].output_artifacts if artifact else steps[name].output_parameters
        if output in outputs:
            found.append(name)
            if name not in skippable:
                break
    return tuple(found)


def _check_group(
    consumer: str,
    output: str,
    group: tuple[str, ...],
    skippable: set[str],
    guards: Mapping[str, When | None],
    ancestors: Mapping[str, set[str]],
) -> None:
    """Several producers of one input must not race for its workflow-level output: alternatives
    (none always runs) are exclusive — their ``when`` compare one parameter with different words —
    and a producer that may be skipped runs after the one that always runs (the latest write wins)."""
    maybe = [task for task in group if task in skippable]
    always = [task for task in group if task not in skippable]
    where = f"step {consumer}, input {output!r} from {' or '.join(group)}"
    if not always:
        found = [guards[task] for task in maybe]
        keys = {(guard.task, guard.parameter) for guard in found if guard is not None}
        words = [guard.equals for guard in found if guard is not None]
        if None in found or len(keys) != 1 or len(set(words)) != len(words):
            raise ValueError(f"{where}: alternatives must run `when` one parameter has different words")
    for task in maybe:
        if always and always[0] not in ancestors[task]:
            raise ValueError(f"{where}: {task} must run after {always[0]}, whose output it overrides")


@cache
def _wiring(steps: StepRegistry) -> tuple[TaskWiring, ...]:
    names = list(steps)
    order = {name: index for index, name in enumerate(names)}
    tasks: list[TaskWiring] = []
    skippable: set[str] = set()
    #: The ``when`` a task that may be skipped runs under (its own, or the one task it waits for).
    guards: dict[str, When | None] = {}
    ancestors: dict[str, set[str]] = {}
    for spec in steps.values():
        earlier = names[: order[spec.name]]
        artifacts: dict[str, Source] = {}
        for name in spec.input_artifacts:
            found = _producers(steps, earlier, skippable, name, artifact=True)
            if found:
                artifacts[name] = Source(name, found)
            elif name in RAW_ARTIFACTS:
                artifacts[name] = Source(None)
            else:
                raise ValueError(f"step {spec.name}: no earlier step outputs artifact {name!r}")
        parameters: dict[str, Source] = {}
        for name in spec.input_parameters:
            found = _producers(steps, earlier, skippable, name, artifact=False)
            parameters[name] = Source(name if found else None, found)
        fan_out = _fan_out(spec, steps, earlier, skippable)
        if fan_out is not None:
            parameters[fan_out.item] = Source(None)  # '{{item}}', not an earlier output
        for source in (*artifacts.values(), *parameters.values()):
            if source.is_global and source.output is not None:
                _check_group(spec.name, source.output, source.tasks, skippable, guards, ancestors)
        groups = [source.tasks for source in (*artifacts.values(), *parameters.values()) if source.tasks]
        if fan_out is not None:
            groups.append(fan_out.items.tasks)
        if spec.gathers_parts:
            parts = tuple(name for name in reversed(earlier) if steps[name].part is not None)
            if not parts:
                raise ValueError(f"step {spec.name}: it gathers the parts, but no earlier step writes one")
            if len(parts) > 1:
                _check_group(spec.name, "part", parts, skippable, guards, ancestors)
            groups.append(parts)
        when = None
        if spec.when is not None:
            found = _producers(steps, earlier, skippable, spec.when.parameter, artifact=False)
            if len(found) != 1 or found[0] in skippable:
                raise ValueError(
                    f"step {spec.name}: its when needs one earlier step that always runs to output "
                    f"parameter {spec.when.parameter!r}"
                )
            when = When(found[0], spec.when.parameter, spec.when.equals)
            groups.append(found)
        if not groups and tasks:  # keep the declared order where a step consumes nothing earlier
            groups.append((tasks[-1].name,))
        clauses: dict[str, Dependency] = {}
        for group in groups:
            for clause in _clauses(group, skippable, order):
                clauses.setdefault(clause.render(), clause)
        depends = tuple(sorted(clauses.values(), key=lambda clause: min(order[t] for t in clause.tasks)))
        behind = [group[0] for group in groups if len(group) == 1 and group[0] in skippable]
        if when is not None or behind:
            skippable.add(spec.name)
            guards[spec.name] = when if when is not None else (guards[behind[0]] if len(behind) == 1 else None)
        ancestors[spec.name] = {t for clause in depends for t in clause.tasks}
        ancestors[spec.name] |= {a for t in ancestors[spec.name] for a in ancestors[t]}
        tasks.append(TaskWiring(spec.name, artifacts, parameters, depends, when, spec.name in skippable, fan_out))
    return tuple(tasks)


def _fan_out(spec: StepSpec, steps: StepRegistry, earlier: list[str], skippable: set[str]) -> FanOutWiring | None:
    """Where a fanned-out step's items come from: one earlier step that always runs."""
    if spec.fan_out is None:
        return None
    found = _producers(steps, earlier, skippable, spec.fan_out.items, artifact=False)
    if len(found) != 1 or found[0] in skippable:
        raise ValueError(
            f"step {spec.name}: its fan-out needs one earlier step that always runs to output "
            f"parameter {spec.fan_out.items!r}"
        )
    return FanOutWiring(Source(spec.fan_out.items, found), spec.fan_out.item)


def wiring(steps: StepRegistry | None = None) -> tuple[TaskWiring, ...]:
    """The DAG of ``steps`` (default: ``qiskit_argo.steps.STEPS``), one task per step in order;
    raises ``ValueError`` if an input artifact or a ``when`` has no source."""
    return _wiring(STEPS if steps is None else steps)


def global_outputs(steps: StepRegistry | None = None) -> dict[str, set[tuple[Kind, str]]]:
    """Step -> the outputs (kind, name) its template exports as workflow-level outputs
    (``globalName``: the same name): those some later task may take from it or from another step."""
    exported: dict[str, set[tuple[Kind, str]]] = {}
    for task in wiring(steps):
        inputs: tuple[tuple[Kind, Mapping[str, Source]], ...] = (
            ("artifacts", task.artifacts),
            ("parameters", task.parameters),
        )
        for kind, sources in inputs:
            for source in sources.values():
                if source.is_global and source.output is not None:
                    for producer in source.tasks:
                        exported.setdefault(producer, set()).add((kind, source.output))
    return exported


def outline(steps: StepRegistry | None = None) -> str:
    """The DAG in a few words, alternative branches side by side:
    ``validate → schedule → (execute-aer | ibm-submit → ibm-wait) → store-results``."""
    parts: list[list[list[str]]] = []  # groups (one when), each a list of branches, each a chain of tasks
    previous: tuple[str, str] | None = None
    for task in wiring(steps):
        key = (task.when.task, task.when.parameter) if task.when else None
        waits_for = {name for clause in task.depends for name in clause.tasks}
        if key is not None and key == previous:
            branch = next((chain for chain in parts[-1] if chain[-1] in waits_for), None)
            if branch is not None:
                branch.append(task.name)
            else:
                parts[-1].append([task.name])
        else:
            parts.append([[task.name]])
        previous = key
    words = []
    for group in parts:
        branches = [" → ".join(chain) for chain in group]
        alone = len(branches) == 1
        words.append(branches[0] if alone else "(" + " | ".join(branches) + ")")
    return " → ".join(words)


def entrypoint_dag(
    *, cluster_template: str | None, raw_data: Mapping[str, str] | None = None, steps: StepRegistry | None = None
) -> None:
    """Add the ``main`` DAG, one task per step wired by ``wiring()``, to the Hera object being built.

    ``cluster_template`` names the ClusterWorkflowTemplate whose step templates the tasks reference
    by ``templateRef`` (a job's Workflow); ``None`` references sibling templates by ``template:``
    (the DAG inside that ClusterWorkflowTemplate). ``raw_data`` maps a raw artifact
    (``RAW_ARTIFACTS``) to its data; one it does not name is left out, for the caller to add per job.
    """
    from hera.workflows import DAG, Artifact, Parameter, RawArtifact, Task
    from hera.workflows import models as m

    # The workflow-level retryStrategy would also apply to this DAG and re-run every step
    # after one step ran out of retries; the DAG itself is never retried.
    with DAG(name=ENTRYPOINT, retry_strategy=m.RetryStrategy(limit=m.IntOrString(root="0"))):
        for task in wiring(steps):
            arguments: list[Artifact | Parameter] = []
            for name, source in task.artifacts.items():
                if source.tasks:
                    arguments.append(Artifact(name=name, from_=source.reference("artifacts")))
                elif raw_data is not None and name in raw_data:
                    arguments.append(RawArtifact(name=name, data=raw_data[name]))
            arguments += [
                Parameter(name=name, value=source.reference("parameters"))
                for name, source in task.parameters.items()
                if source.tasks
            ]
            if task.fan_out is not None:
                arguments.append(Parameter(name=task.fan_out.item, value=ITEM))
            reference: dict[str, object] = (
                {"template": task.name}
                if cluster_template is None
                else {"template_ref": m.TemplateRef(name=cluster_template, template=task.name, cluster_scope=True)}
            )
            Task(
                name=task.name,
                depends=task.depends_expression,
                when=task.when.render() if task.when else None,
                with_param=task.fan_out.with_param if task.fan_out else None,
                arguments=arguments or None,
                **reference,  # type: ignore[arg-type]
            )
