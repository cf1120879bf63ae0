"""What a job needs reserved before it runs (``need_for``), and what it is charged when it ends
(``charge_for``), from its spec, its status and the catalogue: no circuit, no I/O.

The reservation is a conservative upper bound. Quantum seconds: the job's
``spec.backend.ibm.maxExecutionTime`` when set, else ``estimates.upper_bound_quantum_seconds`` of
its executions rounded up to whole seconds (at most IBM's 3 h); that number is also the
``max_execution_time`` the job is submitted with, so IBM stops it there. Money: the most expensive
candidate's ``CostModel.cost`` of that many quantum seconds (per-shot and per-job prices too). The
candidates: the one backend of ``spec.backend.ref`` or of the job's QiskitSession; for a selector,
every entry it could choose (its type, enabled, not known to have fewer than ``minQubits`` qubits,
and the aer entries when it may fall back to the simulator). Aer costs no quantum time and, without
a cost model, nothing: a job that can only run free needs no reservation (``None``).

When candidates price in different currencies, ``Need`` carries the currency of the highest amount
(there is no exchange rate here); a budget in another currency then limits only its quantum seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from qiskit_argo import estimates
from qiskit_argo.api import Phase, QiskitJob
from qiskit_argo.catalogue import Catalogue, CatalogueEntry

__all__ = ["Need", "candidates_of", "need_for", "charge_for", "decimal_text"]


@dataclass(frozen=True)
class Need:
    """What one job needs reserved (``need_for``), or was charged (``charge_for``)."""

    quantum_seconds: Decimal
    amount: Decimal
    #: ISO 4217 code of ``amount`` ("" when no cost model prices it).
    currency: str
    #: The one backend, or ``None`` when a selector may pick any of ``candidates``.
    backend: str | None
    #: Seconds passed to the ibm-submit step (``max_execution_time``); 0 = none reserved.
    max_execution_time: int
    #: One line: how it was computed.
    how: str
    #: With no ``backend``: every backend the job may run on (their per-backend limits count it).
    candidates: tuple[str, ...] = ()


def decimal_text(value: Decimal) -> str:
    """``value`` as a plain decimal string without exponent or trailing zeros (``"3.28"``, ``"1600"``)."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def _paid(entry: CatalogueEntry) -> bool:
    return entry.type == "ibm" or entry.cost is not None


def candidates_of(job: QiskitJob, catalogue: Catalogue) -> list[CatalogueEntry] | None:
    """The entries the job may run on; ``None`` when it runs on the built-in simulator (or on a
    backend the catalogue lacks, which the schedule step refuses)."""
    spec = job.spec
    if spec.session_ref is not None:
        session = catalogue.session
        if session is not None and session.name == spec.session_ref:
            entry = catalogue.entry(session.backend_ref)
            return [entry] if entry is not None else None
        return [entry for entry in catalogue.entries if entry.type == "ibm"]  # the session's backend is unknown
    if spec.backend.ref is not None:
        entry = catalogue.entry(spec.backend.ref)
        return [entry] if entry is not None else None
    selector = spec.backend.selector
    if selector is None:
        return None
    chosen = []
    for entry in catalogue.entries:
        if not entry.enabled:
            continue
        fallback = selector.allow_simulator_fallback and entry.type == "aer"
        if selector.type is not None and entry.type != selector.type and not fallback:
            continue
        known = entry.num_qubits
        if selector.min_qubits is not None and known is not None and known < selector.min_qubits and not fallback:
            continue
        chosen.append(entry)
    return chosen


def _executions_text(job: QiskitJob, executions: int) -> str:
    pubs = job.spec.pub_specs()
    if len(pubs) == 1:
        text = f"{executions} executions ({estimates.spec_shots(job.spec)} shots per binding and circuit)"
    else:
        text = f"{executions} executions (bindings x shots of {len(pubs)} PUBs)"
    if any(estimates.spec_bindings(pub) is None for pub in pubs):
        text += (
            f"; values from a ConfigMap or artifact count {estimates.UNKNOWN_BINDINGS} bindings until read, "
            "set spec.backend.ibm.maxExecutionTime to reserve less"
        )
    return text


