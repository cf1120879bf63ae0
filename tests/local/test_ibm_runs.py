"""`qiskit-argo run` of IBM Quantum jobs, offline: a fake backend in qiskit-ibm-runtime's local testing
mode, reached through the same Workflow, service Workflows and steps as in a cluster; the API key
from the user's environment reaches only the steps that talk to IBM and shows nowhere; bad input
is one line and exit code 2."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from qiskit_argo import local, workflows
from qiskit_argo.cli import app
from qiskit_argo.errors import EXIT_PERMANENT

CANARY = "canary-0f1e2d3c4b5a69788796a5b4c3d2e1f0-not-a-real-key"


@pytest.fixture(autouse=True)
def _no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test here may reach IBM with a key from the environment that runs it."""
    monkeypatch.delenv("QISKIT_IBM_TOKEN", raising=False)


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, ["run", *args])


def _counts(out: Path) -> dict[str, int]:
    document = json.loads((out / "result.json").read_text())
    counts: dict[str, int] = document["pub_results"][0]["data"]["c"]["counts"][0]
    return counts


def _files(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file()]


def test_an_ibm_job_by_ref_runs_on_the_fake_backend_with_noise(examples: Path, tmp_path: Path) -> None:
    out = tmp_path / "ref"
    result = _run(str(examples / "ibm-by-ref.yaml"), "--catalogue", str(examples / "catalogue"), "--out", str(out))
    assert result.exit_code == 0, result.output
    counts = _counts(out)
    assert sum(counts.values()) == 1024
    assert {"00", "11"} <= set(counts) and len(counts) > 2, f"no noise: {counts}"  # readout and gate errors
    ibm = json.loads((out / "result.json").read_text())["ibm"]
    assert ibm["job_id"] and ibm["state"] == "Done" and ibm["device"] == "fake_sherbrooke"
    assert ibm["tag"].startswith("qiskit-argo.job.")
    for needle in ("fake-sherbrooke (fake_sherbrooke)", ibm["job_id"], "ibm-probe"):
        assert needle in result.output, needle
    # The estimate, and what the real device would bill by the catalogue's cost model (1.60 USD/s).
    outputs = out / "steps" / "schedule" / "volumes" / "scratch" / "qiskit-argo" / "outputs"
    estimate = json.loads((outputs / "estimate.json").read_text())
    seconds = Decimal(estimate["quantumSeconds"])
    assert 2 < seconds < 3 and Decimal(estimate["amount"]) == seconds * Decimal("1.60")
    assert estimate["currency"] == "USD"
    flat = " ".join(result.output.split())
    assert f"≈ {seconds} quantum s, {Decimal(estimate['amount'])} USD on the real device" in flat.replace("│ ", "")
    ran = {path.name for path in (out / "steps").iterdir()}
    assert {"validate", "schedule", "ibm-submit", "ibm-wait", "store-results", "services"} == ran
    (probe,) = (out / "steps" / "services").iterdir()
    assert probe.name == workflows.probe_workflow(_backend(examples, "fake-sherbrooke"))["metadata"]["name"]
    workflow = yaml.safe_load((out / "workflow.yaml").read_text())
    schedule = next(t for t in workflow["spec"]["templates"][0]["dag"]["tasks"] if t["name"] == "schedule")
    (catalogue,) = [a for a in schedule["arguments"]["artifacts"] if a["name"] == "catalogue"]
    entry = next(e for e in json.loads(catalogue["raw"]["data"])["entries"] if e["name"] == "fake-sherbrooke")
    assert entry["numQubits"] == 127 and entry["phase"] == "Ready"  # probed before the run


def _backend(examples: Path, name: str) -> Any:
    from qiskit_argo.catalogue import load_catalogue

    backends, _ = load_catalogue([examples / "catalogue"])
    return next(backend for backend in backends if backend.name == name)


def test_an_ibm_job_in_a_session_carries_the_session_id(examples: Path, tmp_path: Path) -> None:
    out = tmp_path / "session"
    result = _run(str(examples / "ibm-session.yaml"), "-c", str(examples / "catalogue"), "--out", str(out))
    assert result.exit_code == 0, result.output
    ibm = json.loads((out / "result.json").read_text())["ibm"]
    session = _service_output(out, "session-sherbrooke-open-*", "session.json")
    assert ibm["session_id"] == session["sessionId"] and session["sessionId"]
    assert _service_output(out, "session-sherbrooke-close-*", "session.json")["sessionId"] == session["sessionId"]
    assert sum(_counts(out).values()) == 2000


