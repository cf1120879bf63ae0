"""QiskitJob: one circuit or several PUBs, run by one primitive on one backend, as an Argo Workflow.

Its spec, its status (computed by ``qiskit_argo.status.next_status``, written by the controller
only), the resource, and ``QISKIT_JOB``, the kind's CRD declaration: names, printer columns, and
the CEL rules that restate the validators below with the same messages (kept beside them, so a
changed validator and its rule are changed together).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from qiskit_argo.api._base import DURATION_PATTERN, QUANTITY_PATTERN, QuantityValue, _Model, crd_keywords
from qiskit_argo.api._conditions import Condition
from qiskit_argo.api._kind import Kind, PrinterColumn, Rule
from qiskit_argo.api._resource import API_VERSION, _Resource
from qiskit_argo.objectmeta import CONFIG_MAP_KEY, DNS1123_SUBDOMAIN
from qiskit_argo.wire import Bool, Int, Number, Str

__all__ = [
    "KIND",
    "PLURAL",
    "SINGULAR",
    "SHORT_NAMES",
    "MUTABLE_SPEC_FIELDS",
    "Phase",
    "TERMINAL_PHASES",
    "Primitive",
    "ConditionType",
    "MAX_INLINE_CIRCUIT",
    "MAX_PAULI_TERMS",
    "MAX_OBSERVABLES",
    "MAX_INLINE_BINDINGS",
    "MAX_PARAMETERS",
    "MAX_PUBS",
    "MAX_INLINE_BINDINGS_PER_PUB",
    "MAX_SHARDS",
    "MAX_SUMMARY_PUBS",
    "SOURCE_ARTIFACTS",
    "ARTIFACT_KEY_PATTERN",
    "MAX_ARTIFACT_KEY",
    "DEFAULT_SHOTS",
    "AER_DEVICE_RULE",
    "TENSOR_NETWORK_NEEDS_GPU",
    "RESOURCE_NAMES",
    "ConfigMapKeyRef",
    "ArtifactKey",
    "CircuitSource",
    "ValuesSource",
    "PubSpec",
    "ExecutionSpec",
    "Observable",
    "PauliSum",
    "AerOptions",
    "BackendSpec",
    "BackendSelector",
    "IbmOptions",
    "PRICE_PATTERN",
    "MAX_PREFERENCE",
    "Rejection",
    "MAX_REJECTIONS",
    "IbmJobStatus",
    "CostAmount",
    "JobCost",
    "Backoff",
    "RetryPolicy",
    "ResourceRequirements",
    "QiskitJobSpec",
    "artifact_keys",
    "pub_message",
    "StepProgress",
    "CircuitMetrics",
    "BackendStatus",
    "PubSummary",
    "ResultSummary",
    "CacheStatus",
    "ArtifactRepositoryReference",
    "ResultLocation",
    "QiskitJobStatus",
    "QiskitJob",
    "COLUMNS",
    "RULES",
    "QISKIT_JOB",
]

KIND = "QiskitJob"
PLURAL = "qiskitjobs"
SINGULAR = "qiskitjob"
SHORT_NAMES = ["qj"]
#: The only spec fields a running job accepts changes to.
MUTABLE_SPEC_FIELDS = frozenset({"suspend"})

_PAULI = re.compile(r"^[IXYZ]+$")
# base64.b64decode(validate=True) accepts exactly this: the alphabet in groups of four, padded.
_BASE64 = r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"

#: Largest inline circuit in bytes of UTF-8 (OpenQASM text or base64 QPY). The job travels inside
#: its Workflow, which must fit in etcd (which counts bytes) with room to spare; bigger circuits go
#: in a ConfigMap (``configMapKeyRef``).
MAX_INLINE_CIRCUIT = 256 * 1024
#: Most terms in one observable, observables in one job, bindings in one inline sweep and values in
#: one binding: bounds that keep the API server's CEL cost estimates of the CRD's rules finite.
MAX_PAULI_TERMS = 10_000
MAX_OBSERVABLES = 1_000
MAX_INLINE_BINDINGS = 20_000
MAX_PARAMETERS = 1_000
#: Most PUBs (primitive unified blocs: a circuit with its bindings) in one job's ``spec.pubs``.
MAX_PUBS = 64
#: Most inline bindings of one PUB: 64 PUBs of at most this many rows stay under one job's
#: ``MAX_INLINE_BINDINGS`` in all; bigger sweeps come from a ConfigMap or an artifact
#: (``parameterValuesFrom``).
MAX_INLINE_BINDINGS_PER_PUB = 256
#: Most parallel execute tasks one job's bindings are cut into (``spec.execution.shards``).
MAX_SHARDS = 64
#: Most PUBs a result summary describes one by one.
MAX_SUMMARY_PUBS = 16
#: Most distinct artifact keys one job reads (its circuits and values from the artifact
#: repository): the validate step declares this many optional input artifacts.
SOURCE_ARTIFACTS = 8
#: A key in the namespace's artifact repository: a relative path of plain segments.
ARTIFACT_KEY_PATTERN = r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$"
MAX_ARTIFACT_KEY = 512
#: The resources a job may ask for its execute step.
RESOURCE_NAMES = ("cpu", "memory", "ephemeral-storage")


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
    """The conditions a QiskitJob reports."""

    VALIDATED = "Validated"
    SCHEDULED = "Scheduled"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SUSPENDED = "Suspended"


# --------------------------------------------------------------------------- spec


class ConfigMapKeyRef(_Model):
    """A file stored under one key of a ConfigMap in the job's namespace."""

    name: Annotated[Str, Field(max_length=253, pattern=f"^{DNS1123_SUBDOMAIN}$", description="ConfigMap name.")]
    key: Annotated[
        Str,
        Field(
            max_length=253,
            pattern=f"^{CONFIG_MAP_KEY}$",
            description="The key holding the file (a circuit: OpenQASM or base64 QPY; values: JSON or .npy).",
        ),
    ]


#: ``ArtifactKey._inside``'s words, also the CEL rule's.
_DOTDOT = "a '..' segment is not allowed; name the object by its key in the artifact repository, e.g. sweeps/theta.npy"
_DOTDOT_CEL = "(^|/)[.][.](/|$)"


class ArtifactKey(_Model):
    """An object in the namespace's Argo artifact repository (the bucket the job's Workflow uses)."""

    key: Annotated[
        Str,
        Field(
            max_length=MAX_ARTIFACT_KEY,
            pattern=ARTIFACT_KEY_PATTERN,
            description=(
                "Its key in the artifact repository: a relative path of letters, digits, '.', '_' and '-' "
                "segments, e.g. sweeps/theta.npy (no '..' segment; at most 512 characters)."
            ),
        ),
    ]

    @field_validator("key")
    @classmethod
    def _inside(cls, value: str) -> str:
        if re.search(_DOTDOT_CEL, value):
            raise ValueError(_DOTDOT)
        return value


class CircuitSource(_Model):
    """Exactly one of: inline OpenQASM 2/3, base64 QPY, a ConfigMap key, or an artifact."""

    openqasm: Annotated[
        Str | None,
        Field(
            max_length=MAX_INLINE_CIRCUIT,
            description="Inline OpenQASM 2 or 3 source (at most 256 KiB); the version is read from its header.",
        ),
    ] = None
    qpy: Annotated[
        Str | None,
        Field(
            max_length=MAX_INLINE_CIRCUIT,
            description="Base64-encoded QPY holding one circuit (at most 256 KiB).",
            json_schema_extra=crd_keywords(pattern=_BASE64),
        ),
    ] = None
    config_map_key_ref: Annotated[
        ConfigMapKeyRef | None,
        Field(description="A ConfigMap key holding OpenQASM source or base64 QPY."),
    ] = None
    artifact: Annotated[
        ArtifactKey | None,
        Field(
            description=(
                "A QPY or OpenQASM file in the namespace's artifact repository (for circuits too big for a "
                "ConfigMap); the format is read from its bytes."
            )
        ),
    ] = None

    @model_validator(mode="after")
    def _exactly_one(self) -> CircuitSource:
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(_exactly_one_message("circuit", CircuitSource, given))
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


class ValuesSource(_Model):
    """Where a sweep's parameter values are stored: exactly one of a ConfigMap key or an artifact.

    The format is read from the bytes: NumPy ``.npy`` (a float array of shape (bindings,
    parameters), or (bindings,) for one parameter), otherwise JSON: a list of rows, or
    ``{"parameterValues": rows}``."""

    config_map_key_ref: Annotated[
        ConfigMapKeyRef | None,
        Field(description="A ConfigMap key holding the rows as JSON (or .npy in binaryData)."),
    ] = None
    artifact: Annotated[
        ArtifactKey | None,
        Field(description="A .npy or JSON file in the namespace's artifact repository (for sweeps of any size)."),
    ] = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ValuesSource:
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(_exactly_one_message("parameterValuesFrom", ValuesSource, given))
        return self


def _exactly_one_message(prefix: str, model: type[_Model], given: list[str] | None = None) -> str:
    """``set exactly one of circuit.openqasm, ... or circuit.artifact``: a source model's words
    (``given``: the fields set, named in pydantic's message; CEL's message names none)."""
    names = [f"{prefix}.{model.model_fields[name].alias or name}" for name in model.model_fields]
    message = f"set exactly one of {', '.join(names[:-1])} or {names[-1]}"
    if given:
        message += f" (got {', '.join(to_camel(name) for name in given)})"
    return message


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
            "tensor_network",
        ],
        Field(
            description=(
                "Aer simulation method; automatic lets the schedule step choose. tensor_network (cuTensorNet) "
                "runs only on a GPU (device: GPU)."
            )
        ),
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
    device: Annotated[
        Literal["CPU", "GPU"],
        Field(
            description=(
                "Where Aer simulates: CPU, or GPU (the execute step runs in the executor-gpu image on a node with "
                "an NVIDIA GPU and asks for nvidia.com/gpu: 1)."
            )
        ),
    ] = "CPU"

    @model_validator(mode="after")
    def _gpu_methods(self) -> AerOptions:
        if self.method == "tensor_network" and self.device != "GPU":
            raise ValueError(TENSOR_NETWORK_NEEDS_GPU)
        return self


TENSOR_NETWORK_NEEDS_GPU = "spec.backend.aer.method=tensor_network runs only on a GPU; set spec.backend.aer.device: GPU"
#: ``AerOptions._gpu_methods`` as CEL, on an object of AerOptions (a job's and a QiskitBackend's).
AER_DEVICE_RULE = "!has(self.method) || self.method != 'tensor_network' || (has(self.device) && self.device == 'GPU')"


#: Most names in a selector's preference order.
MAX_PREFERENCE = 50
_BACKEND_NAME = Annotated[
    Str,
    Field(max_length=253, pattern=f"^{DNS1123_SUBDOMAIN}$", description="A QiskitBackend in the job's namespace."),
]
#: A non-negative decimal price with at most 9 decimal places, as a string ("1.60", "0.000025"):
#: money is never a float on the wire (Kubernetes API conventions avoid floating-point values).
PRICE_PATTERN = r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,9})?$"


class BackendSelector(_Model):
    """Let the schedule step pick from the namespace's QiskitBackends: every candidate that fits,
    in preference order, then the cheapest estimate, then the shortest queue."""

    type: Annotated[
        Literal["aer", "ibm"] | None,
        Field(description="Only backends of this type (aer or ibm); unset: either."),
    ] = None
    min_qubits: Annotated[
        Int | None,
        Field(
            ge=1,
            le=100_000,
            description="Only backends with at least this many qubits (the circuit's width always applies).",
        ),
    ] = None
    max_price: Annotated[
        Str | None,
        Field(
            max_length=22,
            pattern=PRICE_PATTERN,
            description=(
                'Only backends whose estimated cost of this job, by their cost model, is at most this, e.g. "5.00" '
                "(in each backend's currency; a backend without a cost model costs 0)."
            ),
        ),
    ] = None
    preference: Annotated[
        list[_BACKEND_NAME],
        Field(
            max_length=MAX_PREFERENCE,
            description="QiskitBackend names to try first, in order; the others follow by estimated cost and queue.",
        ),
    ] = []
    allow_simulator_fallback: Annotated[
        Bool,
        Field(
            description=(
                "When no backend of the selected type fits, run on Qiskit Aer instead (an aer QiskitBackend that "
                "fits, else the built-in simulator) rather than fail."
            )
        ),
    ] = False


class IbmOptions(_Model):
    """How the job runs when it runs on IBM Quantum (or a local-testing fake backend)."""

    resilience_level: Annotated[
        Int | None,
        Field(
            ge=0,
            le=2,
            description=(
                "Estimator error mitigation: 0 none, 1 readout (TREX), 2 also ZNE; unset: IBM's default, 1. "
                "The sampler has none."
            ),
        ),
    ] = None
    max_execution_time: Annotated[
        Int | None,
        Field(
            ge=1,
            le=10_800,
            description=(
                "IBM stops the job after this many seconds of quantum time (it is billed no more); unset: IBM's limit."
            ),
        ),
    ] = None


class BackendSpec(_Model):
    """Where the circuit runs: the built-in Qiskit Aer simulator (the default), a QiskitBackend by
    name (``ref``), or the best fit among the namespace's QiskitBackends (``selector``)."""

    aer: Annotated[
        AerOptions,
        Field(description="Qiskit Aer options (method, seed, noise model), used whenever the job runs on Aer."),
    ] = AerOptions()
    ref: Annotated[
        Str | None,
        Field(
            max_length=253,
            pattern=f"^{DNS1123_SUBDOMAIN}$",
            description="Run on this QiskitBackend of the job's namespace (kubectl get qb), e.g. torino.",
        ),
    ] = None
    selector: Annotated[
        BackendSelector | None,
        Field(
            description=(
                "Let the schedule step choose among the namespace's QiskitBackends; the choice and why are in "
                "status.backend."
            )
        ),
    ] = None
    ibm: Annotated[
        IbmOptions,
        Field(description="Options for IBM Quantum, used whenever the job runs there."),
    ] = IbmOptions()

    @model_validator(mode="after")
    def _ref_or_selector(self) -> BackendSpec:
        if self.ref is not None and self.selector is not None:
            raise ValueError(_REF_OR_SELECTOR)
        return self


_REF_OR_SELECTOR = "set spec.backend.ref or spec.backend.selector, not both"
_RESILIENCE_SAMPLER = "spec.backend.ibm.resilienceLevel is only for primitive estimator (the sampler has no mitigation)"
_SESSION_SELECTOR = "spec.sessionRef fixes the backend (the session's); remove spec.backend.selector"


class Backoff(_Model):
    """Argo retry backoff: wait ``duration``, multiplied by ``factor`` each retry, up to ``maxDuration``."""

    duration: Annotated[Str, Field(pattern=DURATION_PATTERN, description="First wait, e.g. 10s.")] = "10s"
    factor: Annotated[Int, Field(ge=1, le=10, description="Multiplier per retry.")] = 2
    max_duration: Annotated[Str, Field(pattern=DURATION_PATTERN, description="Longest total backoff, e.g. 5m.")] = "5m"


class RetryPolicy(_Model):
    """How often Argo retries a step that failed transiently (never a permanent failure)."""

    limit: Annotated[Int, Field(ge=0, le=20, description="Retries per step after the first attempt.")] = 2
    backoff: Backoff = Backoff()


class ResourceRequirements(_Model):
    """CPU and memory for the execute step's pod."""

    requests: Annotated[
        dict[str, QuantityValue] | None,
        Field(
            max_length=3,
            description=(
                "What the execute step's pod is guaranteed, by resource (cpu, memory, ephemeral-storage), "
                "e.g. {cpu: 500m, memory: 2Gi}; unset resources keep the step's defaults."
            ),
        ),
    ] = None
    limits: Annotated[
        dict[str, QuantityValue] | None,
        Field(
            max_length=3,
            description=(
                "The most the execute step's pod may use, by resource (cpu, memory, ephemeral-storage), "
                "e.g. {memory: 8Gi}; raise memory if the job fails with OutOfMemory."
            ),
        ),
    ] = None

    @field_validator("requests", "limits")
    @classmethod
    def _quantities(cls, value: dict[str, str | int] | None) -> dict[str, str | int] | None:
        for name, quantity in (value or {}).items():
            if name not in RESOURCE_NAMES:
                raise ValueError(f"resource {name!r} is not one of {', '.join(RESOURCE_NAMES)}")
            if not re.match(QUANTITY_PATTERN, str(quantity)):
                raise ValueError(f"{name}: {quantity!r} is not a Kubernetes quantity (e.g. 500m, 2, 4Gi)")
        return value


#: A row of parameter values: one binding, in the circuit's parameter order.
_Row = Annotated[list[Number], Field(max_length=MAX_PARAMETERS)]

_SHOTS_DESCRIPTION = "Shots per parameter binding (sampler; default 1024)."
_PRECISION_DESCRIPTION = "Target standard error of each expectation value (estimator)."
_OBSERVABLES_DESCRIPTION = (
    "Estimator observables, each a map from Pauli string (qubit 0 rightmost) to coefficient: "
    "{ZZ: 1} or {ZZ: 0.5, XX: 0.5}."
)
_ROWS_DESCRIPTION = (
    "Parameter bindings, one row per binding (more than one is a sweep), each row in the "
    "circuit's parameter order (Qiskit's: by name, ParameterVector elements by index)."
)
_VALUES_FROM_DESCRIPTION = (
    "The bindings stored outside the job (a ConfigMap key or an artifact), for sweeps too big to write inline; "
    "not with parameterValues."
)


class PubSpec(_Model):
    """One PUB (primitive unified bloc): a circuit with its bindings, and its observables (estimator)."""

    circuit: Annotated[CircuitSource, Field(description="The PUB's circuit.")]
    parameter_values: Annotated[
        list[_Row] | None,
        Field(
            min_length=1,
            max_length=MAX_INLINE_BINDINGS_PER_PUB,
            description=_ROWS_DESCRIPTION + " At most 256 inline; more via parameterValuesFrom.",
        ),
    ] = None
    parameter_values_from: Annotated[ValuesSource | None, Field(description=_VALUES_FROM_DESCRIPTION)] = None
    observables: Annotated[
        list[PauliSum] | None,
        Field(
            min_length=1,
            max_length=MAX_OBSERVABLES,
            description=_OBSERVABLES_DESCRIPTION + " Required in every PUB of the estimator.",
        ),
    ] = None
    shots: Annotated[
        Int | None,
        Field(ge=1, le=10_000_000, description="Shots per binding of this PUB (sampler; default spec.shots)."),
    ] = None
    precision: Annotated[
        Number | None,
        Field(
            gt=0, le=1, description="Target standard error of this PUB's values (estimator; default spec.precision)."
        ),
    ] = None

    @model_validator(mode="after")
    def _one_values_source(self) -> PubSpec:
        if self.parameter_values is not None and self.parameter_values_from is not None:
            raise ValueError(_PUB_VALUES_BOTH)
        return self

    @property
    def effective_shots(self) -> int:
        """Shots per binding, 1024 when unset."""
        return self.shots if self.shots is not None else DEFAULT_SHOTS


#: Shots per binding when neither the PUB nor the job sets them.
DEFAULT_SHOTS = 1024

_SHARDS_WORD = "auto"
_SHARDS = (
    f"must be a number of shards from 1 to {MAX_SHARDS}, or {_SHARDS_WORD} (one shard per 1000 bindings, at most 16)"
)


class ExecutionSpec(_Model):
    """How the bindings run: in how many parallel shards, and whether an identical earlier run may answer."""

    shards: Annotated[
        Int | Str,
        Field(
            description=(
                "Cut the bindings of all PUBs, in order, into this many parallel execute tasks (1-64), or auto: one "
                "per 1000 bindings, at most 16. Each shard's seed derives from spec.backend.aer.seed and its index, "
                "so a sharded run is reproducible; 1 is exactly the unsharded run."
            ),
        ),
    ] = 1
    cache: Annotated[
        Bool,
        Field(
            description=(
                "Reuse the result of an identical earlier Aer run (same circuits, bindings, shots, seed, method, "
                "noise model, shards and library versions) instead of simulating again; only with a seed, never "
                "on IBM. status.cache says when it did."
            )
        ),
    ] = True

    @field_validator("shards")
    @classmethod
    def _shards(cls, value: int | str) -> int | str:
        if isinstance(value, str) and value != _SHARDS_WORD:
            raise ValueError(f"{_SHARDS} (got {value!r})")
        if isinstance(value, int) and not 1 <= value <= MAX_SHARDS:
            raise ValueError(f"{_SHARDS} (got {value})")
        return value


class QiskitJobSpec(_Model):
    """What to run, on what, how often, and for how long."""

    circuit: Annotated[
        CircuitSource | None,
        Field(description="The circuit to run (one PUB); for several, use pubs instead."),
    ] = None
    pubs: Annotated[
        list[PubSpec] | None,
        Field(
            min_length=1,
            max_length=MAX_PUBS,
            description=(
                "Several PUBs (each a circuit with its bindings and observables) run in one primitive call, results "
                "in this order; instead of circuit, parameterValues(From) and observables. At most 64."
            ),
        ),
    ] = None
    primitive: Annotated[
        Primitive,
        Field(description="sampler returns counts; estimator returns expectation values of observables."),
    ] = Primitive.SAMPLER
    shots: Annotated[
        Int | None,
        Field(ge=1, le=10_000_000, description=_SHOTS_DESCRIPTION + " With pubs, the default of each PUB."),
    ] = None
    precision: Annotated[
        Number | None,
        Field(gt=0, le=1, description=_PRECISION_DESCRIPTION + " With pubs, the default of each PUB."),
    ] = None
    observables: Annotated[
        list[PauliSum] | None,
        Field(min_length=1, max_length=MAX_OBSERVABLES, description=_OBSERVABLES_DESCRIPTION),
    ] = None
    parameter_values: Annotated[
        list[_Row] | None,
        Field(min_length=1, max_length=MAX_INLINE_BINDINGS, description=_ROWS_DESCRIPTION),
    ] = None
    parameter_values_from: Annotated[ValuesSource | None, Field(description=_VALUES_FROM_DESCRIPTION)] = None
    backend: Annotated[BackendSpec, Field(description="Where to run; Qiskit Aer by default.")] = BackendSpec()
    execution: Annotated[
        ExecutionSpec,
        Field(description="Sharding of the bindings over parallel execute tasks, and the simulator cache."),
    ] = ExecutionSpec()
    optimization_level: Annotated[Int, Field(ge=0, le=3, description="Transpiler optimization level (0-3).")] = 1
    retry: Annotated[RetryPolicy, Field(description="Argo retries for transient failures.")] = RetryPolicy()
    active_deadline_seconds: Annotated[
        Int, Field(ge=1, le=7 * 24 * 3600, description="Wall-clock limit for the whole Workflow.")
    ] = 3600
    resources: Annotated[ResourceRequirements | None, Field(description="CPU/memory for the execute step.")] = None
    suspend: Annotated[
        Bool, Field(description="Pause the job; set back to false to resume. The only field editable once started.")
    ] = False
    session_ref: Annotated[
        Str | None,
        Field(
            max_length=253,
            pattern=f"^{DNS1123_SUBDOMAIN}$",
            description=(
                "Run inside this QiskitSession of the job's namespace (an IBM runtime session or batch) on its "
                "backend; the job waits in Pending (SessionNotReady) until the session is Ready."
            ),
        ),
    ] = None

    @model_validator(mode="after")
    def _session_fields(self) -> QiskitJobSpec:
        if self.session_ref is not None and self.backend.selector is not None:
            raise ValueError(_SESSION_SELECTOR)
        return self

    @model_validator(mode="after")
    def _circuit_or_pubs(self) -> QiskitJobSpec:
        if self.circuit is not None and self.pubs is not None:
            raise ValueError(_CIRCUIT_AND_PUBS)
        if self.circuit is None and self.pubs is None:
            raise ValueError(_CIRCUIT_OR_PUBS)
        if self.pubs is not None:
            for name in _SINGLE_FORM_FIELDS:
                if getattr(self, name) is not None:
                    raise ValueError(_single_form_only(to_camel(name)))
        elif self.parameter_values is not None and self.parameter_values_from is not None:
            raise ValueError(_VALUES_BOTH)
        return self

    @model_validator(mode="after")
    def _primitive_fields(self) -> QiskitJobSpec:
        estimator = self.primitive == Primitive.ESTIMATOR.value
        if estimator:
            if self.pubs is None and not self.observables:
                raise ValueError(_ESTIMATOR_OBSERVABLES)
            if self.shots is not None:
                raise ValueError(_ESTIMATOR_SHOTS)
        else:
            if self.observables is not None:
                raise ValueError(_SAMPLER_OBSERVABLES)
            if self.precision is not None:
                raise ValueError(_SAMPLER_PRECISION)
            if self.backend.ibm.resilience_level is not None:
                raise ValueError(_RESILIENCE_SAMPLER)
        for index, pub in enumerate(self.pubs or []):
            if estimator:
                wrong = (
                    _PUB_ESTIMATOR_OBSERVABLES
                    if not pub.observables
                    else _PUB_ESTIMATOR_SHOTS
                    if pub.shots is not None
                    else None
                )
            else:
                wrong = (
                    _PUB_SAMPLER_OBSERVABLES
                    if pub.observables is not None
                    else _PUB_SAMPLER_PRECISION
                    if pub.precision is not None
                    else None
                )
            if wrong is not None:
                raise ValueError(pub_message(wrong, index))
        return self

    @model_validator(mode="after")
    def _few_artifacts(self) -> QiskitJobSpec:
        keys = artifact_keys(self)
        if len(keys) > SOURCE_ARTIFACTS:
            raise ValueError(f"{_TOO_MANY_ARTIFACTS} (got {len(keys)})")
        return self

    @property
    def effective_shots(self) -> int:
        """Shots per binding of the single-circuit form (and every PUB's default), 1024 when unset."""
        return self.shots if self.shots is not None else DEFAULT_SHOTS

    @property
    def num_pubs(self) -> int:
        """How many PUBs the job runs: 1 for the single-circuit form."""
        return len(self.pubs) if self.pubs is not None else 1

    def pub_specs(self) -> list[PubSpec]:
        """The job's PUBs in order: the single-circuit form as one PUB; the job's shots (sampler) or
        precision (estimator) applied to every PUB that sets none. Not validated again (the
        single-circuit form may hold more inline rows than a PUB of ``pubs`` may)."""
        estimator = self.primitive == Primitive.ESTIMATOR.value
        shots = None if estimator else self.shots
        precision = self.precision if estimator else None
        if self.pubs is None:
            assert self.circuit is not None  # _circuit_or_pubs
            return [
                PubSpec.model_construct(
                    circuit=self.circuit,
                    parameter_values=self.parameter_values,
                    parameter_values_from=self.parameter_values_from,
                    observables=self.observables,
                    shots=shots,
                    precision=precision,
                )
            ]
        return [
            pub.model_copy(
                update={
                    "shots": pub.shots if pub.shots is not None else shots,
                    "precision": pub.precision if pub.precision is not None else precision,
                }
            )
            for pub in self.pubs
        ]


def artifact_keys(spec: QiskitJobSpec) -> list[str]:
    """The distinct artifact repository keys the job reads, in order of first appearance: PUB by
    PUB, its circuit before its values. The validate step gets the i-th as input artifact
    ``source-<i>``."""
    keys: list[str] = []
    sources = (
        [(spec.circuit, spec.parameter_values_from)]
        if spec.pubs is None
        else [(pub.circuit, pub.parameter_values_from) for pub in spec.pubs]
    )
    for circuit, values in sources:
        for source in (circuit, values):
            artifact = source.artifact if source is not None else None
            if artifact is not None and artifact.key not in keys:
                keys.append(artifact.key)
    return keys


def pub_message(template: str, index: int | None) -> str:
    """A PUB rule's words for PUB ``index`` (``None``: any PUB, as the CEL rule says it)."""
    return template if index is None else template.replace("spec.pubs[i]", f"spec.pubs[{index}]")


_SINGLE_FORM_FIELDS = ("parameter_values", "parameter_values_from", "observables")
_CIRCUIT_AND_PUBS = "set spec.circuit (one circuit) or spec.pubs (several), not both"
_CIRCUIT_OR_PUBS = "set spec.circuit or spec.pubs"
_VALUES_BOTH = "set spec.parameterValues or spec.parameterValuesFrom, not both"
_PUB_VALUES_BOTH = "set parameterValues or parameterValuesFrom, not both"
_ESTIMATOR_OBSERVABLES = "primitive estimator needs spec.observables (e.g. [{ZZ: 1}, {XX: 1}])"
_ESTIMATOR_SHOTS = "spec.shots is for the sampler; the estimator takes spec.precision"
_SAMPLER_OBSERVABLES = "spec.observables is only for primitive estimator"
_SAMPLER_PRECISION = "spec.precision is only for primitive estimator; the sampler takes spec.shots"
_PUB_ESTIMATOR_OBSERVABLES = "primitive estimator needs spec.pubs[i].observables in every PUB (e.g. [{ZZ: 1}])"
_PUB_ESTIMATOR_SHOTS = "spec.pubs[i].shots is for the sampler; the estimator takes spec.pubs[i].precision"
_PUB_SAMPLER_OBSERVABLES = "spec.pubs[i].observables is only for primitive estimator"
_PUB_SAMPLER_PRECISION = "spec.pubs[i].precision is only for primitive estimator; the sampler takes spec.pubs[i].shots"
_TOO_MANY_ARTIFACTS = (
    f"spec.pubs reads more than {SOURCE_ARTIFACTS} distinct artifact keys (circuit.artifact and "
    "parameterValuesFrom.artifact); share files between PUBs or use ConfigMaps"
)


def _single_form_only(alias: str) -> str:
    return f"spec.{alias} is for the single-circuit form; with spec.pubs, set it in each PUB (spec.pubs[i].{alias})"


# --------------------------------------------------------------------------- status


class StepProgress(_Model):
    """One DAG step as Argo last reported it."""

    name: Annotated[
        str,
        Field(
            description=(
                "The step, e.g. validate, schedule, execute-aer or store-results: the DAG task of that name in "
                "the Workflow (`argo logs <workflowName>` shows its output)."
            )
        ),
    ]
    phase: Annotated[
        str,
        Field(
            description=(
                "Argo's phase of the step: Pending, Running, Succeeded, Failed, Error, Skipped, or Omitted "
                "when it never ran because the job ended first."
            )
        ),
    ]
    started_at: Annotated[datetime | None, Field(description="When the step started (RFC 3339).")] = None
    finished_at: Annotated[datetime | None, Field(description="When the step finished (RFC 3339).")] = None
    message: Annotated[
        str | None,
        Field(description="What the step reported, e.g. why it failed and which field to fix; unset if nothing."),
    ] = None
    progress: Annotated[
        str | None,
        Field(
            description=(
                'Argo\'s progress of the step, "N/M": bindings done of the bindings it runs (a sharded step: summed '
                "over its shards); unset when Argo reports none."
            )
        ),
    ] = None


class CircuitMetrics(_Model):
    """What the validate step measured."""

    num_qubits: Annotated[int, Field(description="Qubits the circuit uses.")]
    num_clbits: Annotated[int, Field(description="Classical bits the circuit measures into.")] = 0
    depth: Annotated[
        int, Field(description="Circuit depth as written (before transpilation): the longest chain of operations.")
    ]
    size: Annotated[int, Field(description="Operations in the circuit as written (before transpilation).")]
    num_parameters: Annotated[
        int,
        Field(description="Unbound parameters; each row of spec.parameterValues must give this many values."),
    ] = 0
    count_ops: Annotated[
        dict[str, int],
        Field(description="How often each operation occurs, by name, e.g. {h: 1, cx: 1, measure: 2}."),
    ] = {}
    has_measurements: Annotated[
        bool,
        Field(
            description="Whether the circuit measures; the sampler needs measurements, the estimator drops final ones."
        ),
    ] = False
    num_bindings: Annotated[
        int,
        Field(
            description=(
                "Parameter bindings the job runs, over all its PUBs: rows of parameterValues (or "
                "parameterValuesFrom), 1 for a PUB without parameters."
            )
        ),
    ] = 1
    num_pubs: Annotated[
        int,
        Field(
            description=(
                "PUBs the job runs (1 for spec.circuit); with several, the other fields cover them all: the widest "
                "and deepest circuit, the most parameters, sizes and operations summed."
            )
        ),
    ] = 1


class Rejection(_Model):
    """A candidate the schedule step did not choose, and why."""

    name: Annotated[str, Field(description="The QiskitBackend's name.")]
    reason: Annotated[str, Field(description="Why it was passed over, e.g. 'has 27 qubits, the circuit needs 33'.")]


#: Most rejected candidates a status lists (the rest are counted in the reason).
MAX_REJECTIONS = 50


class BackendStatus(_Model):
    """What the schedule step chose, and why."""

    name: Annotated[
        str,
        Field(
            description=(
                "Where the circuit runs: the chosen QiskitBackend's name, or aer for the built-in Qiskit Aer simulator."
            )
        ),
    ]
    type: Annotated[str | None, Field(description="aer or ibm.")] = None
    device: Annotated[
        str | None,
        Field(
            description=(
                "The device: an IBM backend (ibm_torino), a local-testing fake (fake_sherbrooke) or aer_simulator."
            )
        ),
    ] = None
    rejected: Annotated[
        list[Rejection],
        Field(
            max_length=MAX_REJECTIONS,
            description="Every catalogue candidate not chosen and why (a selector's or a fallback's), at most 50.",
        ),
    ] = []
    method: Annotated[
        str | None,
        Field(description="The Aer simulation method; automatic leaves the choice to Aer (see reason)."),
    ] = None
    reason: Annotated[
        str | None,
        Field(
            description=(
                "Why this backend and method, and what to set in spec.backend to change them "
                "(e.g. matrix_product_state for a circuit too wide for a statevector)."
            )
        ),
    ] = None


_TOP_COUNTS_DESCRIPTION = (
    "Sampler: the most frequent bitstrings of the first binding (clbit 0 rightmost) and how often each was measured; "
    "at most 8, the rest is in the full result."
)
_VALUES_SUMMARY_DESCRIPTION = "Estimator: the expectation values, in the full result's order; at most the first 16."
_ERRORS_SUMMARY_DESCRIPTION = "Estimator: the standard error of each of expectationValues, in the same order."


class PubSummary(_Model):
    """A small digest of one PUB's result."""

    index: Annotated[int, Field(description="The PUB's position in spec.pubs (0 for spec.circuit).")]
    num_bindings: Annotated[int, Field(description="Parameter bindings this PUB ran.")] = 1
    shots: Annotated[int | None, Field(description="Shots per binding (sampler).")] = None
    top_counts: Annotated[dict[str, int] | None, Field(description=_TOP_COUNTS_DESCRIPTION)] = None
    expectation_values: Annotated[list[float] | None, Field(description=_VALUES_SUMMARY_DESCRIPTION)] = None
    standard_errors: Annotated[list[float] | None, Field(description=_ERRORS_SUMMARY_DESCRIPTION)] = None
    truncated: Annotated[
        bool,
        Field(
            description="True when this digest leaves something of the PUB out (more bitstrings, bindings or values)."
        ),
    ] = False


class ResultSummary(_Model):
    """A small, bounded digest of the result; the full result is where ``status.resultLocation`` says.
    The top-level counts and values describe the first PUB; ``pubs`` each PUB."""

    primitive: Annotated[str, Field(description="The primitive that produced the result: sampler or estimator.")]
    num_pubs: Annotated[
        int, Field(description="How many primitive unified blocs (PUBs: a circuit with its parameters) ran.")
    ]
    num_bindings: Annotated[int, Field(description="Parameter bindings run, over all PUBs.")] = 1
    shots: Annotated[int | None, Field(description="Shots per binding of the first PUB (sampler).")] = None
    top_counts: Annotated[dict[str, int] | None, Field(description=_TOP_COUNTS_DESCRIPTION + " First PUB.")] = None
    expectation_values: Annotated[
        list[float] | None, Field(description=_VALUES_SUMMARY_DESCRIPTION + " First PUB.")
    ] = None
    standard_errors: Annotated[list[float] | None, Field(description=_ERRORS_SUMMARY_DESCRIPTION)] = None
    pubs: Annotated[
        list[PubSummary],
        Field(
            max_length=MAX_SUMMARY_PUBS,
            description="One digest per PUB, in order; at most the first 16 (truncated says when there are more).",
        ),
    ] = []
    truncated: Annotated[
        bool,
        Field(
            description=(
                "True when this digest leaves something out (more bitstrings, bindings, values or PUBs); "
                "read the full result from status.resultLocation."
            )
        ),
    ] = False


class CacheStatus(_Model):
    """Whether the result came from the simulator cache (an identical earlier seeded Aer run)."""

    hit: Annotated[bool, Field(description="True when every shard's result came from the cache (nothing simulated).")]
    key: Annotated[
        str,
        Field(description="The cache key: a hash of the circuits, bindings, seed, method, noise model and versions."),
    ]
    shards: Annotated[int, Field(description="Shards the job ran in.")] = 1
    shards_hit: Annotated[int, Field(description="Shards whose result came from the cache.")] = 0


class ArtifactRepositoryReference(_Model):
    """The artifact repository a Workflow stored its artifacts in, as Argo resolved it
    (``status.artifactRepositoryRef``: a key of a ConfigMap, in the Workflow's namespace or Argo's)."""

    config_map: Annotated[
        str, Field(description="The ConfigMap holding the repository (Argo's default name: artifact-repositories).")
    ]
    key: Annotated[str | None, Field(description="Its key in that ConfigMap (e.g. default-v1).")] = None
    namespace: Annotated[
        str | None,
        Field(description="The ConfigMap's namespace: the Workflow's, or Argo's own when it was found there."),
    ] = None


class ResultLocation(_Model):
    """Where the full result artifact lives (Argo artifact repository key, or a local path), and the
    checksum of its result.json: enough for `qiskit-argo results` to fetch and verify it."""

    artifact: Annotated[
        str,
        Field(
            description=(
                "The Workflow's output artifact holding results/ (result.json, metrics.json, histogram.png); "
                "`qiskit-argo results <job>` downloads it (or `argo cp <workflowName> <dir>`)."
            )
        ),
    ]
    key: Annotated[
        str | None,
        Field(description="Its key in the Argo artifact repository (S3/GCS/OSS key, Azure blob, HDFS path or URL)."),
    ] = None
    path: Annotated[
        str | None,
        Field(description="Where the step wrote it inside its container (not a path on your machine)."),
    ] = None
    bucket: Annotated[
        str | None, Field(description="The S3-compatible bucket holding the key, as Argo recorded the artifact.")
    ] = None
    endpoint: Annotated[
        str | None,
        Field(description="The S3-compatible endpoint (host:port, no scheme; empty: AWS S3), as Argo recorded it."),
    ] = None
    insecure: Annotated[
        Bool | None, Field(description="Whether the endpoint is plain HTTP (the repository's s3.insecure).")
    ] = None
    repository: Annotated[
        ArtifactRepositoryReference | None,
        Field(description="The artifact repository the Workflow used (its artifactRepositoryRef as Argo resolved it)."),
    ] = None
    workflow: Annotated[
        str | None, Field(description="The Workflow whose node wrote the artifact (the Argo Server's artifact URL).")
    ] = None
    node_id: Annotated[
        str | None, Field(description="The id of the Workflow node that wrote the artifact (its store-results step).")
    ] = None
    sha256: Annotated[
        str | None,
        Field(
            description="The SHA-256 of result.json as the store-results step wrote it (hex); checked on download.",
            pattern=r"^[0-9a-f]{64}$",
        ),
    ] = None
    size: Annotated[
        Int | None,
        Field(description="The size of result.json in bytes.", ge=0),
    ] = None


class IbmJobStatus(_Model):
    """The job's one IBM Quantum job (or its local-testing stand-in), as the IBM steps last reported it."""

    job_id: Annotated[
        str, Field(description="IBM's runtime job id (IBM Quantum dashboard, QiskitRuntimeService.job(id)).")
    ]
    tag: Annotated[
        str | None,
        Field(
            description=(
                "The identity tag the job carries (qiskit-argo.job.<hash>): how a retry finds it instead of "
                "submitting again."
            )
        ),
    ] = None
    action: Annotated[
        str | None,
        Field(
            description=(
                "How the submit step got it: Submitted; Recovered (the answer was lost, found by tag); Adopted "
                "(an earlier attempt had submitted it)."
            )
        ),
    ] = None
    state: Annotated[
        str | None, Field(description="IBM's state in our words: Queued, Running, Done, Failed or Cancelled.")
    ] = None
    message: Annotated[str | None, Field(description="IBM's own words when it failed or was cancelled.")] = None
    session_id: Annotated[str | None, Field(description="The runtime session or batch it ran in.")] = None
    duplicates_cancelled: Annotated[
        list[str],
        Field(
            max_length=100,
            description=(
                "Duplicate IBM jobs (a submission the client library retried) found by tag and cancelled before "
                "they ran."
            ),
        ),
    ] = []
    created: Annotated[datetime | None, Field(description="When IBM accepted it (RFC 3339).")] = None
    running: Annotated[datetime | None, Field(description="When it started running on the device.")] = None
    finished: Annotated[datetime | None, Field(description="When it finished.")] = None
    quantum_seconds: Annotated[
        float | None, Field(description="Quantum time IBM metered (what is billed), once known.")
    ] = None
    estimated_quantum_seconds: Annotated[
        float | None, Field(description="IBM's estimate before running (usage_estimation), if it gave one.")
    ] = None


class CostAmount(_Model):
    """Quantum seconds and money, as decimal strings (money is never a float on the wire)."""

    quantum_seconds: Annotated[str, Field(description='Seconds of quantum time, e.g. "12.5" (0 on a simulator).')]
    amount: Annotated[str, Field(description='Money in currency by the backend\'s cost model, e.g. "20.00".')]
    currency: Annotated[str, Field(description="ISO 4217 code of amount, e.g. USD.")]
    how: Annotated[str | None, Field(description="One line: how it was computed.")] = None


class JobCost(_Model):
    """What the job was expected to use, what its budgets hold for it, and what it was charged."""

    estimate: Annotated[
        CostAmount | None,
        Field(description="The schedule step's estimate from the circuit and the chosen backend, and how."),
    ] = None
    reserved: Annotated[
        CostAmount | None,
        Field(
            description=(
                "The upper bound reserved in its budgets before the Workflow was created; IBM stops the job "
                "there (max_execution_time)."
            )
        ),
    ] = None
    charged: Annotated[
        CostAmount | None,
        Field(description="The actual usage charged when the job ended (the rest of the reservation is released)."),
    ] = None
    budgets: Annotated[
        list[str],
        Field(description="The QiskitBudgets of this namespace that hold (or held) its reservation."),
    ] = []