def need_for(job: QiskitJob, catalogue: Catalogue) -> Need | None:
    """The upper bound to reserve for ``job`` (see the module); ``None``: it can only run free."""
    entries = candidates_of(job, catalogue)
    paid = [entry for entry in entries or () if _paid(entry)]
    if not paid:
        return None
    spec = job.spec
    executions = estimates.upper_bound_executions(spec)
    shots = estimates.spec_total_shots(spec)
    on_ibm = any(entry.type == "ibm" for entry in paid)
    if not on_ibm:
        seconds, bound_how = 0, "no quantum time (simulator)"
    elif spec.backend.ibm.max_execution_time is not None:
        seconds = spec.backend.ibm.max_execution_time
        bound_how = f"{seconds} quantum seconds (spec.backend.ibm.maxExecutionTime)"
    else:
        bound = estimates.upper_bound_quantum_seconds(executions)
        seconds = min(estimates.MAX_EXECUTION_TIME, max(1, math.ceil(bound)))
        bound_how = (
            f"{seconds} quantum seconds: {estimates.JOB_OVERHEAD_SECONDS:g} s + "
            f"({estimates.REP_DELAY_SECONDS * 1e6:g} µs + {estimates.WORST_CASE_CIRCUIT_SECONDS * 1e6:g} µs) × "
            f"{_executions_text(job, executions)}, rounded up"
        )
    priced: list[tuple[Decimal, str, str]] = []
    for entry in paid:
        if entry.cost is not None:
            worked = seconds if entry.type == "ibm" else 0
            priced.append(
                (entry.cost.cost(quantum_seconds=float(worked), shots=shots, jobs=1), entry.cost.currency, entry.name)
            )
    amount, currency, dearest = max(priced, default=(Decimal(0), "", ""))
    names = tuple(sorted(entry.name for entry in paid))
    backend = names[0] if len(names) == 1 else None
    money = f"; {decimal_text(amount)} {currency} on {dearest}" if priced else ""
    where = f"on {backend}" if backend else f"on any of {', '.join(names)}"
    return Need(
        quantum_seconds=Decimal(seconds),
        amount=amount,
        currency=currency,
        backend=backend,
        max_execution_time=seconds if on_ibm else 0,
        how=f"upper bound {where}: {bound_how}{money}",
        candidates=() if backend else names,
    )


def _shots_run(job: QiskitJob, bindings_run: int | None) -> int:
    """Σ over PUBs of bindings × shots of a job that ran ``bindings_run`` bindings in all (its
    ``status.circuit.numBindings``; ``None``: unknown): inline PUBs count their rows; the bindings
    of PUBs read from a ConfigMap or an artifact are what ran besides those, at the most shots any
    of them takes (all of them when ``bindings_run`` is unknown: ``UNKNOWN_BINDINGS``)."""
    spec = job.spec
    known, unknown_shots = 0, 0
    shots = 0
    for pub in spec.pub_specs():
        bindings = estimates.spec_bindings(pub)
        if bindings is None:
            unknown_shots = max(unknown_shots, estimates.spec_pub_shots(spec, pub))
        else:
            known += bindings
            shots += bindings * estimates.spec_pub_shots(spec, pub)
    if unknown_shots:
        rest = estimates.UNKNOWN_BINDINGS if bindings_run is None else max(0, bindings_run - known)
        shots += rest * unknown_shots
    return shots


def charge_for(job: QiskitJob, catalogue: Catalogue | None) -> Need:
    """What the ended ``job`` is charged: the quantum seconds IBM metered (``status.ibm``) and, by
    the chosen backend's cost model, their price; a job that succeeded also pays its shots (×
    bindings) and its per-job price, one that did not only what IBM metered (0 if nothing ran)."""
    status = job.status
    backend = status.backend.name if status and status.backend else None
    ibm = status.ibm if status else None
    seconds = Decimal(str(ibm.quantum_seconds)) if ibm and ibm.quantum_seconds else Decimal(0)
    entry = catalogue.entry(backend) if catalogue is not None and backend is not None else None
    succeeded = status is not None and status.phase == Phase.SUCCEEDED.value
    amount, currency, priced = Decimal(0), "", "no cost model"
    if entry is not None and entry.cost is not None:
        currency = entry.cost.currency
        if succeeded:
            ran = status.circuit.num_bindings if status and status.circuit else None
            shots = _shots_run(job, ran)
            amount = entry.cost.cost(quantum_seconds=float(seconds), shots=shots, jobs=1)
            priced = f"{decimal_text(amount)} {currency} for {shots} shots and the job"
        else:
            amount = entry.cost.cost(quantum_seconds=float(seconds), shots=0, jobs=0)
            priced = f"{decimal_text(amount)} {currency} for the quantum time only (it did not succeed)"
    return Need(
        quantum_seconds=seconds,
        amount=amount,
        currency=currency,
        backend=backend,
        max_execution_time=0,
        how=f"charged on {backend or 'no backend'}: {decimal_text(seconds)} quantum seconds as IBM metered; {priced}",
    )
