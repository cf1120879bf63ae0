"""The ClusterWorkflowTemplate ``qiskit-job-v1``: one container template per step of the registry
(``qiskit_argo.steps.STEPS``), everything in it taken from the step's declaration."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from hera.workflows import Artifact, ClusterWorkflowTemplate, Container, EmptyDirVolume, Parameter, S3Artifact
from hera.workflows import models as m

from qiskit_argo.api import GROUP, QiskitJobSpec, RetryPolicy
from qiskit_argo.errors import EXIT_PERMANENT
from qiskit_argo.naming import LABEL_MANAGED_BY, LABEL_PART_OF, MANAGED_BY, TEMPLATE_NAME, TEMPLATE_VERSION, image
from qiskit_argo.steps import (
    CACHE_CONFIGMAP,
    CACHE_KEY_PARAMETER,
    CACHE_MAX_AGE,
    CACHE_PREFIX,
    CACHED_PARTS_ARTIFACT,
    CIRCUIT_SOURCE_MOUNT,
    CREDENTIALS_ENV,
    CREDENTIALS_KEY_PARAMETER,
    CREDENTIALS_SECRET_PARAMETER,
    ENTRY_POINT,
    INPUTS_DIR,
    OUTPUTS_DIR,
    PART_ARTIFACT,
    PART_FILE,
    PARTS_ARTIFACT,
    RUN_PARTS_PREFIX,
    SCRATCH_MOUNT,
    SEMAPHORE_CONFIGMAP,
    SEMAPHORE_PARAMETER,
    SINGLE_PART,
    SOURCE_ARTIFACTS,
    SOURCES_DIR,
    STEPS,
    StepRegistry,
    StepSpec,
)
from qiskit_argo.workflows._wiring import (
    CATALOGUE_ARTIFACT,
    CATALOGUE_PARAMETER,
    ENTRYPOINT,
    JOB_ARTIFACT,
    JOB_PARAMETER,
    entrypoint_dag,
    global_outputs,
)

__all__ = [
    "SERVICE_ACCOUNT",
    "RUN_AS_USER",
    "LABEL_STEP",
    "LABEL_COMPONENT",
    "LABEL_EGRESS",
    "SCRATCH_VOLUME",
    "CIRCUIT_SOURCE_VOLUME",
    "RESOURCES_PARAMETER",
    "pod_security_model",
    "pod_security_context",
    "container_security_model",
    "step_labels",
    "step_env",
    "credentials_env",
    "semaphore_synchronization",
    "RETRY_EXPRESSION",
    "retry_strategy",
    "workflow_settings",
    "ARTIFACT_REPOSITORY_CONFIGMAP",
    "ARTIFACT_REPOSITORY_KEY",
    "KEPT_ARTIFACTS",
    "ARTIFACT_GC_COMPONENT",
    "artifact_gc",
    "artifact_settings",
    "cluster_workflow_template",
    "STEP_DURATION_METRIC",
    "STEP_RESULTS_METRIC",
    "STEP_DURATION_BUCKETS",
    "step_metrics",
    "SOURCE_ARTIFACT_PREFIX",
    "part_key",
    "part_artifact",
    "memoize",
    "parts_inputs",
    "source_inputs",
]

#: The ServiceAccount every step pod runs as; its token reaches only Argo's executor containers.
SERVICE_ACCOUNT = "qiskit-argo-workflow"
#: The numeric user and group every container runs as (distroless "nonroot").
RUN_AS_USER = 65532

#: Pod labels a NetworkPolicy can select on.
LABEL_STEP = f"{GROUP}/step"
LABEL_COMPONENT = f"{GROUP}/component"
#: The step's egress class (``StepSpec.egress``): what the step's own code needs to reach; ``none``
#: means nothing (Aer runs in-process), though the pod still needs Argo's own traffic (its executor
#: talks to the API server and the artifact store). The NetworkPolicies in kustomize/ select on it.
LABEL_EGRESS = f"{GROUP}/egress"

SCRATCH_VOLUME = "scratch"
#: Workflow-level volume: the job's ConfigMap (configMapKeyRef circuits) or an empty directory.
CIRCUIT_SOURCE_VOLUME = "circuit-source"
#: Template input that the steps taking the job's ``spec.resources`` (``StepSpec.job_resources``)
#: turn into a podSpecPatch of the main container's resources.
RESOURCES_PARAMETER = "resources"

#: Argo retries a failed step only when this holds: a permanent failure (exit code 2, e.g. a bad
#: circuit) is never retried; any other failure or error (exit 1, OOM kill, a lost node: "-1") is.
RETRY_EXPRESSION = f"asInt(lastRetry.exitCode) != {EXIT_PERMANENT}"
#: A job's Workflow has no ``ttlStrategy``: it lives as long as its QiskitJob (whose deletion
#: deletes it through the ownerReference, and with it the results: ``artifact_gc``). Pods that
#: succeeded go after ``_POD_GC_DELAY`` (podGC); a failed pod stays for its logs.
_POD_GC_DELAY = "5m"

#: Every job's Workflow stores its artifacts in the repository under this key of this ConfigMap,
#: in the job's namespace (or, failing that, Argo's own namespace: argo-workflows v4.1.2
#: workflow/artifactrepositories/artifactrepositories.go ``Resolve`` tries both, in that order).
#: kustomize/overlays/dev ships one for its MinIO, kustomize/overlays/production a template for
#: an S3-compatible bucket (docs/results.md).
ARTIFACT_REPOSITORY_CONFIGMAP = "artifact-repositories"
ARTIFACT_REPOSITORY_KEY = "default-v1"
#: Output artifacts kept until the Workflow (and so its QiskitJob) is deleted: the final results
#: directory, which ``status.resultLocation`` points at (``artifactGC: OnWorkflowDeletion`` on the
#: artifact overrides the Workflow's ``OnWorkflowCompletion``: ``Workflow.GetArtifactGCStrategy`` in
#: argo-workflows v4.1.2 pkg/apis/workflow/v1alpha1/workflow_types.go).
KEPT_ARTIFACTS = frozenset({"results"})
#: The component label of Argo's artifact-GC pods, so the job namespace's NetworkPolicies (which
#: select on ``LABEL_EGRESS``) let them reach the artifact store and the API server.
ARTIFACT_GC_COMPONENT = "artifact-gc"

_RESOURCES_PATCH = '{"containers":[{"name":"main","resources":{{inputs.parameters.' + RESOURCES_PARAMETER + "}}}]}"


def pod_security_model() -> m.PodSecurityContext:
    """The restricted Pod Security Standard, pod level (Hera model)."""
    return m.PodSecurityContext(
        run_as_non_root=True,
        run_as_user=RUN_AS_USER,
        run_as_group=RUN_AS_USER,
        fs_group=RUN_AS_USER,
        seccomp_profile=m.SeccompProfile(type="RuntimeDefault"),
    )


def pod_security_context() -> dict[str, Any]:
    """The restricted Pod Security Standard, pod level."""
    context: dict[str, Any] = pod_security_model().model_dump(by_alias=True, exclude_none=True)
    return context


def artifact_gc() -> m.WorkflowLevelArtifactGC:
    """The Workflow's ``artifactGC``: its intermediate artifacts (circuit, request, the execute
    steps' result, the IBM job records...) are deleted from the repository as soon as the Workflow
    completes; ``KEPT_ARTIFACTS`` (the final results) say ``OnWorkflowDeletion`` for themselves, and
    the Workflow lives exactly as long as its QiskitJob (no ``ttlStrategy``; the ownerReference
    deletes it with the job), so the results stay until the QiskitJob is deleted and go with it.
    Argo's GC pods run as the step ServiceAccount, labelled as an
    egress-``none`` pod so the job namespace's NetworkPolicies let them reach the store.
    ``forceFinalizerRemoval``: a GC that fails (the store unreachable, RBAC missing) leaves those
    objects behind but never keeps the Workflow, and so the QiskitJob's deletion, hanging on
    Argo's ``workflows.argoproj.io/artifact-gc`` finalizer."""
    return m.WorkflowLevelArtifactGC(
        strategy="OnWorkflowCompletion",
        force_finalizer_removal=True,
        service_account_name=SERVICE_ACCOUNT,
        pod_metadata=m.Metadata(labels={LABEL_EGRESS: "none", LABEL_COMPONENT: ARTIFACT_GC_COMPONENT}),
    )


