"""Argo Workflows for QiskitJobs, built with Hera: the step templates and the per-job Workflow.

Layout, and why:

* ``cluster_workflow_template()`` is the ClusterWorkflowTemplate ``qiskit-job-v1``: one container
  template per entry of the step registry ``qiskit_argo.steps.STEPS`` (image, command, args,
  artifact and parameter files, default resources, egress label all come from the step's
  declaration). It is cluster-scoped because jobs live in user
  namespaces; it carries everything a step *is* — image, security context, no service-account
  token in the main container, scratch volume, default resources, NetworkPolicy labels — and is
  versioned by name, so a running Workflow keeps the steps it started with. It also holds the same
  ``main`` DAG (with ``template:`` references to its own steps) as its entrypoint, and a ``job``
  parameter feeding the validate task's raw ``job`` artifact, so ``argo submit --from
  clusterworkflowtemplate/qiskit-job-v1 -p job="$(qiskit-argo render --job-json JOB.yaml)"`` runs
  one job without the controller. Its ``circuit-source`` volume is an empty directory: only inline
  circuits work that way (a ConfigMap circuit fails validation, saying which key is missing); and
  the execute steps take the Argo semaphore named by the schedule step, so the namespace needs the
  ConfigMap the controller otherwise writes (``kubectl create configmap qiskit-argo-semaphores
  --from-literal=_builtin=1000000``).
* ``build(job)`` is the Workflow of one job. Its ``main`` DAG lives in the Workflow, not in the
  template: the tasks reference the steps by ``templateRef`` (``clusterScope: true``) and the
  wiring between them is data (``wiring()``: each task's inputs from earlier outputs, its
  ``depends`` and its ``when``), derived from ``STEPS`` and rendered by the one function that also
  builds the template's DAG (``entrypoint_dag``). The DAG can branch on a step's output: an
  execute step runs ``when`` the schedule step's ``executor`` names it, and a later step depends
  on whichever ran (see ``_wiring``). Keeping the DAG in
  the Workflow means one object shows the whole run (Argo UI, ``kubectl get -o yaml``), the
  per-job values (the raw ``job`` artifact, resources, retries, deadline, suspend) are passed
  where they are used instead of being threaded through a second layer of template parameters,
  and a later DAG that differs per job (Aer or IBM execution) needs no new template version.
* Retries: ``spec.retryStrategy`` of the Workflow applies to every template without its own,
  including the ones resolved through ``templateRef``; its ``expression`` never retries exit code
  2 (a permanent failure). The ``main`` DAG carries ``retryStrategy.limit: 0`` so that a step out
  of retries fails the Workflow instead of re-running the whole DAG.
* Resources: a step the job's ``spec.resources`` apply to (``StepSpec.job_resources``: the execute
  steps) turns its ``resources`` input (JSON, default ``{}``) into a ``podSpecPatch`` of the main
  container; ``build`` passes the job's values merged over the step's defaults (see
  ``execute_resources``).
* Only small values travel as parameters (metrics, backend, executor, shards, cache-key, summary,
  limits, resources); the circuit, the request, the bindings and the results travel as artifacts.
* Sharding and the cache: each Aer execute variant fans out (``withParam``) over its own list of
  shard ids from the schedule step (``steps.shards_parameter``), writes its ``part`` as a key-only
  artifact, and the cached variants are memoized (``memoize``, a pointer in the ConfigMap
  ``qiskit-argo-result-cache``); store-results downloads the parts prefixes and merges them.

Reading a run back: each DAG task is named after its step, so a node's ``displayName`` is the
step name and its ``outputs.parameters`` are the step's output parameters.

``build`` renders the job-independent part with Hera once (per step registry) and copies it per
job, so rendering stays in the tens of microseconds.
"""

from __future__ import annotations

from typing import Any

import yaml

from qiskit_argo.workflows._service import (
    LABEL_SERVICE,
    NO_CREDENTIALS_KEY,
    NO_CREDENTIALS_SECRET,
    SERVICE_DEADLINE,
    SERVICE_RETRIES,
    cancel_workflow,
    probe_workflow,
    service_workflow,
    session_workflow,
    target_of,
)
from qiskit_argo.workflows._template import (
    CIRCUIT_SOURCE_VOLUME,
    LABEL_COMPONENT,
    LABEL_EGRESS,
    LABEL_STEP,
    RESOURCES_PARAMETER,
    RUN_AS_USER,
    SCRATCH_VOLUME,
    SERVICE_ACCOUNT,
    cluster_workflow_template,
    pod_security_context,
    step_labels,
)
from qiskit_argo.workflows._wiring import (
    CATALOGUE_ARTIFACT,
    CATALOGUE_PARAMETER,
    JOB_ARTIFACT,
    JOB_PARAMETER,
    Dependency,
    Source,
    TaskWiring,
    When,
    outline,
    wiring,
)
from qiskit_argo.workflows._workflow import (
    ENTRYPOINT,
    RETRY_EXPRESSION,
    build,
    catalogue_json,
    escape_tags,
    execute_resources,
    job_document,
    job_json,
    quantity,
)

__all__ = [
    "build",
    "service_workflow",
    "probe_workflow",
    "cancel_workflow",
    "session_workflow",
    "target_of",
    "catalogue_json",
    "escape_tags",
    "SERVICE_DEADLINE",
    "SERVICE_RETRIES",
    "LABEL_SERVICE",
    "NO_CREDENTIALS_SECRET",
    "NO_CREDENTIALS_KEY",
    "CATALOGUE_ARTIFACT",
    "CATALOGUE_PARAMETER",
    "cluster_workflow_template",
    "to_yaml",
    "wiring",
    "outline",
    "job_document",
    "job_json",
    "execute_resources",
    "quantity",
    "pod_security_context",
    "step_labels",
    "Source",
    "When",
    "Dependency",
    "TaskWiring",
    "ENTRYPOINT",
    "JOB_ARTIFACT",
    "JOB_PARAMETER",
    "RETRY_EXPRESSION",
    "SERVICE_ACCOUNT",
    "RUN_AS_USER",
    "LABEL_STEP",
    "LABEL_COMPONENT",
    "LABEL_EGRESS",
    "SCRATCH_VOLUME",
    "CIRCUIT_SOURCE_VOLUME",
    "RESOURCES_PARAMETER",
]


_SafeDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present


class _Dumper(_SafeDumper):  # type: ignore[valid-type,misc]
    """Block style, no anchors, multi-line strings as ``|`` literals."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def to_yaml(obj: Any) -> str:
    """YAML that ``kubectl create -f -`` and ``argo submit -`` accept; a list becomes several documents."""
    options: dict[str, Any] = {
        "Dumper": _Dumper,
        "sort_keys": False,
        "default_flow_style": False,
        "allow_unicode": True,
        "width": 1 << 16,
    }
    if isinstance(obj, list):
        return str(yaml.dump_all(obj, explicit_start=True, **options))
    return str(yaml.dump(obj, **options))
