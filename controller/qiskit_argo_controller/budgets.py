"""QiskitBudgets: the controller's side of ``qiskit_argo.budget`` (pure arithmetic) — API calls only.

``Ledger`` (one per ``Kube``, shared by the job and budget reconcilers) writes every change of a
budget's accounts, always as a status patch carrying the budget's ``resourceVersion``: a 409 (a
write this process did not make, e.g. another replica during a hand-over) re-reads the budget and
recomputes, at most ``CONFLICT_RETRIES`` times. Within this process the writes of one namespace
are serialized (one lock per namespace), so 50 jobs reserving at once make 50 writes, not 50².

* ``reserve``: the job's ``Need`` in **every** budget of the namespace that ``applies``, in name
  order, all or none — when one refuses, the ones already holding it are released (settled with
  nothing charged) and the refusal is returned (the job fails with BudgetExceeded, no Workflow).
  Keyed by the job's uid: a reserve repeated after a restart holds nothing twice.
* ``settle``: the uid's reservation out of every budget holding one, the charge added to
  ``spent``; a budget without it (settled already) is not written: a settle repeated after a
  restart charges nothing twice. ``charge=None`` charges each reservation in full (a deleted job
  whose IBM job may have run: what it used cannot be known, so the budget assumes the worst).

``BudgetReconciler`` keeps each budget's status current: the period rolled over, ``remaining``,
the conditions, and reservations whose job is gone (404, or a new job of that name with another
uid: a job deleted while no controller ran, whose finalizer was removed by hand) released.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import ValidationError

from qiskit_argo import budget as ledger
from qiskit_argo.api import QISKIT_BUDGET, QISKIT_JOB, QiskitBudget, QiskitBudgetStatus, Reservation
from qiskit_argo.budget import Need, Refusal
from qiskit_argo.status import TransitionEvent
from qiskit_argo_controller import metrics
from qiskit_argo_controller.kube import Conflict, Kube, NotFound, Transient
from qiskit_argo_controller.reconcile import Logger, Pass, Reconciler, meta, resource_version, status_patch, utc_now

__all__ = [
    "BUDGET_FINALIZER",
    "CONFLICT_RETRIES",
    "OWNED_STATUS_KEYS",
    "Ledger",
    "ledger_for",
    "parse_budget",
    "BudgetReconciler",
]

#: On a job from before its reservation until it is settled: a delete settles first.
BUDGET_FINALIZER = "qiskit-argo.io/budget"
#: How many times one budget write is recomputed after a 409 before the pass gives up (and retries later).
CONFLICT_RETRIES = 16
#: The budget status keys the controller owns.
OWNED_STATUS_KEYS: frozenset[str] = frozenset(
    (field.alias or name) for name, field in QiskitBudgetStatus.model_fields.items()
)
#: How often a budget's pass runs again by itself (orphaned reservations, a month that began).
RECHECK_SECONDS = 300.0
#: A budget's reservations are checked for jobs that are gone at most this often (one GET per
#: reservation): on its first pass in this process, then on passes this long after the last check.
ORPHAN_CHECK_SECONDS = 60.0


def parse_budget(raw: Mapping[str, Any]) -> QiskitBudget | None:
    """A QiskitBudget as the models read it (an unreadable status dropped: it is recomputed), or None."""
    body = {key: value for key, value in raw.items() if key in ("apiVersion", "kind", "metadata", "spec", "status")}
    for attempt in (body, {key: value for key, value in body.items() if key != "status"}):
        try:
            return QiskitBudget.model_validate(attempt)
        except ValidationError:
            continue
    return None


def _same(budget: QiskitBudget, status: QiskitBudgetStatus) -> bool:
    return budget.status is not None and budget.status.dump() == status.dump()


@dataclass(frozen=True)
class _Held:
    """A budget holding a job's reservation, as last read."""

    name: str
    raw: Mapping[str, Any]