class QiskitJobStatus(_Model):
    """Computed by ``qiskit_argo.status.next_status``; written by the controller only."""

    phase: Annotated[
        Phase,
        Field(
            description=(
                "Where the job is: Pending, Validating, Scheduling, Running, Suspended, or the final Succeeded or "
                "Failed. `kubectl get qj` shows it; message says more."
            )
        ),
    ] = Phase.PENDING
    reason: Annotated[
        str | None,
        Field(
            description=(
                "Why the job is in its phase, one CamelCase word to match on, e.g. Succeeded, InvalidCircuit, "
                "DeadlineExceeded, OutOfMemory, WorkflowDeleted; unset while it runs normally."
            )
        ),
    ] = None
    message: Annotated[
        str | None,
        Field(
            description=(
                "One line for a person: what is happening now, the result when it succeeded, or what went wrong "
                "and what to change when it failed."
            )
        ),
    ] = None
    conditions: Annotated[
        list[Condition],
        Field(
            description=(
                "One condition per type: Validated, Scheduled, Running, Succeeded, Failed, Suspended. "
                "`kubectl wait --for=condition=Succeeded qj/<name>` waits for the result."
            )
        ),
    ] = []
    observed_generation: Annotated[
        int | None,
        Field(
            description=(
                "The metadata.generation this status describes; lower than metadata.generation means the "
                "controller has not caught up with the latest edit yet."
            )
        ),
    ] = None
    workflow_name: Annotated[
        str | None,
        Field(
            description=(
                "The Argo Workflow running the job, in the job's namespace (`argo get <name>`, `argo logs <name>`). "
                "Once set, the spec can no longer change except spec.suspend."
            )
        ),
    ] = None
    start_time: Annotated[datetime | None, Field(description="When the Workflow started running (RFC 3339).")] = None
    completion_time: Annotated[
        datetime | None,
        Field(description="When the job succeeded or failed (RFC 3339); unset until then."),
    ] = None
    steps: Annotated[
        list[StepProgress],
        Field(description="Each step of the Workflow in the order they run, with its phase, times and message."),
    ] = []
    progress: Annotated[
        str | None,
        Field(
            description=(
                'Bindings simulated of the bindings in all, "N/M", summed over the execute tasks (Argo\'s progress, '
                "as the Argo UI shows it); unset before they start."
            )
        ),
    ] = None
    cache: Annotated[
        CacheStatus | None,
        Field(description="Whether the result came from the simulator cache; unset when the job ran uncached."),
    ] = None
    circuit: Annotated[
        CircuitMetrics | None,
        Field(description="What the validate step measured in the circuit: width, depth, operations, bindings."),
    ] = None
    backend: Annotated[
        BackendStatus | None,
        Field(description="The backend and simulation method the schedule step chose, and why."),
    ] = None
    ibm: Annotated[
        IbmJobStatus | None,
        Field(description="The IBM Quantum job that runs the circuit (runtime job id, state, usage); unset on Aer."),
    ] = None
    result: Annotated[
        ResultSummary | None,
        Field(
            description=(
                "A small digest of the result (top counts or expectation values); the whole is at resultLocation."
            )
        ),
    ] = None
    result_location: Annotated[
        ResultLocation | None,
        Field(description="Where the full result is: the store-results step's output artifact."),
    ] = None
    cost: Annotated[
        JobCost | None,
        Field(description="Its estimate, what its QiskitBudgets reserved for it, and what it was charged."),
    ] = None


# --------------------------------------------------------------------------- resource


class QiskitJob(_Resource):
    """A QiskitJob resource as stored in the API server or read from a file."""

    name_reason: ClassVar[str] = "it becomes a label value and the stem of the Workflow name"

    api_version: Annotated[Literal["qiskit-argo.io/v1alpha1"], Field(alias="apiVersion")] = API_VERSION  # type: ignore[assignment]
    kind: Literal["QiskitJob"] = "QiskitJob"
    spec: QiskitJobSpec
    status: Annotated[
        QiskitJobStatus | None,
        Field(
            description=(
                "What the job is doing or did, kept up to date by the controller from the job's Workflow; "
                "edits are overwritten."
            )
        ),
    ] = None


# --------------------------------------------------------------------------- the CRD


def _exactly_one_rule(path: str, prefix: str, model: type[_Model]) -> Rule:
    """``model._exactly_one`` (a source: exactly one of its fields) at ``path``, in its words."""
    count = " + ".join(f"(has(self.{alias}) ? 1 : 0)" for alias in _aliases(model))
    return Rule(path=path, rule=f"{count} == 1", message=_exactly_one_message(prefix, model))


