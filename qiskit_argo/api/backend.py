"""QiskitBackend: one entry of the backend catalogue, Qiskit Aer or IBM Quantum, with its price and limits.

A QiskitBackend says where jobs may run: Qiskit Aer with default options, or one IBM Quantum
backend (``backend``, reached with the API key in ``credentialsSecretRef``) or its local-testing
stand-in (``fakeBackend``, a qiskit-ibm-runtime fake backend, for offline use). It carries what a
job there costs and how many may run at once. Its status is what the last probe found (written
by the controller from a probe Workflow's outputs, never by hand).

Beside the models: ``QISKIT_BACKEND``, the kind's CRD declaration (names, printer columns, and
the CEL rules that restate ``QiskitBackendSpec``'s validator with the same messages). The spec
stays editable: a catalogue entry is configuration, not a run.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from qiskit_argo.api._base import _Model
from qiskit_argo.api._conditions import Condition
from qiskit_argo.api._kind import Kind, PrinterColumn, Rule
from qiskit_argo.api._resource import API_VERSION, _Resource
from qiskit_argo.api.job import AER_DEVICE_RULE, PRICE_PATTERN, TENSOR_NETWORK_NEEDS_GPU, AerOptions
from qiskit_argo.objectmeta import CONFIG_MAP_KEY, DNS1123_SUBDOMAIN
from qiskit_argo.wire import Bool, Int, Str

__all__ = [
    "BACKEND_KIND",
    "BACKEND_PLURAL",
    "BACKEND_SINGULAR",
    "BACKEND_SHORT_NAMES",
    "BackendType",
    "Channel",
    "BackendPhase",
    "BackendConditionType",
    "IBM_FIELDS",
    "REAL_IBM_FIELDS",
    "PRICE_PATTERN",
    "SecretKeyRef",
    "CostModel",
    "QiskitBackendSpec",
    "BackendCapabilities",
    "QiskitBackendStatus",
    "QiskitBackend",
    "BACKEND_COLUMNS",
    "BACKEND_RULES",
    "QISKIT_BACKEND",
]

BACKEND_KIND = "QiskitBackend"
BACKEND_PLURAL = "qiskitbackends"
BACKEND_SINGULAR = "qiskitbackend"
BACKEND_SHORT_NAMES = ("qb",)

#: An IBM Quantum backend name as IBM's API takes it (``ibm_torino``, ``ibm_fez``): at most 100
#: characters (the ``backend`` parameter of ``GET /v1/jobs`` in IBM's OpenAPI document).
_IBM_BACKEND = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
#: A qiskit-ibm-runtime fake backend's ``name`` (``FakeSherbrooke().name == "fake_sherbrooke"``).
_FAKE_BACKEND = r"^fake_[a-z0-9_]+$"


class BackendType(StrEnum):
    """What runs the circuits."""

    AER = "aer"
    IBM = "ibm"


class Channel(StrEnum):
    """The qiskit-ibm-runtime channel (``QiskitRuntimeService(channel=...)``)."""

    IBM_QUANTUM_PLATFORM = "ibm_quantum_platform"
    IBM_CLOUD = "ibm_cloud"


class BackendPhase(StrEnum):
    """The one word ``kubectl get qb`` shows in its Status column."""

    PENDING = "Pending"
    READY = "Ready"
    NOT_READY = "NotReady"
    DISABLED = "Disabled"


class BackendConditionType(StrEnum):
    """The conditions a QiskitBackend reports."""

    READY = "Ready"
    CREDENTIALS_VALID = "CredentialsValid"


# --------------------------------------------------------------------------- spec


class SecretKeyRef(_Model):
    """One key of a Secret in the backend's namespace (never the value itself)."""

    name: Annotated[
        Str,
        Field(max_length=253, pattern=f"^{DNS1123_SUBDOMAIN}$", description="The Secret's name, in this namespace."),
    ]
    key: Annotated[
        Str,
        Field(
            max_length=253,
            pattern=f"^{CONFIG_MAP_KEY}$",
            description="The key whose value is the IBM Quantum API key (only the step talking to IBM reads it).",
        ),
    ]