class Ledger:
    """Every write of a namespace's budget accounts (see the module)."""

    def __init__(self, kube: Kube, clock: Callable[[], datetime] = utc_now) -> None:
        self.kube = kube
        self.clock = clock
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, namespace: str) -> asyncio.Lock:
        found = self._locks.get(namespace)
        if found is None:
            found = self._locks[namespace] = asyncio.Lock()
        return found

    async def budgets(self, namespace: str, logger: Logger) -> list[tuple[Mapping[str, Any], QiskitBudget]]:
        """The namespace's QiskitBudgets the models can read, by name."""
        found: list[tuple[Mapping[str, Any], QiskitBudget]] = []
        for raw in await self.kube.list_objects(QISKIT_BUDGET, namespace):
            budget = parse_budget(raw)
            if budget is None:
                logger.warning(f"QiskitBudget {meta(raw).get('name')} cannot be read by this controller; skipped")
                continue
            found.append((raw, budget))
        return sorted(found, key=lambda item: item[1].name)

    async def _write(
        self,
        namespace: str,
        raw: Mapping[str, Any],
        compute: Callable[[QiskitBudget], QiskitBudgetStatus | Refusal | None],
    ) -> QiskitBudgetStatus | Refusal | None:
        """``compute`` the budget's new status and write it with its resourceVersion; on 409 read
        it again and recompute. Returns what was computed last (None: nothing to write; a budget
        that is gone counts as nothing to write)."""
        name = str(meta(raw).get("name"))
        current: Mapping[str, Any] | None = raw
        for _ in range(CONFLICT_RETRIES):
            if current is None:
                current = await self.kube.get(QISKIT_BUDGET, namespace, name)
                if current is None:
                    return None
            budget = parse_budget(current)
            if budget is None:
                return None
            outcome = compute(budget)
            if not isinstance(outcome, QiskitBudgetStatus) or _same(budget, outcome):
                return outcome
            stored = current.get("status") if isinstance(current.get("status"), Mapping) else None
            patch = status_patch(stored, outcome.dump(), OWNED_STATUS_KEYS)
            if not patch:
                return outcome
            body = {"metadata": {"resourceVersion": resource_version(current)}, "status": patch}
            try:
                await self.kube.patch_status(QISKIT_BUDGET, namespace, name, body)
            except Conflict:
                current = None  # someone wrote it since: read it again and recompute
                continue
            except NotFound:
                return None
            metrics.observe_budget(namespace, name, outcome.dump(), currency=budget.spec.currency)
            return outcome
        raise Transient(409, "Conflict", f"QiskitBudget {namespace}/{name} kept changing; retrying later")

    async def applicable(self, namespace: str, need: Need, logger: Logger) -> list[str]:
        """The budgets of the namespace that ``need`` counts against, by name."""
        return [budget.name for _, budget in await self.budgets(namespace, logger) if ledger.applies(budget, need)]

    async def reserve(self, namespace: str, uid: str, job: str, need: Need, logger: Logger) -> list[str] | Refusal:
        """Reserve ``need`` for the job ``uid`` in every budget that applies, all or none (see the
        module): the budgets' names, or the first refusal."""
        async with self.lock(namespace):
            held: list[_Held] = []
            for raw, budget in await self.budgets(namespace, logger):
                if not ledger.applies(budget, need):
                    continue
                now = self.clock()
                outcome = await self._write(namespace, raw, _reserving(uid, job, need, now))
                if isinstance(outcome, Refusal):
                    for earlier in held:
                        await self._settle_one(namespace, earlier.raw, uid, _nothing(need))
                    return outcome
                if outcome is not None:
                    held.append(_Held(budget.name, raw))
            if held:
                logger.info(f"Reserved {need.how} in QiskitBudget {', '.join(item.name for item in held)}")
            return [item.name for item in held]

    async def _settle_one(
        self, namespace: str, raw: Mapping[str, Any], uid: str, charge: Need | None
    ) -> QiskitBudgetStatus | None:
        now = self.clock()

        def compute(fresh: QiskitBudget) -> QiskitBudgetStatus | None:
            return ledger.settle(fresh, uid, charge if charge is not None else _in_full(fresh, uid), now)

        outcome = await self._write(namespace, raw, compute)
        return outcome if isinstance(outcome, QiskitBudgetStatus) else None

    async def settle(self, namespace: str, uid: str, charge: Need | None, logger: Logger) -> list[str]:
        """Settle the job ``uid`` in every budget holding its reservation; the names of those that did."""
        async with self.lock(namespace):
            settled: list[str] = []
            for raw, budget in await self.budgets(namespace, logger):
                if not _holds(budget, uid):
                    continue
                if await self._settle_one(namespace, raw, uid, charge) is not None:
                    settled.append(budget.name)
            if settled:
                what = charge.how if charge is not None else "the reservation in full"
                logger.info(f"Settled in QiskitBudget {', '.join(settled)}: {what}")
            return settled

    async def release(self, namespace: str, raw: Mapping[str, Any], uid: str, currency: str) -> None:
        """Release ``uid``'s reservation in the budget ``raw`` with nothing charged (its job is gone)."""
        charge = Need(Decimal(0), Decimal(0), currency, None, 0, "released: the job is gone")
        await self._settle_one(namespace, raw, uid, charge)

    async def refresh(self, namespace: str, raw: Mapping[str, Any], now: datetime) -> QiskitBudgetStatus | None:
        """The accounts recomputed (``budget.refresh``: period, remaining, conditions), written if changed."""
        outcome = await self._write(namespace, raw, lambda fresh: ledger.refresh(fresh, now))
        return outcome if isinstance(outcome, QiskitBudgetStatus) else None

    async def holding(self, namespace: str, uid: str, logger: Logger) -> list[str]:
        """The budgets that hold a reservation for ``uid``."""
        return [budget.name for _, budget in await self.budgets(namespace, logger) if _holds(budget, uid)]


def _reserving(
    uid: str, job: str, need: Need, now: datetime
) -> Callable[[QiskitBudget], QiskitBudgetStatus | Refusal | None]:
    return lambda fresh: ledger.reserve(fresh, uid, job, need, now)


def _holds(budget: QiskitBudget, uid: str) -> bool:
    return budget.status is not None and any(item.uid == uid for item in budget.status.reservations)


