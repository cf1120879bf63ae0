"""QiskitBudget: how much quantum time or money a namespace's jobs may use, per month or in total.

A QiskitBudget limits the jobs of its namespace: an overall ``limit`` (quantum seconds, or an
amount in ``currency``, the currency of the QiskitBackend cost models it charges) and optional
per-backend limits. The controller reserves a job's upper bound before the job's Workflow exists
(``qiskit_argo.budget.reserve``), submits it to IBM with ``max_execution_time`` set to what was
reserved, and settles the actual usage when the job ends (``qiskit_argo.budget.settle``); a job
that does not fit fails with reason ``BudgetExceeded`` and never reaches hardware. The status is
written by the controller only, with the budget's ``resourceVersion`` (optimistic concurrency).

Amounts and quantum seconds are decimal strings on the wire (``"1600.00"``, ``"600"``), never
floats. A budget in another currency than a backend's cost model limits only the quantum seconds
of jobs there (there is no exchange rate here). The spec stays editable: a budget is
configuration; a lowered limit refuses new jobs, it never stops running ones.

Beside the models: ``QISKIT_BUDGET``, the kind's CRD declaration (names, printer columns, and the
CEL rules that restate the validators with the same messages).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from qiskit_argo.api._base import _Model
from qiskit_argo.api._conditions import Condition
from qiskit_argo.api._kind import Kind, PrinterColumn, Rule
from qiskit_argo.api._resource import API_VERSION, _Resource
from qiskit_argo.api.job import PRICE_PATTERN
from qiskit_argo.objectmeta import DNS1123_SUBDOMAIN
from qiskit_argo.wire import Int, Str

__all__ = [
    "BUDGET_KIND",
    "BUDGET_PLURAL",
    "BUDGET_SINGULAR",
    "BUDGET_SHORT_NAMES",
    "MAX_BACKEND_LIMITS",
    "TIME_ZONE_PATTERN",
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
    "BUDGET_COLUMNS",
    "BUDGET_RULES",
    "QISKIT_BUDGET",
]

BUDGET_KIND = "QiskitBudget"
BUDGET_PLURAL = "qiskitbudgets"
BUDGET_SINGULAR = "qiskitbudget"
BUDGET_SHORT_NAMES = ("qbg",)
#: Most per-backend limits one budget holds (bounds the CEL rules' cost).
MAX_BACKEND_LIMITS = 50
#: An IANA time zone name as the tz database spells it: ``UTC``, ``Europe/Paris``,
#: ``America/Argentina/Buenos_Aires``, ``Etc/GMT+5``. Whether the name exists is the controller's
#: check (a status condition), since the API server has no tz database.
TIME_ZONE_PATTERN = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$"


class BudgetConditionType(StrEnum):
    """The conditions a QiskitBudget reports."""

    #: Nothing is left of the overall limit (spent + reserved reached it): new jobs are refused.
    EXHAUSTED = "Exhausted"
    #: spent + reserved reached ``nearlyExhaustedPercent`` of the overall or of a per-backend limit.
    NEARLY_EXHAUSTED = "NearlyExhausted"
    #: The spec can be applied (False: e.g. an unknown time zone; every job is then refused).
    READY = "Ready"


# --------------------------------------------------------------------------- spec

_Decimal = Annotated[Str, Field(max_length=22, pattern=PRICE_PATTERN)]

#: ``BudgetLimit._exactly_one``'s words (and its CEL rules').
_EXACTLY_ONE = (
    "a limit needs exactly one of quantumSeconds (seconds of quantum time) or amount (money in spec.currency)"
)
_UNIQUE_BACKENDS = "spec.backends names each backend at most once"


class BudgetLimit(_Model):
    """A limit in quantum seconds or in money, exactly one of the two."""

    quantum_seconds: Annotated[
        _Decimal | None,
        Field(description='Seconds of quantum time as IBM meters and bills it, a decimal string, e.g. "600".'),
    ] = None
    amount: Annotated[
        _Decimal | None,
        Field(
            description=(
                'Money in spec.currency, a decimal string, e.g. "1600.00": what the QiskitBackend cost models '
                "charge (jobs on a backend priced in another currency count only against quantum-second limits)."
            )
        ),
    ] = None

    @model_validator(mode="after")
    def _exactly_one(self) -> BudgetLimit:
        if (self.quantum_seconds is None) == (self.amount is None):
            raise ValueError(_EXACTLY_ONE)
        return self


class BackendLimit(BudgetLimit):
    """A limit for the jobs on one QiskitBackend, on top of the overall one."""

    backend: Annotated[
        Str,
        Field(max_length=253, pattern=f"^{DNS1123_SUBDOMAIN}$", description="A QiskitBackend of this namespace."),
    ]


class QiskitBudgetSpec(_Model):
    """What the namespace's jobs may use, in what period, and where."""

    limit: Annotated[
        BudgetLimit,
        Field(description="The overall limit for the period: quantumSeconds or amount, exactly one."),
    ]
    currency: Annotated[
        Str,
        Field(
            pattern=r"^[A-Z]{3}$",
            description=(
                "ISO 4217 code of every amount here; it must be the currency of the cost models it charges "
                "(a job priced in another currency counts only against quantum-second limits)."
            ),
        ),
    ] = "USD"
    period: Annotated[
        Literal["monthly", "total"],
        Field(
            description=(
                "monthly: spent starts at 0 on the first instant of each month in timeZone (reservations carry "
                "over); total: one period that never ends."
            )
        ),
    ] = "monthly"
    time_zone: Annotated[
        Str,
        Field(
            max_length=64,
            pattern=TIME_ZONE_PATTERN,
            description=(
                "The IANA time zone whose months a monthly budget follows, e.g. Europe/Paris; an unknown name makes "
                "the budget not Ready (every job is refused) until fixed."
            ),
        ),
    ] = "UTC"
    backends: Annotated[
        list[BackendLimit],
        Field(
            max_length=MAX_BACKEND_LIMITS,
            description=(
                "Per-backend limits: jobs that may run on that QiskitBackend must also fit its limit "
                "(quantumSeconds or amount), each backend named once."
            ),
        ),
    ] = []
    nearly_exhausted_percent: Annotated[
        Int,
        Field(
            ge=1,
            le=100,
            description="NearlyExhausted turns True when spent + reserved reach this percentage of a limit.",
        ),
    ] = 90

    @model_validator(mode="after")
    def _unique_backends(self) -> QiskitBudgetSpec:
        names = [limit.backend for limit in self.backends]
        if len(names) != len(set(names)):
            raise ValueError(_UNIQUE_BACKENDS)
        return self