def artifact_settings() -> dict[str, Any]:
    """How long a job's Workflow keeps its artifacts (Hera keyword arguments): ``artifact_gc``.
    The job Workflow's and the ClusterWorkflowTemplate's; service Workflows (probe, cancel,
    sessions) store no artifacts.

    No ``artifactRepositoryRef``: without one Argo uses the job namespace's ConfigMap
    ``artifact-repositories`` at the key its ``workflows.argoproj.io/default-artifact-repository``
    annotation names, else the controller's default repository (argo-workflows v4.1.2
    workflow/artifactrepositories/artifactrepositories.go ``Resolve``), and records what it used in
    ``status.artifactRepositoryRef`` (which ``status.resultLocation.repository`` copies). A named
    ref would fail every Workflow of a namespace that has no such ConfigMap."""
    return {"artifact_gc": artifact_gc()}


def workflow_settings() -> dict[str, Any]:
    """Workflow-level settings no job changes (Hera keyword arguments): the job Workflow's, and the
    ClusterWorkflowTemplate's for a Workflow submitted from it."""
    return {
        "service_account_name": SERVICE_ACCOUNT,
        "security_context": pod_security_model(),
        "pod_gc": m.PodGC(strategy="OnPodSuccess", delete_delay_duration=_POD_GC_DELAY),
    }


