"""How the DAG's tasks feed each other, derived from the step contract in ``qiskit_argo.steps``.

An input named like an earlier step's output comes from the latest such step; ``job`` (the
QiskitJob itself) comes from the Workflow as a raw artifact, and an input parameter no step
produces (``limits``) falls back to the template's default unless the caller passes a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from qiskit_argo.steps import STEPS

__all__ = ["ENTRYPOINT", "JOB_ARTIFACT", "JOB_PARAMETER", "Source", "TaskWiring", "wiring", "entrypoint_dag"]

#: The DAG template that runs a job: in each job's Workflow, and in the ClusterWorkflowTemplate
#: (for ``argo submit --from clusterworkflowtemplate/...``).
ENTRYPOINT = "main"
#: The input artifact that carries the QiskitJob JSON into the first step.
JOB_ARTIFACT = "job"
#: The ClusterWorkflowTemplate's workflow parameter holding that JSON when it is submitted itself.
JOB_PARAMETER = "job"


@dataclass(frozen=True)
class Source:
    """Where one input of one task comes from: an earlier task's output, or nothing (a default)."""

    task: str | None
    output: str | None

    def reference(self, kind: str) -> str:
        """The Argo expression for this source, e.g. ``{{tasks.validate.outputs.artifacts.request}}``."""
        if self.task is None or self.output is None:
            raise ValueError("an input with no producing task has no reference")
        return f"{{{{tasks.{self.task}.outputs.{kind}.{self.output}}}}}"


@dataclass(frozen=True)
class TaskWiring:
    """One DAG task: the step it runs, where each input comes from, and what it waits for."""

    name: str
    artifacts: dict[str, Source]
    parameters: dict[str, Source]
    depends: tuple[str, ...]


@cache
def wiring() -> tuple[TaskWiring, ...]:
    """The DAG in ``STEPS`` order; raises ``ValueError`` if an input artifact has no source."""
    tasks: list[TaskWiring] = []
    produced_artifacts: dict[str, str] = {}
    produced_parameters: dict[str, str] = {}
    for spec in STEPS.values():
        artifacts: dict[str, Source] = {}
        for name in spec.input_artifacts:
            if name in produced_artifacts:
                artifacts[name] = Source(produced_artifacts[name], name)
            elif name == JOB_ARTIFACT:
                artifacts[name] = Source(None, None)
            else:
                raise ValueError(f"step {spec.name}: no earlier step outputs artifact {name!r}")
        parameters = {
            name: Source(produced_parameters.get(name), name if name in produced_parameters else None)
            for name in spec.input_parameters
        }
        producers = {s.task for s in (*artifacts.values(), *parameters.values()) if s.task is not None}
        # Keep the declared order even where a step consumes nothing from its predecessor.
        if tasks:
            producers.add(tasks[-1].name)
        depends = tuple(step for step in STEPS if step in producers)
        tasks.append(TaskWiring(spec.name, artifacts, parameters, depends))
        produced_artifacts.update(dict.fromkeys(spec.output_artifacts, spec.name))
        produced_parameters.update(dict.fromkeys(spec.output_parameters, spec.name))
    return tuple(tasks)


def entrypoint_dag(*, cluster_template: str | None, job_data: str | None = None) -> None:
    """Add the ``main`` DAG, one task per step wired by ``wiring()``, to the Hera object being built.

    ``cluster_template`` names the ClusterWorkflowTemplate whose step templates the tasks reference
    by ``templateRef`` (a job's Workflow); ``None`` references sibling templates by ``template:``
    (the DAG inside that ClusterWorkflowTemplate). ``job_data`` is the raw data of the ``job``
    artifact; ``None`` leaves that argument out, for the caller to add per job.
    """
    from hera.workflows import DAG, Artifact, Parameter, RawArtifact, Task
    from hera.workflows import models as m

    # The workflow-level retryStrategy would also apply to this DAG and re-run every step
    # after one step ran out of retries; the DAG itself is never retried.
    with DAG(name=ENTRYPOINT, retry_strategy=m.RetryStrategy(limit=m.IntOrString(root="0"))):
        for task in wiring():
            arguments: list[Artifact | Parameter] = [
                Artifact(name=name, from_=source.reference("artifacts"))
                for name, source in task.artifacts.items()
                if source.task is not None
            ]
            if job_data is not None:
                raw = [name for name, source in task.artifacts.items() if source.task is None]
                arguments += [RawArtifact(name=name, data=job_data) for name in raw]
            arguments += [
                Parameter(name=name, value=source.reference("parameters"))
                for name, source in task.parameters.items()
                if source.task is not None
            ]
            reference: dict[str, object] = (
                {"template": task.name}
                if cluster_template is None
                else {"template_ref": m.TemplateRef(name=cluster_template, template=task.name, cluster_scope=True)}
            )
            Task(
                name=task.name,
                depends=" && ".join(task.depends) or None,
                arguments=arguments or None,
                **reference,  # type: ignore[arg-type]
            )
