"""The DAG branches on a step's output: the schedule step's ``executor`` picks one of the four Aer
variants (``aer``, ``aer_cached``, ``aer_gpu``, ``aer_gpu_cached``) or the IBM pair (ibm-submit →
ibm-wait); with a made-up third executor registered beside them (``tests.support.fake_executor``,
only here), the branch it names runs, the first step of every other is Skipped (Argo: a task whose
``when`` is false; a fanned-out Aer variant, whose shard list the schedule step leaves empty, is one
node ``Skipped, empty params``), a step waiting for a Skipped one's success is Omitted (its
``depends`` is false), and store-results waits for whichever ran and merges its part — in a
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
from qiskit_argo.api import AerOptions, BackendStatus, BackendType
from qiskit_argo.expressions import depends_tasks
from qiskit_argo.local import StepWorkers, run_workflow, step_component, step_preloads
from qiskit_argo.manifests import load_job
from qiskit_argo.request import ExecutionRequest, PubRequest
from qiskit_argo.steps import (
    CACHE_PREFIX,
    RUN_PARTS_PREFIX,
    SINGLE_PART,
    STEPS,
    Condition,
    FanOut,
)
from qiskit_argo.steps._contract import AER_EXECUTORS, shards_parameter
from tests.local import faults
from tests.support.fake_executor import EXECUTOR_VARIABLE, FAKE, FAKE_WORD, MARK, REGISTRY, WORKER_MODULE, mark_bits
from tests.support.schemas import validate_argo

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: The Aer variants, by the executor word each answers.
AER_VARIANTS = {
    "aer": "execute-aer",
    "aer_cached": "execute-aer-cached",
    "aer_gpu": "execute-aer-gpu",
    "aer_gpu_cached": "execute-aer-gpu-cached",
}
#: The steps that write a part for store-results, one per branch (the last of it).
PART_WRITERS = (*AER_VARIANTS.values(), "execute-fake", "ibm-wait")
#: What store-results waits for: any one branch's last step succeeded.
GATHERED = "(" + " || ".join(f"{name}.Succeeded" for name in PART_WRITERS) + ")"
EXECUTOR = "{{tasks.schedule.outputs.parameters.executor}}"


def _tasks(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (main,) = [t for t in workflow["spec"]["templates"] if t["name"] == workflow["spec"]["entrypoint"]]
    return {task["name"]: task for task in main["dag"]["tasks"]}


def _templates(steps: Any = REGISTRY) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in workflows.cluster_workflow_template(steps=steps)["spec"]["templates"]}


def _arguments(task: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in task.get("arguments", {}).get(kind, [])}


@pytest.fixture(scope="module")
def bell() -> Any:
    return load_job(EXAMPLES / "bell.yaml")[0]


# --------------------------------------------------------------------------- the rendering


def test_alternatives_render_as_when_depends_and_their_own_fan_out(bell: Any) -> None:
    workflow = workflows.build(bell, steps=REGISTRY)
    dag = _tasks(workflow)
    assert list(dag) == [
        "validate",
        "schedule",
        *PART_WRITERS[:-2],
        "execute-fake",
        "ibm-submit",
        "ibm-wait",
        "store-results",
    ]
    for word, name in AER_VARIANTS.items():
        assert dag[name]["when"] == f"{EXECUTOR} == {word}"
        # Each variant fans out over its own list: [] when another executor was chosen.
        assert dag[name]["withParam"] == f"{{{{tasks.schedule.outputs.parameters.{shards_parameter(word)}}}}}"
        assert _arguments(dag[name], "parameters")["shard"] == {"name": "shard", "value": "{{item}}"}
    assert len({dag[name]["withParam"] for name in AER_VARIANTS.values()}) == len(AER_VARIANTS)
    assert dag["execute-fake"]["when"] == f"{EXECUTOR} == fake"
    assert dag["ibm-submit"]["when"] == dag["ibm-wait"]["when"] == f"{EXECUTOR} == ibm"
    for name in ("execute-fake", "ibm-submit", "ibm-wait"):
        assert "withParam" not in dag[name] and "shard" not in _arguments(dag[name], "parameters")
    # Alternatives never wait for each other; the second step of a branch waits for the first's success.
    first = (*AER_VARIANTS.values(), "execute-fake", "ibm-submit")
    assert {dag[name]["depends"] for name in first} == {"validate && schedule"}
    assert dag["ibm-wait"]["depends"] == "validate && schedule && ibm-submit.Succeeded"
    store = dag["store-results"]
    assert store["depends"] == f"validate && schedule && {GATHERED}"
    # store-results reads nothing from a branch: its inputs come from the steps that always run, and
    # the parts from the artifact repository by key (the run's parts, or the cache's).
    for kind in ("artifacts", "parameters"):
        for argument in _arguments(store, kind).values():
            text = argument.get("from", argument.get("value", ""))
            assert re.fullmatch(r"\{\{tasks\.(validate|schedule)\.outputs\.[a-z]+\.[-a-z]+\}\}", text), argument
    templates = _templates()
    gathered = {a["name"]: a for a in templates["store-results"]["inputs"]["artifacts"]}
    assert gathered["parts"]["s3"] == {"key": RUN_PARTS_PREFIX} and gathered["parts"]["optional"]
    assert gathered["cached-parts"]["s3"] == {"key": f"{CACHE_PREFIX}/{{{{inputs.parameters.cache-key}}}}"}
    # Each branch's last step writes its part where store-results looks: under the run's prefix
    # named by its shard (the fake, like ibm-wait, writes the one part 0-of-1), or in the cache.
    keys = {
        name: next(a for a in templates[name]["outputs"]["artifacts"] if a["name"] == "part")["s3"]["key"]
        for name in PART_WRITERS
    }
    shard = "{{inputs.parameters.shard}}"
    assert keys == {
        "execute-aer": f"{RUN_PARTS_PREFIX}/{shard}.json",
        "execute-aer-cached": f"{CACHE_PREFIX}/{{{{inputs.parameters.cache-key}}}}/{shard}.json",
        "execute-aer-gpu": f"{RUN_PARTS_PREFIX}/{shard}.json",
        "execute-aer-gpu-cached": f"{CACHE_PREFIX}/{{{{inputs.parameters.cache-key}}}}/{shard}.json",
        "execute-fake": f"{RUN_PARTS_PREFIX}/{SINGLE_PART}.json",
        "ibm-wait": f"{RUN_PARTS_PREFIX}/{SINGLE_PART}.json",
    }
    # Nothing travels as a workflow-level output: no branch exports what a later task reads.
    for template in templates.values():
        outputs = template.get("outputs", {})
        assert all("globalName" not in o for o in outputs.get("parameters", []) + outputs.get("artifacts", []))
    assert "{{workflow.outputs." not in json.dumps(workflow)
    description = workflow["metadata"]["annotations"]["workflows.argoproj.io/description"]
    branches = " | ".join([*AER_VARIANTS.values(), "execute-fake", "ibm-submit → ibm-wait"])
    assert f"validate → schedule → ({branches}) → store-results" in description


def test_the_branching_workflow_and_template_validate_strictly(bell: Any) -> None:
    workflow = workflows.build(bell, steps=REGISTRY)
    template = workflows.cluster_workflow_template(steps=REGISTRY)
    validate_argo(workflow)
    validate_argo(template)
    assert _tasks(template)["store-results"]["depends"] == _tasks(workflow)["store-results"]["depends"]
    # The registry of the product is untouched: its template has no execute-fake.
    assert "execute-fake" not in {t["name"] for t in workflows.cluster_workflow_template()["spec"]["templates"]}


def test_every_task_references_only_tasks_it_waits_for(bell: Any) -> None:
    """What Argo's validation checks (resolveAllVariables over the ancestors' outputs): a task may
    read ``{{tasks.T.outputs...}}`` only when it depends on T, and ``withParam`` and ``when`` likewise."""
    dag = _tasks(workflows.build(bell, steps=REGISTRY))
    checked = 0
    for task in dag.values():
        waits = set(depends_tasks(task.get("depends", "")))
        for referenced in re.findall(r"\{\{tasks\.([-a-z]+)\.outputs\.", json.dumps(task)):
            assert referenced in waits, (task["name"], referenced)
            checked += 1
    assert checked > 60


def test_a_step_that_needs_a_skipped_step_waits_for_its_success() -> None:
    """A chain behind a branch (ibm-submit → ibm-wait): the second waits for the first to succeed,
    so it is Omitted when the first is Skipped, and store-results takes any branch's part — also
    for a second step without a ``when`` of its own (made up here: ibm-wait has one)."""
    real = {task.name: task for task in workflows.wiring()}
    assert real["ibm-wait"].depends_expression == "validate && schedule && ibm-submit.Succeeded"
    assert real["ibm-wait"].skippable and real["ibm-submit"].skippable
    assert real["ibm-wait"].artifacts["ibm-jobs"].tasks == ("ibm-submit",)
    assert real["ibm-wait"].parameters["submission"].tasks == ("ibm-submit",)
    assert real["store-results"].depends_expression == (
        "validate && schedule && (execute-aer.Succeeded || execute-aer-cached.Succeeded || "
        "execute-aer-gpu.Succeeded || execute-aer-gpu-cached.Succeeded || ibm-wait.Succeeded)"
    )
    assert not real["store-results"].skippable, "one of the alternatives runs"
    submit = dataclasses.replace(
        FAKE, name="fake-submit", output_artifacts={}, output_parameters={"job-id": "job-id.txt"}, part=None
    )
    wait = dataclasses.replace(
        FAKE, name="fake-wait", when=None, input_artifacts={}, input_parameters=("job-id",), semaphore=False
    )
    registry = STEPS.with_step(submit, after="execute-aer-gpu-cached").with_step(wait, after=submit.name)
    wiring = {task.name: task for task in workflows.wiring(registry)}
    assert wiring["fake-wait"].depends_expression == "fake-submit.Succeeded"
    assert wiring["fake-wait"].when is None and wiring["fake-wait"].skippable
    assert wiring["fake-submit"].skippable and not wiring["schedule"].skippable
    assert not wiring["store-results"].skippable, "one of the alternatives runs"
    assert wiring["store-results"].depends_expression == (
        "validate && schedule && (execute-aer.Succeeded || execute-aer-cached.Succeeded || "
        "execute-aer-gpu.Succeeded || execute-aer-gpu-cached.Succeeded || fake-wait.Succeeded || ibm-wait.Succeeded)"
    )
    validate_argo(workflows.cluster_workflow_template(steps=registry))


def test_part_writers_that_could_both_run_are_refused() -> None:
    """store-results gathers every part as alternatives: two part writers that may both run (one
    ``when`` word, or no ``when`` at all) would race for the run's parts."""
    twin = dataclasses.replace(FAKE, name="execute-twin")
    with pytest.raises(ValueError, match="alternatives must run `when`"):
        workflows.wiring(REGISTRY.with_step(twin, after="execute-fake"))
    # One that always runs beside them would write its part next to the chosen branch's.
    always = dataclasses.replace(FAKE, name="execute-always", when=None)
    with pytest.raises(ValueError, match="step store-results, input 'part' from .*execute-always"):
        workflows.wiring(REGISTRY.with_step(always, after="execute-fake"))


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
        part=None,
    )
    registry = STEPS.with_step(override, after="schedule")
    store = {task.name: task for task in workflows.wiring(registry)}["store-results"]
    assert store.parameters["metrics"].tasks == ("fake-metrics", "validate")
    assert store.depends_expression == (
        "validate && schedule && (fake-metrics.Succeeded || fake-metrics.Skipped || fake-metrics.Omitted)"
        " && (execute-aer.Succeeded || execute-aer-cached.Succeeded || execute-aer-gpu.Succeeded"
        " || execute-aer-gpu-cached.Succeeded || ibm-wait.Succeeded)"
    )


