"""What a job is expected to use before it runs: quantum seconds on IBM Quantum, and its cost.

The schedule step compares candidates by these numbers (``selector.maxPrice``, then the cheapest),
before any IBM job exists, so no ``usage_estimation`` from IBM can be read yet. The model is the
one IBM documents for how a QPU spends a primitive job's quantum time:

* "Estimate job run time" (quantum.cloud.ibm.com/docs/guides/estimate-job-run-time): quantum time
  is the time the QPU is committed to the job, including a fixed per-job overhead of about
  ``JOB_OVERHEAD_SECONDS`` (loading, compiling and transferring results);
* "Qubit initialization" (quantum.cloud.ibm.com/docs/guides/repetition-rate-execution): every
  shot of every circuit is one execution, and each execution is followed by ``rep_delay``, whose
  default on current IBM QPUs (``backend.default_rep_delay``) is ``REP_DELAY_SECONDS``.

So ``seconds ≈ overhead + (rep_delay + circuit duration) × executions`` with executions = Σ over
the job's PUBs of bindings × shots (all PUBs run in one IBM job, so the overhead is paid once).
The circuit duration is unknown before transpilation, so it is bounded from above by the written
depth times ``LAYER_SECONDS`` (a layer as long as the slowest two-qubit gate, an ECR on an
Eagle QPU at about 660 ns, rounded up to 1 µs, since ISA transpilation makes circuits deeper) plus
one readout of ``MEASURE_SECONDS``. The estimate is meant to be conservative: a price limit is not
exceeded because the estimate was optimistic. The simulator costs no quantum time.

``upper_bound_quantum_seconds`` is the bound a QiskitBudget reserves before the Workflow exists,
when the controller knows the spec but not the circuit: the same model with a worst-case circuit
of ``WORST_CASE_CIRCUIT_SECONDS`` per execution, and executions from the spec alone
(``upper_bound_executions``: Σ over PUBs of shots × bindings, for the estimator its precision's
shots × the resilience factor × every Pauli term of the PUB's observables, a bound on its
measurement bases). A PUB whose values come from a ConfigMap or an artifact
(``parameterValuesFrom``) has a number of bindings nobody knows before the validate step reads
them; it counts ``UNKNOWN_BINDINGS`` (the default ``Limits.max_bindings``, the most the validate
step accepts for a whole job), so its reservation is IBM's longest job unless
``spec.backend.ibm.maxExecutionTime`` says less. A
circuit longer than that is caught by the schedule step (its estimate exceeds the reservation:
``BudgetExceeded``) and, failing that, stopped by IBM at ``max_execution_time``, so the budget
holds either way.
"""

from __future__ import annotations

import math
from decimal import Decimal

from qiskit_argo.api import CircuitMetrics, Primitive, QiskitJobSpec
from qiskit_argo.api.job import PubSpec
from qiskit_argo.catalogue import CatalogueEntry
from qiskit_argo.request import ExecutionRequest, Limits, PubRequest

__all__ = [
    "JOB_OVERHEAD_SECONDS",
    "REP_DELAY_SECONDS",
    "LAYER_SECONDS",
    "MEASURE_SECONDS",
    "ESTIMATOR_DEFAULT_PRECISION",
    "RESILIENCE_FACTOR",
    "DEFAULT_SHOTS",
    "WORST_CASE_CIRCUIT_SECONDS",
    "MAX_EXECUTION_TIME",
    "UNKNOWN_BINDINGS",
    "pub_shots",
    "shots_of",
    "total_shots",
    "executions_of",
    "spec_pub_shots",
    "spec_shots",
    "spec_bindings",
    "spec_total_shots",
    "upper_bound_executions",
    "upper_bound_quantum_seconds",
    "estimate_quantum_seconds",
    "quantum_seconds_of",
    "estimated_cost",
]