_Price = Annotated[
    Str,
    Field(
        max_length=22,
        pattern=PRICE_PATTERN,
        description='A non-negative decimal amount in the model\'s currency, as a string, e.g. "1.60".',
    ),
]


class CostModel(_Model):
    """What a job costs here: per quantum-second, per shot and per job, in one currency."""

    currency: Annotated[
        Str,
        Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code of the currency of every price, e.g. USD or EUR."),
    ] = "USD"
    per_quantum_second: Annotated[
        _Price,
        Field(description='Price of one second of quantum time as IBM meters it (the job\'s usage), e.g. "1.60".'),
    ] = "0"
    per_shot: Annotated[_Price, Field(description='Price of one shot (per binding), e.g. "0.00003".')] = "0"
    per_job: Annotated[_Price, Field(description='Fixed price of each job run here, e.g. "0.10".')] = "0"

    def cost(self, *, quantum_seconds: float = 0.0, shots: int = 0, jobs: int = 1) -> Decimal:
        """What that much work costs, in ``currency`` (exact decimal arithmetic)."""
        return (
            Decimal(self.per_quantum_second) * Decimal(str(quantum_seconds))
            + Decimal(self.per_shot) * shots
            + Decimal(self.per_job) * jobs
        )


#: The spec fields only an IBM backend has (wire names), and those only a real one (not the fake) has.
IBM_FIELDS = ("backend", "fakeBackend", "channel", "instance", "credentialsSecretRef")
REAL_IBM_FIELDS = ("channel", "instance", "credentialsSecretRef")


class QiskitBackendSpec(_Model):
    """Which backend this is, how to reach it, what it costs and how many jobs it takes at once."""

    type: Annotated[
        BackendType,
        Field(description="aer: the Qiskit Aer simulator; ibm: an IBM Quantum backend (or its local-testing fake)."),
    ]
    backend: Annotated[
        Str | None,
        Field(
            max_length=100,
            pattern=_IBM_BACKEND,
            description="type ibm: the IBM Quantum backend's name, e.g. ibm_torino; needs credentialsSecretRef.",
        ),
    ] = None
    fake_backend: Annotated[
        Str | None,
        Field(
            max_length=63,
            pattern=_FAKE_BACKEND,
            description=(
                "type ibm, offline: a qiskit-ibm-runtime fake backend run in local testing mode, e.g. "
                "fake_sherbrooke; nothing is sent to IBM and no credentials are needed."
            ),
        ),
    ] = None
    channel: Annotated[
        Channel | None,
        Field(description="type ibm with backend: the qiskit-ibm-runtime channel; unset: ibm_quantum_platform."),
    ] = None
    instance: Annotated[
        Str | None,
        Field(
            min_length=1,
            max_length=1000,
            pattern=r"^\S+$",
            description=(
                "type ibm with backend: the IBM Cloud instance (its CRN or name) whose plan pays; unset: "
                "qiskit-ibm-runtime picks one the API key can use."
            ),
        ),
    ] = None
    credentials_secret_ref: Annotated[
        SecretKeyRef | None,
        Field(
            description=(
                "type ibm with backend: the Secret key holding the IBM Quantum API key. Only the pods that talk "
                "to IBM mount it; the key never appears in a manifest, a status, a log or a Workflow parameter."
            )
        ),
    ] = None
    aer: Annotated[
        AerOptions | None,
        Field(description="type aer: the Aer options a job gets unless it sets its own (method, seed, noise model)."),
    ] = None
    cost: Annotated[
        CostModel | None,
        Field(description="What a job costs here; unset: nothing (as for a simulator)."),
    ] = None
    max_concurrent_jobs: Annotated[
        Int | None,
        Field(
            ge=1,
            le=10_000,
            description="At most this many jobs run here at once (an Argo semaphore); unset: no limit of ours.",
        ),
    ] = None
    enabled: Annotated[
        Bool,
        Field(description="false: no new job is sent here (running ones finish); the entry stays for its history."),
    ] = True

    @model_validator(mode="after")
    def _type_fields(self) -> QiskitBackendSpec:
        for message in _spec_problems(self):
            raise ValueError(message)
        return self