def retry_strategy(policy: RetryPolicy) -> dict[str, Any]:
    """The Workflow-level ``retryStrategy`` for a job's ``spec.retry``."""
    return {
        "limit": str(policy.limit),
        "retryPolicy": "Always",
        "expression": RETRY_EXPRESSION,
        "backoff": {
            "duration": policy.backoff.duration,
            "factor": str(policy.backoff.factor),
            "maxDuration": policy.backoff.max_duration,
        },
    }


def container_security_model() -> m.SecurityContext:
    """The restricted Pod Security Standard, container level (Hera model)."""
    return m.SecurityContext(
        run_as_non_root=True,
        run_as_user=RUN_AS_USER,
        run_as_group=RUN_AS_USER,
        read_only_root_filesystem=True,
        allow_privilege_escalation=False,
        privileged=False,
        capabilities=m.Capabilities(drop=["ALL"]),
        seccomp_profile=m.SeccompProfile(type="RuntimeDefault"),
    )


def step_labels(spec: StepSpec) -> dict[str, str]:
    """The labels of a step's pod: its step, component and egress class (the NetworkPolicies select
    on ``LABEL_EGRESS``), and qiskit-argo's own."""
    return {
        LABEL_STEP: spec.name,
        LABEL_COMPONENT: spec.component,
        LABEL_EGRESS: spec.egress,
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_PART_OF: MANAGED_BY,
    }


def credentials_env(secret: str, key: str) -> m.EnvVar:
    """``CREDENTIALS_ENV`` from one key of one Secret of the Workflow's namespace.

    ``optional``: a missing Secret or key leaves the variable unset, and the step says so in one
    line (``CredentialsMissing``) instead of the pod waiting in CreateContainerConfigError until
    the deadline; a local-testing fake backend needs no key at all.
    """
    return m.EnvVar(
        name=CREDENTIALS_ENV,
        value_from=m.EnvVarSource(secret_key_ref=m.SecretKeySelector(name=secret, key=key, optional=True)),
    )


def step_env(spec: StepSpec, *, credentials: tuple[str, str] | None = None) -> list[m.EnvVar]:
    """A step container's environment: ``HOME`` and matplotlib's cache on the scratch volume and,
    for a step with ``credentials``, the IBM Quantum API key from the Secret key ``credentials``
    names (default: the step's ``credentials-secret``/``credentials-key`` input parameters). No
    other step's pod ever gets the key."""
    env = [
        m.EnvVar(name="HOME", value=SCRATCH_MOUNT),
        m.EnvVar(name="MPLCONFIGDIR", value=f"{SCRATCH_MOUNT}/matplotlib"),
    ]
    if spec.credentials:
        secret, key = credentials or (
            f"{{{{inputs.parameters.{CREDENTIALS_SECRET_PARAMETER}}}}}",
            f"{{{{inputs.parameters.{CREDENTIALS_KEY_PARAMETER}}}}}",
        )
        env.append(credentials_env(secret, key))
    return env


def semaphore_synchronization() -> m.Synchronization:
    """The template-level lock of a step holding a concurrency slot (``StepSpec.semaphore``): the
    semaphore keyed by its ``semaphore`` input parameter in ``SEMAPHORE_CONFIGMAP``.

    Argo v4 has only the list form (``semaphores``; the singular ``semaphore`` is gone). The key
    may be a template tag: Argo substitutes the input parameters into the template before it asks
    for the lock (workflow/controller/operator.go, ``executeTemplate``: ``common.ProcessArgs`` makes
    ``processedTmpl``, then ``woc.controller.syncManager.TryAcquire(... processedTmpl.Synchronization)``).
    Semaphores from a ConfigMap need Argo v4.0.10 / v4.1.2 or later (semaphore fixes).
    """
    key = f"{{{{inputs.parameters.{SEMAPHORE_PARAMETER}}}}}"
    return m.Synchronization(
        semaphores=[m.SemaphoreRef(config_map_key_ref=m.ConfigMapKeySelector(name=SEMAPHORE_CONFIGMAP, key=key))]
    )


