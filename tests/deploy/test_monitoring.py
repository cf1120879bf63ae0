"""``kustomize/components/monitoring`` and the Argo custom metrics of the step templates.

The component is built the way a person uses it (the production overlay plus the component,
``kubectl kustomize``); every PromQL expression of its alert rules and of its Grafana dashboard
must parse (``promql-parser``, the Prometheus parser's Rust port) and name only series that are
really exported: by the controller (its prometheus-client registry, the same one
``tests/controller/test_metrics.py`` scrapes over HTTP), by Argo for the ``qiskit_argo_step_*``
metrics the step templates declare, by Argo's own controller (``ARGO_METRICS``, from
argo-workflows v4.1.2 ``docs/metrics.md``), or by Prometheus itself (``up``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from qiskit_argo_controller import metrics
from qiskit_argo_controller.handlers import CONTROLLERS
from qiskit_argo_controller.kube import Kube

from qiskit_argo import workflows
from qiskit_argo.steps import STEPS
from qiskit_argo.workflows._template import (
    STEP_DURATION_BUCKETS,
    STEP_DURATION_METRIC,
    STEP_RESULTS_METRIC,
)
from tests.deploy.builds import KUSTOMIZE, REPO, build, find
from tests.support.schemas import argo_errors, validate_argo

COMPONENT = KUSTOMIZE / "components" / "monitoring"
#: Argo's controller metrics (the ``#### `name``` headings of argo-workflows v4.1.2
#: docs/metrics.md, "Default Controller Metrics"), exported with Argo's ``argo_workflows_`` prefix
#: (docs/telemetry-configuration.md; util/telemetry/exporter_prometheus.go adds no suffix).
ARGO_METRICS = frozenset(
    {
        "client_rate_limiter_latency",
        "cronworkflows_concurrencypolicy_triggered",
        "cronworkflows_triggered_total",
        "deprecated_feature",
        "error_count",
        "gauge",
        "is_leader",
        "k8s_request_duration",
        "k8s_request_total",
        "locks_held",
        "locks_pending",
        "locks_taken_total",
        "log_messages",
        "operation_duration_seconds",
        "pod_missing",
        "pod_pending_count",
        "pod_restarts_total",
        "pods_gauge",
        "pods_total_count",
        "queue_adds_count",
        "queue_depth_gauge",
        "queue_duration",
        "queue_latency",
        "queue_longest_running",
        "queue_retries",
        "queue_unfinished_work",
        "resource_rate_limiter_latency",
        "total_count",
        "version",
        "workers_busy_count",
        "workflow_condition",
        "workflowtemplate_runtime",
        "workflowtemplate_triggered_total",
    }
)
ARGO_PREFIX = "argo_workflows_"
ARGO_MIRROR = Path("/work/.mirror/argoproj+argo-workflows/repo")
#: Series Prometheus makes itself for every target.
PROMETHEUS_SERIES = frozenset({"up"})
#: The alerts issue 10 asks for, by what they watch.
REQUIRED_ALERTS = {
    "QiskitArgoBudgetNearlyExhausted": "qiskit_argo_budget_condition",
    "QiskitArgoJobsFailing": "qiskit_argo_jobs_finished_total",
    "QiskitArgoIbmSubmissionsFailing": "qiskit_argo_ibm_submission_failures_total",
    "QiskitArgoControllerDown": "up",
    "QiskitArgoReconcileErrors": "qiskit_argo_reconcile_errors_total",
}
#: Grafana's variables, as Grafana substitutes them before a query reaches Prometheus.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$namespace": ".*"}


# --------------------------------------------------------------------------- what is exported


def _series(family: Any) -> set[str]:
    """The sample names a family is exposed as (also when it has no sample yet)."""
    name = family.name
    if family.type == "counter":
        return {f"{name}_total", f"{name}_created"}
    if family.type == "histogram":
        return {name, f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created"}
    return {name}


def controller_series() -> set[str]:
    """Every series name the controller exports: its registry (counters and histograms, budget
    gauges) and the phase gauge of each kind it serves (a ``PhaseBook``, as its reconciler makes it)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(generate_latest(REGISTRY).decode()):
        names |= _series(family)
    for controller in CONTROLLERS:
        book = controller(Kube(lambda: None)).book
        names |= {family.name for family in book.collect()}
    return names


