"""The ledger: reserve a job's need in a budget, settle its charge, and recompute the accounts.

Every function takes a budget as read and returns the status to write (with the budget's
``resourceVersion``: on a conflict the caller re-reads and calls again), never changing its input.
The totals are exact decimals; ``reserved`` is always the sum of ``reservations``.

* ``reserve`` adds the job's reservation (keyed by its uid) when spent + reserved + need stays
  within the overall limit and within every per-backend limit the job may fall under (its backend,
  or each candidate of a selector), else refuses with one line. A uid already reserved changes
  nothing: a repeated reserve never holds twice. A budget whose time zone is unknown refuses every
  job (it fails closed) and says so in its Ready condition.
* ``settle`` removes the uid's reservation and adds the charge to ``spent``; without a reservation
  for the uid (settled already, or never reserved) it returns ``None``: nothing to write, so a
  settle repeated after a restart never charges twice.
* A later period resets ``spent`` (``periodStart`` moves forward; a period that moves back, e.g.
  monthly changed to total, keeps it); reservations carry over, and a job is charged in the period
  it ends in.

Money counts only in the budget's currency (``applies``): a need priced in another currency is
reserved and charged with amount 0 there, and counts against quantum-second limits only. A charge
is recorded as metered, even above its reservation (IBM may stop a job a little after
``max_execution_time``): remaining is then 0 and the budget Exhausted, never negative.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Context, Decimal, localcontext
from typing import Literal

from qiskit_argo.api import (
    BackendUsage,
    BudgetConditionType,
    BudgetLimit,
    BudgetSummary,
    Condition,
    QiskitBudget,
    QiskitBudgetStatus,
    Reservation,
    Usage,
)
from qiskit_argo.budget._need import Need, decimal_text
from qiskit_argo.budget._period import InvalidTimeZone, describe_period, period_start, utc
from qiskit_argo.errors import one_line

__all__ = ["MAX_REFUSAL", "Refusal", "applies", "reserve", "settle", "refresh"]

#: The longest refusal message (it becomes the job's status message).
MAX_REFUSAL = 300
#: Enough digits that no sum or product here is ever rounded (amounts have at most 21).
_EXACT = Context(prec=80)

Unit = Literal["quantum_seconds", "amount"]


@dataclass(frozen=True)
class Refusal:
    """Why a job does not fit ``budget``: one line of at most ``MAX_REFUSAL`` characters."""

    budget: str
    message: str


# --------------------------------------------------------------------------- arithmetic


def _number(text: str | None) -> Decimal:
    return Decimal(text) if text else Decimal(0)


def _unit(limit: BudgetLimit) -> Unit:
    return "quantum_seconds" if limit.quantum_seconds is not None else "amount"


def _figure(value: Decimal, unit: Unit, budget: QiskitBudget) -> str:
    noun = "quantum seconds" if unit == "quantum_seconds" else budget.spec.currency
    return f"{decimal_text(value)} {noun}"


def _short(value: Decimal | str, unit: Unit, budget: QiskitBudget) -> str:
    text = value if isinstance(value, str) else decimal_text(value)
    return f"{text} s" if unit == "quantum_seconds" else f"{text} {budget.spec.currency}"


def _money(budget: QiskitBudget, need: Need) -> Decimal:
    """The need's amount in the budget's currency: 0 when it is priced in another."""
    return need.amount if need.currency == budget.spec.currency else Decimal(0)


def _of(usage: Usage, unit: Unit) -> Decimal:
    return _number(usage.quantum_seconds if unit == "quantum_seconds" else usage.amount)


def _pair(quantum_seconds: Decimal, amount: Decimal) -> Usage:
    return Usage(quantum_seconds=decimal_text(quantum_seconds), amount=decimal_text(amount))


def _counts_against(backend: str, held_on: str | None, candidates: Iterable[str]) -> bool:
    """Whether work on ``held_on`` (or, when ``None``, on any of ``candidates``; none listed: any
    backend) falls under ``backend``'s limit."""
    names = tuple(candidates)
    return held_on == backend if held_on is not None else (not names or backend in names)


def _reserved(reservations: Iterable[Reservation], backend: str | None = None) -> tuple[Decimal, Decimal]:
    seconds, amount = Decimal(0), Decimal(0)
    for held in reservations:
        if backend is None or _counts_against(backend, held.backend, held.candidates):
            seconds += _number(held.quantum_seconds)
            amount += _number(held.amount)
    return seconds, amount


def _spent_on(status: QiskitBudgetStatus, backend: str) -> Usage:
    share = next((share for share in status.backends if share.backend == backend), None)
    return share.spent if share is not None else Usage()


