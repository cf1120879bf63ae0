"""The cluster command line end to end: ``qiskit-argo submit/get/describe/logs/cancel`` as a user
runs them (typer's CliRunner, the user's kubeconfig and RBAC), against a Kubernetes API over HTTP
(``tests.cluster.kubeapi``), with the real controller running and ``tests.controller.cluster.Argo``
writing the Workflow's status as Argo does."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from qiskit_argo.cli import app
from tests.argo_fake import ArgoFake
from tests.cluster.conftest import CliCluster
from tests.controller.cluster import REPO, Argo, eventually

pytestmark = pytest.mark.timeout(60)

BELL = REPO / "examples" / "bell.yaml"


def one_error_line(output: str) -> str:
    """The output is exactly one line, ``error: ...``, never a traceback."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("error: ") and "Traceback" not in output, output
    return lines[0]


async def started(kube: CliCluster, name: str = "bell") -> tuple[dict[str, Any], Argo]:
    """The job's Workflow, once the controller made it and wrote its name into the job's status."""
    workflow = await kube.cluster.workflow_of(name)

    async def named() -> dict[str, Any] | None:
        job = await kube.cluster.job(name)
        return job if (job.get("status") or {}).get("workflowName") else None

    await eventually(named, what="status.workflowName")
    return workflow, Argo(kube.cluster, workflow["metadata"]["name"])


async def finished(kube: CliCluster, action: Callable[[ArgoFake], object], phase: str = "Succeeded") -> Argo:
    await kube.cli("submit", str(BELL))
    _, argo = await started(kube)
    await argo(action)
    await kube.cluster.phase("bell", phase)
    return argo


# --------------------------------------------------------------------------- submit


async def test_submit_creates_then_is_a_no_op_then_a_started_job_refuses_a_changed_spec(kube: CliCluster) -> None:
    await kube.cluster.controller().start()
    result = await kube.cli("submit", str(BELL))
    assert result.exit_code == 0, result.output
    assert f"qiskitjob.qiskit-argo.io/bell created in namespace {kube.namespace}" in result.output
    applies = [path for who, method, path in kube.emulator.requests if who == "user" and method == "PATCH"]
    assert applies and all("fieldManager=qiskit-argo" in p and "force=false" in p for p in applies), applies

    await started(kube)
    before = await kube.cluster.job("bell")
    result = await kube.cli("submit", str(BELL))
    assert result.exit_code == 0, result.output
    assert "qiskitjob.qiskit-argo.io/bell unchanged" in result.output
    after = await kube.cluster.job("bell")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]

    changed = yaml.safe_load(BELL.read_text())
    changed["spec"]["shots"] = 2000
    path = kube.tmp / "bell.yaml"
    path.write_text(yaml.safe_dump(changed))
    result = await kube.cli("submit", str(path))
    assert result.exit_code == 2, result.output
    line = one_error_line(result.output)
    assert "spec is immutable once the job has started" in line and 'QiskitJob.qiskit-argo.io "bell"' in line
    assert (await kube.cluster.job("bell"))["spec"]["shots"] == 1024


async def test_submit_applies_the_configmap_beside_the_job(kube: CliCluster) -> None:
    source = REPO / "examples" / "configmap.yaml"
    result = await kube.cli("submit", str(source))
    assert result.exit_code == 0, result.output
    documents = [d for d in yaml.safe_load_all(source.read_text()) if d]
    config_maps = [d for d in documents if d["kind"] == "ConfigMap"]
    assert config_maps
    for document in config_maps:
        found = await kube.cluster.api.get(kube.cluster.configmap_path(document["metadata"]["name"]))
        assert found is not None and found["data"] == document["data"]
    assert (await kube.cluster.job(documents[-1]["metadata"]["name"]))["spec"]["circuit"]["configMapKeyRef"]


async def test_submit_wait_follows_the_steps_and_ends_with_the_summary(kube: CliCluster) -> None:
    await kube.cluster.controller().start()
    following = asyncio.create_task(kube.cli("submit", str(BELL), "--wait", "--interval", "0.05"))
    _, argo = await started(kube)
    await argo(lambda a: (a.start(), a.run_step("validate")))
    await asyncio.sleep(0.3)
    assert not following.done()
    await argo(lambda a: a.succeed_all())
    result = await asyncio.wait_for(following, 30)
    assert result.exit_code == 0, result.output
    output = result.output
    for text in ("QiskitJob bell", "Succeeded", "step validate", "step store-results", "top counts", "wall time"):
        assert text in output, (text, output)
    assert f"results: qiskit-argo results bell -n {kube.namespace}" in output
    assert "✓" in output  # the progress rows, as in a local run


