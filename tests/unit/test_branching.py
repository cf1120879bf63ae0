"""The DAG branches on a step's output: the schedule step's ``executor`` picks execute-aer or the
IBM pair (ibm-submit → ibm-wait); with a made-up third executor registered beside execute-aer
(``tests.support.fake_executor``, only here), the branch it names runs, the first step of every
other is Skipped (Argo: a task whose ``when`` is false), a step waiting for a Skipped one's success
is Omitted (its ``depends`` is false), and store-results takes its inputs from whichever ran — in a
Workflow that validates strictly against Argo's schema and runs locally. The IBM branch's own run
(local testing mode) is in tests/local/test_ibm_runs.py."""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from qiskit_argo import scheduling, workflows
from qiskit_argo.api import BackendStatus, BackendType
from qiskit_argo.expressions import depends_tasks
from qiskit_argo.local import StepWorkers, run_workflow, step_component, step_preloads
from qiskit_argo.manifests import load_job
from qiskit_argo.steps import STEPS, Condition
from tests.local import faults
from tests.support.fake_executor import EXECUTOR_VARIABLE, FAKE, MARK, REGISTRY, WORKER_MODULE
from tests.support.schemas import validate_argo

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AER = STEPS["execute-aer"]
#: The steps that produce what store-results reads, one per branch: each exports it globally.
LAST_OF_BRANCH = {"execute-aer", "execute-fake", "ibm-wait"}