NEEDS = "needs one earlier step that always runs to output parameter"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"when": Condition("nothing", "x")}, f"its when {NEEDS} 'nothing'"),
        # ibm-submit writes submission, but it may be skipped
        ({"when": Condition("submission", "x")}, f"its when {NEEDS} 'submission'"),
        ({"fan_out": FanOut("nothing", "shard")}, f"its fan-out {NEEDS} 'nothing'"),
        ({"fan_out": FanOut("submission", "shard")}, f"its fan-out {NEEDS} 'submission'"),
    ],
    ids=["when-nothing", "when-skippable", "fan-out-nothing", "fan-out-skippable"],
)
def test_a_when_or_a_fan_out_needs_one_producer_that_always_runs(change: dict[str, Any], message: str) -> None:
    late = dataclasses.replace(
        FAKE, name="execute-late", input_parameters=(*FAKE.input_parameters, "shard"), part=None, **change
    )
    broken = REGISTRY.with_step(late, after="ibm-wait")
    with pytest.raises(ValueError, match=re.escape(message)):
        workflows.wiring(broken)


def test_a_when_value_is_one_word() -> None:
    with pytest.raises(ValueError, match="one word"):
        Condition("executor", "execute-aer")  # govaluate would read a minus


def _words() -> set[str]:
    """Every ``executor`` word the schedule step can write (``plan_run``): each backend kind, on
    the CPU or a GPU, with or without a cache key (a seed makes a run cacheable)."""
    words = set()
    for kind in (None, *BackendType):
        backend = BackendStatus(name="b", type=kind)
        choice = scheduling.Choice(backend=backend, executor=scheduling.executor(backend))
        for device in ("CPU", "GPU"):
            for seed in (None, 7):
                request = ExecutionRequest(
                    job_name="j",
                    primitive="sampler",
                    pubs=[PubRequest(circuit=0, shots=8)],
                    aer=AerOptions(seed=seed, device=device),
                    fingerprint="f" * 64,
                )
                words.add(scheduling.plan_run(choice, request).executor)
    return words


