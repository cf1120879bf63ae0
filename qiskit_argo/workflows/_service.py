"""Service Workflows: one step of ``qiskit_argo.steps.SERVICE_STEPS`` run alone, for the controller.

Everything that talks to IBM Quantum outside a job's own DAG — probing a QiskitBackend, cancelling
a QiskitJob's IBM job, opening or closing a QiskitSession — runs in a small Workflow of its own,
so that the controller never holds an API key: the step's pod alone gets ``QISKIT_IBM_TOKEN``
from the backend's ``credentialsSecretRef`` (known when the Workflow is rendered, so the Secret is
named literally; a local-testing fake backend gets no variable at all), and the controller copies
the step's output parameter into the owner's status.

Each Workflow is one ``main`` DAG with one task named after the step (the node the controller
reads; its outputs are also workflow-level outputs of the same name, ``status.outputs``), and the
step's container template, derived from its ``StepSpec`` like the job steps' (same image, pod and
container security, labels — egress class ``ibm-quantum`` — scratch volume, no service-account
token). It is owned by the resource it serves (ownerReference and labels from
``naming.for_kind``), its name is deterministic (``<owner>-<role>-<hash>``: a controller that
restarts finds the Workflow it made instead of making a second), it ends within
``SERVICE_DEADLINE`` seconds, and Argo retries the step only after a transient failure (never
exit code 2).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from hera.workflows import DAG, Container, EmptyDirVolume, Parameter, Task, Workflow
from hera.workflows import models as m

from qiskit_argo import api
from qiskit_argo.api import GROUP, QiskitBackend, QiskitJob, QiskitSession, SecretKeyRef
from qiskit_argo.naming import argo_annotations, for_kind, image
from qiskit_argo.steps import (
    CREDENTIALS_KEY_PARAMETER,
    CREDENTIALS_SECRET_PARAMETER,
    ENTRY_POINT,
    NO_CREDENTIALS_KEY,
    NO_CREDENTIALS_SECRET,
    OUTPUTS_DIR,
    SCRATCH_MOUNT,
    StepRegistry,
    StepSpec,
)
from qiskit_argo.workflows._template import (
    RETRY_EXPRESSION,
    SCRATCH_VOLUME,
    SERVICE_ACCOUNT,
    container_security_model,
    credentials_env,
    pod_security_model,
    step_env,
    step_labels,
    step_metrics,
    workflow_settings,
)
from qiskit_argo.workflows._wiring import ENTRYPOINT
from qiskit_argo.workflows._workflow import escape_tags

if TYPE_CHECKING:
    from qiskit_argo.ibm.tags import JobIdentity

__all__ = [
    "SERVICE_DEADLINE",
    "SERVICE_RETRIES",
    "SERVICE_TTL_AFTER_SUCCESS",
    "SERVICE_TTL_AFTER_FAILURE",
    "LABEL_SERVICE",
    "NO_CREDENTIALS_SECRET",
    "NO_CREDENTIALS_KEY",
    "Owner",
    "service_workflow",
    "target_of",
    "probe_workflow",
    "cancel_workflow",
    "session_workflow",
]

#: The longest a service Workflow runs (``activeDeadlineSeconds``): a probe, a cancel or a session
#: call is a few HTTPS requests; a finalizer waiting on a cancel must never wait long.
SERVICE_DEADLINE = 300
#: Retries of the step after a transient failure (network, 5xx, timeout: exit code 1).
SERVICE_RETRIES = 3
#: A finished service Workflow is deleted after this long (a failed one after a day, for its logs):
#: its output is in the owner's status within seconds, and a backend is probed again and again.
SERVICE_TTL_AFTER_SUCCESS = 3600
SERVICE_TTL_AFTER_FAILURE = 24 * 3600
#: Workflow label naming the service step (``ibm-probe``...), beside the owner's labels.
LABEL_SERVICE = f"{GROUP}/service"

Owner = QiskitBackend | QiskitSession | QiskitJob


def _kind(owner: Owner) -> api.Kind:
    for kind in api.KINDS:
        if isinstance(owner, kind.model):
            return kind
    raise TypeError(f"{type(owner).__name__} is not a qiskit-argo kind")


def _service_steps() -> StepRegistry:
    from qiskit_argo import steps

    registry: StepRegistry | None = getattr(steps, "SERVICE_STEPS", None)
    if registry is None:
        raise RuntimeError("qiskit_argo.steps has no SERVICE_STEPS registry")
    return registry


def _retry_strategy() -> m.RetryStrategy:
    return m.RetryStrategy(
        limit=m.IntOrString(root=str(SERVICE_RETRIES)),
        retry_policy="Always",
        expression=RETRY_EXPRESSION,
        backoff=m.Backoff(duration="5s", factor=m.IntOrString(root="2"), max_duration="1m"),
    )


def _template(spec: StepSpec, credentials: SecretKeyRef | None) -> Container:
    """The step's container template: its declaration, with the API key from ``credentials``."""
    # The key comes from the literal Secret reference, never from the input parameters.
    env = step_env(replace(spec, credentials=False))
    if spec.credentials and credentials is not None:
        env.append(credentials_env(credentials.name, credentials.key))
    return Container(
        name=spec.name,
        labels=step_labels(spec),
        image=image(spec.component),
        image_pull_policy="IfNotPresent",
        command=[ENTRY_POINT],
        args=spec.argv(),
        env=env,
        inputs=[Parameter(name=name) for name in spec.input_parameters],
        outputs=[
            Parameter(name=name, value_from=m.ValueFrom(path=f"{OUTPUTS_DIR}/{filename}"), global_name=name)
            for name, filename in spec.output_parameters.items()
        ],
        volumes=[EmptyDirVolume(name=SCRATCH_VOLUME, mount_path=SCRATCH_MOUNT)],
        resources=m.ResourceRequirements(
            requests={k: m.Quantity(v) for k, v in spec.resources.requests.items()},
            limits={k: m.Quantity(v) for k, v in spec.resources.limits.items()},
        ),
        retry_strategy=_retry_strategy(),
        metrics=step_metrics(spec),
        termination_message_policy="FallbackToLogsOnError",
        security_context=container_security_model(),
        pod_security_context=pod_security_model(),
        automount_service_account_token=False,
        executor=m.ExecutorConfig(service_account_name=SERVICE_ACCOUNT),
    )