async def test_submit_wait_exits_2_when_the_job_itself_is_wrong(kube: CliCluster) -> None:
    await kube.cluster.controller().start()
    following = asyncio.create_task(kube.cli("submit", str(BELL), "--wait", "--interval", "0.05"))
    _, argo = await started(kube)
    await argo(
        lambda a: (a.start(), a.run_step("validate"), a.fail_step("validate", "InvalidCircuit: line 3: bad gate"))
    )
    result = await asyncio.wait_for(following, 30)
    assert result.exit_code == 2, result.output
    assert "Failed" in result.output and "InvalidCircuit" in result.output
    assert result.output.strip().splitlines()[-1].startswith("error: job bell failed: InvalidCircuit")


# --------------------------------------------------------------------------- get, describe


async def test_get_lists_jobs_like_kubectl_and_wide_adds_columns(kube: CliCluster) -> None:
    await kube.cluster.controller().start()
    await finished(kube, lambda a: a.succeed_all())
    await kube.cluster.create_job("other")

    result = await kube.cli("get")
    assert result.exit_code == 0, result.output
    header, *rows = result.output.splitlines()
    assert header.split() == ["NAME", "PHASE", "BACKEND", "SHOTS", "AGE", "MESSAGE"]
    bell = next(row for row in rows if row.startswith("bell "))
    job = await kube.cluster.job("bell")
    assert bell.split()[:4] == ["bell", "Succeeded", job["status"]["backend"]["name"], "1024"]
    assert job["status"]["message"][:40] in bell
    assert any(row.startswith("other ") for row in rows)

    result = await kube.cli("get", "bell", "-o", "wide")
    assert result.exit_code == 0, result.output
    header, row = result.output.splitlines()
    assert header.split()[-6:] == ["PRIMITIVE", "QUBITS", "WORKFLOW", "IBM", "JOB", "COST"]
    assert "sampler" in row and job["status"]["workflowName"] in row and " 2 " in row


async def test_get_in_an_empty_namespace_says_so(kube: CliCluster) -> None:
    result = await kube.cli("get")
    assert result.exit_code == 0
    assert result.output.strip() == f"No QiskitJobs found in namespace {kube.namespace}."


async def test_describe_shows_status_steps_backend_and_only_this_jobs_events(kube: CliCluster) -> None:
    await kube.cluster.controller().start()
    await finished(kube, lambda a: a.succeed_all())
    await kube.cluster.create_job("other")
    await kube.cluster.workflow_of("other")
    job = await kube.cluster.job("bell")
    await eventually(lambda: kube.cluster.events("bell"), what="events of bell")

    result = await kube.cli("describe", "bell")
    assert result.exit_code == 0, result.output
    output = result.output
    for text in ("QiskitJob:", "Phase:", "Succeeded", "Backend:", "Why:", "Conditions:", "Steps:", "Events:"):
        assert text in output, (text, output)
    assert job["status"]["backend"]["reason"][:30] in output
    assert job["status"]["workflowName"] in output
    for step in job["status"]["steps"]:
        assert step["name"] in output
    assert "WorkflowCreated" in output
    other = (await kube.cluster.job("other"))["metadata"]["uid"]
    assert f"fieldSelector=involvedObject.uid%3D{job['metadata']['uid']}" in " ".join(
        path for who, _, path in kube.emulator.requests if who == "user"
    ) or f"involvedObject.uid={job['metadata']['uid']}" in " ".join(
        path for who, _, path in kube.emulator.requests if who == "user"
    )
    assert "other" not in output.split("Events:")[1] and other not in output


# --------------------------------------------------------------------------- logs


async def make_pod(kube: CliCluster, workflow: str, step: str, logs: dict[str, str]) -> str:
    name = f"{workflow}-{step}-{abs(hash(step)) % 10**10}"
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": kube.namespace,
            "labels": {"workflows.argoproj.io/workflow": workflow, "qiskit-argo.io/step": step},
            "annotations": {"workflows.argoproj.io/node-name": f"{workflow}.{step}"},
        },
        "spec": {"containers": [{"name": "wait", "image": "argoexec"}, {"name": "main", "image": "executor"}]},
    }
    await kube.cluster.api.ok("POST", f"/api/v1/namespaces/{kube.namespace}/pods", body)
    for container, text in logs.items():
        kube.emulator.logs[(kube.namespace, name, container)] = text
    return name


