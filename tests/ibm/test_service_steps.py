"""The service steps (``SERVICE_STEPS``) through ``qiskit-argo-step``: probe, cancel, session open/close,
in local testing mode for real and against ``FakeIbmService`` for IBM's answers and faults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from qiskit_argo.errors import EXIT_PERMANENT, EXIT_TRANSIENT
from qiskit_argo.ibm import JobIdentity, SubmitRequest, connect, identity_tag, job_tags
from qiskit_argo.ibm.fake import FakeIbmService
from qiskit_argo.ibm.service_steps import parse_duration
from qiskit_argo.steps import SERVICE_STEPS, STEPS
from qiskit_argo.steps._contract import Part
from tests.ibm.steputil import NO_SECRET, Ran, run_in_process

pytest.importorskip("qiskit_ibm_runtime")

FAKE_TARGET = json.dumps({"name": "sherbrooke", "device": "fake_sherbrooke", "fake": True})
IBM_TARGET = json.dumps({"name": "torino", "device": "ibm_torino", "fake": False, "channel": "ibm_quantum_platform"})
SECRET = ("ibm-quantum", "apikey")
IDENTITY = JobIdentity("lab", "bell", "0f1e2d3c", 3)


def step(name: str, out: Path, capsys: pytest.CaptureFixture[str], secret: tuple[str, str] = SECRET,
         **parameters: str) -> Ran:  # fmt: skip
    argv = [name]
    for key, value in parameters.items():
        argv += [f"--{key}", value]
    argv += ["--credentials-secret", secret[0], "--credentials-key", secret[1], "--out", str(out)]
    return run_in_process(argv, capsys)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIbmService]:
    monkeypatch.setenv("QISKIT_IBM_TOKEN", "a-key-the-fake-does-not-read")
    service = FakeIbmService(("ibm_torino",), num_qubits=133)
    with connect.using(service, sleep=service.sleep, clock=service.clock):
        yield service


def test_the_registries_are_declared_as_the_contract_says() -> None:
    assert list(STEPS) == [
        "validate", "schedule", "execute-aer", "execute-aer-cached", "execute-aer-gpu", "execute-aer-gpu-cached",
        "ibm-submit", "ibm-wait", "store-results",
    ]  # fmt: skip
    assert list(SERVICE_STEPS) == ["ibm-probe", "ibm-cancel", "session-open", "session-close"]
    for spec in (STEPS["ibm-submit"], STEPS["ibm-wait"]):
        assert spec.when is not None and (spec.when.parameter, spec.when.equals) == ("executor", "ibm")
        assert spec.credentials and spec.semaphore and spec.egress == "ibm-quantum" and spec.component == "executor"
    assert STEPS["ibm-submit"].output_parameters == {"submission": "submission.json"}
    assert STEPS["ibm-submit"].output_artifacts == {"ibm-jobs": "ibm-jobs.json"}
    assert STEPS["ibm-submit"].input_artifacts == {
        "circuit": "circuit.qpy", "request": "request.json", "bindings": "bindings"
    }  # fmt: skip
    assert STEPS["ibm-submit"].part is None and STEPS["ibm-submit"].fan_out is None
    assert STEPS["ibm-wait"].input_artifacts == {"request": "request.json", "ibm-jobs": "ibm-jobs.json"}
    assert STEPS["ibm-wait"].output_parameters == {"ibm": "ibm.json"}, "the summary comes from store-results"
    assert not STEPS["ibm-wait"].output_artifacts, "its result is its part"
    assert STEPS["ibm-wait"].part == Part(cached=False, shard_parameter=None)
    assert STEPS["ibm-wait"].fan_out is None and not STEPS["ibm-wait"].memoize
    outputs = {"ibm-probe": "probe", "ibm-cancel": "cancelled", "session-open": "session", "session-close": "session"}
    for name, spec in SERVICE_STEPS.items():
        assert spec.credentials and not spec.semaphore and spec.when is None and spec.egress == "ibm-quantum"
        assert list(spec.output_parameters) == [outputs[name]] and "target" in spec.input_parameters


def test_probe_of_a_fake_backend_in_local_testing_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ran = step("ibm-probe", tmp_path, capsys, secret=NO_SECRET, target=FAKE_TARGET)
    assert ran.code == 0, ran.stderr
    probe = json.loads((tmp_path / "probe.json").read_text())
    assert probe["device"] == "fake_sherbrooke" and probe["numQubits"] == 127 and probe["operational"] is True
    assert probe["basisGates"] == ["ecr", "id", "rz", "sx", "x"] and probe["credentialsValid"] is True
    assert probe["reason"] is None and probe["pendingJobs"] == 0


def test_probe_reports_ibms_answer(fake: FakeIbmService, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ran = step("ibm-probe", tmp_path, capsys, target=IBM_TARGET)
    assert ran.code == 0, ran.stderr
    probe = json.loads((tmp_path / "probe.json").read_text())
    assert (probe["numQubits"], probe["statusMessage"], probe["credentialsValid"]) == (133, "active", True)


@pytest.mark.parametrize("fault", ["rejected", "unknown"])
def test_probe_reports_a_rejected_key_or_unknown_backend_and_exits_0(
    fake: FakeIbmService, tmp_path: Path, capsys: pytest.CaptureFixture[str], fault: str
) -> None:
    if fault == "rejected":
        fake.reject_credentials()
    target = IBM_TARGET if fault == "rejected" else IBM_TARGET.replace("ibm_torino", "ibm_retired")
    ran = step("ibm-probe", tmp_path, capsys, target=target)
    assert ran.code == 0, ran.stderr
    probe = json.loads((tmp_path / "probe.json").read_text())
    expected = ("CredentialsRejected", False) if fault == "rejected" else ("BackendUnavailable", True)
    assert (probe["reason"], probe["credentialsValid"]) == expected and probe["message"]
    assert probe["numQubits"] is None and probe["operational"] is False


def test_probe_without_a_key_says_which_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.delenv("QISKIT_IBM_TOKEN", raising=False)
    ran = step("ibm-probe", tmp_path, capsys, target=IBM_TARGET)
    assert ran.code == 0, ran.stderr
    probe = json.loads((tmp_path / "probe.json").read_text())
    assert probe["reason"] == "CredentialsMissing" and probe["credentialsValid"] is False
    assert "'ibm-quantum'" in probe["message"] and "'apikey'" in probe["message"]
    assert "spec.credentialsSecretRef" in probe["message"]


def test_probe_fails_transiently_when_ibm_does(fake: FakeIbmService, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    fake.flaky("backend_info")
    ran = step("ibm-probe", tmp_path, capsys, target=IBM_TARGET)
    assert ran.code == EXIT_TRANSIENT and ran.last_line.startswith("TransientFailure: "), ran.stderr


def test_cancel_cancels_every_unfinished_job_of_the_identity(
    fake: FakeIbmService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = SubmitRequest("ibm_torino", "sampler", [], tags=job_tags(IDENTITY))
    fake.duplicate_submit(2)
    fake.submit(request)
    other = fake.submit(SubmitRequest("ibm_torino", "sampler", [], tags=job_tags(JobIdentity("lab", "other", "x", 1))))
    identity = json.dumps({"namespace": "lab", "name": "bell", "uid": "0f1e2d3c", "generation": 3})
    ran = step("ibm-cancel", tmp_path, capsys, target=IBM_TARGET, identity=identity)
    assert ran.code == 0, ran.stderr
    cancelled = json.loads((tmp_path / "cancelled.json").read_text())["cancelled"]
    assert sorted(cancelled) == sorted(job.job_id for job in fake.tagged(identity_tag(IDENTITY)))
    assert len(cancelled) == 2 and not fake.unfinished(identity_tag(IDENTITY)) and fake.jobs[other].ended is None


def test_cancel_refuses_a_bad_identity(fake: FakeIbmService, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    ran = step("ibm-cancel", tmp_path, capsys, target=IBM_TARGET, identity='{"name": "bell"}')
    assert ran.code == EXIT_PERMANENT and ran.last_line.startswith("InvalidSpec: identity parameter: ")


def test_session_open_and_close(fake: FakeIbmService, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ran = step("session-open", tmp_path / "open", capsys, target=IBM_TARGET,
               session=json.dumps({"mode": "batch", "maxTime": "1h30m"}))  # fmt: skip
    assert ran.code == 0, ran.stderr
    opened = json.loads((tmp_path / "open" / "session.json").read_text())
    assert opened["state"] == "open" and opened["device"] == "ibm_torino"
    session = fake.sessions[opened["sessionId"]]
    assert (session["mode"], session["max_time"], session["open"]) == ("batch", 5400, True)
    queued = fake.submit(SubmitRequest("ibm_torino", "sampler", [], session_id=opened["sessionId"]))
    ran = step("session-close", tmp_path / "close", capsys, target=IBM_TARGET,
               session=json.dumps({"sessionId": opened["sessionId"], "cancel": True}))  # fmt: skip
    assert ran.code == 0, ran.stderr
    closed = json.loads((tmp_path / "close" / "session.json").read_text())
    assert closed == {"sessionId": opened["sessionId"], "state": "cancelled"}
    assert session["open"] is False and fake.jobs[queued].api_status(fake.now) == "CANCELLED"


def test_session_in_local_testing_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ran = step("session-open", tmp_path / "open", capsys, secret=NO_SECRET, target=FAKE_TARGET,
               session=json.dumps({"mode": "session", "maxTime": None}))  # fmt: skip
    assert ran.code == 0, ran.stderr
    opened = json.loads((tmp_path / "open" / "session.json").read_text())
    assert opened["sessionId"].startswith("local-session-") and opened["device"] == "fake_sherbrooke"
    ran = step("session-close", tmp_path / "close", capsys, secret=NO_SECRET, target=FAKE_TARGET,
               session=json.dumps({"sessionId": opened["sessionId"], "cancel": False}))  # fmt: skip
    assert ran.code == 0 and json.loads((tmp_path / "close" / "session.json").read_text())["state"] == "closed"


@pytest.mark.parametrize("session", ['{"mode": "dedicated"}', '{"maxTime": "forever"}', "[]"])
def test_session_open_refuses_bad_input_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    session: str) -> None:  # fmt: skip
    ran = step("session-open", tmp_path, capsys, secret=NO_SECRET, target=FAKE_TARGET, session=session)
    assert ran.code == EXIT_PERMANENT and ran.last_line.startswith("InvalidSpec: "), ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1


def test_an_empty_target_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ran = step("ibm-probe", tmp_path, capsys, target="{}")
    assert ran.code == EXIT_PERMANENT and "target parameter: empty" in ran.last_line


@pytest.mark.parametrize(("text", "seconds"), [("2h", 7200), ("30m", 1800), ("1h30m", 5400), ("90s", 90)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text, field="f") == seconds


@pytest.mark.parametrize("text", ["", "2", "h", "2h-", "500ms", "2d"])
def test_bad_durations(text: str) -> None:
    from qiskit_argo.errors import InvalidJobError

    with pytest.raises(InvalidJobError, match="^f: "):
        parse_duration(text, field="f")