def _service_output(out: Path, workflow: str, filename: str) -> dict[str, Any]:
    """An output file of the one service Workflow named like ``workflow`` (a glob) that the run made."""
    (directory,) = (out / "steps" / "services").glob(workflow)
    (path,) = directory.rglob(f"outputs/{filename}")
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def test_a_selector_nothing_fits_falls_back_to_aer(examples: Path, tmp_path: Path) -> None:
    out = tmp_path / "fallback"
    result = _run(str(examples / "selector-fallback.yaml"), "--catalogue", str(examples / "catalogue"), "-o", str(out))
    assert result.exit_code == 0, result.output
    backend = json.loads(next((out / "steps" / "schedule").rglob("backend.json")).read_text())
    assert backend["name"] == "aer" and backend["type"] == "aer"
    rejected = {item["name"]: item["reason"] for item in backend["rejected"]}
    assert "minQubits is 1000" in rejected["fake-sherbrooke"]
    assert "ibm-torino" in rejected  # no key here: its probe said so
    assert set(_counts(out)) == {"000", "111"}


def _one_line_exit_2(result: Any, *needles: str) -> None:
    assert result.exit_code == EXIT_PERMANENT, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_a_ref_without_a_catalogue_says_to_pass_one(examples: Path, tmp_path: Path) -> None:
    result = _run(str(examples / "ibm-by-ref.yaml"), "--out", str(tmp_path / "x"))
    _one_line_exit_2(result, "spec.backend.ref", "fake-sherbrooke", "--catalogue")


def test_a_session_without_a_catalogue_says_to_pass_one(examples: Path, tmp_path: Path) -> None:
    result = _run(str(examples / "ibm-session.yaml"), "--out", str(tmp_path / "x"))
    _one_line_exit_2(result, "spec.sessionRef", "--catalogue")


def test_a_missing_catalogue_path_is_one_line(examples: Path, tmp_path: Path) -> None:
    result = _run(str(examples / "ibm-by-ref.yaml"), "--catalogue", str(tmp_path / "nowhere"))
    _one_line_exit_2(result, "nowhere", "--catalogue")


def _job(tmp_path: Path, examples: Path, backend: dict[str, Any], **spec: Any) -> Path:
    document = yaml.safe_load((examples / "ibm-by-ref.yaml").read_text())
    document["spec"]["backend"] = backend
    document["spec"].update(spec)
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_an_unknown_ref_names_what_exists(examples: Path, tmp_path: Path) -> None:
    job = _job(tmp_path, examples, {"ref": "fake-kyiv"})
    result = _run(str(job), "--catalogue", str(examples / "catalogue"), "--out", str(tmp_path / "out"))
    _one_line_exit_2(result, "BackendNotFound", "fake-kyiv", "fake-sherbrooke")


def test_a_selector_that_matches_nothing_lists_every_candidate(examples: Path, tmp_path: Path) -> None:
    job = _job(tmp_path, examples, {"selector": {"type": "ibm", "minQubits": 1000}})
    result = _run(str(job), "--catalogue", str(examples / "catalogue"), "--out", str(tmp_path / "out"))
    _one_line_exit_2(result, "NoSuitableBackend", "fake-sherbrooke", "allowSimulatorFallback")


def test_a_session_not_in_the_catalogue_is_one_line(examples: Path, tmp_path: Path) -> None:
    job = _job(tmp_path, examples, {}, sessionRef="elsewhere")
    result = _run(str(job), "--catalogue", str(examples / "catalogue"), "--out", str(tmp_path / "out"))
    _one_line_exit_2(result, "spec.sessionRef", "elsewhere", "session-sherbrooke")