def _nothing(need: Need) -> Need:
    """A charge of nothing: releases a reservation."""
    return replace(
        need, quantum_seconds=Decimal(0), amount=Decimal(0), max_execution_time=0, how="released: nothing charged"
    )


def _in_full(budget: QiskitBudget, uid: str) -> Need:
    """The uid's reservation in ``budget``, as a charge (what a job that may have run is charged)."""
    held = next(item for item in (budget.status.reservations if budget.status else []) if item.uid == uid)
    return Need(
        quantum_seconds=Decimal(held.quantum_seconds),
        amount=Decimal(held.amount),
        currency=budget.spec.currency,
        backend=held.backend,
        max_execution_time=0,
        how="charged the reservation in full: the job was deleted while its IBM job may have run",
    )


_LEDGERS: weakref.WeakKeyDictionary[Kube, Ledger] = weakref.WeakKeyDictionary()


def ledger_for(kube: Kube, clock: Callable[[], datetime] = utc_now) -> Ledger:
    """The one ledger of ``kube`` (the job and budget reconcilers share its locks)."""
    found = _LEDGERS.get(kube)
    if found is None:
        found = _LEDGERS[kube] = Ledger(kube, clock)
    return found


# --------------------------------------------------------------------------- the budgets' own passes


class BudgetReconciler(Reconciler):
    """QiskitBudgets: the accounts kept current (see the module); no Workflow, no phase."""

    kind = QISKIT_BUDGET
    owned_status_keys = OWNED_STATUS_KEYS
    phases: ClassVar[tuple[str, ...]] = ("Available", "NearlyExhausted", "Exhausted")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ledger = ledger_for(self.kube, self.clock)
        #: When each budget's reservations were last checked for jobs that are gone.
        self._checked: dict[tuple[str, str], datetime] = {}

    def object_deleted(self, raw: Mapping[str, Any]) -> None:
        super().object_deleted(raw)
        self._checked.pop((str(meta(raw).get("namespace")), str(meta(raw).get("name"))), None)

    def parse_status(self, raw: Any) -> Any:
        return None  # not used: a budget's status is written by the ledger, not by ``write``

    def is_terminal(self, status: Any, generation: int | None) -> bool:
        return False

    def transition_event(self, status: Any) -> TransitionEvent:  # pragma: no cover - no phases, no Events
        raise NotImplementedError

    def children(self, namespace: str, name: str, uid: str | None) -> tuple[str, ...]:
        return ()

    async def workflow_event(self, event_type: str | None, workflow: Mapping[str, Any], logger_for: Any) -> None:
        return None  # a budget has no Workflow

    async def once(self, run: Pass) -> None:
        raw, logger = run.raw, run.logger
        budget = parse_budget(raw)
        if budget is None:
            logger.warning("Cannot read this QiskitBudget; not changing its status")
            return
        namespace = run.namespace
        last = self._checked.get(run.key)
        due = last is None or (self.clock() - last).total_seconds() >= ORPHAN_CHECK_SECONDS
        async with self.ledger.lock(namespace):
            orphans = await self._orphans(namespace, budget) if due else []
            if due:
                self._checked[run.key] = self.clock()
            current: Mapping[str, Any] = raw
            for held in orphans:
                logger.warning(
                    f"Released the reservation of QiskitJob {held.job} (uid {held.uid}): the job no longer exists"
                )
                await self.ledger.release(namespace, current, held.uid, budget.spec.currency)
                current = await self.kube.get(QISKIT_BUDGET, namespace, run.name) or current
            now = self.clock()
            outcome = await self.ledger.refresh(namespace, current, now)
        self.book.set(namespace, run.name, _phase_of(outcome))
        run.state.handled_rv = resource_version(raw)
        self.requeue(run.key, _next_check(budget, now), logger)

    async def _orphans(self, namespace: str, budget: QiskitBudget) -> list[Reservation]:
        """The reservations whose job is gone: 404, or a job of that name with another uid."""
        gone: list[Reservation] = []
        for held in budget.status.reservations if budget.status else []:
            job = await self.kube.get(QISKIT_JOB, namespace, held.job)
            if job is None or meta(job).get("uid") not in (None, held.uid):
                gone.append(held)
        return gone


def _phase_of(status: Any) -> str:
    if not isinstance(status, QiskitBudgetStatus):
        return "Available"
    shown = {condition.type: condition.status for condition in status.conditions}
    if shown.get("Exhausted") == "True":
        return "Exhausted"
    if shown.get("NearlyExhausted") == "True":
        return "NearlyExhausted"
    return "Available"


def _next_check(budget: QiskitBudget, now: datetime) -> float:
    """Seconds to the next pass: ``RECHECK_SECONDS``, or sooner when a month begins before that."""
    if budget.spec.period != "monthly":
        return RECHECK_SECONDS
    try:
        start = ledger.period_start(budget.spec, now + timedelta(seconds=RECHECK_SECONDS))
    except ValueError:
        return RECHECK_SECONDS
    if start > now:
        return max(1.0, (start - now).total_seconds() + 1.0)
    return RECHECK_SECONDS