#: Argo custom metrics every step template declares (``metrics.prometheus``). Argo's controller
#: exports them with its ``argo_workflows_`` prefix and no suffix added
#: (``otlptranslator.UnderscoreEscapingWithoutSuffixes``, argo-workflows v4.1
#: util/telemetry/exporter_prometheus.go; docs/workflow-telemetry.md), e.g.
#: ``argo_workflows_qiskit_argo_step_duration_seconds_bucket``.
STEP_DURATION_METRIC = "qiskit_argo_step_duration_seconds"
STEP_RESULTS_METRIC = "qiskit_argo_step_results_total"
#: Seconds; the same for every step (buckets are part of an Argo histogram's descriptor).
STEP_DURATION_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600)


def step_metrics(spec: StepSpec) -> m.Metrics:
    """A step template's Argo custom metrics, emitted when the step's node completes: its duration
    (a histogram of ``{{duration}}``) and its outcome (a counter), labelled by step, the
    Workflow's namespace and ``{{status}}`` (Succeeded, Failed, Error) — all bounded."""
    labels = [
        m.MetricLabel(key="step", value=spec.name),
        m.MetricLabel(key="namespace", value="{{workflow.namespace}}"),
        m.MetricLabel(key="status", value="{{status}}"),
    ]
    return m.Metrics(
        prometheus=[
            m.Prometheus(
                name=STEP_DURATION_METRIC,
                help="Duration of a qiskit-argo step, by step, namespace and status.",
                labels=labels,
                histogram=m.Histogram(
                    value="{{duration}}", buckets=[m.Amount(root=float(b)) for b in STEP_DURATION_BUCKETS]
                ),
            ),
            m.Prometheus(
                name=STEP_RESULTS_METRIC,
                help="Completed qiskit-argo steps, by step, namespace and status.",
                labels=labels,
                counter=m.Counter(value="1"),
            ),
        ]
    )


def _output_artifact(name: str, filename: str, global_name: str | None) -> Artifact:
    # Single files are stored as they are (readable in the Argo UI and by the result location);
    # a directory (no suffix, e.g. ``results``) keeps Argo's default tar.gz, which every
    # artifact repository supports.
    archive = m.ArchiveStrategy(none=m.NoneStrategy()) if "." in filename else None
    kept = m.ArtifactGC(strategy="OnWorkflowDeletion") if name in KEPT_ARTIFACTS else None
    return Artifact(
        name=name, path=f"{OUTPUTS_DIR}/{filename}", archive=archive, global_name=global_name, artifact_gc=kept
    )


def _parameter(name: str) -> str:
    return f"{{{{inputs.parameters.{name}}}}}"


def part_key(spec: StepSpec) -> str:
    """Where a step's ``part`` goes in the artifact repository: ``RUN_PARTS_PREFIX/<shard>.json``,
    or for a cached step ``CACHE_PREFIX/<cache-key>/<shard>.json`` (the shard from its ``shard``
    input parameter, or ``SINGLE_PART``)."""
    if spec.part is None:
        raise ValueError(f"step {spec.name} writes no part")
    shard = SINGLE_PART if spec.part.shard_parameter is None else _parameter(spec.part.shard_parameter)
    if spec.part.cached:
        return f"{CACHE_PREFIX}/{_parameter(CACHE_KEY_PARAMETER)}/{shard}.json"
    return f"{RUN_PARTS_PREFIX}/{shard}.json"


def part_artifact(spec: StepSpec) -> S3Artifact:
    """A step's ``part`` output: a key-only S3 artifact (the repository's bucket, this key), stored
    as it is (no archive). A run's parts go with its Workflow (``OnWorkflowDeletion``); a cached
    one is never collected by Argo (``Never``): the Argo memoization cache points at it, and the
    bucket's lifecycle rule on ``CACHE_PREFIX/`` expires it (docs: longer than ``CACHE_MAX_AGE``)."""
    cached = spec.part is not None and spec.part.cached
    return S3Artifact(
        name=PART_ARTIFACT,
        path=f"{OUTPUTS_DIR}/{PART_FILE}",
        archive=m.ArchiveStrategy(none=m.NoneStrategy()),
        key=part_key(spec),
        artifact_gc=m.ArtifactGC(strategy="Never" if cached else "OnWorkflowDeletion"),
    )


