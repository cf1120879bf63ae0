"""Pydantic models of the qiskit-argo resources, and the registry of their kinds.

These models are the one source of truth: the CRDs in ``crds/`` are generated from them, the CLI
and the controller parse manifests with them, and the steps read the normalized request from them.
Field names follow Kubernetes conventions (camelCase on the wire, snake_case in Python).

Layout: the shared parts live in private modules (``_base``: the model base and shared field
types; ``_conditions``: ``metav1.Condition``; ``_resource``: the apiVersion/kind/metadata
envelope; ``_kind``: the ``Kind`` descriptor a CRD is made from); each kind has a public module
(``job``, ``backend``, ``session``, ``budget``) holding its spec, status, resource and ``Kind``. Adding a kind
is a new module beside ``job.py`` and one entry in ``KINDS``; ``qiskit_argo.crd`` and
``qiskit_argo.generate`` take it from there.
"""

from __future__ import annotations

from qiskit_argo.api import backend, budget, job, session
from qiskit_argo.api._base import CRD_KEYWORDS, DURATION_PATTERN, QUANTITY_PATTERN, QuantityValue, crd_keywords
from qiskit_argo.api._base import _Model as _Model
from qiskit_argo.api._conditions import Condition
from qiskit_argo.api._kind import CATEGORIES, Kind, PrinterColumn, Rule
from qiskit_argo.api._resource import API_VERSION, GROUP, MAX_NAME_LENGTH, NAME_PATTERN, VERSION
from qiskit_argo.api._resource import _Resource as _Resource
from qiskit_argo.api.backend import (
    QISKIT_BACKEND,
    BackendCapabilities,
    BackendConditionType,
    BackendPhase,
    BackendType,
    Channel,
    CostModel,
    QiskitBackend,
    QiskitBackendSpec,
    QiskitBackendStatus,
    SecretKeyRef,
)
from qiskit_argo.api.budget import (
    QISKIT_BUDGET,
    BackendLimit,
    BackendUsage,
    BudgetConditionType,
    BudgetLimit,
    BudgetSummary,
    QiskitBudget,
    QiskitBudgetSpec,
    QiskitBudgetStatus,
    Reservation,
    Usage,
)
from qiskit_argo.api.job import (
    ARTIFACT_KEY_PATTERN,
    KIND,
    MAX_ARTIFACT_KEY,
    MAX_INLINE_BINDINGS,
    MAX_INLINE_BINDINGS_PER_PUB,
    MAX_INLINE_CIRCUIT,
    MAX_OBSERVABLES,
    MAX_PARAMETERS,
    MAX_PAULI_TERMS,
    MAX_PREFERENCE,
    MAX_PUBS,
    MAX_REJECTIONS,
    MAX_SHARDS,
    MAX_SUMMARY_PUBS,
    PLURAL,
    PRICE_PATTERN,
    QISKIT_JOB,
    SHORT_NAMES,
    SINGULAR,
    SOURCE_ARTIFACTS,
    TERMINAL_PHASES,
    AerOptions,
    ArtifactKey,
    BackendSelector,
    BackendSpec,
    BackendStatus,
    Backoff,
    CacheStatus,
    CircuitMetrics,
    CircuitSource,
    ConditionType,
    ConfigMapKeyRef,
    CostAmount,
    ExecutionSpec,
    IbmJobStatus,
    IbmOptions,
    JobCost,
    Observable,
    PauliSum,
    Phase,
    Primitive,
    PubSpec,
    PubSummary,
    QiskitJob,
    QiskitJobSpec,
    QiskitJobStatus,
    Rejection,
    ResourceRequirements,
    ResultLocation,
    ResultSummary,
    RetryPolicy,
    StepProgress,
    ValuesSource,
    artifact_keys,
)
from qiskit_argo.api.session import (
    QISKIT_SESSION,
    QiskitSession,
    QiskitSessionSpec,
    QiskitSessionStatus,
    SessionConditionType,
    SessionPhase,
)
from qiskit_argo.objectmeta import ObjectMeta

__all__ = [
    # the registry
    "KINDS",
    "kind_named",
    "Kind",
    "PrinterColumn",
    "Rule",
    "CATEGORIES",
    # shared
    "GROUP",
    "VERSION",
    "API_VERSION",
    "MAX_NAME_LENGTH",
    "NAME_PATTERN",
    "QUANTITY_PATTERN",
    "DURATION_PATTERN",
    "CRD_KEYWORDS",
    "crd_keywords",
    "QuantityValue",
    "ObjectMeta",
    "Condition",
    # QiskitJob (qiskit_argo.api.job)
    "KIND",
    "PLURAL",
    "SINGULAR",
    "SHORT_NAMES",
    "QISKIT_JOB",
    "Phase",
    "Primitive",
    "ConditionType",
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
    "Rejection",
    "IbmJobStatus",
    "CostAmount",
    "JobCost",
    "PRICE_PATTERN",
    "MAX_PREFERENCE",
    "MAX_REJECTIONS",
    "Backoff",
    "RetryPolicy",
    "ResourceRequirements",
    "QiskitJobSpec",
    "artifact_keys",
    "StepProgress",
    "CircuitMetrics",
    "BackendStatus",
    "PubSummary",
    "ResultSummary",
    "CacheStatus",
    "ResultLocation",
    "QiskitJobStatus",
    "QiskitJob",
    "TERMINAL_PHASES",
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
    # QiskitBackend (qiskit_argo.api.backend)
    "QISKIT_BACKEND",
    "BackendType",
    "Channel",
    "BackendPhase",
    "BackendConditionType",
    "SecretKeyRef",
    "CostModel",
    "QiskitBackendSpec",
    "BackendCapabilities",
    "QiskitBackendStatus",
    "QiskitBackend",
    # QiskitSession (qiskit_argo.api.session)
    "QISKIT_SESSION",
    "SessionPhase",
    "SessionConditionType",
    "QiskitSessionSpec",
    "QiskitSessionStatus",
    "QiskitSession",
    # QiskitBudget (qiskit_argo.api.budget)
    "QISKIT_BUDGET",
    "BudgetConditionType",
    "BudgetLimit",
    "BackendLimit",
    "QiskitBudgetSpec",
    "Usage",
    "Reservation",
    "BackendUsage",
    "BudgetSummary",
    "QiskitBudgetStatus",
    "QiskitBudget",
]

#: Every kind of ours, in the order their CRDs are generated: one line per kind.
KINDS: tuple[Kind, ...] = (
    backend.QISKIT_BACKEND,
    budget.QISKIT_BUDGET,
    job.QISKIT_JOB,
    session.QISKIT_SESSION,
)


def kind_named(name: object) -> Kind | None:
    """The registered kind called ``name`` (e.g. ``"QiskitJob"``), or ``None``."""
    return next((kind for kind in KINDS if kind.kind == name), None)
