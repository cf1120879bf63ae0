"""The IBM steps for real in qiskit-ibm-runtime's local testing mode: ``qiskit-argo-step ibm-submit`` and
``ibm-wait`` in two processes that share only files (the ``submission`` parameter and the ``ibm-jobs``
artifact), a Bell pair on fake_sherbrooke with its noise, the estimator with a resilience level, and
several PUBs in one IBM job coming back in order as the run's one part."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qiskit_argo.api import IbmJobStatus
from qiskit_argo.ibm.job_steps import identity_of
from qiskit_argo.ibm.local_mode import STORE_KIND
from qiskit_argo.ibm.tags import identity_tag
from qiskit_argo.request import ExecutionRequest
from tests.ibm.steputil import JobFiles, bell, make_job, run_in_process, run_in_subprocess

pytest.importorskip("qiskit_ibm_runtime")
pytest.importorskip("qiskit_aer")

SHOTS = 4000


def _store(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    assert data["kind"] == STORE_KIND
    return data  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def bell_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[JobFiles, Path, Path]:
    """Submit in one process, wait in another; nothing shared but files."""
    root = tmp_path_factory.mktemp("bell")
    job = make_job(root / "inputs", shots=SHOTS)
    submitted = run_in_subprocess(job.submit_argv(root / "submit"))
    assert submitted.code == 0, submitted.stderr
    waited = run_in_subprocess(job.wait_argv(root / "submit", root / "wait"))
    assert waited.code == 0, waited.stderr
    return job, root / "submit", root / "wait"


def test_submit_records_one_queued_job_tagged_with_the_identity(bell_run: tuple[JobFiles, Path, Path]) -> None:
    job, submit, _ = bell_run
    request = ExecutionRequest.model_validate_json(job.request.read_text())
    submission = json.loads((submit / "submission.json").read_text())
    assert set(submission) == {"jobId", "tag", "action", "duplicatesCancelled", "sessionId", "message"}
    assert submission["action"] == "Submitted" and submission["duplicatesCancelled"] == []
    assert submission["tag"] == identity_tag(identity_of(request))
    store = _store(submit / "ibm-jobs.json")
    (record,) = store["jobs"].values()
    assert record["id"] == submission["jobId"] and record["state"] == "QUEUED", "submit returns at once"
    assert record["tags"][0] == submission["tag"] and record["backend"] == "fake_sherbrooke"
    assert record["shots"] == SHOTS and record["seed"] == 1234 and "result" not in record
    circuit = record["pubs"][0][0]
    assert circuit["__type__"] == "QuantumCircuit" and isinstance(circuit["__value__"], str), "base64 QPY"


def _part(wait: Path) -> dict[str, Any]:
    return json.loads((wait / "part.json").read_text())  # type: ignore[no-any-return]


def test_wait_gives_noisy_bell_counts_as_the_runs_one_part_with_an_ibm_block(
    bell_run: tuple[JobFiles, Path, Path],
) -> None:
    _, submit, wait = bell_run
    document = _part(wait)
    assert {"version", "shard", "seed", "primitive", "job", "backend", "pub_results", "metadata", "ibm"} == set(
        document
    )
    assert (document["version"], document["shard"], document["seed"]) == (3, "0-of-1", 1234)
    assert document["backend"]["type"] == "ibm" and document["backend"]["device"] == "fake_sherbrooke"
    assert not (wait / "result.json").exists() and not (wait / "summary.json").exists(), "store-results writes those"
    (entry,) = document["pub_results"]
    assert (entry["pub"], entry["start"], entry["stop"]) == (0, 0, 1)
    (register,) = entry["data"].values()
    counts = register["counts"][0]
    assert sum(counts.values()) == SHOTS
    errors = SHOTS - counts.get("00", 0) - counts.get("11", 0)
    assert 0 < errors < 0.1 * SHOTS, counts  # the device's noise: a few, not many
    assert all(0.4 * SHOTS < counts.get(key, 0) < 0.6 * SHOTS for key in ("00", "11")), counts
    ibm = document["ibm"]
    submission = json.loads((submit / "submission.json").read_text())
    assert ibm["job_id"] == submission["jobId"] and ibm["state"] == "Done" and ibm["local_testing"] is True
    assert ibm["quantum_seconds"] == 0 and ibm["usage_final"] is True, "local testing mode bills nothing"
    assert set(ibm["timestamps"]) == {"created", "running", "finished"}
    assert document["metadata"]["transpiled"] is True and document["metadata"]["qiskit_ibm_runtime_version"]
    status = IbmJobStatus.model_validate_json((wait / "ibm.json").read_text())
    raw = json.loads((wait / "ibm.json").read_text())
    assert "jobId" in raw and "job_id" not in raw, "camelCase"
    assert status.job_id == submission["jobId"] and status.state == "Done" and status.tag == submission["tag"]
    assert status.created and status.running and status.finished and status.created <= status.finished
    assert status.quantum_seconds == 0


def test_the_submit_artifact_is_left_as_it_was_and_the_wait_copy_holds_the_result(
    bell_run: tuple[JobFiles, Path, Path],
) -> None:
    _, submit, wait = bell_run
    assert [r["state"] for r in _store(submit / "ibm-jobs.json")["jobs"].values()] == ["QUEUED"]
    (record,) = _store(wait / "ibm-jobs.json")["jobs"].values()
    assert record["state"] == "DONE" and record["result"]["__type__"] == "PrimitiveResult"


def test_a_retried_wait_reattaches_and_never_submits(bell_run: tuple[JobFiles, Path, Path], tmp_path: Path) -> None:
    job, submit, wait = bell_run
    again = run_in_subprocess(job.wait_argv(submit, tmp_path / "wait-2"))
    assert again.code == 0, again.stderr
    assert len(_store(tmp_path / "wait-2" / "ibm-jobs.json")["jobs"]) == 1, "nothing submitted"
    first = _part(wait)["pub_results"][0]["data"]
    second = _part(tmp_path / "wait-2")["pub_results"][0]["data"]
    assert second == first, "seeded: the same counts"


def test_a_retried_submit_in_the_same_store_adopts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A submit that finds the job already in its store (its tag) adopts it: one job, ever."""
    from qiskit_argo.ibm import connect
    from qiskit_argo.ibm.local_mode import LocalTestingService

    job = make_job(tmp_path / "inputs", device="fake_manila", name="manila", shots=100)
    service = LocalTestingService(store=tmp_path / "shared.json")
    with connect.using(service):
        first = run_in_process(job.submit_argv(tmp_path / "a"), capsys)
        second = run_in_process(job.submit_argv(tmp_path / "b"), capsys)
    assert (first.code, second.code) == (0, 0), second.stderr
    a, b = (json.loads((tmp_path / d / "submission.json").read_text()) for d in ("a", "b"))
    assert b["action"] == "Adopted" and b["jobId"] == a["jobId"]
    assert len(_store(tmp_path / "shared.json")["jobs"]) == 1