def memoize(spec: StepSpec) -> m.Memoize:
    """A memoized step's Argo ``memoize``: keyed by the cache key and the shard (Argo's key must
    match ``^[a-zA-Z0-9][-a-zA-Z0-9]*$``: hex, ``-``, ``0-of-4``; workflow/controller/cache/cache.go),
    in the ConfigMap ``CACHE_CONFIGMAP`` of the job's namespace, entries older than ``CACHE_MAX_AGE``
    ignored. Argo keeps only the node's outputs there (the part's key), never a result."""
    shard = (
        SINGLE_PART if spec.part is None or spec.part.shard_parameter is None else _parameter(spec.part.shard_parameter)
    )
    return m.Memoize(
        key=f"{_parameter(CACHE_KEY_PARAMETER)}-{shard}",
        max_age=CACHE_MAX_AGE,
        cache=m.Cache(config_map=m.LocalObjectReference(name=CACHE_CONFIGMAP)),
    )


def parts_inputs() -> list[Artifact]:
    """The input artifacts of the step that gathers the parts: every object under the run's parts
    prefix (``parts``) and under the cache key's (``cached-parts``), each a directory; optional, so
    that a prefix with nothing under it is an empty input, not a failed step."""
    none = m.ArchiveStrategy(none=m.NoneStrategy())
    return [
        S3Artifact(
            name=PARTS_ARTIFACT,
            path=f"{INPUTS_DIR}/{PARTS_ARTIFACT}",
            optional=True,
            archive=none,
            key=RUN_PARTS_PREFIX,
        ),
        S3Artifact(
            name=CACHED_PARTS_ARTIFACT,
            path=f"{INPUTS_DIR}/{CACHED_PARTS_ARTIFACT}",
            optional=True,
            archive=none,
            key=f"{CACHE_PREFIX}/{_parameter(CACHE_KEY_PARAMETER)}",
        ),
    ]


#: The job's source artifacts (``StepSpec.reads_sources``): ``source-0`` ... ``source-7``.
SOURCE_ARTIFACT_PREFIX = "source-"


def source_inputs() -> list[Artifact]:
    """The optional input artifacts ``source-<i>`` at ``SOURCES_DIR/<i>``: a job's Workflow passes
    one key-only S3 artifact per distinct artifact key its spec names (``api.artifact_keys``)."""
    return [
        Artifact(name=f"{SOURCE_ARTIFACT_PREFIX}{index}", path=f"{SOURCES_DIR}/{index}", optional=True)
        for index in range(SOURCE_ARTIFACTS)
    ]


def _step_template(spec: StepSpec, steps: StepRegistry) -> Container:
    inputs: list[Artifact | Parameter] = [
        Artifact(name=name, path=f"{INPUTS_DIR}/{filename}") for name, filename in spec.input_artifacts.items()
    ]
    # Parameters another step produces have no default (a missing wire must fail); the others
    # (``limits``) default to "{}", meaning "the built-in defaults".
    produced = {name for other in steps.values() for name in other.output_parameters}
    if spec.fan_out is not None:
        produced.add(spec.fan_out.item)  # '{{item}}': required, like an earlier step's output
    inputs += [
        Parameter(name=name) if name in produced else Parameter(name=name, default="{}")
        for name in spec.input_parameters
    ]
    if spec.reads_sources:
        inputs += source_inputs()
    if spec.gathers_parts:
        inputs += parts_inputs()
    pod_spec_patch = None
    if spec.job_resources:
        inputs.append(
            Parameter(
                name=RESOURCES_PARAMETER,
                default="{}",
                description="JSON ResourceRequirements merged over the main container's defaults.",
            )
        )
        pod_spec_patch = _RESOURCES_PATCH
    # An output a later step may take from this step or from another (alternative execute steps)
    # is also a workflow-level output of the same name (see ``_wiring``).
    exported = global_outputs(steps).get(spec.name, set())
    outputs: list[Artifact | Parameter] = [
        _output_artifact(name, filename, name if ("artifacts", name) in exported else None)
        for name, filename in spec.output_artifacts.items()
    ]
    if spec.part is not None:
        outputs.append(part_artifact(spec))
    outputs += [
        Parameter(
            name=name,
            value_from=m.ValueFrom(path=f"{OUTPUTS_DIR}/{filename}"),
            global_name=name if ("parameters", name) in exported else None,
        )
        for name, filename in spec.output_parameters.items()
    ]
    mounts = [m.VolumeMount(name=CIRCUIT_SOURCE_VOLUME, mount_path=CIRCUIT_SOURCE_MOUNT, read_only=True)]
    return Container(
        name=spec.name,
        labels=step_labels(spec),
        image=image(spec.component),
        image_pull_policy="IfNotPresent",
        command=[ENTRY_POINT],
        args=spec.argv(),
        env=step_env(spec),
        synchronization=semaphore_synchronization() if spec.semaphore else None,
        memoize=memoize(spec) if spec.memoize else None,
        inputs=inputs,
        outputs=outputs,
        volumes=[EmptyDirVolume(name=SCRATCH_VOLUME, mount_path=SCRATCH_MOUNT)],
        volume_mounts=mounts if spec.mounts_circuit_source else None,
        resources=m.ResourceRequirements(
            requests={k: m.Quantity(v) for k, v in spec.resources.requests.items()},
            limits={k: m.Quantity(v) for k, v in spec.resources.limits.items()},
        ),
        pod_spec_patch=pod_spec_patch,
        termination_message_policy="FallbackToLogsOnError",
        security_context=container_security_model(),
        pod_security_context=pod_security_model(),
        automount_service_account_token=False,
        executor=m.ExecutorConfig(service_account_name=SERVICE_ACCOUNT),
        metrics=step_metrics(spec),
    )