def _wire(spec: QiskitBackendSpec, alias: str) -> object:
    return next(getattr(spec, name) for name, info in type(spec).model_fields.items() if info.alias == alias)


def _spec_problems(spec: QiskitBackendSpec) -> list[str]:
    """What is wrong with the combination of fields, in the words of ``BACKEND_RULES`` (same order)."""
    given = {alias for alias in (*IBM_FIELDS, "aer") if _wire(spec, alias) is not None}
    problems = []
    if spec.type != BackendType.IBM.value:
        problems += [f"spec.{alias} is only for type ibm" for alias in IBM_FIELDS if alias in given]
    if spec.type != BackendType.AER.value and "aer" in given:
        problems.append("spec.aer is only for type aer")
    if spec.type == BackendType.IBM.value and len(given & {"backend", "fakeBackend"}) != 1:
        problems.append(_EXACTLY_ONE)
    if "backend" in given and "credentialsSecretRef" not in given:
        problems.append(_NEEDS_CREDENTIALS)
    if "fakeBackend" in given:
        problems += [f"spec.{alias} {_NOT_FOR_FAKE}" for alias in REAL_IBM_FIELDS if alias in given]
    return problems


_EXACTLY_ONE = (
    "type ibm needs exactly one of spec.backend (an IBM Quantum backend) or spec.fakeBackend (local testing mode)"
)
_NEEDS_CREDENTIALS = "spec.backend needs spec.credentialsSecretRef: the Secret key holding the IBM Quantum API key"
_NOT_FOR_FAKE = "is for an IBM Quantum backend (spec.backend); local testing mode (spec.fakeBackend) needs none"


# --------------------------------------------------------------------------- status


class BackendCapabilities(_Model):
    """What the last probe found the backend can do and how busy it is."""

    num_qubits: Annotated[int | None, Field(description="Qubits the device has (Aer: as many as memory allows).")] = (
        None
    )
    basis_gates: Annotated[
        list[str],
        Field(
            description=(
                "The gates it runs natively (measure, reset, delay and control flow left out), e.g. [ecr, rz, sx, x]."
            )
        ),
    ] = []
    operational: Annotated[
        bool | None,
        Field(description="Whether IBM reported it operational (accepting and running jobs) at the last probe."),
    ] = None
    pending_jobs: Annotated[
        int | None,
        Field(description="Jobs waiting in its queue at the last probe (everyone's, not only ours)."),
    ] = None
    status_message: Annotated[
        str | None,
        Field(description="IBM's word for its state at the last probe, e.g. active, internal or maintenance."),
    ] = None


class QiskitBackendStatus(_Model):
    """What the last probe found; written by the controller from the probe Workflow's outputs."""

    phase: Annotated[
        BackendPhase,
        Field(
            description=(
                "Pending until first probed, then Ready (jobs may be sent), NotReady (see message and conditions) "
                "or Disabled (spec.enabled is false)."
            )
        ),
    ] = BackendPhase.PENDING
    message: Annotated[
        str | None,
        Field(description="One line for a person: why the backend is not ready and what to do, or what it is."),
    ] = None
    device: Annotated[
        str | None,
        Field(description="The device the probe reached: an IBM backend name, a fake backend name, or aer_simulator."),
    ] = None
    capabilities: Annotated[
        BackendCapabilities | None,
        Field(description="What the probe discovered: qubits, native gates, whether it is operational, its queue."),
    ] = None
    last_probe_time: Annotated[
        datetime | None,
        Field(description="When the last probe finished (RFC 3339)."),
    ] = None
    probe_workflow_name: Annotated[
        str | None,
        Field(description="The Workflow that ran the last probe, in this namespace (`argo logs <name>`)."),
    ] = None
    observed_generation: Annotated[
        int | None,
        Field(description="The metadata.generation the last probe saw; lower means an edit has not been probed yet."),
    ] = None
    conditions: Annotated[
        list[Condition],
        Field(
            description=(
                "Ready: whether jobs may be sent here now (enabled, operational, credentials accepted); "
                "CredentialsValid (type ibm with backend): whether IBM accepted the API key in credentialsSecretRef. "
                "Each has a CamelCase reason and a message saying what to fix."
            )
        ),
    ] = []