@pytest.mark.parametrize("level", [0, 2])
def test_the_estimator_runs_with_the_requested_resilience_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], level: int
) -> None:
    # A small fake device: local testing mode simulates an estimator job on every qubit of the device.
    job = make_job(tmp_path / "inputs", device="fake_manila", name="manila", primitive="estimator",
                   precision=0.05, resilience_level=level, seed=7)  # fmt: skip
    submitted = run_in_process(job.submit_argv(tmp_path / "submit"), capsys)
    assert submitted.code == 0, submitted.stderr
    (record,) = _store(tmp_path / "submit" / "ibm-jobs.json")["jobs"].values()
    assert record["primitive"] == "estimator" and record["resilienceLevel"] == level
    waited = run_in_process(job.wait_argv(tmp_path / "submit", tmp_path / "wait"), capsys)
    assert waited.code == 0, waited.stderr
    document = _part(tmp_path / "wait")
    assert document["metadata"]["options"]["resilience_level"] == level, "the primitive got it"
    (value,) = document["pub_results"][0]["data"]["evs"][0]
    assert 0.75 < value <= 1.1, value
    assert document["pub_results"][0]["precision"] == 0.05


def test_unset_resilience_leaves_ibms_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    job = make_job(tmp_path / "inputs", device="fake_manila", name="manila", primitive="estimator", precision=0.05)
    assert run_in_process(job.submit_argv(tmp_path / "submit"), capsys).code == 0
    assert run_in_process(job.wait_argv(tmp_path / "submit", tmp_path / "wait"), capsys).code == 0
    document = _part(tmp_path / "wait")
    assert document["metadata"]["options"]["resilience_level"] == 1


