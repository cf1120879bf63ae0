"""A canary API key given to the IBM steps shows in no output: not stdout, stderr, the termination
line, a log record, nor any file a step writes (parameters and artifacts alike) — when the steps
succeed in local testing mode, and when IBM (a stand-in for ``QiskitRuntimeService`` that echoes the
key in its errors, as a careless library message might) rejects it. A missing key is the one-line
``CredentialsMissing`` naming the Secret key the QiskitBackend points at."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from qiskit_argo.errors import EXIT_PERMANENT
from qiskit_argo.ibm import runtime
from qiskit_argo.ibm.credentials import TOKEN_ENV
from tests.ibm.steputil import JobFiles, Ran, every_text_under, make_job, run_in_process, run_in_subprocess

pytest.importorskip("qiskit_ibm_runtime")

from qiskit_ibm_runtime.exceptions import IBMNotAuthorizedError  # noqa: E402

SECRET = ("ibm-quantum", "apikey")


@pytest.fixture
def canary(monkeypatch: pytest.MonkeyPatch) -> str:
    token = f"canary{uuid.uuid4().hex}"
    monkeypatch.setenv(TOKEN_ENV, f"{token}\n")
    return token


def _ibm_job(root: Path) -> JobFiles:
    files = make_job(root, device="ibm_torino", name="torino", fake=False, shots=100)
    files.secret = SECRET
    return files


def _service_steps(files: JobFiles, out: Path) -> list[list[str]]:
    credentials = ["--credentials-secret", SECRET[0], "--credentials-key", SECRET[1]]
    identity = json.dumps({"namespace": "lab", "name": "bell", "uid": "u", "generation": 1})
    return [
        ["ibm-probe", "--target", files.target, *credentials, "--out", str(out / "probe")],
        ["ibm-cancel", "--target", files.target, "--identity", identity, *credentials, "--out", str(out / "cancel")],
        ["session-open", "--target", files.target, "--session", '{"mode": "batch"}', *credentials,
         "--out", str(out / "open")],
        ["session-close", "--target", files.target, "--session", '{"sessionId": "s1", "cancel": true}', *credentials,
         "--out", str(out / "close")],
    ]  # fmt: skip


def test_local_testing_steps_never_show_the_key(canary: str, tmp_path: Path) -> None:
    files = make_job(tmp_path / "inputs", device="fake_manila", name="manila", shots=200)
    submitted = run_in_subprocess(files.submit_argv(tmp_path / "out" / "submit"))
    waited = run_in_subprocess(files.wait_argv(tmp_path / "out" / "submit", tmp_path / "out" / "wait"))
    assert (submitted.code, waited.code) == (0, 0), submitted.stderr + waited.stderr
    shown = "\n".join([submitted.stdout, submitted.stderr, waited.stdout, waited.stderr, every_text_under(tmp_path)])
    assert canary not in shown and (tmp_path / "out" / "wait" / "part.json").is_file()


class _Rejecting:
    """``QiskitRuntimeService`` answering 401 to everything, its message echoing the key."""

    def __init__(self, **arguments: Any) -> None:
        self.token = arguments["token"]

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise IBMNotAuthorizedError(f"401 Client Error: Unauthorized for url: https://iam.example/?apikey={self.token}")

    backend = jobs = job = _get_api_client = _refuse


def test_a_rejected_key_is_never_echoed(
    canary: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    made: list[_Rejecting] = []

    def factory(**arguments: Any) -> _Rejecting:
        made.append(_Rejecting(**arguments))
        return made[-1]

    monkeypatch.setattr(runtime, "runtime_service_factory", factory)
    files = _ibm_job(tmp_path / "inputs")
    out = tmp_path / "out"
    submission = json.dumps({"jobId": "d1", "tag": "qiskit-argo.job." + "0" * 32, "action": "Submitted",
                             "duplicatesCancelled": [], "sessionId": None, "message": ""})  # fmt: skip
    (out / "submit").mkdir(parents=True)
    (out / "submit" / "ibm-jobs.json").write_text("{}")
    runs: list[Ran] = [
        run_in_process(files.submit_argv(out / "submit"), capsys),
        run_in_process(files.wait_argv(out / "submit", out / "wait", submission), capsys),
        *(run_in_process(argv, capsys) for argv in _service_steps(files, out)),
    ]
    assert made and all(service.token == canary for service in made), "the key reached the service"
    codes = [ran.code for ran in runs]
    assert codes == [EXIT_PERMANENT, EXIT_PERMANENT, 0, EXIT_PERMANENT, EXIT_PERMANENT, EXIT_PERMANENT], runs
    assert all(ran.last_line.startswith("CredentialsRejected: ") for i, ran in enumerate(runs) if i != 2)
    assert "apikey=***" in runs[0].last_line
    probe = json.loads((out / "probe" / "probe.json").read_text())
    assert probe["reason"] == "CredentialsRejected" and probe["credentialsValid"] is False
    shown = "\n".join([*(ran.stdout + ran.stderr for ran in runs), every_text_under(tmp_path),
                       *(record.getMessage() for record in caplog.records)])  # fmt: skip
    assert canary not in shown


@pytest.mark.parametrize("value", [None, "", "  \n"], ids=["unset", "empty", "blank"])
def test_a_missing_key_names_the_secret_and_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(TOKEN_ENV, raising=False)
    else:
        monkeypatch.setenv(TOKEN_ENV, value)
    files = _ibm_job(tmp_path / "inputs")
    ran = run_in_process(files.submit_argv(tmp_path / "submit"), capsys)
    assert ran.code == EXIT_PERMANENT, ran.stderr
    assert ran.last_line.startswith("CredentialsMissing: QiskitBackend 'torino' spec.credentialsSecretRef: ")
    assert "key 'apikey' of Secret 'ibm-quantum'" in ran.last_line and len(ran.stderr.strip().splitlines()) == 1


def test_a_fake_backend_needs_no_key(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    files = make_job(tmp_path / "inputs", device="fake_manila", name="manila", shots=100)
    assert run_in_process(files.submit_argv(tmp_path / "submit"), capsys).code == 0