def applies(budget: QiskitBudget, need: Need) -> bool:
    """Whether ``budget`` limits ``need`` at all: a quantum-second limit it falls under and quantum
    seconds to reserve, or a money limit and an amount in the budget's currency (a need priced in
    another currency counts only against quantum-second limits)."""
    limits: list[BudgetLimit] = [budget.spec.limit]
    limits += [each for each in budget.spec.backends if _counts_against(each.backend, need.backend, need.candidates)]
    for limit in limits:
        if _unit(limit) == "quantum_seconds" and need.quantum_seconds > 0:
            return True
        if _unit(limit) == "amount" and _money(budget, need) > 0:
            return True
    return False


# --------------------------------------------------------------------------- the period


def _rolled(budget: QiskitBudget, now: datetime) -> tuple[QiskitBudgetStatus, str | None]:
    """A copy of the status in the period holding ``now`` (spent reset when it moved forward), and
    the spec's problem (an unknown time zone: then nothing moves)."""
    status = budget.status.model_copy(deep=True) if budget.status is not None else QiskitBudgetStatus()
    try:
        start = period_start(budget.spec, now)
    except InvalidTimeZone as error:
        return status, str(error)
    stored = utc(status.period_start) if status.period_start is not None else None
    if stored is None or start > stored:
        status.spent = _pair(Decimal(0), Decimal(0))
        status.backends = [BackendUsage(backend=share.backend) for share in status.backends]
    status.period_start = start
    return status, None


# --------------------------------------------------------------------------- the accounts


def _condition(
    budget: QiskitBudget, kind: BudgetConditionType, true: bool, reason: str, message: str, now: datetime
) -> Condition:
    previous = next((c for c in (budget.status.conditions if budget.status else []) if c.type == kind.value), None)
    state: Literal["True", "False"] = "True" if true else "False"
    since = previous.last_transition_time if previous is not None and previous.status == state else utc(now)
    return Condition(
        type=kind.value,
        status=state,
        reason=reason,
        message=one_line(message, 1024),
        last_transition_time=since,
        observed_generation=budget.metadata.generation,
    )


def _accounts(
    budget: QiskitBudget, status: QiskitBudgetStatus, now: datetime, problem: str | None
) -> QiskitBudgetStatus:
    """``status`` with reserved, remaining, per-backend shares, summary, conditions and message
    recomputed from its spent and reservations."""
    spec = budget.spec
    seconds, amount = _reserved(status.reservations)
    status.reserved = _pair(seconds, amount)
    unit = _unit(spec.limit)
    limit = _number(spec.limit.quantum_seconds or spec.limit.amount)
    used = _of(status.spent, unit) + _of(status.reserved, unit)
    left = max(Decimal(0), limit - used)
    status.remaining = Usage(**{unit: decimal_text(left)})
    limits = {each.backend: each for each in spec.backends}
    shown = set(limits) | {share.backend for share in status.backends if _spent_any(share.spent)}
    shown |= {held.backend for held in status.reservations if held.backend is not None}
    nearly = []
    percent = Decimal(spec.nearly_exhausted_percent) / 100
    if used >= limit * percent:
        nearly.append(f"{_figure(used, unit, budget)} of {_figure(limit, unit, budget)} spent or reserved")
    shares = []
    for name in sorted(shown):
        spent = _spent_on(status, name)
        share = BackendUsage(
            backend=name,
            spent=_pair(_of(spent, "quantum_seconds"), _of(spent, "amount")),
            reserved=_pair(*_reserved(status.reservations, name)),
        )
        if name in limits:
            each_unit, each_limit = _unit(limits[name]), _number(limits[name].quantum_seconds or limits[name].amount)
            each_used = _of(share.spent, each_unit) + _of(share.reserved, each_unit)
            share.remaining = Usage(**{each_unit: decimal_text(max(Decimal(0), each_limit - each_used))})
            if each_used >= each_limit * percent:
                nearly.append(
                    f"backend {name}: {_figure(each_used, each_unit, budget)} of "
                    f"{_figure(each_limit, each_unit, budget)}"
                )
        shares.append(share)
    status.backends = shares
    status.summary = BudgetSummary(
        limit=_short(spec.limit.quantum_seconds or spec.limit.amount or "0", unit, budget),
        spent=_short(_of(status.spent, unit), unit, budget),
        reserved=_short(_of(status.reserved, unit), unit, budget),
        remaining=_short(left, unit, budget),
    )
    period = describe_period(spec, status.period_start)
    jobs = len(status.reservations)
    summary = (
        f"{_figure(left, unit, budget)} of {_figure(limit, unit, budget)} left {period}; "
        f"{jobs} job{'s' if jobs != 1 else ''} hold {_figure(_of(status.reserved, unit), unit, budget)}"
    )
    status.message = one_line(problem or summary, MAX_REFUSAL)
    exhausted = left <= 0
    status.conditions = [
        _condition(
            budget,
            BudgetConditionType.READY,
            problem is None,
            "InvalidTimeZone" if problem else "Accepting",
            problem or "jobs are reserved against this budget",
            now,
        ),
        _condition(
            budget,
            BudgetConditionType.EXHAUSTED,
            exhausted,
            "LimitReached" if exhausted else "WithinLimit",
            summary,
            now,
        ),
        _condition(
            budget,
            BudgetConditionType.NEARLY_EXHAUSTED,
            bool(nearly),
            "ThresholdReached" if nearly else "BelowThreshold",
            "; ".join(nearly) or f"below {spec.nearly_exhausted_percent}% of every limit",
            now,
        ),
    ]
    status.observed_generation = budget.metadata.generation
    return status