# --------------------------------------------------------------------------- resource


class QiskitBackend(_Resource):
    """A QiskitBackend resource as stored in the API server or read from a file."""

    name_reason: ClassVar[str] = "jobs refer to it by name and it becomes a label value"

    api_version: Annotated[Literal["qiskit-argo.io/v1alpha1"], Field(alias="apiVersion")] = API_VERSION  # type: ignore[assignment]
    kind: Literal["QiskitBackend"] = "QiskitBackend"
    spec: QiskitBackendSpec
    status: Annotated[
        QiskitBackendStatus | None,
        Field(description="What the last probe found, kept up to date by the controller; edits are overwritten."),
    ] = None


# --------------------------------------------------------------------------- the CRD


#: ``kubectl get qb`` (priority 1: ``-o wide`` only).
BACKEND_COLUMNS = (
    PrinterColumn(name="Type", type="string", json_path=".spec.type", description="aer or ibm."),
    PrinterColumn(name="Device", type="string", json_path=".status.device", description="The device probed."),
    PrinterColumn(name="Qubits", type="integer", json_path=".status.capabilities.numQubits"),
    PrinterColumn(
        name="Status", type="string", json_path=".status.phase", description="Pending, Ready, NotReady or Disabled."
    ),
    PrinterColumn(
        name="Queue", type="integer", json_path=".status.capabilities.pendingJobs", description="Jobs queued."
    ),
    PrinterColumn(name="Age", type="date", json_path=".metadata.creationTimestamp"),
    PrinterColumn(name="Enabled", type="boolean", json_path=".spec.enabled", priority=1),
    PrinterColumn(name="Message", type="string", json_path=".status.message", priority=1),
)

#: ``QiskitBackendSpec._type_fields`` as CEL, rule for rule, with its messages.
BACKEND_RULES = (
    *(
        Rule(
            path="spec",
            rule=f"self.type == 'ibm' || !has(self.{alias})",
            message=f"spec.{alias} is only for type ibm",
            field_path=f".{alias}",
        )
        for alias in IBM_FIELDS
    ),
    Rule(
        path="spec",
        rule="self.type == 'aer' || !has(self.aer)",
        message="spec.aer is only for type aer",
        field_path=".aer",
    ),
    Rule(
        path="spec",
        rule="self.type != 'ibm' || (has(self.backend) ? 1 : 0) + (has(self.fakeBackend) ? 1 : 0) == 1",
        message=_EXACTLY_ONE,
    ),
    Rule(
        path="spec",
        rule="!has(self.backend) || has(self.credentialsSecretRef)",
        message=_NEEDS_CREDENTIALS,
        field_path=".credentialsSecretRef",
        reason="FieldValueRequired",
    ),
    *(
        Rule(
            path="spec",
            rule=f"!has(self.fakeBackend) || !has(self.{alias})",
            message=f"spec.{alias} {_NOT_FOR_FAKE}",
            field_path=f".{alias}",
            reason="FieldValueForbidden",
        )
        for alias in REAL_IBM_FIELDS
    ),
    # AerOptions._gpu_methods (in AerOptions' words, which name a job's field)
    Rule(path="spec.aer", rule=AER_DEVICE_RULE, message=TENSOR_NETWORK_NEEDS_GPU, field_path=".method"),
)

QISKIT_BACKEND = Kind(
    kind=BACKEND_KIND,
    plural=BACKEND_PLURAL,
    singular=BACKEND_SINGULAR,
    short_names=BACKEND_SHORT_NAMES,
    model=QiskitBackend,
    description=(
        "A backend in the catalogue: Qiskit Aer, or an IBM Quantum backend (or its local-testing fake), "
        "with its price and how many jobs it takes at once."
    ),
    noun="backend",
    printer_columns=BACKEND_COLUMNS,
    rules=BACKEND_RULES,
    mutable_spec_fields=None,
    started_by="probeWorkflowName",
)