#: Fixed quantum time of each job (IBM, "Estimate job run time": about 2 s per job).
JOB_OVERHEAD_SECONDS = 2.0
#: ``backend.default_rep_delay`` of IBM's Eagle and Heron QPUs: 250 µs between executions.
REP_DELAY_SECONDS = 250e-6
#: One layer of the circuit as written: the slowest native two-qubit gate (ECR, ~660 ns on Eagle)
#: rounded up, to cover the extra depth ISA transpilation adds.
LAYER_SECONDS = 1e-6
#: One readout (measurement and its settling): a few µs on IBM QPUs; 4 µs bounds it.
MEASURE_SECONDS = 4e-6
#: The sampler's shots when the job gives none (qiskit-argo's default, ``spec.shots``).
DEFAULT_SHOTS = 1024
#: The executor Estimator's default target precision when the job gives none (1/64: 4096 shots).
ESTIMATOR_DEFAULT_PRECISION = 0.015625
#: How many times the shots the estimator's error mitigation runs, by resilience level (unset: 1,
#: IBM's default): 1 adds readout calibration (TREX, about as many shots again); 2 adds zero-noise
#: extrapolation at three noise factors (1, 3, 5) on top of that.
RESILIENCE_FACTOR = {0: 1, 1: 2, 2: 6}
#: The worst-case duration of one execution's circuit when it is not known (the controller reserves
#: before any step has read the circuit): 1 ms, a thousand layers of ``LAYER_SECONDS`` — about 4 to
#: 10 times the coherence times (T1, T2 of 100–300 µs) of IBM's Eagle and Heron QPUs, beyond which
#: a circuit returns noise. Longer circuits are stopped (see the module).
WORST_CASE_CIRCUIT_SECONDS = 1e-3
#: The most ``max_execution_time`` IBM accepts (and ``spec.backend.ibm.maxExecutionTime``): 3 h.
MAX_EXECUTION_TIME = 10_800


#: The bindings a PUB whose values come from a ConfigMap or an artifact counts before they are
#: read: the most the validate step accepts for a whole job by default (``Limits.max_bindings``).
UNKNOWN_BINDINGS = Limits().max_bindings


def _shots(primitive: str, shots: int | None, precision: float | None) -> int:
    if primitive == Primitive.SAMPLER.value:
        return shots or DEFAULT_SHOTS
    return max(1, math.ceil(1 / (precision or ESTIMATOR_DEFAULT_PRECISION) ** 2))


def pub_shots(request: ExecutionRequest, pub: PubRequest) -> int:
    """Shots per binding of one PUB: the sampler's ``shots``; the estimator's from its precision (1/precision²)."""
    return _shots(request.primitive, pub.shots, pub.precision)


def shots_of(request: ExecutionRequest) -> int:
    """Shots per binding of the request's first PUB (``pub_shots``); the most of any PUB with several."""
    return max((pub_shots(request, pub) for pub in request.pubs), default=_shots(request.primitive, None, None))


def total_shots(request: ExecutionRequest) -> int:
    """Shots of every binding of every PUB: Σ bindings × shots (what a per-shot price counts)."""
    return sum(max(1, pub.num_bindings) * pub_shots(request, pub) for pub in request.pubs) or shots_of(request)


def executions_of(request: ExecutionRequest) -> int:
    """Executions one IBM job of the request runs: ``total_shots``, for the estimator × its
    resilience factor (the circuits its error mitigation adds)."""
    executions = total_shots(request)
    if request.primitive == Primitive.ESTIMATOR.value:
        level = request.ibm.resilience_level
        executions *= RESILIENCE_FACTOR[1 if level is None else level]
    return executions


def spec_pub_shots(spec: QiskitJobSpec, pub: PubSpec) -> int:
    """Shots per binding of one of ``spec.pub_specs()`` (``pub_shots`` without the request)."""
    return _shots(spec.primitive, pub.shots, pub.precision)


def spec_shots(spec: QiskitJobSpec) -> int:
    """Shots per binding from the spec alone: the most of any PUB (``spec_pub_shots``)."""
    return max((spec_pub_shots(spec, pub) for pub in spec.pub_specs()), default=_shots(spec.primitive, None, None))