def _spent_any(usage: Usage) -> bool:
    return _of(usage, "quantum_seconds") > 0 or _of(usage, "amount") > 0


def refresh(budget: QiskitBudget, now: datetime) -> QiskitBudgetStatus:
    """The budget's status for ``now``: the period rolled if due, every total recomputed (write it
    when it differs, e.g. after an edit of the spec or at a new month)."""
    with localcontext(_EXACT):
        status, problem = _rolled(budget, now)
        return _accounts(budget, status, now, problem)


# --------------------------------------------------------------------------- reserve and settle


def _shortfalls(budget: QiskitBudget, status: QiskitBudgetStatus, need: Need) -> list[str]:
    """Each limit the need does not fit, as ``<what is left> of <limit>``."""
    asked = {"quantum_seconds": need.quantum_seconds, "amount": _money(budget, need)}
    found = []
    checks: list[tuple[str, BudgetLimit, Usage, tuple[Decimal, Decimal]]] = [
        ("its limit", budget.spec.limit, status.spent, _reserved(status.reservations))
    ]
    for each in budget.spec.backends:
        if _counts_against(each.backend, need.backend, need.candidates):
            checks.append(
                (
                    f"the limit for backend {each.backend}",
                    each,
                    _spent_on(status, each.backend),
                    _reserved(status.reservations, each.backend),
                )
            )
    for what, limit, spent, (held_seconds, held_amount) in checks:
        unit = _unit(limit)
        cap = _number(limit.quantum_seconds or limit.amount)
        used = _of(spent, unit) + (held_seconds if unit == "quantum_seconds" else held_amount)
        if used + asked[unit] > cap:
            left = max(Decimal(0), cap - used)
            found.append(f"{what} of {_figure(cap, unit, budget)} has {_figure(left, unit, budget)} left")
    return found


def reserve(budget: QiskitBudget, uid: str, job: str, need: Need, now: datetime) -> QiskitBudgetStatus | Refusal:
    """The status with ``need`` reserved for the job ``uid`` (unchanged but for the period when the
    uid holds one already), or why it does not fit (see the module)."""
    with localcontext(_EXACT):
        status, problem = _rolled(budget, now)
        if any(held.uid == uid for held in status.reservations):
            return _accounts(budget, status, now, problem)
        if problem is not None:
            return Refusal(budget.name, one_line(f"QiskitBudget {budget.name}: {problem}", MAX_REFUSAL))
        shortfalls = _shortfalls(budget, status, need)
        if shortfalls:
            money = _money(budget, need)
            asked = f"{decimal_text(need.quantum_seconds)} quantum seconds" + (
                f" and {decimal_text(money)} {budget.spec.currency}" if money > 0 else ""
            )
            period = describe_period(budget.spec, status.period_start)
            text = f"QiskitBudget {budget.name} ({period}): job {job} needs up to {asked}; {'; '.join(shortfalls)}"
            return Refusal(budget.name, one_line(text, MAX_REFUSAL))
        status.reservations = [
            *status.reservations,
            Reservation(
                uid=uid,
                job=job,
                backend=need.backend,
                candidates=list(need.candidates) if not need.backend else [],
                quantum_seconds=decimal_text(need.quantum_seconds),
                amount=decimal_text(_money(budget, need)),
                since=utc(now),
            ),
        ]
        return _accounts(budget, status, now, None)


def settle(budget: QiskitBudget, uid: str, charge: Need, now: datetime) -> QiskitBudgetStatus | None:
    """The status with the job ``uid``'s reservation released and ``charge`` added to spent (and to
    its backend's share); ``None`` when the uid holds no reservation (nothing to write)."""
    with localcontext(_EXACT):
        status, problem = _rolled(budget, now)
        held = next((held for held in status.reservations if held.uid == uid), None)
        if held is None:
            return None
        money = _money(budget, charge)
        status.reservations = [each for each in status.reservations if each.uid != uid]
        status.spent = _pair(
            _of(status.spent, "quantum_seconds") + charge.quantum_seconds, _of(status.spent, "amount") + money
        )
        backend = charge.backend or held.backend
        if backend is not None:
            spent = _spent_on(status, backend)
            share = BackendUsage(
                backend=backend,
                spent=_pair(_of(spent, "quantum_seconds") + charge.quantum_seconds, _of(spent, "amount") + money),
            )
            status.backends = [each for each in status.backends if each.backend != backend] + [share]
        return _accounts(budget, status, now, problem)
