"""How the DAG's tasks feed each other, derived from the step contract in ``qiskit_argo.steps``.

An input named like an earlier step's output comes from the latest such step; ``job`` (the
QiskitJob itself) comes from the Workflow as a raw artifact, and an input parameter no step
produces (``limits``) falls back to the template's default unless the caller passes a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from qiskit_argo.steps import STEPS

__all__ = ["JOB_ARTIFACT", "Source", "TaskWiring", "wiring"]

#: The input artifact that carries the QiskitJob JSON into the first step.
JOB_ARTIFACT = "job"


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
