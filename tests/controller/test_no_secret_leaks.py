"""The controller path never leaks the IBM Quantum API key (issue 9, "Credentials").

A Secret holding a unique canary key is planted in the namespace; a QiskitBackend of type ibm
(a real device, so every IBM step needs the key) points at it with ``credentialsSecretRef``, a
QiskitSession runs on it and two QiskitJobs name it by ref inside the session. The test plays
Argo through every Workflow the controller makes — the probe, the session's open, one job's
validate → schedule → ibm-submit → ibm-wait → store-results, another job deleted during ibm-wait
(its cancel Workflow), the session's close — and then proves:

* the canary (as it is, and base64-encoded as a Secret stores it) is in no object the cluster
  holds other than that Secret: Workflows (spec, parameters, raw artifacts, status), every
  kind's status, Events, ConfigMaps — every version of each, deleted ones included (kmock);
* it is in no log record of the controller (and of kopf, aiohttp... at DEBUG), and in no request
  the emulator saw (bodies of every write, paths and queries of every request);
* a Workflow that needs the key names it only as ``valueFrom.secretKeyRef`` (name/key), never as
  a literal value, and only in templates of pods with egress class ``ibm-quantum``; the shipped
  ClusterWorkflowTemplate (the job's ibm-submit/ibm-wait) likewise;
* the controller never asked the API for a Secret (its RBAC grants none, and none was refused).

The search is checked too: it finds the canary in the Secret itself, and finds it again once the
test plants it in a QiskitBackend's status and in a log record (a search that cannot fail would
prove nothing).
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.argo_fake import SUBMISSION_JSON, ArgoFake
from tests.controller.cluster import (
    PEERING_CRDS,
    RBAC,
    REPO,
    Argo,
    Cluster,
    ServiceArgo,
    bell_spec,
    controller_rules,
    eventually,
)

pytestmark = pytest.mark.timeout(90)

SECRET = "ibm-canary"
KEY = "token"
EGRESS = "qiskit-argo.io/egress"
TOKEN_ENV = "QISKIT_IBM_TOKEN"
TORINO = {
    "type": "ibm",
    "backend": "ibm_torino",
    "instance": "crn:v1:bluemix:public:quantum-computing:us-east:a/lab::",
    "credentialsSecretRef": {"name": SECRET, "key": KEY},
    "maxConcurrentJobs": 2,
}
PROBE = {
    "device": "ibm_torino",
    "numQubits": 133,
    "basisGates": ["cz", "id", "rz", "sx", "x"],
    "operational": True,
    "pendingJobs": 3,
    "statusMessage": "active",
    "credentialsValid": True,
    "reason": None,
    "message": None,
}
OPENED = {"session": {"sessionId": "sess-42", "state": "open", "device": "ibm_torino"}}
CLOSED = {"session": {"sessionId": "sess-42", "state": "closed"}}
#: What the schedule step writes for a job on torino inside session s1: the Secret by name only.
SCHEDULE = {
    "backend": json.dumps(
        {"name": "torino", "type": "ibm", "device": "ibm_torino", "reason": "spec.backend.ref=torino", "rejected": []}
    ),
    "executor": "ibm",
    "target": json.dumps(
        {
            "name": "torino",
            "device": "ibm_torino",
            "fake": False,
            "channel": "ibm_quantum_platform",
            "instance": TORINO["instance"],
            "sessionId": "sess-42",
            "mode": "session",
        }
    ),
    "credentials-secret": SECRET,
    "credentials-key": KEY,
    "semaphore": "torino",
}


def _forms(canary: str) -> set[str]:
    """The canary as it is and as a Secret's ``data`` (or anything base64) would carry it."""
    raw = canary.encode()
    return {canary, base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("=")}


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string in a JSON-like value, keys included, with where it is."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{where}.{key}", str(key)
            yield from _strings(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}[{index}]")
    elif isinstance(value, bytes):
        yield where, value.decode(errors="replace")
    elif value is not None:
        yield where, str(value)