def service_workflow(
    step: str,
    owner: Owner,
    *,
    parameters: Mapping[str, str],
    credentials: SecretKeyRef | None,
    name: str,
    title: str | None = None,
    description: str | None = None,
    steps: StepRegistry | None = None,
) -> dict[str, Any]:
    """The one-step Workflow that runs service step ``step`` for ``owner``, as a plain dict.

    ``parameters`` are the step's input parameters (values as the step reads them; JSON values
    should come from ``escape_tags``); ``credentials-secret``/``credentials-key`` default to
    ``credentials`` (or the no-credentials placeholder). ``credentials`` is the Secret key the pod
    gets as ``QISKIT_IBM_TOKEN`` (``None``: no variable, e.g. a fake backend). ``steps`` defaults
    to ``qiskit_argo.steps.SERVICE_STEPS``. Raises ``ValueError`` for an unknown step or a
    missing parameter.
    """
    registry = _service_steps() if steps is None else steps
    if step not in registry:
        raise ValueError(f"no service step {step!r}; one of {sorted(registry)}")
    spec = registry[step]
    values = dict(parameters)
    if spec.credentials:
        values.setdefault(CREDENTIALS_SECRET_PARAMETER, credentials.name if credentials else NO_CREDENTIALS_SECRET)
        values.setdefault(CREDENTIALS_KEY_PARAMETER, credentials.key if credentials else NO_CREDENTIALS_KEY)
    missing = [parameter for parameter in spec.input_parameters if parameter not in values]
    unknown = sorted(set(values) - set(spec.input_parameters))
    if missing or unknown:
        raise ValueError(f"service step {step}: missing parameters {missing}, unknown parameters {unknown}")

    kind = _kind(owner)
    names = for_kind(kind)
    uid = owner.metadata.uid
    settings = {
        **workflow_settings(),
        "ttl_strategy": m.TTLStrategy(
            seconds_after_success=SERVICE_TTL_AFTER_SUCCESS, seconds_after_failure=SERVICE_TTL_AFTER_FAILURE
        ),
    }
    with Workflow(name=name, entrypoint=ENTRYPOINT, **settings) as workflow:
        _template(spec, credentials)
        with DAG(name=ENTRYPOINT):
            Task(
                name=spec.name,
                template=spec.name,
                arguments=[Parameter(name=parameter, value=values[parameter]) for parameter in spec.input_parameters],
            )
    rendered: dict[str, Any] = workflow.to_dict()
    labels = {**names.labels(owner.name, uid), LABEL_SERVICE: spec.name}
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": owner.namespace,
        "labels": labels,
        "annotations": argo_annotations(
            title or f"{owner.name}: {spec.name}",
            description or f"{kind.kind} {owner.namespace}/{owner.name}: {spec.activity}.",
        ),
    }
    if uid:
        metadata["ownerReferences"] = [names.owner_reference(owner.name, uid)]
    rendered["metadata"] = metadata
    body = rendered["spec"]
    body["podMetadata"] = {"labels": names.labels(owner.name, uid)}
    body["activeDeadlineSeconds"] = SERVICE_DEADLINE
    return rendered


# --------------------------------------------------------------------------- the helpers