def _tasks(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (main,) = [t for t in workflow["spec"]["templates"] if t["name"] == workflow["spec"]["entrypoint"]]
    return {task["name"]: task for task in main["dag"]["tasks"]}


def _argument(task: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    return next(a for a in task["arguments"][kind] if a["name"] == name)


@pytest.fixture(scope="module")
def bell() -> Any:
    return load_job(EXAMPLES / "bell.yaml")[0]


# --------------------------------------------------------------------------- the rendering


def test_alternatives_render_as_when_depends_and_expressions(bell: Any) -> None:
    dag = _tasks(workflows.build(bell, steps=REGISTRY))
    assert list(dag) == [
        "validate",
        "schedule",
        "execute-aer",
        "execute-fake",
        "ibm-submit",
        "ibm-wait",
        "store-results",
    ]
    executor = "{{tasks.schedule.outputs.parameters.executor}}"
    assert dag["execute-aer"]["when"] == f"{executor} == aer"
    assert dag["execute-fake"]["when"] == f"{executor} == fake"
    assert dag["ibm-submit"]["when"] == dag["ibm-wait"]["when"] == f"{executor} == ibm"
    # Alternatives never wait for each other; the second step of a branch waits for the first's success.
    first = ("execute-aer", "execute-fake", "ibm-submit")
    assert {dag[name]["depends"] for name in first} == {"validate && schedule"}
    assert dag["ibm-wait"]["depends"] == "validate && schedule && ibm-submit.Succeeded"
    store = dag["store-results"]
    assert store["depends"] == (
        "validate && schedule && (execute-aer.Succeeded || execute-fake.Succeeded || ibm-wait.Succeeded)"
    )
    # What several steps may produce travels as a workflow-level output, which each exports.
    assert _argument(store, "artifacts", "result") == {
        "name": "result",
        "from": "{{workflow.outputs.artifacts.result}}",
    }
    assert _argument(store, "parameters", "summary") == {
        "name": "summary",
        "value": "{{workflow.outputs.parameters.summary}}",
    }
    steps = {t["name"]: t for t in workflows.cluster_workflow_template(steps=REGISTRY)["spec"]["templates"]}
    for name in sorted(LAST_OF_BRANCH):
        outputs = steps[name]["outputs"]
        assert [(a["name"], a.get("globalName")) for a in outputs["artifacts"]] == [("result", "result")]
        exported = {p["name"]: p.get("globalName") for p in outputs["parameters"]}
        assert exported == {"summary": "summary"} | ({"ibm": None} if name == "ibm-wait" else {})
    # What only one step makes (ibm-submit's submission, store-results' summary) is not global.
    for name in ("ibm-submit", "store-results"):
        outputs = steps[name]["outputs"]
        assert all("globalName" not in o for o in outputs.get("parameters", []) + outputs.get("artifacts", []))
    # Inputs only one step makes stay plain references.
    assert _argument(store, "artifacts", "request") == {
        "name": "request",
        "from": "{{tasks.validate.outputs.artifacts.request}}",
    }
    description = workflows.build(bell, steps=REGISTRY)["metadata"]["annotations"]["workflows.argoproj.io/description"]
    assert "validate → schedule → (execute-aer | execute-fake | ibm-submit → ibm-wait) → store-results" in description


def test_the_branching_workflow_and_template_validate_strictly(bell: Any) -> None:
    workflow = workflows.build(bell, steps=REGISTRY)
    template = workflows.cluster_workflow_template(steps=REGISTRY)
    validate_argo(workflow)
    validate_argo(template)
    assert _tasks(template)["store-results"]["depends"] == _tasks(workflow)["store-results"]["depends"]
    # The registry of the product is untouched: its template has no execute-fake.
    assert "execute-fake" not in {t["name"] for t in workflows.cluster_workflow_template()["spec"]["templates"]}


def test_a_step_that_needs_a_skipped_step_waits_for_its_success() -> None:
    """A chain behind a branch (ibm-submit → ibm-wait): the second waits for the first to succeed,
    so it is Omitted when the first is Skipped, and what follows takes either branch — also for a
    second step without a ``when`` of its own (made up here: ibm-wait has one)."""
    real = {task.name: task for task in workflows.wiring()}
    assert real["ibm-wait"].depends_expression == "validate && schedule && ibm-submit.Succeeded"
    assert real["ibm-wait"].skippable and real["ibm-submit"].skippable
    assert real["ibm-wait"].artifacts["ibm-jobs"].tasks == ("ibm-submit",)
    assert real["ibm-wait"].parameters["submission"].tasks == ("ibm-submit",)
    assert (
        real["store-results"].depends_expression
        == "validate && schedule && (execute-aer.Succeeded || ibm-wait.Succeeded)"
    )
    assert real["store-results"].artifacts["result"].tasks == ("ibm-wait", "execute-aer")
    submit = dataclasses.replace(
        FAKE, name="fake-submit", output_artifacts={}, output_parameters={"job-id": "job-id.txt"}
    )
    wait = dataclasses.replace(
        FAKE, name="fake-wait", when=None, input_artifacts={}, input_parameters=("job-id",), semaphore=False
    )
    registry = STEPS.with_step(submit, after=AER.name).with_step(wait, after=submit.name)
    wiring = {task.name: task for task in workflows.wiring(registry)}
    assert wiring["fake-wait"].depends_expression == "fake-submit.Succeeded"
    assert wiring["fake-wait"].when is None and wiring["fake-wait"].skippable
    assert wiring["fake-submit"].skippable and not wiring["schedule"].skippable
    assert not wiring["store-results"].skippable, "one of the alternatives runs"
    assert (
        wiring["store-results"].depends_expression
        == "validate && schedule && (execute-aer.Succeeded || fake-wait.Succeeded || ibm-wait.Succeeded)"
    )
    assert wiring["store-results"].artifacts["result"].tasks == ("ibm-wait", "fake-wait", "execute-aer")
    validate_argo(workflows.cluster_workflow_template(steps=registry))


def test_a_later_producer_that_may_be_skipped_overrides_one_that_always_runs() -> None:
    """An output made by a step that always runs and again by a later conditional one: the later
    value when that step ran, else the earlier; the consumer waits for the later to end any way but failed."""
    override = dataclasses.replace(
        FAKE,
        name="fake-metrics",
        input_artifacts={},
        input_parameters=(),
        output_artifacts={},
        output_parameters={"metrics": "m.json"},
        semaphore=False,
    )
    registry = STEPS.with_step(override, after="schedule")
    store = {task.name: task for task in workflows.wiring(registry)}["store-results"]
    assert store.parameters["metrics"].tasks == ("fake-metrics", "validate")
    assert store.depends_expression == (
        "validate && schedule && (fake-metrics.Succeeded || fake-metrics.Skipped || fake-metrics.Omitted)"
        " && (execute-aer.Succeeded || ibm-wait.Succeeded)"
    )


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (Condition("nothing", "x"), "needs one earlier step that always runs to output parameter 'nothing'"),
        (Condition("summary", "x"), "needs one earlier step that always runs"),  # execute-aer may be skipped
    ],
)
def test_a_when_needs_one_producer_that_always_runs(condition: Condition, message: str) -> None:
    broken = REGISTRY.with_step(dataclasses.replace(FAKE, when=condition))
    with pytest.raises(ValueError, match=message):
        workflows.wiring(broken)