def _found(value: Any, where: str, forms: set[str]) -> list[str]:
    """Where in ``value`` any form of the canary appears (in any string, or in its JSON)."""
    hits = [path for path, text in _strings(value, where) if any(form in text for form in forms)]
    if not hits:
        text = json.dumps(value, default=repr, sort_keys=True)
        hits = [where] if any(form in text for form in forms) else []
    return hits


def _is_secret(kind: str) -> bool:
    return kind in ("secrets", "Secret")


# --------------------------------------------------------------------------- where to look


def _kind_paths(cluster: Cluster) -> dict[str, str]:
    """What the namespace holds that the controller reads or writes, by API path (and Secrets)."""
    ns = cluster.namespace
    return {
        "qiskitjobs": cluster.job_path(),
        "qiskitbackends": cluster.kind_path("qiskitbackends"),
        "qiskitsessions": cluster.kind_path("qiskitsessions"),
        "workflows": cluster.workflow_path(),
        "configmaps": cluster.configmap_path(),
        "events": f"/api/v1/namespaces/{ns}/events",
        "secrets": f"/api/v1/namespaces/{ns}/secrets",
    }


async def _snapshot(cluster: Cluster) -> list[tuple[str, dict[str, Any]]]:
    """Everything in the namespace now, as the API serves it: (kind, object)."""
    found = []
    for kind, path in _kind_paths(cluster).items():
        for item in await cluster.api.items(path):
            found.append((kind, item))
    return found


def _stored(cluster: Cluster) -> Iterator[tuple[str, str, Any]]:
    """kmock: every version of every object the emulator ever held (deleted ones too), and every
    event it sent a watcher: (kind, where, object)."""
    emulator = cluster.emulator
    assert emulator is not None
    for (resource, namespace, name), obj in list(emulator.objects._objects.items()):
        for index, version in enumerate(obj.history):
            yield str(resource.plural), f"{resource.plural}/{namespace}/{name}@{index}", version
    for resource, log in list(emulator._log.items()):
        for rv, event in log:
            yield str(resource.plural), f"watch {resource.plural}@{rv}", event


def _log_text(record: logging.LogRecord) -> str:
    """A log record as any handler could write it: the message, its exception, its extra fields."""
    text = logging.Formatter("%(name)s %(levelname)s %(message)s").format(record)
    return text + " " + json.dumps(record.__dict__, default=repr, sort_keys=True)


class Records(logging.Handler):
    """Every log record of the process (the controller's thread included), at DEBUG."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", "kopf", "qiskit_argo_controller", "aiohttp")}
    root.addHandler(handler)
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def _leaks(cluster: Cluster, records: Records, canary: str, seen: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Everywhere the canary is, but the Secret that holds it."""
    forms = _forms(canary)
    leaks: list[str] = []
    for kind, obj in [*seen, *await _snapshot(cluster)]:
        if not _is_secret(kind):
            leaks += _found(obj, f"{kind}/{obj['metadata']['name']}", forms)
    for record in records.records:
        if any(form in _log_text(record) for form in forms):
            leaks.append(f"log {record.name} {record.levelname}: {record.getMessage()[:200]}")
    if cluster.emulator is not None:
        for kind, where, obj in _stored(cluster):
            if not _is_secret(kind):
                leaks += _found(obj, where, forms)
        for write in cluster.emulator.writes:
            if write.resource != "secrets":
                leaks += _found(write.body, f"{write.who} {write.method} {write.resource}/{write.name}", forms)
        for who, method, path in cluster.emulator.requests:
            if any(form in path for form in forms):
                leaks.append(f"{who} {method} {path}")
    return sorted(set(leaks))


def _held(cluster: Cluster, canary: str) -> list[str]:
    """Where the search finds the canary in Secrets: it must, or the search proves nothing."""
    forms = _forms(canary)
    found = []
    if cluster.emulator is not None:
        for kind, where, obj in _stored(cluster):
            if _is_secret(kind):
                found += _found(obj, where, forms)
    return found


# --------------------------------------------------------------------------- Workflows and the key