def spec_bindings(pub: PubSpec) -> int | None:
    """The bindings of one PUB from the spec alone: its inline rows (1 when it has none), ``None``
    when they come from a ConfigMap or an artifact (unknown until the validate step reads them)."""
    if pub.parameter_values_from is not None:
        return None
    return max(1, len(pub.parameter_values or ()))


def spec_total_shots(spec: QiskitJobSpec) -> int:
    """Σ over PUBs of bindings × shots from the spec alone (a PUB of unknown bindings counts
    ``UNKNOWN_BINDINGS``): an upper bound of ``total_shots``."""
    total = 0
    for pub in spec.pub_specs():
        bindings = spec_bindings(pub)
        total += (UNKNOWN_BINDINGS if bindings is None else bindings) * spec_pub_shots(spec, pub)
    return max(1, total)


def upper_bound_executions(spec: QiskitJobSpec) -> int:
    """Executions (shots of circuits) a job may run, from its spec: Σ over PUBs of shots × bindings
    (``UNKNOWN_BINDINGS`` when they come from a ConfigMap or an artifact), and for the estimator ×
    its resilience factor × the distinct Pauli terms of the PUB's observables (every term measured
    in a basis of its own, the most it can take)."""
    level = spec.backend.ibm.resilience_level
    executions = 0
    for pub in spec.pub_specs():
        bindings = spec_bindings(pub)
        pub_executions = spec_pub_shots(spec, pub) * (UNKNOWN_BINDINGS if bindings is None else bindings)
        if spec.primitive == Primitive.ESTIMATOR.value:
            terms = {label for observable in pub.observables or () for label in observable if set(label) != {"I"}}
            pub_executions *= RESILIENCE_FACTOR[1 if level is None else level] * max(1, len(terms))
        executions += pub_executions
    return max(1, executions)


def upper_bound_quantum_seconds(
    executions: int,
    *,
    rep_delay: float = REP_DELAY_SECONDS,
    circuit_seconds: float = WORST_CASE_CIRCUIT_SECONDS,
    overhead: float = JOB_OVERHEAD_SECONDS,
) -> Decimal:
    """IBM's model with a worst-case circuit: ``overhead + (rep_delay + circuit_seconds) × executions``,
    exact (decimal arithmetic on the constants as written)."""
    per_execution = Decimal(str(rep_delay)) + Decimal(str(circuit_seconds))
    return Decimal(str(overhead)) + per_execution * max(1, executions)


def estimate_quantum_seconds(
    num_bindings: int,
    shots: int,
    depth: int,
    *,
    circuits: int = 1,
    rep_delay: float = REP_DELAY_SECONDS,
    layer_seconds: float = LAYER_SECONDS,
    overhead: float = JOB_OVERHEAD_SECONDS,
) -> float:
    """Quantum seconds one IBM job of ``circuits`` circuits of ``depth`` layers, run ``shots`` times
    for each of ``num_bindings`` bindings, is expected to use (conservative; see the module)."""
    executions = max(1, num_bindings) * max(1, shots) * max(1, circuits)
    duration = max(0, depth) * layer_seconds + MEASURE_SECONDS
    return overhead + (rep_delay + duration) * executions


def quantum_seconds_of(entry: CatalogueEntry, request: ExecutionRequest, metrics: CircuitMetrics) -> float:
    """The estimate for this job on ``entry``: 0 on a simulator (aer). Every PUB runs in one IBM job
    (one overhead) of ``executions_of`` executions, each as deep as ``metrics`` says. A
    local-testing fake is estimated as the device it stands in for, so prices compare the same offline."""
    if entry.type != "ibm":
        return 0.0
    return estimate_quantum_seconds(executions_of(request), 1, metrics.depth)


def estimated_cost(entry: CatalogueEntry, request: ExecutionRequest, metrics: CircuitMetrics) -> Decimal:
    """What this job is expected to cost on ``entry`` by its cost model (0 without one)."""
    if entry.cost is None:
        return Decimal(0)
    return entry.cost.cost(
        quantum_seconds=quantum_seconds_of(entry, request, metrics),
        shots=total_shots(request),
        jobs=1,
    )