def test_a_when_value_is_one_word() -> None:
    with pytest.raises(ValueError, match="one word"):
        Condition("executor", "execute-aer")  # govaluate would read a minus


def test_every_executor_the_scheduler_names_has_one_branch_that_store_results_waits_for() -> None:
    """Every word the schedule step can write (``aer``, ``ibm``) has a step whose ``when`` answers
    it, and exactly one first step of its branch (one that waits for no other step of the branch);
    a word no step answered would skip every execute step and omit store-results (below)."""
    words = {scheduling.executor(BackendStatus(name="b", type=kind)) for kind in (None, *BackendType)}
    assert words == {scheduling.AER, scheduling.IBM}
    wiring = {task.name: task for task in workflows.wiring()}
    ends = set(depends_tasks(wiring["store-results"].depends_expression))
    for word in sorted(words):
        branch = {name for name, spec in STEPS.items() if spec.when == Condition("executor", word)}
        assert branch, f"no step runs when executor == {word}"
        firsts = {name for name in branch if not branch & set(depends_tasks(wiring[name].depends_expression))}
        assert len(firsts) == 1, (word, firsts)
        # store-results runs after this branch: it waits for the success of one of its steps.
        assert branch & ends, (word, ends)
    answered = {spec.when.equals for spec in STEPS.values() if spec.when and spec.when.parameter == "executor"}
    assert answered == words, "a step answers a word the scheduler never writes"


# --------------------------------------------------------------------------- the run


def _run(bell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executor: str) -> Any:
    monkeypatch.setenv("PYTHONPATH", faults.pythonpath_with_tests())
    monkeypatch.setenv(EXECUTOR_VARIABLE, executor)
    workflow = workflows.build(bell, steps=REGISTRY)
    template = workflows.cluster_workflow_template(steps=REGISTRY)
    preload = {component: (WORKER_MODULE, *modules) for component, modules in step_preloads(REGISTRY).items()}
    key = functools.partial(step_component, steps=REGISTRY)
    with StepWorkers(preload, key=key) as pool:
        return run_workflow(workflow, {template["metadata"]["name"]: template}, tmp_path, workers=pool)


@pytest.mark.parametrize(
    ("executor", "taken", "left"), [("aer", "execute-aer", "execute-fake"), ("fake", "execute-fake", "execute-aer")]
)
def test_the_branch_the_schedule_step_names_runs_and_the_other_is_skipped(
    bell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executor: str, taken: str, left: str
) -> None:
    run = _run(bell, tmp_path, monkeypatch, executor)
    assert run.phase == "Succeeded", {name: (t.phase, t.message) for name, t in run.tasks.items()}
    phases = {name: task.phase for name, task in run.tasks.items()}
    assert phases == {
        "validate": "Succeeded",
        "schedule": "Succeeded",
        taken: "Succeeded",
        left: "Skipped",
        "ibm-submit": "Skipped",  # its when is false
        "ibm-wait": "Omitted",  # its depends (ibm-submit.Succeeded) is false: checked before its when
        "store-results": "Succeeded",
    }
    assert run.tasks["ibm-wait"].message == "omitted: depends condition not met"
    other = REGISTRY[left].when
    assert other is not None
    assert run.tasks[left].message == f"when '{executor} == {other.equals}' evaluated false"
    assert run.tasks["schedule"].parameters["executor"] == executor
    # store-results read the branch that ran: the global artifact and the global parameter.
    results = run.tasks["store-results"].artifacts["results"]
    assert json.loads((results / "result.json").read_text()).get("executor") == ("fake" if executor == "fake" else None)
    top = json.loads(run.tasks["store-results"].parameters["summary"])["topCounts"]
    assert (top == {MARK: 1}) is (executor == "fake")
    for name in (left, "ibm-submit", "ibm-wait"):
        assert not (tmp_path / "steps" / name).exists(), f"{name} never ran, it has no step directory"


def test_an_executor_no_step_answers_omits_store_results(
    bell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Argo's semantics, kept: every branch Skipped (or Omitted behind a Skipped step),
    store-results Omitted (its depends is false), and the DAG has nothing failed (Succeeded) —
    why the scheduler must only name executors some step answers."""
    run = _run(bell, tmp_path, monkeypatch, "nobody")
    phases = {name: task.phase for name, task in run.tasks.items()}
    assert phases["execute-aer"] == phases["execute-fake"] == phases["ibm-submit"] == "Skipped"
    assert phases["ibm-wait"] == "Omitted"
    assert phases["store-results"] == "Omitted"
    assert run.tasks["store-results"].message == "omitted: depends condition not met"
    assert run.phase == "Succeeded"


def _step(
    name: str, *, inputs: tuple[str, ...] = (), outputs: tuple[str, ...] = (), when: Condition | None = None
) -> Any:
    """A made-up step with parameters only (the wiring is all these tests look at)."""
    return dataclasses.replace(
        STEPS["schedule"],
        name=name,
        input_artifacts={},
        input_parameters=inputs,
        output_artifacts={},
        output_parameters={output: f"{output}.txt" for output in outputs},
        when=when,
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        # two steps that may both run cannot both feed one input
        ([_step("b1", outputs=("x",), when=Condition("executor", "aer")),
          _step("b2", outputs=("x",), when=Condition("executor", "aer"))], "alternatives must run `when`"),
        ([_step("b1", outputs=("x",), when=Condition("executor", "aer")),
          _step("b2", outputs=("x",), when=Condition("backend", "fake"))], "alternatives must run `when`"),
        # an override that may run before the value it overrides
        ([_step("a", outputs=("x",)), _step("b", outputs=("x",), when=Condition("executor", "aer"))],
         "b must run after a, whose output it overrides"),
    ],
    ids=["same-word", "different-parameters", "override-before"],
)  # fmt: skip
def test_producers_that_could_race_for_one_output_are_refused(extra: list[Any], message: str) -> None:
    registry, after = STEPS, "schedule"
    for step in extra:
        registry, after = registry.with_step(step, after=after), step.name
    registry = registry.with_step(_step("reader", inputs=("x",)))
    with pytest.raises(ValueError, match=message):
        workflows.wiring(registry)


def test_every_global_reference_is_exported_by_a_task_it_waits_for(bell: Any) -> None:
    """What Argo's validation checks (resolveAllVariables over the ancestors' outputs): a task may
    read ``{{workflow.outputs.KIND.NAME}}`` only when a task it depends on exports NAME."""
    from qiskit_argo.expressions import depends_tasks

    dag = _tasks(workflows.build(bell, steps=REGISTRY))
    templates = {t["name"]: t for t in workflows.cluster_workflow_template(steps=REGISTRY)["spec"]["templates"]}
    checked = 0
    for task in dag.values():
        waits = set(depends_tasks(task.get("depends", "")))
        for kind in ("parameters", "artifacts"):
            for argument in task.get("arguments", {}).get(kind, []):
                text = argument.get("value", argument.get("from", ""))
                match = re.fullmatch(r"\{\{workflow\.outputs\.(parameters|artifacts)\.([-\w]+)\}\}", text)
                if match is None:
                    continue
                exporters = {
                    name
                    for name in waits
                    if any(o.get("globalName") == match.group(2) for o in templates[name]["outputs"].get(kind, []))
                }
                assert match.group(1) == kind and exporters == LAST_OF_BRANCH, (task["name"], text)
                checked += 1
    assert checked == 2
