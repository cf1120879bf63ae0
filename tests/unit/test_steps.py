"""The step registry: each step declared once, with everything about it, and the rules a declaration obeys."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from qiskit_argo import workflows
from qiskit_argo.api import Phase
from qiskit_argo.status import STEP_NAMES
from qiskit_argo.status._workflow import STEP_PHASE
from qiskit_argo.steps import EGRESS_CLASSES, GPU_RESOURCE, STEPS, Condition, StepRegistry, main
from tests.unit.test_workflows import make_job, tasks, templates

VALIDATE = STEPS["validate"]


def test_every_step_is_declared_once_in_dag_order() -> None:
    assert list(STEPS) == [
        "validate",
        "schedule",
        "execute-aer",
        "execute-aer-cached",
        "execute-aer-gpu",
        "execute-aer-gpu-cached",
        "ibm-submit",
        "ibm-wait",
        "store-results",
    ]
    assert STEP_NAMES == tuple(STEPS)
    with pytest.raises(ValueError, match="registered twice"):
        StepRegistry([VALIDATE, VALIDATE])


def test_every_phase_a_step_means_is_a_job_phase_and_conditions_have_their_step() -> None:
    assert dict(STEP_PHASE) == {name: Phase(spec.phase) for name, spec in STEPS.items()}
    for phase in (Phase.VALIDATING, Phase.SCHEDULING):  # the Validated and Scheduled conditions follow them
        assert len(STEPS.in_phase(phase)) == 1
    assert all(Phase(spec.phase) in (Phase.VALIDATING, Phase.SCHEDULING, Phase.RUNNING) for spec in STEPS.values())


def test_with_step_replaces_in_place_or_inserts() -> None:
    other = dataclasses.replace(VALIDATE, name="other")
    assert list(STEPS.with_step(other, after="validate")) == ["validate", "other", *list(STEPS)[1:]]
    assert list(STEPS.with_step(other)) == [*STEPS, "other"]
    replaced = STEPS.with_step(dataclasses.replace(VALIDATE, activity="Reading"))
    assert list(replaced) == list(STEPS) and replaced["validate"].activity == "Reading"
    assert replaced != STEPS and STEPS == STEPS, "a registry is equal only to itself (a cache key)"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"egress": "internet"}, "egress class 'internet'"),
        ({"name": "Validate"}, "not a DNS label"),
        ({"name": "a_b"}, "not a DNS label"),
    ],
)
def test_a_declaration_is_checked(change: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(VALIDATE, **change)  # type: ignore[arg-type]


def test_egress_and_resources_come_from_the_declaration() -> None:
    by_name = templates()
    for name, spec in STEPS.items():
        assert spec.egress in EGRESS_CLASSES
        assert by_name[name]["container"]["resources"] == spec.resources.dump()
        assert (workflows.RESOURCES_PARAMETER in {p["name"] for p in by_name[name]["inputs"]["parameters"]}) is (
            spec.job_resources
        )


def test_job_resources_default_to_the_step_that_takes_them() -> None:
    """The job's ``spec.resources`` apply to each Aer variant over that variant's own defaults (a GPU
    variant keeps its GPU); without a step named, to the first of them (execute-aer)."""
    taking = [spec for spec in STEPS.values() if spec.job_resources]
    assert [spec.name for spec in taking] == [
        "execute-aer",
        "execute-aer-cached",
        "execute-aer-gpu",
        "execute-aer-gpu-cached",
    ]
    job = make_job(resources={"requests": {"cpu": "500m"}})
    assert workflows.execute_resources(job) == workflows.execute_resources(job, STEPS["execute-aer"])
    dag = tasks(workflows.build(job))
    for step in taking:
        expected = {"requests": {**step.resources.requests, "cpu": "500m"}, "limits": dict(step.resources.limits)}
        assert workflows.execute_resources(job, step) == expected
        (argument,) = [
            p for p in dag[step.name]["arguments"]["parameters"] if p["name"] == workflows.RESOURCES_PARAMETER
        ]
        assert json.loads(argument["value"]) == expected, step.name
        assert (GPU_RESOURCE in expected["requests"]) is (step.component == "executor-gpu")
    assert not any(
        p["name"] == workflows.RESOURCES_PARAMETER
        for name, task in dag.items()
        if not STEPS[name].job_resources
        for p in task.get("arguments", {}).get("parameters", [])
    )


def test_the_entry_point_knows_exactly_the_registered_steps(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as ended:
        main(["execute-nowhere", "--out", str(tmp_path)])
    assert ended.value.code == 2
    calls: list[dict[str, object]] = []
    spy = STEPS.with_step(dataclasses.replace(VALIDATE, name="spy", function=lambda **kw: calls.append(kw)))
    assert main(["spy", "--job", "/j.json", "--limits", "{}", "--out", str(tmp_path)], steps=spy) == 0
    assert calls and calls[0]["limits"] == "{}" and str(calls[0]["job"]) == "/j.json"


def test_a_condition_compares_one_word() -> None:
    assert Condition("executor", "ibm_quantum").equals == "ibm_quantum"
    for word in ("execute-aer", "Aer", "", "a b"):
        with pytest.raises(ValueError, match="one word"):
            Condition("executor", word)