@cache
def _rendered(steps: StepRegistry) -> str:
    with ClusterWorkflowTemplate(
        name=TEMPLATE_NAME,
        labels={LABEL_MANAGED_BY: MANAGED_BY, LABEL_PART_OF: MANAGED_BY, f"{GROUP}/template-version": TEMPLATE_VERSION},
        annotations={
            "workflows.argoproj.io/description": (
                "qiskit-argo steps (" + ", ".join(steps) + "); QiskitJob Workflows reference them by "
                "templateRef with clusterScope. `argo submit --from clusterworkflowtemplate/"
                f"{TEMPLATE_NAME} -p {JOB_PARAMETER}=JSON` runs the {ENTRYPOINT} DAG on one job "
                "(`qiskit-argo render --job-json JOB.yaml` prints the JSON; inline circuits only); "
                f"`-p {CATALOGUE_PARAMETER}=JSON` gives the QiskitBackends to choose from. "
                "Generated from qiskit_argo.steps; do not edit."
            ),
        },
        entrypoint=ENTRYPOINT,
        arguments=[
            Parameter(
                name=JOB_PARAMETER,
                description="The QiskitJob as compact JSON: qiskit-argo render --job-json JOB.yaml",
            ),
            Parameter(
                name=CATALOGUE_PARAMETER,
                value="{}",
                description=(
                    "The catalogue snapshot the schedule step chooses from (qiskit_argo.catalogue.Catalogue "
                    "as JSON); {}: no QiskitBackends, the built-in Aer simulator only."
                ),
            ),
        ],
        # Used only by a Workflow submitted from this template (workflowTemplateRef): a job's own
        # Workflow references single templates and declares its own circuit-source volume. No
        # ConfigMap can be named here, so a configMapKeyRef circuit fails validation with its reason.
        volumes=[m.Volume(name=CIRCUIT_SOURCE_VOLUME, empty_dir=m.EmptyDirVolumeSource())],
        **workflow_settings(),
        **artifact_settings(),
    ) as template:
        for spec in steps.values():
            _step_template(spec, steps)
        entrypoint_dag(
            cluster_template=None,
            raw_data={
                JOB_ARTIFACT: f"{{{{workflow.parameters.{JOB_PARAMETER}}}}}",
                CATALOGUE_ARTIFACT: f"{{{{workflow.parameters.{CATALOGUE_PARAMETER}}}}}",
            },
            steps=steps,
        )
    rendered = template.to_dict()
    defaults = QiskitJobSpec.model_fields
    rendered["spec"]["activeDeadlineSeconds"] = defaults["active_deadline_seconds"].default
    rendered["spec"]["retryStrategy"] = retry_strategy(defaults["retry"].default)
    return json.dumps(rendered)


def cluster_workflow_template(steps: StepRegistry | None = None) -> dict[str, Any]:
    """The ClusterWorkflowTemplate ``qiskit-job-v1`` of ``steps`` (default: ``qiskit_argo.steps.STEPS``)
    as a plain dict (a fresh copy on every call)."""
    result: dict[str, Any] = json.loads(_rendered(STEPS if steps is None else steps))
    return result
