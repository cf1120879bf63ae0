"""Argo CD: the health checks (run in Lua 5.1, the dialect Argo CD embeds), diff settings, and Applications.

The Lua is taken from the built ``argocd-cm`` — what a cluster gets — and run against QiskitJob
fixtures made with the project's own status model, for every phase, a missing status and a stale
``observedGeneration``.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from qiskit_argo.api import GROUP, KIND, Phase, QiskitJobStatus
from tests.deploy.builds import REPO, build, crds, find, load_yaml_documents, of_kind, sync_wave

lupa_lua51 = pytest.importorskip("lupa.lua51", reason="lupa (with its Lua 5.1 runtime) is not installed")

HEALTH_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}
HEALTH_KEY = "resource.customizations.health.{group}_{kind}"
#: Who writes to a QiskitJob besides Argo CD: only the controller, and only its status.
FIELD_MANAGERS = {"qiskit-argo-controller"}


def _argocd_cm() -> dict[str, str]:
    return find(build("argocd"), "ConfigMap", "argocd-cm")["data"]


def _to_lua(runtime: Any, value: Any) -> Any:
    if isinstance(value, dict):
        return runtime.table_from({k: _to_lua(runtime, v) for k, v in value.items()})
    if isinstance(value, list):
        return runtime.table_from([_to_lua(runtime, v) for v in value])
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # Argo CD decodes JSON numbers into Lua numbers (float64)
    return value


def run_health(script: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Run a health script like Argo CD: ``obj`` is a global, the script returns a table."""
    runtime = lupa_lua51.LuaRuntime(unpack_returned_tuples=True)
    assert runtime.eval("_VERSION") == "Lua 5.1"
    # Argo CD's sandbox has no io/os/package; make sure the script does not lean on them.
    runtime.execute("io = nil; os = nil; require = nil; dofile = nil; loadfile = nil; package = nil")
    runtime.globals()["obj"] = _to_lua(runtime, obj)
    result = runtime.execute(script)
    return dict(result.items())


def _job(status: dict[str, Any] | None, generation: int | None = 3) -> dict[str, Any]:
    job = yaml.safe_load((REPO / "examples" / "bell.yaml").read_text())
    job = copy.deepcopy(job)
    if generation is not None:
        job["metadata"]["generation"] = generation
    if status is not None:
        job["status"] = status
    return job


def _status(phase: Phase, observed: int | None = 3, message: str | None = None) -> dict[str, Any]:
    return QiskitJobStatus(phase=phase, observed_generation=observed, message=message).dump()


EXPECTED = {
    Phase.PENDING: "Progressing",
    Phase.VALIDATING: "Progressing",
    Phase.SCHEDULING: "Progressing",
    Phase.RUNNING: "Progressing",
    Phase.SUCCEEDED: "Healthy",
    Phase.FAILED: "Degraded",
    Phase.SUSPENDED: "Suspended",
}


def test_the_table_covers_every_phase() -> None:
    assert set(EXPECTED) == set(Phase)


@pytest.mark.parametrize("phase", list(Phase), ids=[p.value for p in Phase])
def test_qiskitjob_health_for_every_phase(phase: Phase) -> None:
    script = _argocd_cm()[HEALTH_KEY.format(group=GROUP, kind=KIND)]
    health = run_health(script, _job(_status(phase, message=f"the job is {phase.value.lower()}")))
    assert health["status"] == EXPECTED[phase]
    assert health["message"] == f"the job is {phase.value.lower()}", "the controller's message is shown as it is"


@pytest.mark.parametrize("phase", list(Phase), ids=[p.value for p in Phase])
def test_qiskitjob_health_has_a_message_without_one_in_the_status(phase: Phase) -> None:
    script = _argocd_cm()[HEALTH_KEY.format(group=GROUP, kind=KIND)]
    health = run_health(script, _job(_status(phase)))
    assert health["status"] == EXPECTED[phase] and health["message"]


