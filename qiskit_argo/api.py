"""Pydantic models of the qiskit-argo resources: QiskitJob spec and status.

These models are the one source of truth: the CRD in ``crds/`` is generated from them, the CLI
and the controller parse manifests with them, and the steps read the normalized request from them.
Field names follow Kubernetes conventions (camelCase on the wire, snake_case in Python).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from qiskit_argo.objectmeta import CONFIG_MAP_KEY, DNS1123_LABEL, DNS1123_SUBDOMAIN, ObjectMeta
from qiskit_argo.wire import Bool, Int, Number, Str

__all__ = [
    "GROUP",
    "VERSION",
    "API_VERSION",
    "KIND",
    "PLURAL",
    "SINGULAR",
    "SHORT_NAMES",
    "Phase",
    "Primitive",
    "ConditionType",
    "ConfigMapKeyRef",
    "CircuitSource",
    "Observable",
    "PauliSum",
    "AerOptions",
    "BackendSpec",
    "Backoff",
    "RetryPolicy",
    "ResourceRequirements",
    "QiskitJobSpec",
    "ObjectMeta",
    "Condition",
    "StepProgress",
    "CircuitMetrics",
    "BackendStatus",
    "ResultSummary",
    "ResultLocation",
    "QiskitJobStatus",
    "QiskitJob",
    "TERMINAL_PHASES",
    "QUANTITY_PATTERN",
    "MAX_INLINE_CIRCUIT",
    "MAX_NAME_LENGTH",
    "NAME_PATTERN",
]

GROUP = "qiskit-argo.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "QiskitJob"
PLURAL = "qiskitjobs"
SINGULAR = "qiskitjob"
SHORT_NAMES = ["qj"]

_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
#: A non-negative Kubernetes quantity (``resource.ParseQuantity``'s grammar without the minus sign:
#: a pod cannot request less than nothing).
QUANTITY_PATTERN = (
    r"^(\+)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
_PAULI = re.compile(r"^[IXYZ]+$")

#: Largest inline circuit in bytes of UTF-8 (OpenQASM text or base64 QPY). The job travels inside
#: its Workflow, which must fit in etcd (which counts bytes) with room to spare; bigger circuits go
#: in a ConfigMap (``configMapKeyRef``).
MAX_INLINE_CIRCUIT = 256 * 1024
#: A QiskitJob's name is a DNS label: it becomes a label value and the stem of the Workflow name.
MAX_NAME_LENGTH = 63
NAME_PATTERN = f"^{DNS1123_LABEL}$"


class _Model(BaseModel):
    """Base: camelCase aliases, unknown fields rejected, populate by either name."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=False,
        use_enum_values=True,
    )

    def dump(self) -> dict[str, Any]:
        """The wire form: camelCase keys, unset optional fields omitted."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class Phase(StrEnum):
    """The one word ``kubectl get qj`` shows."""

    PENDING = "Pending"
    VALIDATING = "Validating"
    SCHEDULING = "Scheduling"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SUSPENDED = "Suspended"


TERMINAL_PHASES = frozenset({Phase.SUCCEEDED.value, Phase.FAILED.value})


class Primitive(StrEnum):
    """Which Qiskit primitive runs the circuit."""

    SAMPLER = "sampler"
    ESTIMATOR = "estimator"


class ConditionType(StrEnum):
    VALIDATED = "Validated"
    SCHEDULED = "Scheduled"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SUSPENDED = "Suspended"


# --------------------------------------------------------------------------- spec


class ConfigMapKeyRef(_Model):
    """A circuit stored under one key of a ConfigMap in the job's namespace."""

    name: Annotated[Str, Field(max_length=253, pattern=f"^{DNS1123_SUBDOMAIN}$", description="ConfigMap name.")]
    key: Annotated[
        Str, Field(max_length=253, pattern=f"^{CONFIG_MAP_KEY}$", description="Key holding OpenQASM or base64 QPY.")
    ]