# --------------------------------------------------------------------------- status


class Usage(_Model):
    """Quantum seconds and money (in spec.currency), as decimal strings; unset: not limited (remaining)."""

    quantum_seconds: Annotated[str | None, Field(description='Seconds of quantum time, e.g. "12.5".')] = None
    amount: Annotated[str | None, Field(description='Money in spec.currency, e.g. "20.00".')] = None


class Reservation(_Model):
    """What one job holds until it ends (its upper bound), keyed by the job's uid."""

    uid: Annotated[str, Field(description="The QiskitJob's metadata.uid: a job reserves once, whatever happens.")]
    job: Annotated[str, Field(description="The QiskitJob's name, in this namespace.")]
    backend: Annotated[
        str | None,
        Field(description="The QiskitBackend it runs on; unset: a selector may pick any of candidates."),
    ] = None
    candidates: Annotated[
        list[str],
        Field(description="With no backend: the QiskitBackends the selector may pick (their limits count it)."),
    ] = []
    quantum_seconds: Annotated[str, Field(description="Quantum seconds reserved (IBM stops the job there).")]
    amount: Annotated[str, Field(description="Money reserved, in spec.currency.")]
    since: Annotated[datetime, Field(description="When it was reserved (RFC 3339).")]


class BackendUsage(_Model):
    """One backend's share of the period: what was spent there, what is reserved, what is left."""

    backend: Annotated[str, Field(description="The QiskitBackend.")]
    spent: Annotated[Usage, Field(description="Charged this period for jobs that ran there.")] = Usage()
    reserved: Annotated[Usage, Field(description="Held by running jobs that may run there.")] = Usage()
    remaining: Annotated[Usage | None, Field(description="What its per-backend limit leaves, when it has one.")] = None


class BudgetSummary(_Model):
    """The overall limit's figures with their unit, as ``kubectl get qbg`` shows them."""

    limit: Annotated[str, Field(description='e.g. "1600.00 USD" or "600 s".')]
    spent: Annotated[str, Field(description="Charged this period.")]
    reserved: Annotated[str, Field(description="Held by jobs still running.")]
    remaining: Annotated[str, Field(description="What new jobs may still reserve (never below 0).")]