CASES = [
    ("no status at all", _job(None), "Progressing", "controller"),
    ("an empty status", _job({}), "Progressing", "controller"),
    ("stale observedGeneration, Succeeded", _job(_status(Phase.SUCCEEDED, observed=2)), "Progressing", "generation 3"),
    ("stale observedGeneration, Failed", _job(_status(Phase.FAILED, observed=1)), "Progressing", "last observed: 1"),
    ("stale observedGeneration, Suspended", _job(_status(Phase.SUSPENDED, observed=2)), "Progressing", "generation 3"),
    ("observedGeneration missing", _job({"phase": "Succeeded"}), "Progressing", "none"),
    (
        "no generation (not from a server)",
        _job(_status(Phase.SUCCEEDED, observed=None), generation=None),
        "Healthy",
        "",
    ),
    ("a phase from a newer controller", _job({"phase": "Archived", "observedGeneration": 3}), "Unknown", "Archived"),
    ("newer observedGeneration", _job(_status(Phase.FAILED, observed=4)), "Degraded", ""),
]


@pytest.mark.parametrize(("case", "job", "expected", "says"), CASES, ids=[c[0] for c in CASES])
def test_qiskitjob_health_edge_cases(case: str, job: dict[str, Any], expected: str, says: str) -> None:
    health = run_health(_argocd_cm()[HEALTH_KEY.format(group=GROUP, kind=KIND)], job)
    assert health["status"] == expected
    assert says in health["message"]


def test_every_status_a_script_returns_is_one_argo_cd_knows() -> None:
    for key, script in _argocd_cm().items():
        if not key.startswith("resource.customizations.health."):
            continue
        for status in re.findall(r'hs\.status\s*=\s*"(\w+)"', script):
            assert status in HEALTH_STATUSES, f"{key}: {status}"
        assert not re.search(r"\b(os|io|require|dofile|loadfile|loadstring)\b\s*[.(]", script), key


def test_every_qiskit_argo_kind_with_a_status_has_a_health_check() -> None:
    data = _argocd_cm()
    kinds = [
        (crd["spec"]["group"], crd["spec"]["names"]["kind"])
        for crd in crds().values()
        if any("status" in version.get("subresources", {}) for version in crd["spec"]["versions"])
    ]
    assert kinds, "no CRD with a status subresource in crds/"
    for group, kind in kinds:
        assert HEALTH_KEY.format(group=group, kind=kind) in data, f"no Argo CD health check for {group}/{kind}"


APPLICATION_CASES = [
    ({}, "Progressing"),
    ({"status": {"health": {"status": "Healthy"}}}, "Healthy"),
    ({"status": {"health": {"status": "Degraded", "message": "boom"}}}, "Degraded"),
    ({"status": {"sync": {"status": "Synced"}}}, "Progressing"),
]