async def test_logs_prints_each_step_pods_main_log_and_step_filters(kube: CliCluster) -> None:
    await kube.cluster.controller().start()
    await kube.cli("submit", str(BELL))
    workflow, _ = await started(kube)
    name = workflow["metadata"]["name"]
    await make_pod(kube, name, "validate", {"main": "validated 2 qubits\n", "wait": "argoexec noise\n"})
    await make_pod(kube, name, "execute-aer", {"main": "ran 1024 shots\x1b[31m\n"})
    await make_pod(kube, "another-workflow", "validate", {"main": "not ours\n"})

    result = await kube.cli("logs", "bell")
    assert result.exit_code == 0, result.output
    assert "==> validate (pod" in result.output and "validated 2 qubits" in result.output
    assert "ran 1024 shots\\x1b[31m" in result.output  # a control character is shown, never sent
    assert "argoexec noise" not in result.output and "not ours" not in result.output

    result = await kube.cli("logs", "bell", "--step", "execute-aer")
    assert result.exit_code == 0, result.output
    assert "ran 1024 shots" in result.output and "validated" not in result.output


async def test_logs_of_gone_pods_say_how_to_read_argos_archive(kube: CliCluster) -> None:
    await kube.cluster.controller().start()
    await kube.cli("submit", str(BELL))
    await started(kube)
    result = await kube.cli("logs", "bell", "--step", "validate")
    assert result.exit_code == 2
    line = one_error_line(result.output)
    assert "are gone" in line and "--argo-server" in line