def step_series() -> set[str]:
    """What Argo exports for the custom metrics the step templates declare."""
    names: set[str] = set()
    for template in workflows.cluster_workflow_template()["spec"]["templates"]:
        for metric in (template.get("metrics") or {}).get("prometheus", []):
            name = ARGO_PREFIX + metric["name"]
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"} if "histogram" in metric else {name}
    return names


def argo_series() -> set[str]:
    names: set[str] = set()
    for metric in ARGO_METRICS:
        name = ARGO_PREFIX + metric
        names |= {name, f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def exported() -> set[str]:
    return controller_series() | step_series() | argo_series() | PROMETHEUS_SERIES


# --------------------------------------------------------------------------- PromQL


def selectors(expr: str) -> list[str]:
    """The metric names of every selector in ``expr`` (``ValueError`` when it does not parse; a
    selector without a metric name is an error too)."""
    names: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if not node.name:
                raise ValueError(f"a selector without a metric name in {expr!r}")
            names.append(node.name)
            return
        for attribute in ("lhs", "rhs", "expr", "param", "vector_selector"):
            child = getattr(node, attribute, None)
            if child is not None and not isinstance(child, str | int | float):
                walk(child)
        for child in getattr(node, "args", None) or []:
            walk(child)

    walk(promql_parser.parse(expr))
    return names


def test_the_promql_check_catches_what_it_must() -> None:
    assert selectors('sum by (a) (rate(x_total{a="b"}[5m])) / on() group_left y') == ["x_total", "y"]
    assert selectors("histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))") == ["h_bucket"]
    for bad in ("sum(rate(x[5m])", "rate(x)", 'x{a="b"', "x[5m] + 1", '{a="b"}'):
        with pytest.raises(ValueError):
            selectors(bad)


# --------------------------------------------------------------------------- the build


def _component_build(tmp_path: Path) -> list[dict[str, Any]]:
    """The production overlay with the monitoring component, as a person would add it."""
    build("overlays/production")  # the same skips (no kubectl, generated inputs missing)
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(KUSTOMIZE / "overlays" / "production", overlay)],
        "components": [os.path.relpath(COMPONENT, overlay)],
    }
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    kubectl = shutil.which("kubectl")
    assert kubectl is not None
    done = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return _component_build(tmp_path_factory.mktemp("monitoring"))


def _of(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objs if obj.get("kind") == kind]


