"""Budget arithmetic, pure (no I/O, no clock): what a job needs reserved, the period, the ledger.

The controller, the only writer of a QiskitBudget's status, calls these with what it read and
writes what they return (with the budget's ``resourceVersion``; on a conflict it re-reads and calls
again)::

    need = need_for(job, catalogue)              # None: the job can only run free (no reservation)
    for budget in budgets:                       # the QiskitBudgets of the job's namespace
        if applies(budget, need):
            result = reserve(budget, uid, job_name, need, now)   # Refusal -> BudgetExceeded
    ...                                          # the Workflow runs with max_execution_time
    settle(budget, uid, charge_for(job, catalogue), now)         # None: settled already

Modules: ``_need`` (``Need``, ``need_for``, ``charge_for``), ``_period`` (``period_start``),
``_ledger`` (``reserve``, ``settle``, ``refresh``, ``applies``). Money is ``Decimal``, never a
float, and a decimal string on the wire.
"""

from __future__ import annotations

from qiskit_argo.budget._ledger import MAX_REFUSAL, Refusal, applies, refresh, reserve, settle
from qiskit_argo.budget._need import Need, candidates_of, charge_for, decimal_text, need_for
from qiskit_argo.budget._period import EPOCH, InvalidTimeZone, describe_period, period_start, zone

__all__ = [
    "Need",
    "need_for",
    "charge_for",
    "candidates_of",
    "decimal_text",
    "period_start",
    "describe_period",
    "zone",
    "EPOCH",
    "InvalidTimeZone",
    "Refusal",
    "MAX_REFUSAL",
    "reserve",
    "settle",
    "refresh",
    "applies",
]