@pytest.mark.parametrize(("application", "expected"), APPLICATION_CASES)
def test_child_application_health(application: dict[str, Any], expected: str) -> None:
    script = _argocd_cm()["resource.customizations.health.argoproj.io_Application"]
    assert (
        run_health(script, {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", **application})["status"]
        == expected
    )


# --------------------------------------------------------------------------- diffing: never fight the controller


def test_status_is_ignored_in_diffs_and_reconciles() -> None:
    data = _argocd_cm()
    ignore = yaml.safe_load(data[f"resource.customizations.ignoreDifferences.{GROUP}_{KIND}"])
    assert "/status" in ignore["jsonPointers"]
    assert set(ignore["managedFieldsManagers"]) == FIELD_MANAGERS
    updates = yaml.safe_load(data[f"resource.customizations.ignoreResourceUpdates.{GROUP}_{KIND}"])
    assert "/status" in updates["jsonPointers"]


def test_the_jobs_application_leaves_status_to_the_controller() -> None:
    jobs = find(build("argocd/apps"), "Application", "qiskit-argo-jobs")
    (rule,) = [r for r in jobs["spec"]["ignoreDifferences"] if (r["group"], r["kind"]) == (GROUP, KIND)]
    assert "/status" in rule["jsonPointers"] and set(rule["managedFieldsManagers"]) == FIELD_MANAGERS
    options = jobs["spec"]["syncPolicy"]["syncOptions"]
    assert "RespectIgnoreDifferences=true" in options
    assert "SkipDryRunOnMissingResource=true" in options, "the first sync may precede the CRD"


# --------------------------------------------------------------------------- Applications and projects

#: The Application fields this repository uses, as Argo CD spells them (argoproj.io/v1alpha1).
APPLICATION_FIELDS = {
    "apiVersion",
    "kind",
    "metadata",
    "metadata.name",
    "metadata.namespace",
    "metadata.annotations",
    "metadata.finalizers",
    "metadata.labels",
    "spec",
    "spec.project",
    "spec.source",
    "spec.source.repoURL",
    "spec.source.targetRevision",
    "spec.source.path",
    "spec.source.directory",
    "spec.source.directory.include",
    "spec.source.directory.recurse",
    "spec.source.directory.exclude",
    "spec.destination",
    "spec.destination.server",
    "spec.destination.namespace",
    "spec.ignoreDifferences",
    "spec.ignoreDifferences.group",
    "spec.ignoreDifferences.kind",
    "spec.ignoreDifferences.jsonPointers",
    "spec.ignoreDifferences.jqPathExpressions",
    "spec.ignoreDifferences.managedFieldsManagers",
    "spec.syncPolicy",
    "spec.syncPolicy.automated",
    "spec.syncPolicy.automated.prune",
    "spec.syncPolicy.automated.selfHeal",
    "spec.syncPolicy.syncOptions",
    "spec.syncPolicy.retry",
    "spec.syncPolicy.retry.limit",
    "spec.syncPolicy.retry.backoff",
    "spec.syncPolicy.retry.backoff.duration",
    "spec.syncPolicy.retry.backoff.factor",
    "spec.syncPolicy.retry.backoff.maxDuration",
}
PROJECT_FIELDS = {
    "apiVersion",
    "kind",
    "metadata",
    "metadata.name",
    "metadata.namespace",
    "metadata.finalizers",
    "spec",
    "spec.description",
    "spec.sourceRepos",
    "spec.destinations",
    "spec.destinations.server",
    "spec.destinations.namespace",
    "spec.clusterResourceWhitelist",
    "spec.clusterResourceWhitelist.group",
    "spec.clusterResourceWhitelist.kind",
    "spec.namespaceResourceWhitelist",
    "spec.namespaceResourceWhitelist.group",
    "spec.namespaceResourceWhitelist.kind",
}
SYNC_OPTIONS = {
    "ServerSideApply=true",
    "RespectIgnoreDifferences=true",
    "SkipDryRunOnMissingResource=true",
    "CreateNamespace=true",
    "PruneLast=true",
}


def _paths(node: Any, prefix: str = "") -> set[str]:
    paths = set()
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else key
            paths.add(path)
            if not (prefix.startswith("metadata.") or path in ("metadata.annotations", "metadata.labels")):
                paths |= _paths(value, path)
    elif isinstance(node, list):
        for value in node:
            paths |= _paths(value, prefix)
    return paths


def _argocd_objects() -> list[dict[str, Any]]:
    return build("argocd") + build("argocd/apps")


def test_applications_and_projects_use_only_known_fields() -> None:
    repositories = set()
    for obj in _argocd_objects():
        if obj["kind"] == "Application":
            assert _paths(obj) <= APPLICATION_FIELDS, _paths(obj) - APPLICATION_FIELDS
            assert set(obj["spec"].get("syncPolicy", {}).get("syncOptions", [])) <= SYNC_OPTIONS
            repositories.add(obj["spec"]["source"]["repoURL"])
        elif obj["kind"] == "AppProject":
            assert _paths(obj) <= PROJECT_FIELDS, _paths(obj) - PROJECT_FIELDS
            repositories.update(obj["spec"]["sourceRepos"])
        assert obj["metadata"].get("namespace") == "argocd"
    # One repository everywhere, so a fork changes it with one sed (docs/deploy.md).
    assert len(repositories) == 1, repositories


def test_the_app_of_apps_syncs_the_platform_before_the_jobs() -> None:
    root = find(build("argocd"), "Application", "qiskit-argo")
    assert root["spec"]["source"]["path"] == "kustomize/argocd/apps"
    apps = build("argocd/apps")
    platform = find(apps, "Application", "qiskit-argo-platform")
    jobs = find(apps, "Application", "qiskit-argo-jobs")
    assert sync_wave(platform) < sync_wave(jobs)
    assert (REPO / platform["spec"]["source"]["path"] / "kustomization.yaml").exists()
    assert platform["spec"]["source"]["path"].startswith("kustomize/overlays/")
    assert (REPO / jobs["spec"]["source"]["path"]).is_dir()


def test_projects_confine_what_each_application_may_create() -> None:
    objs = _argocd_objects()
    apps = of_kind(objs, "Application")
    projects = {p["metadata"]["name"]: p for p in of_kind(objs, "AppProject")}
    for app in apps:
        project = projects[app["spec"]["project"]]
        destination = app["spec"]["destination"]
        assert any(d == destination for d in project["spec"]["destinations"]), app["metadata"]["name"]
    jobs = projects["qiskit-argo-jobs"]["spec"]
    assert jobs["clusterResourceWhitelist"] == []
    allowed = {(k["group"], k["kind"]) for k in jobs["namespaceResourceWhitelist"]}
    assert allowed == {("", "ConfigMap"), (GROUP, KIND), (GROUP, "QiskitBackend"), (GROUP, "QiskitSession")}


def test_the_platform_project_allows_every_kind_the_platform_holds() -> None:
    platform = find(build("argocd/apps"), "Application", "qiskit-argo-platform")
    project = find(build("argocd"), "AppProject", "qiskit-argo")["spec"]
    allowed = {
        (k["group"], k["kind"]) for k in project["clusterResourceWhitelist"] + project["namespaceResourceWhitelist"]
    }
    for obj in build(platform["spec"]["source"]["path"].removeprefix("kustomize/")):
        group = obj["apiVersion"].rpartition("/")[0]
        assert (group, obj["kind"]) in allowed, f"project qiskit-argo would refuse {group}/{obj['kind']}"


def _globs(pattern: str) -> list[str]:
    """Argo CD's directory include/exclude: one glob, or several as ``{a,b}``."""
    return pattern[1:-1].split(",") if pattern.startswith("{") and pattern.endswith("}") else [pattern]


def _synced_files(application: dict[str, Any]) -> list[Path]:
    source = application["spec"]["source"]
    directory, options = REPO / source["path"], source["directory"]
    pattern = "**/*" if options.get("recurse") else "*"
    excluded = _globs(options.get("exclude", "{}"))
    found = []
    for path in sorted(directory.glob(pattern)):
        relative = path.relative_to(directory)
        if not path.is_file() or relative.suffix not in (".yaml", ".yml", ".json"):
            continue
        included = [glob for glob in _globs(options["include"]) if len(relative.parts) == len(glob.split("/"))]
        if any(relative.match(glob) for glob in included) and not any(relative.match(g) for g in excluded if g):
            found.append(path)
    return found


def test_the_jobs_directory_holds_only_what_the_jobs_project_allows() -> None:
    """(That each QiskitJob there fits the CRD is tests/schema's job.)"""
    jobs = find(build("argocd/apps"), "Application", "qiskit-argo-jobs")
    project = find(build("argocd"), "AppProject", "qiskit-argo-jobs")
    allowed = {(entry["group"], entry["kind"]) for entry in project["spec"]["namespaceResourceWhitelist"]}
    kinds: dict[str, int] = {}
    for path in _synced_files(jobs):
        for obj in load_yaml_documents(path):
            group = obj["apiVersion"].rpartition("/")[0]
            assert (group, obj["kind"]) in allowed, f"{path.name}: the jobs project refuses {obj['kind']}"
            assert "namespace" not in obj["metadata"], f"{path.name}: the Application decides the namespace"
            kinds[obj["kind"]] = kinds.get(obj["kind"], 0) + 1
    assert kinds.get(KIND) and kinds.get("QiskitBackend") and kinds.get("QiskitSession"), kinds


def test_the_catalogue_syncs_before_the_jobs_and_without_a_real_backend() -> None:
    """A job naming a QiskitBackend or QiskitSession is applied after they are Healthy (probed,
    opened); a real IBM backend, which needs a Secret Git does not hold, is left out."""
    jobs = find(build("argocd/apps"), "Application", "qiskit-argo-jobs")
    for path in _synced_files(jobs):
        for obj in load_yaml_documents(path):
            wave = int(obj["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0"))
            assert (wave < 0) == (obj["kind"] in ("QiskitBackend", "QiskitSession")), path.name
            assert obj["kind"] != "QiskitBackend" or "credentialsSecretRef" not in obj["spec"], path.name
    for kind in ("QiskitBackend", "QiskitSession"):
        (rule,) = [r for r in jobs["spec"]["ignoreDifferences"] if (r["group"], r["kind"]) == (GROUP, kind)]
        assert "/status" in rule["jsonPointers"] and set(rule["managedFieldsManagers"]) == FIELD_MANAGERS


def test_a_jobs_workflow_never_carries_argo_cd_tracking() -> None:
    """Argo CD prunes what carries its tracking label or annotation but is not in Git: the Workflow
    the controller creates for a Git-managed job must not inherit them from the job."""
    from qiskit_argo import workflows
    from qiskit_argo.manifests import load_manifests

    (job,) = load_manifests(REPO / "examples" / "bell.yaml").jobs
    job.metadata.labels["app.kubernetes.io/instance"] = "qiskit-argo-jobs"
    job.metadata.annotations["argocd.argoproj.io/tracking-id"] = "qiskit-argo-jobs:qiskit-argo.io/QiskitJob:x/bell"
    workflow = workflows.build(job)
    for metadata in (workflow["metadata"], workflow["spec"].get("podMetadata", {})):
        assert "app.kubernetes.io/instance" not in metadata.get("labels", {})
        assert not any(key.startswith("argocd.argoproj.io/") for key in metadata.get("annotations", {}))


BACKEND_CASES = [
    ({}, "Progressing"),
    ({"status": {"phase": "Pending", "observedGeneration": 1}}, "Progressing"),
    ({"status": {"phase": "Ready", "observedGeneration": 1}}, "Healthy"),
    ({"status": {"phase": "NotReady", "observedGeneration": 1, "message": "credentials rejected"}}, "Degraded"),
    ({"status": {"phase": "Disabled", "observedGeneration": 1}}, "Suspended"),
    ({"status": {"phase": "Ready", "observedGeneration": 0}}, "Progressing"),
    ({"status": {"phase": "Bogus", "observedGeneration": 1}}, "Unknown"),
]


@pytest.mark.parametrize(("backend", "expected"), BACKEND_CASES)
def test_qiskitbackend_health(backend: dict[str, Any], expected: str) -> None:
    script = _argocd_cm()[HEALTH_KEY.format(group=GROUP, kind="QiskitBackend")]
    obj = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "QiskitBackend", "metadata": {"generation": 1}, **backend}
    health = run_health(script, obj)
    assert health["status"] == expected and health["message"]


SESSION_CASES = [
    ({}, "Progressing"),
    ({"status": {"phase": "Opening", "observedGeneration": 1}}, "Progressing"),
    ({"status": {"phase": "Ready", "observedGeneration": 1, "sessionId": "s-1"}}, "Healthy"),
    ({"status": {"phase": "Closing", "observedGeneration": 1}}, "Progressing"),
    ({"status": {"phase": "Closed", "observedGeneration": 1}}, "Degraded"),
    ({"status": {"phase": "Failed", "observedGeneration": 1, "message": "CredentialsRejected"}}, "Degraded"),
    ({"status": {"phase": "Ready", "observedGeneration": 0}}, "Progressing"),
    ({"status": {"phase": "Bogus", "observedGeneration": 1}}, "Unknown"),
]


@pytest.mark.parametrize(("session", "expected"), SESSION_CASES)
def test_qiskitsession_health(session: dict[str, Any], expected: str) -> None:
    script = _argocd_cm()[HEALTH_KEY.format(group=GROUP, kind="QiskitSession")]
    obj = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "QiskitSession", "metadata": {"generation": 1}, **session}
    health = run_health(script, obj)
    assert health["status"] == expected and health["message"]
    if session.get("status", {}).get("message"):
        assert health["message"] == session["status"]["message"]


def _budget_conditions(ready: str = "True", exhausted: str = "False", nearly: str = "False") -> list[dict[str, Any]]:
    when = "2026-11-01T00:00:00Z"
    return [
        {"type": "Ready", "status": ready, "reason": "Accepting" if ready == "True" else "InvalidTimeZone",
         "message": "" if ready == "True" else "spec.timeZone 'Mars/Base' is not an IANA time zone",
         "lastTransitionTime": when},
        {"type": "Exhausted", "status": exhausted, "reason": "LimitReached" if exhausted == "True" else "WithinLimit",
         "message": "0 USD of 1600.00 USD left", "lastTransitionTime": when},
        {"type": "NearlyExhausted", "status": nearly, "reason": "ThresholdReached" if nearly == "True" else
         "BelowThreshold", "message": "1500 USD of 1600 USD spent or reserved", "lastTransitionTime": when},
    ]  # fmt: skip


BUDGET_CASES = [
    ({}, "Progressing", "accounts"),
    ({"status": {"observedGeneration": 0, "conditions": _budget_conditions()}}, "Progressing", "generation 1"),
    ({"status": {"observedGeneration": 1, "conditions": _budget_conditions(), "message": "1600 USD left"}},
     "Healthy", "1600 USD left"),
    ({"status": {"observedGeneration": 1, "conditions": _budget_conditions(nearly="True")}}, "Healthy",
     "Nearly exhausted"),
    ({"status": {"observedGeneration": 1, "conditions": _budget_conditions(exhausted="True", nearly="True")}},
     "Degraded", "Exhausted"),
    ({"status": {"observedGeneration": 1, "conditions": _budget_conditions(ready="False")}}, "Degraded", "Mars/Base"),
]  # fmt: skip


@pytest.mark.parametrize(("budget", "expected", "says"), BUDGET_CASES)
def test_qiskitbudget_health(budget: dict[str, Any], expected: str, says: str) -> None:
    script = _argocd_cm()[HEALTH_KEY.format(group=GROUP, kind="QiskitBudget")]
    obj = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "QiskitBudget", "metadata": {"generation": 1}, **budget}
    health = run_health(script, obj)
    assert health["status"] == expected and says in health["message"], health


def test_qiskitbudget_health_reads_what_the_ledger_writes() -> None:
    """The status the budget ledger computes (not a hand-made one) is Healthy, then Degraded when exhausted."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from qiskit_argo.api import QiskitBudget, QiskitBudgetStatus
    from qiskit_argo.budget import Need, refresh, reserve

    budget = QiskitBudget.model_validate(load_yaml_documents(REPO / "examples" / "catalogue" / "budget-team.yaml")[0])
    budget.metadata.generation = 1
    now = datetime(2026, 11, 28, tzinfo=UTC)
    budget.status = refresh(budget, now)
    script = _argocd_cm()[HEALTH_KEY.format(group=GROUP, kind="QiskitBudget")]
    healthy = run_health(script, budget.model_dump(by_alias=True, exclude_none=True, mode="json"))
    assert healthy["status"] == "Healthy", healthy
    need = Need(Decimal(1000), Decimal("1600.00"), "USD", "aer-paid", 0, "all of it")
    status = reserve(budget, "uid-1", "big", need, now)
    assert isinstance(status, QiskitBudgetStatus) and status.reservations, status
    budget.status = status
    degraded = run_health(script, budget.model_dump(by_alias=True, exclude_none=True, mode="json"))
    assert degraded["status"] == "Degraded" and "Exhausted" in degraded["message"], degraded