def test_an_estimator_too_big_for_local_simulation_fails_with_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = make_job(tmp_path / "inputs", primitive="estimator", precision=0.05)  # fake_sherbrooke: 127 qubits
    assert run_in_process(job.submit_argv(tmp_path / "submit"), capsys).code == 0
    waited = run_in_process(job.wait_argv(tmp_path / "submit", tmp_path / "wait"), capsys)
    assert waited.code == 2 and waited.last_line.startswith("IbmJobFailed: "), waited.stderr
    assert "fake_manila" in waited.last_line and "Traceback" not in waited.stderr
    status = IbmJobStatus.model_validate_json((tmp_path / "wait" / "ibm.json").read_text())
    assert status.state == "Failed" and status.message and "127 qubits" in status.message


def test_an_unknown_fake_backend_is_permanent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    job = make_job(tmp_path / "inputs", device="fake_nowhere", name="nowhere")
    ran = run_in_process(job.submit_argv(tmp_path / "submit"), capsys)
    assert ran.code == 2 and ran.last_line.startswith("BackendUnavailable: "), ran.stderr


def test_a_circuit_wider_than_the_device_is_refused_before_submitting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from qiskit import QuantumCircuit

    wide = QuantumCircuit(7)
    wide.h(range(7))
    wide.measure_all()
    job = make_job(tmp_path / "inputs", device="fake_manila", name="manila", circuit=wide)
    ran = run_in_process(job.submit_argv(tmp_path / "submit"), capsys)
    assert ran.code == 2 and ran.last_line.startswith("InvalidCircuit: spec.circuit: 7 qubits, but fake_manila has 5")
    assert _store(tmp_path / "submit" / "ibm-jobs.json")["jobs"] == {}


def test_a_sweep_binds_every_row_in_the_isa_circuits_parameter_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import math

    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

    a, b = Parameter("a"), Parameter("b")
    circuit = QuantumCircuit(2, 2)
    circuit.ry(b, 0)
    circuit.ry(a, 1)
    circuit.measure([0, 1], [0, 1])
    # b=0,a=pi -> "10"; b=pi,a=0 -> "01"
    rows = [[0.0, math.pi], [math.pi, 0.0]]
    pubs = [{"circuit": circuit, "parameter_names": ["b", "a"], "rows": rows}]
    job = make_job(tmp_path / "inputs", device="fake_manila", name="manila", pubs=pubs, shots=2000)
    assert run_in_process(job.submit_argv(tmp_path / "submit"), capsys).code == 0
    assert run_in_process(job.wait_argv(tmp_path / "submit", tmp_path / "wait"), capsys).code == 0
    (entry,) = _part(tmp_path / "wait")["pub_results"]
    assert (entry["start"], entry["stop"]) == (0, 2)
    first, second = entry["data"]["c"]["counts"]
    assert max(first, key=first.get) == "10" and max(second, key=second.get) == "01"