def rule_expressions(objs: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    for rule_set in _of(objs, "PrometheusRule"):
        for group in rule_set["spec"]["groups"]:
            for rule in group["rules"]:
                yield rule.get("alert") or rule.get("record"), rule["expr"]


def dashboard(objs: list[dict[str, Any]]) -> dict[str, Any]:
    maps = [cm for cm in _of(objs, "ConfigMap") if (cm["metadata"].get("labels") or {}).get("grafana_dashboard") == "1"]
    assert len(maps) == 1, "one ConfigMap with the Grafana sidecar label grafana_dashboard: '1'"
    (text,) = maps[0]["data"].values()
    found: dict[str, Any] = json.loads(text)
    return found


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield from panel.get("panels", [])
        if panel.get("type") != "row":
            yield panel


def grafana_expr(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a Grafana variable the test does not know in {expr!r}"
    return expr


def test_the_service_monitor_scrapes_the_controllers_metrics_port(objs: list[dict[str, Any]]) -> None:
    service = find(objs, "Service", "qiskit-argo-controller-metrics")
    monitor = find(objs, "ServiceMonitor", "qiskit-argo-controller")
    labels = service["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["metadata"]["namespace"] in monitor["spec"]["namespaceSelector"]["matchNames"]
    (endpoint,) = monitor["spec"]["endpoints"]
    port = next(p for p in service["spec"]["ports"] if p["name"] == endpoint["port"])
    assert endpoint["honorLabels"] is True, "the controller's namespace label must not become exported_namespace"
    deployment = find(objs, "Deployment", "qiskit-argo-controller")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    assert ports[port["targetPort"]] == 9090
    assert f"--metrics-port={ports[port['targetPort']]}" in container["args"]
    argo = find(objs, "ServiceMonitor", "argo-workflows")
    assert argo["spec"]["endpoints"][0]["honorLabels"] is True
    assert find(objs, "Service", "workflow-controller-metrics")["spec"]["ports"][0]["port"] == 9090


def test_every_alert_is_there_parses_and_names_exported_series(objs: list[dict[str, Any]]) -> None:
    known = exported()
    rules = dict(rule_expressions(objs))
    for alert, series in REQUIRED_ALERTS.items():
        assert alert in rules, f"no alert {alert}"
        assert series in selectors(rules[alert]), f"{alert} does not watch {series}"
    for rule_set in _of(objs, "PrometheusRule"):
        for group in rule_set["spec"]["groups"]:
            for rule in group["rules"]:
                assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
                assert rule["annotations"]["summary"], rule["alert"]
    for name, expr in rules.items():
        unknown = set(selectors(expr)) - known
        assert not unknown, f"alert {name} names series nobody exports: {sorted(unknown)}"


def test_every_dashboard_panel_parses_and_names_exported_series(objs: list[dict[str, Any]]) -> None:
    known = exported()
    board = dashboard(objs)
    used: set[str] = set()
    shown = list(panels(board))
    assert shown
    for panel in shown:
        assert panel.get("targets"), f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            names = selectors(grafana_expr(target["expr"]))
            unknown = set(names) - known
            assert not unknown, f"panel {panel['title']!r} names series nobody exports: {sorted(unknown)}"
            used |= set(names)
    # Panels for everything the issue lists: every controller metric but the process's internals.
    wanted = {
        "qiskit_argo_jobs",
        "qiskit_argo_jobs_finished_total",
        "qiskit_argo_job_duration_seconds_bucket",
        "qiskit_argo_job_queue_seconds_bucket",
        "qiskit_argo_shots_total",
        "qiskit_argo_quantum_seconds_total",
        "qiskit_argo_cost_total",
        "qiskit_argo_budget_spent_quantum_seconds",
        "qiskit_argo_budget_reserved_quantum_seconds",
        "qiskit_argo_budget_remaining_quantum_seconds",
        "qiskit_argo_budget_spent_amount",
        "qiskit_argo_budget_reserved_amount",
        "qiskit_argo_budget_remaining_amount",
        "qiskit_argo_budget_condition",
        "qiskit_argo_ibm_submissions_total",
        "qiskit_argo_ibm_submission_failures_total",
        "qiskit_argo_ibm_cancels_total",
        "qiskit_argo_reconcile_errors_total",
        "qiskit_argo_reconcile_seconds_bucket",
        "qiskit_argo_workflow_creation_seconds_bucket",
        "up",
        *step_series() - {f"{ARGO_PREFIX}{STEP_DURATION_METRIC}_sum", f"{ARGO_PREFIX}{STEP_DURATION_METRIC}_count"},
    }
    assert wanted <= known, sorted(wanted - known)
    assert not wanted - used, f"no panel shows {sorted(wanted - used)}"
    variables = {v["name"] for v in board["templating"]["list"]}
    assert {"datasource", "namespace"} <= variables
    uids = [target["datasource"]["uid"] for panel in shown for target in panel["targets"]]
    assert set(uids) == {"${datasource}"}, "every query uses the dashboard's data source variable"


def test_argo_metric_list_matches_argo_docs() -> None:
    """``ARGO_METRICS`` is argo-workflows v4.1.2's docs/metrics.md (checked where the mirror is)."""
    if not (ARGO_MIRROR / "HEAD").exists() and not (ARGO_MIRROR / ".git").exists():
        pytest.skip("no argo-workflows mirror here")
    done = subprocess.run(
        ["git", "-C", str(ARGO_MIRROR), "show", "HEAD:docs/metrics.md"], capture_output=True, text=True, timeout=30
    )
    if done.returncode != 0:
        pytest.skip(f"argo-workflows mirror unreadable: {done.stderr.strip()[:200]}")
    default = done.stdout.split("### Default Controller Metrics", 1)[1].split("### Metric types", 1)[0]
    assert set(re.findall(r"^#### `([a-z0-9_]+)`", default, re.MULTILINE)) == ARGO_METRICS


def test_the_component_is_opt_in_and_documented() -> None:
    """Production works without prometheus-operator: the component is not in any overlay; the
    docs say how to add it."""
    for overlay in ("dev", "production"):
        text = (KUSTOMIZE / "overlays" / overlay / "kustomization.yaml").read_text()
        assert "components/monitoring" not in text, overlay
    docs = (REPO / "docs" / "monitoring.md").read_text()
    assert "components/monitoring" in docs
    readme = (REPO / "README.md").read_text()
    assert "docs/monitoring.md" in readme
    for name in (*REQUIRED_ALERTS, *(m for m in REQUIRED_ALERTS.values() if m != "up")):
        assert name in docs, f"docs/monitoring.md does not mention {name}"


# --------------------------------------------------------------------------- Argo custom metrics


def test_every_step_template_declares_its_duration_and_outcome_metrics() -> None:
    """Hera drops fields it does not know without a word: look at what each template contains."""
    template = workflows.cluster_workflow_template()
    steps = {t["name"]: t for t in template["spec"]["templates"] if t["name"] in STEPS}
    assert set(steps) == set(STEPS)
    for name, step in steps.items():
        declared = {metric["name"]: metric for metric in step["metrics"]["prometheus"]}
        assert set(declared) == {STEP_DURATION_METRIC, STEP_RESULTS_METRIC}, name
        duration, results = declared[STEP_DURATION_METRIC], declared[STEP_RESULTS_METRIC]
        assert duration["histogram"] == {"value": "{{duration}}", "buckets": [float(b) for b in STEP_DURATION_BUCKETS]}
        assert results["counter"] == {"value": "1"}
        for metric in (duration, results):
            labels = {label["key"]: label["value"] for label in metric["labels"]}
            assert labels == {"step": name, "namespace": "{{workflow.namespace}}", "status": "{{status}}"}, name
            assert metric["help"] and re.fullmatch(r"[a-z_][a-z0-9_]*", metric["name"])
            assert metric["name"].startswith("qiskit_argo_step_")
        assert len({metric["help"] for metric in declared.values()}) == 2
    # The same name always has the same help (an Argo/Prometheus rule).
    helps = {(m["name"], m["help"]) for s in steps.values() for m in s["metrics"]["prometheus"]}
    assert len(helps) == 2


def test_the_templates_with_metrics_validate_against_argos_schema() -> None:
    template = workflows.cluster_workflow_template()
    validate_argo(template)
    broken = json.loads(json.dumps(template))
    broken["spec"]["templates"][0]["metrics"]["prometheus"][0]["histogram"]["bucket"] = [1]
    assert argo_errors(broken), "the strict schema must refuse an unknown metrics field"


def test_the_generated_template_file_carries_the_metrics() -> None:
    """``workflowtemplates/`` (make generate) is what gets applied: it has the metrics too."""
    path = REPO / "workflowtemplates" / "qiskit-job-v1.yaml"
    on_disk = yaml.safe_load(path.read_text())
    assert on_disk == workflows.cluster_workflow_template(), "run .venv/bin/python -m qiskit_argo.generate"


def test_controller_series_include_every_controller_metric() -> None:
    names = controller_series()
    for name in (
        "qiskit_argo_jobs",
        "qiskit_argo_backends",
        "qiskit_argo_sessions",
        "qiskit_argo_jobs_finished_total",
        "qiskit_argo_job_duration_seconds_bucket",
        "qiskit_argo_ibm_cancels_total",
        "qiskit_argo_budget_condition",
        "qiskit_argo_reconcile_errors_total",
    ):
        assert name in names, name
    assert metrics.STATE in REGISTRY._collector_to_names  # noqa: SLF001 - registered once, at import