class CircuitSource(_Model):
    """Exactly one of: inline OpenQASM 2/3, base64 QPY, or a ConfigMap key."""

    openqasm: Annotated[
        Str | None,
        Field(
            max_length=MAX_INLINE_CIRCUIT,
            description="Inline OpenQASM 2 or 3 source (at most 256 KiB); the version is read from its header.",
        ),
    ] = None
    qpy: Annotated[
        Str | None,
        Field(max_length=MAX_INLINE_CIRCUIT, description="Base64-encoded QPY holding one circuit (at most 256 KiB)."),
    ] = None
    config_map_key_ref: Annotated[
        ConfigMapKeyRef | None,
        Field(description="A ConfigMap key holding OpenQASM source or base64 QPY."),
    ] = None

    @model_validator(mode="after")
    def _exactly_one(self) -> CircuitSource:
        given = [name for name in ("openqasm", "qpy", "config_map_key_ref") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "set exactly one of circuit.openqasm, circuit.qpy or circuit.configMapKeyRef"
                + (f" (got {', '.join(to_camel(g) for g in given)})" if given else "")
            )
        return self

    @field_validator("openqasm")
    @classmethod
    def _bytes(cls, value: str | None) -> str | None:
        if value is not None:
            size = len(value.encode("utf-8", "surrogatepass"))
            if size > MAX_INLINE_CIRCUIT:
                raise ValueError(
                    f"{size} bytes of UTF-8, over the limit of {MAX_INLINE_CIRCUIT} bytes; "
                    "put a bigger circuit in a ConfigMap (circuit.configMapKeyRef)"
                )
        return value

    @field_validator("qpy")
    @classmethod
    def _base64(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("circuit.qpy must be base64-encoded QPY") from None
        return value


class Observable(_Model):
    """A weighted sum of Pauli strings (the normalized form the steps pass on)."""

    paulis: Annotated[
        dict[str, Number],
        Field(min_length=1, description="Pauli string (I/X/Y/Z, qubit 0 rightmost) to its coefficient."),
    ]

    @field_validator("paulis")
    @classmethod
    def _pauli_strings(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_pauli_labels(value)


def _check_pauli_labels(terms: dict[str, float]) -> dict[str, float]:
    for label in terms:
        if not _PAULI.match(label):
            raise ValueError(f"observable term {label!r} is not a Pauli string of I, X, Y and Z")
    return terms


#: Most terms in one observable, observables in one job, bindings in one inline sweep and values in
#: one binding: bounds that keep the API server's CEL cost estimates of the CRD's rules finite.
MAX_PAULI_TERMS = 10_000
MAX_OBSERVABLES = 1_000
MAX_INLINE_BINDINGS = 20_000
MAX_PARAMETERS = 1_000

#: One observable in a job: Pauli string -> coefficient, e.g. ``{ZZ: 1}`` or ``{ZZ: 0.5, XX: 0.5}``.
#: That each key is a Pauli string of the circuit's width is the validate step's check (as on a
#: cluster, where the API server cannot check map keys).
PauliSum = Annotated[dict[str, Number], Field(min_length=1, max_length=MAX_PAULI_TERMS)]


class AerOptions(_Model):
    """How Qiskit Aer simulates the circuit."""

    method: Annotated[
        Literal[
            "automatic",
            "statevector",
            "density_matrix",
            "stabilizer",
            "matrix_product_state",
            "extended_stabilizer",
            "unitary",
            "superop",
        ],
        Field(description="Aer simulation method; automatic lets the schedule step choose."),
    ] = "automatic"
    seed: Annotated[
        Int | None,
        Field(ge=0, le=2**63 - 1, description="Simulator seed; set it to reproduce counts exactly."),
    ] = None
    noise_model: Annotated[
        Str | None,
        Field(
            pattern=r"^Fake[A-Za-z0-9]+$",
            description="Name of a qiskit-ibm-runtime fake backend (e.g. FakeManilaV2) whose noise model to use.",
        ),
    ] = None


class BackendSpec(_Model):
    """Where the circuit runs. Only Qiskit Aer for now."""

    aer: Annotated[AerOptions, Field(description="Run on the Qiskit Aer simulator.")] = AerOptions()


class Backoff(_Model):
    """Argo retry backoff: wait ``duration``, multiplied by ``factor`` each retry, up to ``maxDuration``."""

    duration: Annotated[Str, Field(pattern=_DURATION.pattern, description="First wait, e.g. 10s.")] = "10s"
    factor: Annotated[Int, Field(ge=1, le=10, description="Multiplier per retry.")] = 2
    max_duration: Annotated[Str, Field(pattern=_DURATION.pattern, description="Longest total backoff, e.g. 5m.")] = "5m"


class RetryPolicy(_Model):
    """How often Argo retries a step that failed transiently (never a permanent failure)."""

    limit: Annotated[Int, Field(ge=0, le=20, description="Retries per step after the first attempt.")] = 2
    backoff: Backoff = Backoff()


QuantityValue = Annotated[
    Str | Int,
    Field(description="A Kubernetes quantity such as 500m, 2 or 4Gi."),
]


class ResourceRequirements(_Model):
    """CPU and memory for the execute step's pod."""

    requests: Annotated[dict[str, QuantityValue] | None, Field(max_length=3)] = None
    limits: Annotated[dict[str, QuantityValue] | None, Field(max_length=3)] = None

    @field_validator("requests", "limits")
    @classmethod
    def _quantities(cls, value: dict[str, str | int] | None) -> dict[str, str | int] | None:
        for name, quantity in (value or {}).items():
            if name not in {"cpu", "memory", "ephemeral-storage"}:
                raise ValueError(f"resource {name!r} is not one of cpu, memory, ephemeral-storage")
            if not re.match(QUANTITY_PATTERN, str(quantity)):
                raise ValueError(f"{name}: {quantity!r} is not a Kubernetes quantity (e.g. 500m, 2, 4Gi)")
        return value


class QiskitJobSpec(_Model):
    """What to run, on what, how often, and for how long."""

    circuit: Annotated[CircuitSource, Field(description="The circuit to run.")]
    primitive: Annotated[
        Primitive,
        Field(description="sampler returns counts; estimator returns expectation values of observables."),
    ] = Primitive.SAMPLER
    shots: Annotated[
        Int | None,
        Field(ge=1, le=10_000_000, description="Shots per parameter binding (sampler; default 1024)."),
    ] = None
    precision: Annotated[
        Number | None,
        Field(gt=0, le=1, description="Target standard error of each expectation value (estimator)."),
    ] = None
    observables: Annotated[
        list[PauliSum] | None,
        Field(
            min_length=1,
            max_length=MAX_OBSERVABLES,
            description=(
                "Estimator observables, each a map from Pauli string (qubit 0 rightmost) to coefficient: "
                "{ZZ: 1} or {ZZ: 0.5, XX: 0.5}."
            ),
        ),
    ] = None
    parameter_values: Annotated[
        list[Annotated[list[Number], Field(max_length=MAX_PARAMETERS)]] | None,
        Field(
            min_length=1,
            max_length=MAX_INLINE_BINDINGS,
            description=(
                "Parameter bindings, one row per binding (more than one is a sweep), each row in the "
                "circuit's parameter order (Qiskit's: by name, ParameterVector elements by index)."
            ),
        ),
    ] = None
    backend: Annotated[BackendSpec, Field(description="Where to run; Qiskit Aer by default.")] = BackendSpec()
    optimization_level: Annotated[Int, Field(ge=0, le=3, description="Transpiler optimization level (0-3).")] = 1
    retry: Annotated[RetryPolicy, Field(description="Argo retries for transient failures.")] = RetryPolicy()
    active_deadline_seconds: Annotated[
        Int, Field(ge=1, le=7 * 24 * 3600, description="Wall-clock limit for the whole Workflow.")
    ] = 3600
    resources: Annotated[ResourceRequirements | None, Field(description="CPU/memory for the execute step.")] = None
    suspend: Annotated[
        Bool, Field(description="Pause the job; set back to false to resume. The only field editable once started.")
    ] = False

    @model_validator(mode="after")
    def _primitive_fields(self) -> QiskitJobSpec:
        if self.primitive == Primitive.ESTIMATOR.value:
            if not self.observables:
                raise ValueError("primitive estimator needs spec.observables (e.g. [{ZZ: 1}, {XX: 1}])")
            if self.shots is not None:
                raise ValueError("spec.shots is for the sampler; the estimator takes spec.precision")
        else:
            if self.observables is not None:
                raise ValueError("spec.observables is only for primitive estimator")
            if self.precision is not None:
                raise ValueError("spec.precision is only for primitive estimator; the sampler takes spec.shots")
        return self

    @property
    def effective_shots(self) -> int:
        return self.shots if self.shots is not None else 1024


# --------------------------------------------------------------------------- status


class Condition(_Model):
    """A metav1.Condition."""

    type: str
    status: Literal["True", "False", "Unknown"]
    reason: Annotated[str, Field(pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", max_length=1024)]
    message: Annotated[str, Field(max_length=32768)] = ""
    last_transition_time: datetime
    observed_generation: Annotated[int | None, Field(ge=0)] = None


class StepProgress(_Model):
    """One DAG step as Argo last reported it."""

    name: str
    phase: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    message: str | None = None


class CircuitMetrics(_Model):
    """What the validate step measured."""

    num_qubits: int
    num_clbits: int = 0
    depth: int
    size: int
    num_parameters: int = 0
    count_ops: dict[str, int] = {}
    has_measurements: bool = False
    num_bindings: int = 1


class BackendStatus(_Model):
    """What the schedule step chose, and why."""

    name: str
    method: str | None = None
    reason: str | None = None


class ResultSummary(_Model):
    """A small, bounded digest of the result; the full result lives at ``location``."""

    primitive: str
    num_pubs: int
    num_bindings: int = 1
    shots: int | None = None
    top_counts: dict[str, int] | None = None
    expectation_values: list[float] | None = None
    standard_errors: list[float] | None = None
    truncated: bool = False


class ResultLocation(_Model):
    """Where the full result artifact lives (Argo artifact repository key, or a local path)."""

    artifact: str
    key: str | None = None
    path: str | None = None


class QiskitJobStatus(_Model):
    """Computed by ``qiskit_argo.status.next_status``; written by the controller only."""

    phase: Phase = Phase.PENDING
    reason: str | None = None
    message: str | None = None
    conditions: list[Condition] = []
    observed_generation: int | None = None
    workflow_name: str | None = None
    start_time: datetime | None = None
    completion_time: datetime | None = None
    steps: list[StepProgress] = []
    circuit: CircuitMetrics | None = None
    backend: BackendStatus | None = None
    result: ResultSummary | None = None
    result_location: ResultLocation | None = None


# --------------------------------------------------------------------------- resource


class QiskitJob(_Model):
    """A QiskitJob resource as stored in the API server or read from a file."""

    api_version: Annotated[Literal["qiskit-argo.io/v1alpha1"], Field(alias="apiVersion")] = API_VERSION  # type: ignore[assignment]
    kind: Literal["QiskitJob"] = "QiskitJob"
    metadata: ObjectMeta
    spec: QiskitJobSpec
    status: QiskitJobStatus | None = None

    @model_validator(mode="after")
    def _job_name(self) -> QiskitJob:
        name = self.metadata.name
        if len(name) > MAX_NAME_LENGTH or not re.fullmatch(DNS1123_LABEL, name):
            raise ValueError(
                f"metadata.name {name[:70]!r} must be a DNS label of at most {MAX_NAME_LENGTH} characters "
                "(lowercase letters, digits, '-'): it becomes a label value and the stem of the Workflow name"
            )
        return self

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace
