"""QiskitJob: one circuit, run by one primitive on one backend, as an Argo Workflow.

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
    "RESOURCE_NAMES",
    "ConfigMapKeyRef",
    "CircuitSource",
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
    "StepProgress",
    "CircuitMetrics",
    "BackendStatus",
    "ResultSummary",
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
            if self.backend.ibm.resilience_level is not None:
                raise ValueError(_RESILIENCE_SAMPLER)
        return self

    @property
    def effective_shots(self) -> int:
        return self.shots if self.shots is not None else 1024


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
        Field(description="Parameter bindings the job runs: rows of spec.parameterValues, 1 without parameters."),
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


class ResultSummary(_Model):
    """A small, bounded digest of the result; the full result is where ``status.resultLocation`` says."""

    primitive: Annotated[str, Field(description="The primitive that produced the result: sampler or estimator.")]
    num_pubs: Annotated[
        int, Field(description="How many primitive unified blocs (PUBs: a circuit with its parameters) ran.")
    ]
    num_bindings: Annotated[int, Field(description="Parameter bindings run per PUB.")] = 1
    shots: Annotated[int | None, Field(description="Shots per binding (sampler).")] = None
    top_counts: Annotated[
        dict[str, int] | None,
        Field(
            description=(
                "Sampler: the most frequent bitstrings of the first binding (clbit 0 rightmost) and how often each "
                "was measured; at most 8, the rest is in the full result."
            )
        ),
    ] = None
    expectation_values: Annotated[
        list[float] | None,
        Field(description="Estimator: the expectation values, in the full result's order; at most the first 16."),
    ] = None
    standard_errors: Annotated[
        list[float] | None,
        Field(description="Estimator: the standard error of each of expectationValues, in the same order."),
    ] = None
    truncated: Annotated[
        bool,
        Field(
            description=(
                "True when this digest leaves something out (more bitstrings, bindings or values); "
                "read the full result from status.resultLocation."
            )
        ),
    ] = False


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


def _alias(model: type[_Model], name: str) -> str:
    return model.model_fields[name].alias or name


def _exactly_one_circuit() -> Rule:
    fields = [_alias(CircuitSource, name) for name in CircuitSource.model_fields]
    count = " + ".join(f"(has(self.{name}) ? 1 : 0)" for name in fields)
    names = [f"circuit.{name}" for name in fields]  # the words of CircuitSource._exactly_one
    message = f"set exactly one of {', '.join(names[:-1])} or {names[-1]}"
    return Rule(path="spec.circuit", rule=f"{count} == 1", message=message)


_ESTIMATOR = "has(self.primitive) && self.primitive == 'estimator'"

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
        rule=f"!({_ESTIMATOR}) || (has(self.observables) && size(self.observables) > 0)",
        message="primitive estimator needs spec.observables (e.g. [{ZZ: 1}, {XX: 1}])",
        field_path=".observables",
    ),
    Rule(
        path="spec",
        rule=f"{_ESTIMATOR} || !has(self.observables)",
        message="spec.observables is only for primitive estimator",
        field_path=".observables",
    ),
    Rule(
        path="spec",
        rule=f"!({_ESTIMATOR}) || !has(self.shots)",
        message="spec.shots is for the sampler; the estimator takes spec.precision",
        field_path=".shots",
    ),
    Rule(
        path="spec",
        rule=f"{_ESTIMATOR} || !has(self.precision)",
        message="spec.precision is only for primitive estimator; the sampler takes spec.shots",
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
    # CircuitSource._exactly_one
    _exactly_one_circuit(),
    # CircuitSource._bytes: maxLength counts characters; etcd and the Workflow that carries the job count bytes.
    Rule(
        path="spec.circuit",
        rule=f"!has(self.openqasm) || size(bytes(self.openqasm)) <= {MAX_INLINE_CIRCUIT}",
        message=(
            f"circuit.openqasm holds more than {MAX_INLINE_CIRCUIT} bytes of UTF-8; "
            "put a bigger circuit in a ConfigMap (circuit.configMapKeyRef)"
        ),
        field_path=".openqasm",
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
    description="A quantum job: one circuit, run by one primitive on one backend, as an Argo Workflow.",
    noun="job",
    printer_columns=COLUMNS,
    rules=RULES,
    mutable_spec_fields=MUTABLE_SPEC_FIELDS,
    started_by="workflowName",
)