def target_of(backend: QiskitBackend, *, session_id: str | None = None, mode: str | None = None) -> dict[str, Any]:
    """The ``target`` a service step reads for ``backend`` (the schedule step's ``target.json``
    shape): ``{"name","device","fake","channel","instance","sessionId","mode"}``."""
    spec = backend.spec
    if spec.type != api.BackendType.IBM.value:
        raise ValueError(f"QiskitBackend {backend.name} is of type {spec.type}; only ibm backends are reached so")
    fake = spec.fake_backend is not None
    return {
        "name": backend.name,
        "device": spec.fake_backend or spec.backend,
        "fake": fake,
        "channel": None if fake else (spec.channel or api.Channel.IBM_QUANTUM_PLATFORM.value),
        "instance": spec.instance,
        "sessionId": session_id,
        "mode": mode,
    }


def _credentials(backend: QiskitBackend) -> SecretKeyRef | None:
    """The Secret key a real IBM backend's pods get; none for a fake one (local testing mode)."""
    return None if backend.spec.fake_backend is not None else backend.spec.credentials_secret_ref


def probe_workflow(backend: QiskitBackend, *, round: int | None = None) -> dict[str, Any]:
    """The ``ibm-probe`` Workflow of an ibm QiskitBackend; its output ``probe`` is what the
    controller copies into the backend's status. ``round`` (e.g. a counter of periodic probes)
    makes a new name for a new probe; the same round always has the same name."""
    role = "probe" if round is None else f"probe-{round}"
    names = for_kind(api.QISKIT_BACKEND)
    device = backend.spec.fake_backend or backend.spec.backend
    return service_workflow(
        "ibm-probe",
        backend,
        parameters={"target": escape_tags(target_of(backend))},
        credentials=_credentials(backend),
        name=names.child_name(backend.name, backend.metadata.uid, backend.namespace, role=role),
        description=f"QiskitBackend {backend.namespace}/{backend.name}: probe {device} (qubits, gates, queue, key).",
    )


def cancel_workflow(
    job: QiskitJob,
    target: Mapping[str, Any] | str,
    identity: JobIdentity | None = None,
    *,
    credentials: SecretKeyRef | None = None,
) -> dict[str, Any]:
    """The ``ibm-cancel`` Workflow that cancels every unfinished IBM job tagged with ``identity``
    (default: the job's own, ``JobIdentity.of(job)``) on ``target`` (the schedule step's
    ``target.json``, as a dict or its JSON). ``credentials``: the chosen QiskitBackend's
    ``credentialsSecretRef`` (``None`` for a fake backend). One per identity: deleting a job whose
    generation 3 ran on IBM makes ``<job>-cancel-3-<hash>``."""
    from qiskit_argo.ibm.tags import JobIdentity

    who = identity or JobIdentity.of(job)
    target_document = json.loads(target) if isinstance(target, str) else dict(target)
    if target_document.get("fake"):
        credentials = None
    names = for_kind(api.QISKIT_JOB)
    document = {"namespace": who.namespace, "name": who.name, "uid": who.uid, "generation": who.generation}
    return service_workflow(
        "ibm-cancel",
        job,
        parameters={"target": escape_tags(target_document), "identity": escape_tags(document)},
        credentials=credentials,
        name=names.child_name(job.name, job.metadata.uid, job.namespace, role=f"cancel-{who.generation}"),
        description=(
            f"QiskitJob {job.namespace}/{job.name}: cancel its unfinished IBM Quantum jobs (generation "
            f"{who.generation}) on {target_document.get('device')}."
        ),
    )


def session_workflow(
    session: QiskitSession, backend: QiskitBackend, action: Literal["open", "close"]
) -> dict[str, Any]:
    """The ``session-open`` or ``session-close`` Workflow of ``session`` on ``backend`` (its
    ``backendRef``). Closing uses ``status.sessionId`` and cancels instead when the session says
    ``cancelOnDelete``. Its output ``session`` is what the controller copies into status."""
    if action not in ("open", "close"):
        raise ValueError(f"session action {action!r}: open or close")
    spec = session.spec
    status = session.status
    session_id = status.session_id if status else None
    if action == "open":
        argument: dict[str, Any] = {"mode": spec.mode, "maxTime": spec.max_time}
    else:
        if session_id is None:
            raise ValueError(f"QiskitSession {session.name} has no status.sessionId: there is nothing to close")
        argument = {"sessionId": session_id, "cancel": spec.cancel_on_delete}
    names = for_kind(api.QISKIT_SESSION)
    device = backend.spec.fake_backend or backend.spec.backend
    verb = "open" if action == "open" else ("cancel" if spec.cancel_on_delete else "close")
    return service_workflow(
        f"session-{action}",
        session,
        parameters={
            "target": escape_tags(target_of(backend, session_id=session_id, mode=spec.mode)),
            "session": escape_tags(argument),
        },
        credentials=_credentials(backend),
        name=names.child_name(session.name, session.metadata.uid, session.namespace, role=action),
        description=f"QiskitSession {session.namespace}/{session.name}: {verb} the {spec.mode} on {device}.",
    )