def test_a_broken_catalogue_file_names_its_line(examples: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: qiskit-argo.io/v1alpha1\nkind: QiskitBackend\nmetadata: {name: x}\nspec: {type: q}\n")
    result = _run(str(examples / "ibm-by-ref.yaml"), "--catalogue", str(bad), "--out", str(tmp_path / "out"))
    _one_line_exit_2(result, "bad.yaml", "type")


def test_the_api_key_reaches_only_the_ibm_steps_and_shows_nowhere(
    examples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A canary key in the environment: a fake backend needs none, so no step of this run gets it
    (its Secret is the placeholder no cluster has); it is in no file of the results and no output."""
    monkeypatch.setenv("QISKIT_IBM_TOKEN", CANARY)
    out = tmp_path / "canary"
    result = _run(str(examples / "ibm-by-ref.yaml"), "--catalogue", str(examples / "catalogue"), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert CANARY not in result.output
    for path in _files(out):
        assert CANARY.encode() not in path.read_bytes(), path


# --------------------------------------------------------------------------- the runner's environment


def _container(*env: dict[str, Any]) -> dict[str, Any]:
    return {"env": [{"name": "LANG", "value": "C.UTF-8"}, *env]}


def _key_from(secret: str, *, optional: bool = True) -> dict[str, Any]:
    ref = {"name": secret, "key": "{{inputs.parameters.credentials-key}}", "optional": optional}
    return {"name": "QISKIT_IBM_TOKEN", "valueFrom": {"secretKeyRef": ref}}


SCOPE = {"inputs.parameters.credentials-key": "api-key", "inputs.parameters.credentials-secret": "ibm-quantum"}


def _environment(container: dict[str, Any]) -> dict[str, str]:
    return local._environment(container, dict(SCOPE), [], "task t")


def test_the_runner_passes_the_key_through_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QISKIT_IBM_TOKEN", CANARY)
    env = _environment(_container(_key_from("{{inputs.parameters.credentials-secret}}")))
    assert env["QISKIT_IBM_TOKEN"] == CANARY
    assert "QISKIT_IBM_TOKEN" not in _environment(_container(_key_from(workflows.NO_CREDENTIALS_SECRET)))
    assert "QISKIT_IBM_TOKEN" not in _environment(_container())


def test_an_optional_key_missing_from_the_environment_is_left_unset() -> None:
    assert "QISKIT_IBM_TOKEN" not in _environment(_container(_key_from("ibm-quantum")))
    with pytest.raises(local.LocalRunError, match="set QISKIT_IBM_TOKEN"):
        _environment(_container(_key_from("ibm-quantum", optional=False)))


def test_other_value_from_sources_and_bad_references_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QISKIT_IBM_TOKEN", CANARY)
    other = {"name": "OTHER", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
    with pytest.raises(local.LocalRunError, match="valueFrom is not supported"):
        _environment(_container(other))
    config = {"name": "QISKIT_IBM_TOKEN", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}
    with pytest.raises(local.LocalRunError, match="valueFrom is not supported"):
        _environment(_container(config))
    with pytest.raises(local.LocalRunError, match="unresolved reference"):
        _environment(_container(_key_from("{{inputs.parameters.nope}}")))


def test_a_step_without_the_key_in_its_container_never_sees_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker inherits the environment of `qiskit-argo run`; a step runs without the key unless
    its container names it, as in a pod."""
    monkeypatch.setenv("QISKIT_IBM_TOKEN", CANARY)
    seen: dict[str, str | None] = {}
    monkeypatch.setattr(local.importlib, "import_module", lambda name: _Probe(seen))
    call = local.StepCall(
        entry="qiskit_argo.fake:main",
        argv=("qiskit-argo-step",),
        env={},
        cwd=tmp_path,
        stdout=tmp_path / "out.log",
        stderr=tmp_path / "err.log",
    )
    assert local._run_step(call) == 0
    assert seen == {"token": None}
    assert os.environ["QISKIT_IBM_TOKEN"] == CANARY  # restored after the step
    given = local.StepCall(**{**call.__dict__, "env": {"QISKIT_IBM_TOKEN": CANARY}})
    assert local._run_step(given) == 0
    assert seen == {"token": CANARY}


class _Probe:
    """A stand-in step module whose ``main`` records whether it saw the key."""

    def __init__(self, seen: dict[str, str | None]) -> None:
        self.seen = seen

    def main(self) -> int:
        self.seen["token"] = os.environ.get("QISKIT_IBM_TOKEN")
        return 0


def test_a_session_on_a_backend_that_is_not_ready_is_not_opened(examples: Path, tmp_path: Path) -> None:
    """Two --catalogue paths; the session's backend has no key here, so its probe says NotReady."""
    extra = tmp_path / "session.yaml"
    extra.write_text(
        "apiVersion: qiskit-argo.io/v1alpha1\nkind: QiskitSession\nmetadata: {name: on-torino}\n"
        "spec: {backendRef: ibm-torino}\n"
    )
    job = _job(tmp_path, examples, {}, sessionRef="on-torino")
    out = tmp_path / "out"
    result = _run(str(job), "-c", str(examples / "catalogue"), "-c", str(extra), "--out", str(out))
    _one_line_exit_2(result, "QiskitSession on", "the session cannot be opened")
    assert not list((out / "steps" / "services").glob("on-torino-open-*"))