class QiskitBudgetStatus(_Model):
    """The period's accounts; written by the controller only, with the budget's resourceVersion."""

    period_start: Annotated[
        datetime | None,
        Field(
            description=(
                "The first instant of the current period (RFC 3339, UTC): the first of the month at 00:00 in "
                "spec.timeZone, or the Unix epoch for a total budget."
            )
        ),
    ] = None
    spent: Annotated[Usage, Field(description="Charged this period: the actual usage of the jobs that ended.")] = Usage(
        quantum_seconds="0", amount="0"
    )
    reserved: Annotated[Usage, Field(description="Held by the jobs in reservations (their upper bounds).")] = Usage(
        quantum_seconds="0", amount="0"
    )
    remaining: Annotated[
        Usage,
        Field(description="The overall limit minus spent and reserved, never below 0, in the limit's unit."),
    ] = Usage()
    reservations: Annotated[
        list[Reservation],
        Field(description="The jobs holding a reservation, one per job uid, released when the job ends."),
    ] = []
    backends: Annotated[
        list[BackendUsage],
        Field(description="Per backend: spent this period, reserved, and what its limit leaves."),
    ] = []
    summary: Annotated[
        BudgetSummary | None, Field(description="The overall figures with their unit, for kubectl get.")
    ] = None
    conditions: Annotated[
        list[Condition],
        Field(
            description=(
                "Exhausted: nothing is left of the overall limit (new jobs fail with BudgetExceeded); "
                "NearlyExhausted: spent + reserved reached spec.nearlyExhaustedPercent of a limit; "
                "Ready: whether the spec can be applied (e.g. a known time zone)."
            )
        ),
    ] = []
    observed_generation: Annotated[
        int | None, Field(description="The metadata.generation these accounts were computed for.")
    ] = None
    message: Annotated[str | None, Field(description="One line for a person: what is left, or what to fix.")] = None


# --------------------------------------------------------------------------- resource


class QiskitBudget(_Resource):
    """A QiskitBudget resource as stored in the API server or read from a file."""

    name_reason: ClassVar[str] = "job statuses name it and it becomes a label value"

    api_version: Annotated[Literal["qiskit-argo.io/v1alpha1"], Field(alias="apiVersion")] = API_VERSION  # type: ignore[assignment]
    kind: Literal["QiskitBudget"] = "QiskitBudget"
    spec: QiskitBudgetSpec
    status: Annotated[
        QiskitBudgetStatus | None,
        Field(description="The period's accounts, kept by the controller; edits are overwritten."),
    ] = None


# --------------------------------------------------------------------------- the CRD

_ONE_OF = "(has({0}.quantumSeconds) ? 1 : 0) + (has({0}.amount) ? 1 : 0) == 1"

#: ``kubectl get qbg`` (priority 1: ``-o wide`` only).
BUDGET_COLUMNS = (
    PrinterColumn(name="Limit", type="string", json_path=".status.summary.limit", description="The overall limit."),
    PrinterColumn(name="Spent", type="string", json_path=".status.summary.spent", description="Charged this period."),
    PrinterColumn(name="Reserved", type="string", json_path=".status.summary.reserved", description="Held by jobs."),
    PrinterColumn(name="Remaining", type="string", json_path=".status.summary.remaining", description="Left."),
    PrinterColumn(name="Period", type="string", json_path=".spec.period", description="monthly or total."),
    PrinterColumn(name="Age", type="date", json_path=".metadata.creationTimestamp"),
    PrinterColumn(name="Since", type="date", json_path=".status.periodStart", priority=1),
    PrinterColumn(name="Message", type="string", json_path=".status.message", priority=1),
)

#: The validators as CEL, with their messages.
BUDGET_RULES = (
    # BudgetLimit._exactly_one, on the overall limit and on each per-backend one.
    Rule(path="spec.limit", rule=_ONE_OF.format("self"), message=_EXACTLY_ONE),
    Rule(
        path="spec",
        rule=f"!has(self.backends) || self.backends.all(b, {_ONE_OF.format('b')})",
        message=_EXACTLY_ONE,
        field_path=".backends",
    ),
    # QiskitBudgetSpec._unique_backends
    Rule(
        path="spec",
        rule="!has(self.backends) || self.backends.all(b, self.backends.exists_one(c, c.backend == b.backend))",
        message=_UNIQUE_BACKENDS,
        field_path=".backends",
        reason="FieldValueDuplicate",
    ),
)

QISKIT_BUDGET = Kind(
    kind=BUDGET_KIND,
    plural=BUDGET_PLURAL,
    singular=BUDGET_SINGULAR,
    short_names=BUDGET_SHORT_NAMES,
    model=QiskitBudget,
    description=(
        "A budget for the jobs of a namespace: quantum seconds or money per month (in a time zone) or in total, "
        "with optional per-backend limits; jobs reserve their upper bound before they reach hardware."
    ),
    noun="budget",
    printer_columns=BUDGET_COLUMNS,
    rules=BUDGET_RULES,
    mutable_spec_fields=None,
    started_by="periodStart",
    list_map_keys=(
        ("status.conditions", ("type",)),
        ("status.reservations", ("uid",)),
        ("status.backends", ("backend",)),
    ),
)