def _containers(template: dict[str, Any]) -> list[dict[str, Any]]:
    found = [template[k] for k in ("container", "script") if isinstance(template.get(k), dict)]
    for k in ("initContainers", "sidecars", "containers"):
        found += [c for c in template.get(k) or [] if isinstance(c, dict)]
    return found


def _key_refs(templates: list[dict[str, Any]], where: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(template, its egress label, the secretKeyRef) for every env entry of the templates that
    reads a Secret; fails on a literal key, a key from anything else, or a Secret read any other way."""
    refs = []
    for template in templates:
        name = f"{where} template {template.get('name')}"
        text = json.dumps(template)
        assert "envFrom" not in text, f"{name}: envFrom would hand a pod a whole Secret"
        volumes = json.dumps(template.get("volumes") or [])
        assert '"secret"' not in volumes and '"projected"' not in volumes, f"{name}: a Secret volume"
        egress = ((template.get("metadata") or {}).get("labels") or {}).get(EGRESS, "")
        for container in _containers(template):
            for env in container.get("env") or []:
                source = env.get("valueFrom") or {}
                if env.get("name") == TOKEN_ENV:
                    assert "value" not in env, f"{name}: {TOKEN_ENV} as a literal value"
                    assert set(source) == {"secretKeyRef"}, f"{name}: {TOKEN_ENV} not from a secretKeyRef: {env}"
                if "secretKeyRef" in source:
                    assert env.get("name") == TOKEN_ENV, f"{name}: a Secret in {env.get('name')}"
                    assert set(source["secretKeyRef"]) <= {"name", "key", "optional"}, f"{name}: {source}"
                    refs.append((str(template.get("name")), egress, source["secretKeyRef"]))
        # A pod without egress ibm-quantum gets no Secret at all.
        if egress != "ibm-quantum":
            assert "secretKeyRef" not in text, f"{name} (egress {egress!r}) reads a Secret"
    return refs


def _service_role(workflow: dict[str, Any]) -> str | None:
    return (workflow["metadata"].get("labels") or {}).get("qiskit-argo.io/service")


def _check_workflow(workflow: dict[str, Any]) -> list[str]:
    """A Workflow of ours names the key only as a secretKeyRef, in ibm-quantum pods only. Returns
    the steps that get the key: a service Workflow's own templates; a job's tasks that pass the
    Secret key's name on to the ClusterWorkflowTemplate's templates (checked from the YAML)."""
    name = workflow["metadata"]["name"]
    refs = _key_refs(workflow["spec"].get("templates") or [], name)
    role = _service_role(workflow)
    for template, egress, ref in refs:
        assert egress == "ibm-quantum", f"{name}: {template} gets the key with egress {egress!r}"
        # A service Workflow names the backend's Secret key literally (known when it is rendered).
        assert role is not None and (ref["name"], ref["key"]) == (SECRET, KEY), f"{name}: {ref}"
    if role is not None:
        return [template for template, _, _ in refs]
    # A job's Workflow: its steps run templates of the ClusterWorkflowTemplate, which reads the
    # Secret key the schedule step chose; the Workflow passes that choice on, never a value.
    passing = []
    for template in workflow["spec"].get("templates") or []:
        for task in (template.get("dag") or {}).get("tasks") or []:
            parameters = {p["name"]: p for p in (task.get("arguments") or {}).get("parameters") or []}
            if not {"credentials-secret", "credentials-key"} & set(parameters):
                continue
            for parameter in ("credentials-secret", "credentials-key"):
                value = parameters[parameter].get("value")
                assert value == f"{{{{tasks.schedule.outputs.parameters.{parameter}}}}}", f"{name}: {value!r}"
            assert task["templateRef"] == {"name": "qiskit-job-v1", "template": task["name"], "clusterScope": True}
            passing.append(str(task["name"]))
    return passing


# --------------------------------------------------------------------------- the scenario


async def _workflow(cluster: Cluster, role: str, label: str = "qiskit-argo.io/service") -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        found = [wf for wf in await cluster.workflows() if (wf["metadata"].get("labels") or {}).get(label) == role]
        return found[0] if found else None

    return await eventually(probe, what=f"the {role} Workflow")


async def _has(cluster: Cluster, plural: str, name: str, *, phase: str | None = None, gone: bool = False) -> Any:
    obj = await cluster.api.get(cluster.kind_path(plural, name))
    if gone:
        return obj is None
    return obj if obj and (obj.get("status") or {}).get("phase") == phase else None


async def _message_has(cluster: Cluster, name: str, text: str) -> dict[str, Any] | None:
    job = await cluster.job(name)
    return job if text in ((job.get("status") or {}).get("message") or "") else None


def _steps(fake: ArgoFake, *steps: str) -> None:
    """The steps run and succeed: schedule chooses torino in the session, the rest write the Bell
    job's outputs at IBM (``tests.argo_fake``'s defaults)."""
    for step in steps:
        fake.run_step(step)
        fake.succeed_step(step, {"schedule": SCHEDULE, "ibm-submit": {"submission": SUBMISSION_JSON}}.get(step))


async def _play(cluster: Cluster, seen: list[tuple[str, dict[str, Any]]]) -> dict[str, list[str]]:
    """Drive every Workflow the controller makes to its end; the templates that got the key, by
    Workflow role. ``seen`` collects every object along the way (some are deleted by the end)."""

    async def keep() -> None:
        seen.extend(await _snapshot(cluster))

    got: dict[str, list[str]] = {}
    await cluster.create("QiskitBackend", "qiskitbackends", "torino", TORINO)
    await cluster.controller().start()

    # The backend's probe.
    probe = await _workflow(cluster, "ibm-probe")
    got["ibm-probe"] = _check_workflow(probe)
    await ServiceArgo(cluster, probe["metadata"]["name"])(lambda fake: (fake.start(), fake.succeed({"probe": PROBE})))
    await eventually(lambda: _has(cluster, "qiskitbackends", "torino", phase="Ready"), what="torino Ready")
    await keep()

    # The session's open.
    await cluster.create("QiskitSession", "qiskitsessions", "s1", {"backendRef": "torino"})
    opener = await _workflow(cluster, "session-open")
    got["session-open"] = _check_workflow(opener)
    await ServiceArgo(cluster, opener["metadata"]["name"])(lambda fake: (fake.start(), fake.succeed(OPENED)))
    await eventually(lambda: _has(cluster, "qiskitsessions", "s1", phase="Ready"), what="s1 Ready")
    await keep()

    # A job on torino in the session, run to the end at IBM.
    await cluster.create_job("done", bell_spec(backend={"ref": "torino"}, sessionRef="s1"))
    workflow = await cluster.workflow_of("done")
    got["job"] = _check_workflow(workflow)

    def run(fake: ArgoFake) -> None:
        fake.start()
        _steps(fake, "validate", "schedule", "ibm-submit", "ibm-wait", "store-results")
        fake.finish("Succeeded")

    await Argo(cluster, workflow["metadata"]["name"])(run)
    await cluster.phase("done", "Succeeded")
    await keep()

    # Another, deleted while ibm-wait runs: the cancel Workflow.
    await cluster.create_job("bell", bell_spec(backend={"ref": "torino"}, sessionRef="s1"))
    workflow = await cluster.workflow_of("bell")
    _check_workflow(workflow)

    def waiting(fake: ArgoFake) -> None:
        fake.start()
        _steps(fake, "validate", "schedule", "ibm-submit")
        fake.run_step("ibm-wait")

    await Argo(cluster, workflow["metadata"]["name"])(waiting)
    await eventually(lambda: _message_has(cluster, "bell", "is queued or running at IBM"), what="ibm-wait running")
    await keep()
    await cluster.delete_job("bell")
    cancel = await _workflow(cluster, "ibm-cancel")
    got["ibm-cancel"] = _check_workflow(cancel)
    await keep()
    await ServiceArgo(cluster, cancel["metadata"]["name"])(
        lambda fake: (fake.start(), fake.succeed({"cancelled": {"cancelled": ["d1k2mq8s0abc"]}}))
    )
    await eventually(lambda: _has(cluster, "qiskitjobs", "bell", gone=True), what="bell deleted")

    # The session's close.
    await cluster.api.ok("DELETE", cluster.kind_path("qiskitsessions", "s1"))
    closer = await _workflow(cluster, "session-close")
    got["session-close"] = _check_workflow(closer)
    await keep()
    await ServiceArgo(cluster, closer["metadata"]["name"])(lambda fake: (fake.start(), fake.succeed(CLOSED)))
    await eventually(lambda: _has(cluster, "qiskitsessions", "s1", gone=True), what="s1 deleted")
    await keep()
    for controller in cluster.controllers:
        await controller.stop()  # every log record written
    return got


async def test_the_api_key_reaches_only_the_ibm_pods_by_reference(cluster: Cluster, records: Records) -> None:
    canary = f"canary-{secrets.token_hex(16)}"
    await cluster.api.ok(
        "POST",
        _kind_paths(cluster)["secrets"],
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": SECRET, "namespace": cluster.namespace},
            "type": "Opaque",
            "data": {KEY: base64.b64encode(canary.encode()).decode()},
        },
    )
    seen: list[tuple[str, dict[str, Any]]] = []
    got = await _play(cluster, seen)

    # Every IBM step got the key, by reference, in its ibm-quantum pod alone.
    assert got == {
        "ibm-probe": ["ibm-probe"],
        "session-open": ["session-open"],
        "job": ["ibm-submit", "ibm-wait"],  # the ClusterWorkflowTemplate's templates: below
        "ibm-cancel": ["ibm-cancel"],
        "session-close": ["session-close"],
    }
    template = yaml.safe_load((REPO / "workflowtemplates" / "qiskit-job-v1.yaml").read_text())
    refs = _key_refs(template["spec"]["templates"], "ClusterWorkflowTemplate")
    assert sorted((name, egress) for name, egress, _ in refs) == [
        ("ibm-submit", "ibm-quantum"),
        ("ibm-wait", "ibm-quantum"),
    ]
    for _, _, ref in refs:
        assert ref["name"] == "{{inputs.parameters.credentials-secret}}"
        assert ref["key"] == "{{inputs.parameters.credentials-key}}"

    # The canary is nowhere but in its Secret.
    assert await _leaks(cluster, records, canary, seen) == []
    assert records.records, "no log record was captured"
    assert any(r.name.startswith("kopf") for r in records.records), "kopf's log was not captured"

    # The controller never asked for a Secret: RBAC grants none, none was refused, none was sent.
    rules = controller_rules(RBAC, PEERING_CRDS)
    assert not any("secrets" in rule.get("resources", []) or "*" in rule.get("resources", []) for rule in rules)
    if cluster.emulator is not None:
        assert not [d for d in cluster.emulator.denied if "secrets" in d[2]]
        by_controller = [r for r in cluster.emulator.requests if r[0] == "controller"]
        assert by_controller, "the emulator recorded none of the controller's requests"
        assert not [r for r in by_controller if "/secrets" in r[2].split("?")[0]]

    # The search can fail: it finds the canary in the Secret itself...
    if cluster.emulator is not None:
        assert _held(cluster, canary)
    secret = await cluster.api.get(f"{_kind_paths(cluster)['secrets']}/{SECRET}")
    assert _found(secret, "secret", _forms(canary))
    # ...and wherever it is planted: a status, a log line.
    await cluster.set_status("qiskitbackends", "torino", {"message": f"IBM said: bad key {canary}"})
    leaks = await _leaks(cluster, records, canary, [])
    assert any(leak.startswith("qiskitbackends/torino") for leak in leaks), leaks
    logging.getLogger("qiskit_argo_controller").debug("token=%s", canary)
    assert any(leak.startswith("log qiskit_argo_controller") for leak in await _leaks(cluster, records, canary, []))
