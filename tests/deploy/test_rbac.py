"""RBAC: every permission any qiskit-argo identity holds, against a reviewed allow-list.

The test flattens every (Cluster)RoleBinding of every platform build into grants — who, where
(a namespace or the whole cluster), API group, resource, verb — and fails on any grant that is
not listed below, and on any listed grant that is no longer given (so the list stays the truth).
A change to RBAC therefore shows up here, as a diff of this table, for review.
"""

from __future__ import annotations

from typing import Any

import pytest

from qiskit_argo import workflows
from tests.deploy.builds import PLATFORM_BUILDS, build, find, name_of, of_kind

NAMESPACE = "qiskit-argo"
CLUSTER = "cluster"
CONTROLLER = f"{NAMESPACE}/qiskit-argo-controller"
WORKFLOW = f"{NAMESPACE}/{workflows.SERVICE_ACCOUNT}"

Grant = tuple[str, str, str, str, str]  # (subject, scope, apiGroup, resource, verb)


def _grants(subject: str, scope: str, table: dict[tuple[str, str], str]) -> set[Grant]:
    return {
        (subject, scope, group, resource, verb) for (group, resource), verbs in table.items() for verb in verbs.split()
    }


#: The reviewed allow-list, from what the controller does (controller/qiskit_argo_controller):
#: kopf lists and watches QiskitJobs, QiskitBackends, QiskitSessions and QiskitBudgets everywhere (event
#: handlers only); the controller reads them, patches a job's or a session's metadata.finalizers
#: only (its IBM-cancel / session-close finalizer), writes each kind's status subresource,
#: creates Workflows (a job's, and the probe, cancel and session open/close ones), reads and
#: watches Workflows and patches one to suspend or resume it, keeps ConfigMap
#: qiskit-argo-semaphores in each job namespace (get, create, patch — never a Secret), prunes
#: Argo's memoization ConfigMap qiskit-argo-result-cache there (get, patch) and posts Events.
#: It runs with --standalone and kopf's scanning disabled: no peering objects, no namespace or
#: CRD watching.
#: The step pods' executor: only the WorkflowTaskResults that carry output parameters.
ALLOWED: set[Grant] = _grants(
    CONTROLLER,
    CLUSTER,
    {
        ("qiskit-argo.io", "qiskitjobs"): "get list watch patch",
        ("qiskit-argo.io", "qiskitjobs/status"): "patch",
        ("qiskit-argo.io", "qiskitbackends"): "get list watch",
        ("qiskit-argo.io", "qiskitbackends/status"): "patch",
        ("qiskit-argo.io", "qiskitsessions"): "get list watch patch",
        ("qiskit-argo.io", "qiskitsessions/status"): "patch",
        ("qiskit-argo.io", "qiskitbudgets"): "get list watch",
        ("qiskit-argo.io", "qiskitbudgets/status"): "patch",
        ("", "configmaps"): "get create patch",
        ("argoproj.io", "workflows"): "get list watch create patch",
        ("", "events"): "create",
    },
) | _grants(
    WORKFLOW,
    NAMESPACE,
    {
        ("argoproj.io", "workflowtaskresults"): "create patch",
        ("argoproj.io", "workflowartifactgctasks"): "list watch",
        ("argoproj.io", "workflowartifactgctasks/status"): "patch",
    },
)

FORBIDDEN_VERBS = {"*", "escalate", "bind", "impersonate"}
FORBIDDEN_RESOURCES = {"*", "pods/exec", "pods/attach", "roles", "clusterroles", "rolebindings", "clusterrolebindings"}
READ_VERBS = {"get", "list", "watch"}


def _rules(objs: list[dict[str, Any]], binding: dict[str, Any]) -> list[dict[str, Any]]:
    ref = binding["roleRef"]
    if ref["kind"] == "ClusterRole":
        return find(objs, "ClusterRole", ref["name"]).get("rules", [])
    role = find(objs, "Role", ref["name"])
    assert role["metadata"].get("namespace") == binding["metadata"].get("namespace"), name_of(binding)
    return role.get("rules", [])


def granted(objs: list[dict[str, Any]]) -> set[Grant]:
    grants: set[Grant] = set()
    for binding in of_kind(objs, "RoleBinding", "ClusterRoleBinding"):
        scope = CLUSTER if binding["kind"] == "ClusterRoleBinding" else binding["metadata"]["namespace"]
        for subject in binding.get("subjects", []):
            assert subject["kind"] == "ServiceAccount", f"{name_of(binding)} binds a {subject['kind']}"
            namespace = subject.get("namespace") or binding["metadata"].get("namespace")
            who = f"{namespace}/{subject['name']}"
            find(objs, "ServiceAccount", subject["name"])
            for rule in _rules(objs, binding):
                assert not rule.get("nonResourceURLs"), f"{name_of(binding)} grants non-resource URLs"
                for group in rule.get("apiGroups", []):
                    for resource in rule.get("resources", []):
                        for verb in rule.get("verbs", []):
                            grants.add((who, scope, group, resource, verb))
    return grants


@pytest.mark.parametrize("directory", PLATFORM_BUILDS)
def test_every_grant_is_in_the_reviewed_allow_list(directory: str) -> None:
    grants = granted(build(directory))
    assert sorted(grants - ALLOWED) == [], "grants nobody reviewed: add them to ALLOWED, or take them away"
    assert sorted(ALLOWED - grants) == [], "ALLOWED lists grants that are no longer given: remove them"


@pytest.mark.parametrize("directory", PLATFORM_BUILDS)
def test_no_wildcards_and_nothing_dangerous(directory: str) -> None:
    objs = build(directory)
    for role in of_kind(objs, "Role", "ClusterRole"):
        assert "aggregationRule" not in role, f"{name_of(role)} aggregates other roles"
        for rule in role.get("rules", []):
            for field in ("apiGroups", "resources", "verbs", "resourceNames"):
                assert "*" not in rule.get(field, []), f"{name_of(role)}: {field} has *"
            assert not set(rule.get("verbs", [])) & FORBIDDEN_VERBS, name_of(role)
            assert not set(rule.get("resources", [])) & FORBIDDEN_RESOURCES, name_of(role)
    for who, scope, group, resource, verb in granted(objs):
        if group == "" and resource == "secrets" and verb in READ_VERBS:
            assert scope != CLUSTER, f"{who} may read Secrets in every namespace"


@pytest.mark.parametrize("directory", PLATFORM_BUILDS)
def test_every_role_is_bound_and_every_binding_resolves(directory: str) -> None:
    objs = build(directory)
    bound = {(b["roleRef"]["kind"], b["roleRef"]["name"]) for b in of_kind(objs, "RoleBinding", "ClusterRoleBinding")}
    for role in of_kind(objs, "Role", "ClusterRole"):
        assert (role["kind"], role["metadata"]["name"]) in bound, f"{name_of(role)} is never bound"


def test_the_step_pods_executor_may_do_exactly_what_argo_needs() -> None:
    grants = {g for g in granted(build("base")) if g[0] == WORKFLOW}
    assert grants == {
        (WORKFLOW, NAMESPACE, "argoproj.io", "workflowtaskresults", "create"),
        (WORKFLOW, NAMESPACE, "argoproj.io", "workflowtaskresults", "patch"),
        (WORKFLOW, NAMESPACE, "argoproj.io", "workflowartifactgctasks", "list"),
        (WORKFLOW, NAMESPACE, "argoproj.io", "workflowartifactgctasks", "watch"),
        (WORKFLOW, NAMESPACE, "argoproj.io", "workflowartifactgctasks/status", "patch"),
    }


def test_argo_memoization_rbac_grants_argo_only_writing_configmaps() -> None:
    """kustomize/argo-workflows/memoization-rbac.yaml: Argo's controller may create and update the
    simulator cache's ConfigMap (its memoization cache), nothing more; no step pod is named."""
    from qiskit_argo.steps import CACHE_CONFIGMAP
    from tests.deploy.builds import KUSTOMIZE, load_yaml_documents
    from tests.support.schemas import validate_k8s

    path = KUSTOMIZE / "argo-workflows" / "memoization-rbac.yaml"
    objs = load_yaml_documents(path)
    for obj in objs:
        validate_k8s(obj)
    (role,) = [obj for obj in objs if obj["kind"] == "ClusterRole"]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "update"]}]
    (binding,) = [obj for obj in objs if obj["kind"] == "ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert [s["name"] for s in binding["subjects"]] == ["argo"]
    assert workflows.SERVICE_ACCOUNT not in {s["name"] for s in binding["subjects"]}
    assert CACHE_CONFIGMAP in path.read_text()