async def test_logs_of_gone_pods_from_the_argo_servers_archive(kube: CliCluster) -> None:
    """The Argo Server cannot run here: a stand-in serving a node's archived ``main-logs`` artifact at
    ``/artifact-files/{ns}/workflows/{wf}/{nodeId}/outputs/main-logs`` as argo-workflows v4.1.2
    ``server/artifacts/artifact_server.go`` (GetArtifactFile) does."""
    import http.server
    import threading

    await kube.cluster.controller().start()
    await kube.cli("submit", str(BELL))
    _, argo = await started(kube)
    workflow = await argo(lambda a: (a.start(), a.run_step("validate"), a.succeed_step("validate")))
    node = next(n for n in workflow["status"]["nodes"].values() if n["type"] == "Pod")
    seen: list[tuple[str, str | None]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            seen.append((self.path, self.headers.get("Authorization")))
            wanted = f"/artifact-files/{kube.namespace}/workflows/{argo.name}/{node['id']}/outputs/main-logs"
            body = b"archived: validated\n" if self.path == wanted else b"no such artifact"
            self.send_response(200 if self.path == wanted else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = await kube.cli("logs", "bell", "--argo-server", url, env={"ARGO_TOKEN": "Bearer t0ken"})
    finally:
        server.shutdown()
    assert result.exit_code == 0, result.output
    assert "archived: validated" in result.output and "(archived by Argo)" in result.output
    assert seen and seen[0][1] == "Bearer t0ken"


# --------------------------------------------------------------------------- cancel


async def test_cancel_suspends_the_job_stops_its_workflow_and_keeps_the_record(kube: CliCluster) -> None:
    await kube.cluster.controller().start()
    await kube.cli("submit", str(BELL))
    _, argo = await started(kube)
    await argo(lambda a: (a.start(), a.run_step("validate")))

    result = await kube.cli("cancel", "bell")
    assert result.exit_code == 0, result.output
    assert "cancelled: suspended (spec.suspend: true)" in result.output
    assert "stopped (spec.shutdown: Stop)" in result.output
    job = await kube.cluster.job("bell")
    assert job["spec"]["suspend"] is True
    workflow = await kube.cluster.workflow(argo.name)
    assert workflow is not None and workflow["spec"]["shutdown"] == "Stop"

    await argo(lambda a: a.shutdown("Stop"))
    job = await kube.cluster.phase("bell", "Suspended", "Failed")
    assert job["status"]["workflowName"] == argo.name  # the record stays

    result = await kube.cli("cancel", "bell")
    assert result.exit_code == 0, result.output


async def test_cancel_of_a_finished_job_changes_nothing(kube: CliCluster) -> None:
    await kube.cluster.controller().start()
    await finished(kube, lambda a: a.succeed_all())
    result = await kube.cli("cancel", "bell")
    assert result.exit_code == 0 and "already ended (Succeeded); nothing to cancel" in result.output
    assert not (await kube.cluster.job("bell"))["spec"].get("suspend")


# --------------------------------------------------------------------------- errors: one line, exit 2


@pytest.mark.parametrize(
    "args",
    [["get", "nope"], ["describe", "nope"], ["logs", "nope"], ["cancel", "nope"], ["results", "nope"]],
    ids=lambda a: a[0],
)
async def test_a_missing_job_is_one_line_naming_the_namespace(kube: CliCluster, args: list[str]) -> None:
    result = await kube.cli(*args)
    assert result.exit_code == 2, result.output
    line = one_error_line(result.output)
    assert f"no QiskitJob 'nope' in namespace {kube.namespace} (qiskit-argo get -n {kube.namespace} lists them)" in line


async def test_forbidden_names_the_verb_the_resource_and_the_rbac(kube: CliCluster) -> None:
    result = await kube.cli("submit", str(BELL), kubeconfig=kube.viewer)
    assert result.exit_code == 2, result.output
    line = one_error_line(result.output)
    assert f"you may not patch qiskitjobs.qiskit-argo.io in namespace {kube.namespace}" in line
    assert f"kubectl auth can-i patch qiskitjobs.qiskit-argo.io -n {kube.namespace}" in line


async def test_no_kubeconfig(kube: CliCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(kube.tmp / "missing" / "config"))
    result = await asyncio.to_thread(CliRunner().invoke, app, ["get"])
    assert result.exit_code == 2, result.output
    line = one_error_line(result.output)
    assert "no kubeconfig" in line and "set KUBECONFIG or create ~/.kube/config" in line


async def test_an_unknown_context(kube: CliCluster) -> None:
    result = await kube.cli("get", "--context", "nope")
    assert result.exit_code == 2, result.output
    assert "no context 'nope'" in one_error_line(result.output)


async def test_crds_not_installed(kube: CliCluster) -> None:
    del kube.emulator.resources["qiskit-argo.io/v1alpha1/qiskitjobs"]
    for args in (["get"], ["submit", str(BELL)], ["describe", "bell"]):
        result = await kube.cli(*args)
        assert result.exit_code == 2, result.output
        assert "the QiskitJob CRD is not installed" in one_error_line(result.output)
        assert "kubectl apply -k kustomize/base" in result.output


async def test_an_unreachable_api_server_exits_1(kube: CliCluster) -> None:
    import socket

    from tests.controller.cluster import write_kubeconfig

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = write_kubeconfig(kube.tmp / "down.kubeconfig", f"http://127.0.0.1:{port}", "t")
    result = await kube.cli("get", kubeconfig=config)
    assert result.exit_code == 1, result.output
    assert "cannot reach the API server" in one_error_line(result.output)


# --------------------------------------------------------------------------- kubectl qiskit


def test_kubectl_qiskit_is_a_console_script_of_the_same_app() -> None:
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "kubectl-qiskit"]
    from qiskit_argo.cli import app

    assert script.value == "qiskit_argo.cli:app" and script.load() is app


async def test_kubectl_qiskit_get_runs_as_a_kubectl_plugin(kube: CliCluster) -> None:
    await kube.cluster.create_job("bell")
    command = shutil.which("kubectl-qiskit", path=str(Path(sys.executable).parent))
    assert command, "kubectl-qiskit is not installed beside this Python (pip install -e .)"
    env = {"KUBECONFIG": str(kube.user), "PATH": str(Path(sys.executable).parent)}
    process = await asyncio.create_subprocess_exec(
        command, "get", "-n", kube.namespace, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, output
    assert output.decode().splitlines()[1].startswith("bell ")


async def test_cancel_of_a_job_at_ibm_has_the_controller_cancel_it_at_ibm(kube: CliCluster) -> None:
    from tests.controller.test_ibm import _one_cancel, _waiting_at_ibm

    await kube.cluster.controller().start()
    name = await _waiting_at_ibm(kube.cluster)
    ibm = (await kube.cluster.job("bell"))["status"]["ibm"]["jobId"]

    result = await kube.cli("cancel", "bell")
    assert result.exit_code == 0, result.output
    assert f"IBM job {ibm}: the controller cancels it at IBM" in result.output
    cancel = await eventually(lambda: _one_cancel(kube.cluster), what="the controller's ibm-cancel Workflow")
    assert cancel["metadata"]["labels"]["qiskit-argo.io/job"] == "bell"
    workflow = await kube.cluster.workflow(name)
    assert workflow is not None and workflow["spec"]["shutdown"] == "Stop"