def _aliases(model: type[_Model]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


_ESTIMATOR = "has(self.primitive) && self.primitive == 'estimator'"
#: Where the source models sit in the spec (``[]``: each item of a list).
_CIRCUIT_PATHS = ("spec.circuit", "spec.pubs[].circuit")
_VALUES_PATHS = ("spec.parameterValuesFrom", "spec.pubs[].parameterValuesFrom")


def _every_pub(condition: str) -> str:
    """CEL: ``condition`` (of ``p``) holds for each PUB, or there are none."""
    return f"!has(self.pubs) || self.pubs.all(p, {condition})"


def _distinct_artifacts_rule() -> Rule:
    """``QiskitJobSpec._few_artifacts``: count each artifact key at its first appearance (circuits
    before values here; the count is the same), by index, as CEL has no sets. Conditionals rather
    than ``&&``/``||``, so that no evaluator walks the indexes past the PUBs."""
    indexes = "[" + ", ".join(str(i) for i in range(MAX_PUBS)) + "]"
    pubs = "self.pubs"

    def circuit(i: str) -> str:
        return f"{pubs}[{i}].circuit.artifact"

    def values(i: str) -> str:
        return f"{pubs}[{i}].parameterValuesFrom"

    def has_values(i: str) -> str:
        return f"(has({values(i)}) && has({values(i)}.artifact))"

    circuit_key, values_key = f"{circuit('i')}.key", f"{values('i')}.artifact.key"
    first_circuit = (
        f"has({circuit('i')}) ? {indexes}.all(j, j < i ? "
        f"(!has({circuit('j')}) || {circuit('j')}.key != {circuit_key}) : true) : false"
    )
    first_values = (
        f"{has_values('i')} ? {indexes}.all(j, j < size({pubs}) ? "
        f"(!has({circuit('j')}) || {circuit('j')}.key != {values_key}) && "
        f"(j < i ? (!{has_values('j')} || {values('j')}.artifact.key != {values_key}) : true) : true) : false"
    )
    count = (
        f"size({indexes}.filter(i, i < size({pubs}) ? ({first_circuit}) : false)) + "
        f"size({indexes}.filter(i, i < size({pubs}) ? ({first_values}) : false))"
    )
    return Rule(
        path="spec",
        rule=f"has({pubs}) ? {count} <= {SOURCE_ARTIFACTS} : true",
        message=_TOO_MANY_ARTIFACTS,
        field_path=".pubs",
    )


#: ``kubectl get qj`` (priority 1: ``-o wide`` only).
COLUMNS = (
    PrinterColumn(name="Phase", type="string", json_path=".status.phase", description="Where the job is."),
    PrinterColumn(name="Backend", type="string", json_path=".status.backend.name", description="Chosen backend."),
    PrinterColumn(name="Shots", type="integer", json_path=".spec.shots", description="Shots per binding (sampler)."),
    PrinterColumn(name="Age", type="date", json_path=".metadata.creationTimestamp"),
    PrinterColumn(name="Message", type="string", json_path=".status.message", description="What happened."),
    PrinterColumn(name="Primitive", type="string", json_path=".spec.primitive", priority=1),
    PrinterColumn(name="Qubits", type="integer", json_path=".status.circuit.numQubits", priority=1),
    PrinterColumn(name="Workflow", type="string", json_path=".status.workflowName", priority=1),
    PrinterColumn(name="IBM-Job", type="string", json_path=".status.ibm.jobId", priority=1),
)

#: The validators' cross-field checks as CEL, with their messages (the parts CEL can see).
RULES = (
    # QiskitJobSpec._primitive_fields
    Rule(
        path="spec",
        rule=f"!({_ESTIMATOR}) || has(self.pubs) || (has(self.observables) && size(self.observables) > 0)",
        message=_ESTIMATOR_OBSERVABLES,
        field_path=".observables",
    ),
    Rule(
        path="spec",
        rule=f"{_ESTIMATOR} || !has(self.observables)",
        message=_SAMPLER_OBSERVABLES,
        field_path=".observables",
    ),
    Rule(
        path="spec",
        rule=f"!({_ESTIMATOR}) || !has(self.shots)",
        message=_ESTIMATOR_SHOTS,
        field_path=".shots",
    ),
    Rule(
        path="spec",
        rule=f"{_ESTIMATOR} || !has(self.precision)",
        message=_SAMPLER_PRECISION,
        field_path=".precision",
    ),
    # BackendSpec._ref_or_selector
    Rule(
        path="spec.backend",
        rule="!has(self.ref) || !has(self.selector)",
        message=_REF_OR_SELECTOR,
        field_path=".selector",
    ),
    # QiskitJobSpec._session_fields
    Rule(
        path="spec",
        rule="!has(self.sessionRef) || !has(self.backend) || !has(self.backend.selector)",
        message=_SESSION_SELECTOR,
        field_path=".backend.selector",
    ),
    # QiskitJobSpec._primitive_fields (sampler)
    Rule(
        path="spec",
        rule=f"{_ESTIMATOR} || !has(self.backend) || !has(self.backend.ibm) || !has(self.backend.ibm.resilienceLevel)",
        message=_RESILIENCE_SAMPLER,
        field_path=".backend.ibm.resilienceLevel",
    ),
    # QiskitJobSpec._circuit_or_pubs
    Rule(
        path="spec",
        rule="!has(self.circuit) || !has(self.pubs)",
        message=_CIRCUIT_AND_PUBS,
        field_path=".pubs",
    ),
    Rule(
        path="spec",
        rule="has(self.circuit) || has(self.pubs)",
        message=_CIRCUIT_OR_PUBS,
        reason="FieldValueRequired",
    ),
    *(
        Rule(
            path="spec",
            rule=f"!has(self.pubs) || !has(self.{to_camel(name)})",
            message=_single_form_only(to_camel(name)),
            field_path=f".{to_camel(name)}",
            reason="FieldValueForbidden",
        )
        for name in _SINGLE_FORM_FIELDS
    ),
    Rule(
        path="spec",
        rule="!has(self.parameterValues) || !has(self.parameterValuesFrom)",
        message=_VALUES_BOTH,
        field_path=".parameterValuesFrom",
    ),
    # QiskitJobSpec._primitive_fields, PUB by PUB (CEL's words say spec.pubs[i] for the index)
    Rule(
        path="spec",
        rule=f"!({_ESTIMATOR}) || " + _every_pub("has(p.observables) && size(p.observables) > 0"),
        message=_PUB_ESTIMATOR_OBSERVABLES,
        field_path=".pubs",
    ),
    Rule(
        path="spec",
        rule=f"{_ESTIMATOR} || " + _every_pub("!has(p.observables)"),
        message=_PUB_SAMPLER_OBSERVABLES,
        field_path=".pubs",
    ),
    Rule(
        path="spec",
        rule=f"!({_ESTIMATOR}) || " + _every_pub("!has(p.shots)"),
        message=_PUB_ESTIMATOR_SHOTS,
        field_path=".pubs",
    ),
    Rule(
        path="spec",
        rule=f"{_ESTIMATOR} || " + _every_pub("!has(p.precision)"),
        message=_PUB_SAMPLER_PRECISION,
        field_path=".pubs",
    ),
    # QiskitJobSpec._few_artifacts
    _distinct_artifacts_rule(),
    # PubSpec._one_values_source
    Rule(
        path="spec.pubs[]",
        rule="!has(self.parameterValues) || !has(self.parameterValuesFrom)",
        message=_PUB_VALUES_BOTH,
        field_path=".parameterValuesFrom",
    ),
    # CircuitSource._exactly_one, ValuesSource._exactly_one
    *(_exactly_one_rule(path, "circuit", CircuitSource) for path in _CIRCUIT_PATHS),
    *(_exactly_one_rule(path, "parameterValuesFrom", ValuesSource) for path in _VALUES_PATHS),
    # CircuitSource._bytes: maxLength counts characters; etcd and the Workflow that carries the job count bytes.
    *(
        Rule(
            path=path,
            rule=f"!has(self.openqasm) || size(bytes(self.openqasm)) <= {MAX_INLINE_CIRCUIT}",
            message=(
                f"circuit.openqasm holds more than {MAX_INLINE_CIRCUIT} bytes of UTF-8; "
                "put a bigger circuit in a ConfigMap (circuit.configMapKeyRef)"
            ),
            field_path=".openqasm",
        )
        for path in _CIRCUIT_PATHS
    ),
    # ArtifactKey._inside
    *(
        Rule(
            path=f"{path}.artifact",
            rule=f"!self.key.matches('{_DOTDOT_CEL}')",
            message=_DOTDOT,
            field_path=".key",
        )
        for path in (*_CIRCUIT_PATHS, *_VALUES_PATHS)
    ),
    # AerOptions._gpu_methods
    Rule(
        path="spec.backend.aer",
        rule=AER_DEVICE_RULE,
        message=TENSOR_NETWORK_NEEDS_GPU,
        field_path=".method",
    ),
    # ExecutionSpec._shards
    Rule(
        path="spec.execution.shards",
        rule=f"type(self) == string ? self == '{_SHARDS_WORD}' : self >= 1 && self <= {MAX_SHARDS}",
        message=_SHARDS,
    ),
    # ResourceRequirements._quantities (the names; the schema checks the quantities)
    *(
        Rule(
            path=f"spec.resources.{field}",
            rule=f"self.all(name, name in [{', '.join(repr(name) for name in RESOURCE_NAMES)}])",
            message=f"resource names are {', '.join(RESOURCE_NAMES[:-1])} or {RESOURCE_NAMES[-1]}",
        )
        for field in ("requests", "limits")
    ),
)

QISKIT_JOB = Kind(
    kind=KIND,
    plural=PLURAL,
    singular=SINGULAR,
    short_names=tuple(SHORT_NAMES),
    model=QiskitJob,
    description=(
        "A quantum job: one circuit or several PUBs, run by one primitive on one backend, as an Argo Workflow."
    ),
    noun="job",
    printer_columns=COLUMNS,
    rules=RULES,
    mutable_spec_fields=MUTABLE_SPEC_FIELDS,
    started_by="workflowName",
)