def test_every_executor_the_scheduler_names_has_one_branch_that_store_results_waits_for() -> None:
    """Every word the schedule step can write has a step whose ``when`` answers it, and exactly
    one first step of its branch (one that waits for no other step of the branch); a word no step
    answered would skip every execute step and omit store-results (below)."""
    words = _words()
    assert words == {*AER_VARIANTS, scheduling.IBM} == {*AER_EXECUTORS, scheduling.IBM}
    wiring = {task.name: task for task in workflows.wiring()}
    ends = set(depends_tasks(wiring["store-results"].depends_expression or ""))
    for word in sorted(words):
        branch = {name for name, spec in STEPS.items() if spec.when == Condition("executor", word)}
        assert branch, f"no step runs when executor == {word}"
        firsts = {name for name in branch if not branch & set(depends_tasks(wiring[name].depends_expression or ""))}
        assert len(firsts) == 1, (word, firsts)
        # store-results runs after this branch: it waits for the success of one of its steps.
        assert branch & ends, (word, ends)
        # A fanned-out branch fans out over a list of its own (see the next test).
        for name in branch:
            fan_out = STEPS[name].fan_out
            assert fan_out is None or fan_out.items == shards_parameter(word), name
    answered = {spec.when.equals for spec in STEPS.values() if spec.when and spec.when.parameter == "executor"}
    assert answered == words, "a step answers a word the scheduler never writes"


@pytest.mark.parametrize("word", [*AER_EXECUTORS, scheduling.IBM, FAKE_WORD, "nobody"])
def test_the_schedule_step_gives_the_shards_only_to_the_chosen_variant(word: str, tmp_path: Path) -> None:
    """Argo expands a ``withParam`` task before its ``when``: a variant not chosen must fan out over
    ``[]`` (one Skipped node), never over the shards (a TaskGroup of Skipped children that Argo
    completes Succeeded, which would satisfy store-results' ``depends``)."""
    choice = scheduling.Choice(backend=BackendStatus(name="aer"))
    shards = ("0-of-2", "1-of-2")
    scheduling.write_choice(choice, tmp_path, scheduling.Run(executor=word, shards=shards, cache_key="k"))
    outputs = {
        name: (tmp_path / file).read_text() for name, file in scheduling.OUTPUT_FILES.items() if name != "estimate"
    }
    assert outputs["executor"] == word and json.loads(outputs["shards"]) == list(shards)
    lists = {variant: json.loads(outputs[shards_parameter(variant)]) for variant in AER_EXECUTORS}
    assert lists == {variant: list(shards) if variant == word else [] for variant in AER_EXECUTORS}
    # The schedule step declares each list as an output, so the DAG can name it.
    assert all(shards_parameter(variant) in STEPS["schedule"].output_parameters for variant in AER_EXECUTORS)


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
    ("executor", "taken"), [*AER_VARIANTS.items(), (FAKE_WORD, "execute-fake")], ids=[*AER_VARIANTS, FAKE_WORD]
)
def test_the_branch_the_schedule_step_names_runs_and_the_others_are_skipped(
    bell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executor: str, taken: str
) -> None:
    run = _run(bell, tmp_path, monkeypatch, executor)
    assert run.phase == "Succeeded", {name: (t.phase, t.message) for name, t in run.tasks.items()}
    left = [name for name in (*AER_VARIANTS.values(), "execute-fake") if name != taken]
    phases = {name: task.phase for name, task in run.tasks.items()}
    assert phases == {
        "validate": "Succeeded",
        "schedule": "Succeeded",
        taken: "Succeeded",
        **dict.fromkeys(left, "Skipped"),
        "ibm-submit": "Skipped",  # its when is false
        "ibm-wait": "Omitted",  # its depends (ibm-submit.Succeeded) is false: checked before its when
        "store-results": "Succeeded",
    }
    assert run.tasks["ibm-wait"].message == "omitted: depends condition not met"
    for name in left:
        # A variant not chosen has no shards: one node, never expanded (Argo: "Skipped, empty params").
        expected = (
            "Skipped, empty params" if REGISTRY[name].fan_out else f"when '{executor} == {FAKE_WORD}' evaluated false"
        )
        assert run.tasks[name].message == expected, name
        assert run.tasks[name].children == []
    assert run.tasks["ibm-submit"].message == f"when '{executor} == ibm' evaluated false"
    scheduled = run.tasks["schedule"].parameters
    assert scheduled["executor"] == executor
    assert {word: json.loads(scheduled[shards_parameter(word)]) for word in AER_EXECUTORS} == {
        word: [SINGLE_PART] if word == executor else [] for word in AER_EXECUTORS
    }
    # The chosen Aer variant ran once per shard (bell: one), memoized when it is a cached one.
    children = run.tasks[taken].children
    if taken == "execute-fake":
        assert children == []
    else:
        assert [(child.name, child.phase) for child in children] == [(f"{taken}(0:{SINGLE_PART})", "Succeeded")]
        assert (children[0].memoization is not None) is taken.endswith("-cached")
    # store-results merged the part of the branch that ran.
    document = json.loads((run.tasks["store-results"].artifacts["results"] / "result.json").read_text())
    assert [shard["id"] for shard in document["shards"]] == [SINGLE_PART]
    assert (document["metadata"].get("executor") == MARK) is (executor == FAKE_WORD)
    summary = json.loads(run.tasks["store-results"].parameters["summary"])
    if executor == FAKE_WORD:
        assert summary["topCounts"] == {mark_bits(2): bell.spec.shots}
    else:  # Aer's Bell pair: only 00 and 11
        assert set(summary["topCounts"]) <= {"00", "11"} and sum(summary["topCounts"].values()) == bell.spec.shots
    for name in (*left, "ibm-submit", "ibm-wait"):
        assert not (tmp_path / "steps" / name).exists(), f"{name} never ran, it has no step directory"


def test_an_executor_no_step_answers_omits_store_results(
    bell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Argo's semantics, kept: every branch Skipped (or Omitted behind a Skipped step),
    store-results Omitted (its depends is false), and the DAG has nothing failed (Succeeded) —
    why the scheduler must only name executors some step answers."""
    run = _run(bell, tmp_path, monkeypatch, "nobody")
    phases = {name: task.phase for name, task in run.tasks.items()}
    for name in AER_VARIANTS.values():
        assert (phases[name], run.tasks[name].message) == ("Skipped", "Skipped, empty params"), name
    assert phases["execute-fake"] == phases["ibm-submit"] == "Skipped"
    assert phases["ibm-wait"] == "Omitted"
    assert phases["store-results"] == "Omitted"
    assert run.tasks["store-results"].message == "omitted: depends condition not met"
    assert run.phase == "Succeeded"
    assert not (tmp_path / "steps" / "store-results").exists()


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