def test_store_results_takes_the_ibm_part_as_it_takes_aers(
    bell_run: tuple[JobFiles, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from qiskit_argo.api import CircuitMetrics

    job, _, wait = bell_run
    parts, cached = tmp_path / "parts", tmp_path / "cached-parts"
    parts.mkdir()
    cached.mkdir()
    shutil.copyfile(wait / "part.json", parts / "0-of-1.json")  # where Argo puts the key-only artifact
    metrics = CircuitMetrics(num_qubits=2, num_clbits=2, depth=3, size=4, count_ops={"h": 1, "cx": 1, "measure": 2})
    ran = run_in_process(
        ["store-results", "--request", str(job.request), "--bindings", str(job.bindings),
         "--metrics", json.dumps(metrics.dump()),
         "--backend", job.backend, "--shards", '["0-of-1"]', "--cache-key", "none",
         "--parts", str(parts), "--cached-parts", str(cached), "--out", str(tmp_path / "out")],
        capsys,
    )  # fmt: skip
    assert ran.code == 0, ran.stderr
    facts = json.loads((tmp_path / "out" / "results" / "metrics.json").read_text())
    ibm = facts["run"]["ibm"]
    document = _part(wait)
    assert ibm["jobId"] == document["ibm"]["job_id"] and ibm["device"] == "fake_sherbrooke"
    assert ibm["quantumSeconds"] == 0 and ibm["localTesting"] is True
    assert facts["run"]["noiseModel"] == "fake_sherbrooke" and facts["run"]["seed"] == 1234
    assert (tmp_path / "out" / "results" / "histogram.png").stat().st_size > 1000
    result = json.loads((tmp_path / "out" / "results" / "result.json").read_text())
    assert result["ibm"]["job_id"] == document["ibm"]["job_id"], "the ibm block reaches result.json"
    assert result["pub_results"][0]["data"] == document["pub_results"][0]["data"]


# --------------------------------------------------------------------------- several PUBs, one IBM job


def _rotation(angle_parameter: bool = False) -> Any:
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

    circuit = QuantumCircuit(1, 1)
    if angle_parameter:
        circuit.ry(Parameter("theta"), 0)
    else:
        circuit.x(0)
    circuit.measure(0, 0)
    return circuit


def test_two_sampler_pubs_run_as_one_ibm_job_and_come_back_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import math

    pubs = [
        {"circuit": _rotation(), "shots": 300},  # X: always "1"
        {"circuit": _rotation(angle_parameter=True), "rows": [[0.0], [math.pi], [0.0]], "shots": 300},
    ]
    job = make_job(tmp_path / "inputs", device="fake_manila", name="manila", pubs=pubs)
    assert run_in_process(job.submit_argv(tmp_path / "submit"), capsys).code == 0
    (record,) = _store(tmp_path / "submit" / "ibm-jobs.json")["jobs"].values()
    assert len(record["pubs"]) == 2 and record["shots"] == 300, "one job of both PUBs"
    assert run_in_process(job.wait_argv(tmp_path / "submit", tmp_path / "wait"), capsys).code == 0
    document = _part(tmp_path / "wait")
    assert document["shard"] == "0-of-1"
    first, second = document["pub_results"]
    assert [(e["pub"], e["start"], e["stop"]) for e in (first, second)] == [(0, 0, 1), (1, 0, 3)]
    (ones,) = first["data"]["c"]["counts"]
    assert sum(ones.values()) == 300 and max(ones, key=ones.get) == "1"
    rows = second["data"]["c"]["counts"]
    assert [sum(row.values()) for row in rows] == [300, 300, 300]
    assert [max(row, key=row.get) for row in rows] == ["0", "1", "0"], "bindings in order"


def test_two_estimator_pubs_keep_their_observables_and_precisions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from qiskit import QuantumCircuit

    flipped = QuantumCircuit(2)
    flipped.x(0)
    pubs = [
        {"circuit": bell(measured=False), "observables": [{"ZZ": 1.0}, {"XX": 1.0}]},
        {"circuit": flipped, "observables": [{"IZ": 1.0}]},
    ]
    job = make_job(tmp_path / "inputs", device="fake_manila", name="manila", primitive="estimator", pubs=pubs,
                   precision=0.05, resilience_level=0, seed=3)  # fmt: skip
    assert run_in_process(job.submit_argv(tmp_path / "submit"), capsys).code == 0
    assert run_in_process(job.wait_argv(tmp_path / "submit", tmp_path / "wait"), capsys).code == 0
    first, second = _part(tmp_path / "wait")["pub_results"]
    ((zz, xx),), ((iz,),) = first["data"]["evs"], second["data"]["evs"]
    assert zz > 0.7 and xx > 0.7, (zz, xx)
    assert iz < -0.7, "qubit 0 flipped: <IZ> = -1 (IZ measures qubit 0, clbit order)"
    assert (first["precision"], second["precision"]) == (0.05, 0.05)


def test_pubs_of_different_shots_are_refused_before_submitting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pubs = [{"circuit": bell(), "shots": 100}, {"circuit": bell(), "shots": 200}]
    job = make_job(tmp_path / "inputs", device="fake_manila", name="manila", pubs=pubs)
    ran = run_in_process(job.submit_argv(tmp_path / "submit"), capsys)
    assert ran.code == 2 and ran.last_line.startswith("InvalidSpec: spec.pubs[1].shots: 200"), ran.stderr
    assert _store(tmp_path / "submit" / "ibm-jobs.json")["jobs"] == {}


def test_a_pub_too_wide_for_the_device_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from qiskit import QuantumCircuit

    wide = QuantumCircuit(7)
    wide.h(range(7))
    wide.measure_all()
    job = make_job(tmp_path / "inputs", device="fake_manila", name="manila", pubs=[{"circuit": bell()},
                                                                                   {"circuit": wide}])  # fmt: skip
    ran = run_in_process(job.submit_argv(tmp_path / "submit"), capsys)
    assert ran.code == 2 and ran.last_line.startswith("InvalidCircuit: spec.pubs[1].circuit: 7 qubits"), ran.stderr
    assert _store(tmp_path / "submit" / "ibm-jobs.json")["jobs"] == {}
