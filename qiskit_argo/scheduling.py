"""The schedule step: choose where the job runs and say why, from the namespace's catalogue.

A job runs on the built-in Qiskit Aer simulator unless it names a QiskitBackend
(``spec.backend.ref``), a QiskitSession (``spec.sessionRef``: the session's backend) or a
``spec.backend.selector``; the catalogue (``qiskit_argo.catalogue.Catalogue``) is the snapshot of
the namespace's QiskitBackends the controller passes in. A selector keeps every backend that
fits (type, enabled and ready, the circuit's width, ``minQubits``, ``maxPrice`` by
``qiskit_argo.estimates``) and takes the first by preference, then estimated cost, then queue,
then name; every other candidate is listed in ``status.backend.rejected`` with why.

On Aer the method is the one the job (or the aer QiskitBackend) sets; otherwise ``automatic``, and
the reason predicts what Aer's automatic choice will be for this circuit (stabilizer for
Clifford-only circuits without noise, density_matrix for noisy runs with more shots than
2^qubits, statevector otherwise), so a person reading ``status.backend.reason`` knows what ran and
how to change it.

Besides the backend, the step says how the job runs (``plan_run``): the ``executor`` word the
execute steps' ``when`` compares (``ibm``; for Aer ``aer``, plus ``_gpu`` on a GPU, plus ``_cached``
when the run is cacheable), the ``shards`` (a JSON list of shard ids: the request's ``shards`` for
Aer, one shard ``0-of-1`` for IBM, which runs every PUB in one IBM job) and the ``cache-key``
(``qiskit_argo.cache.cache_key``; ``none`` when the run is not cacheable).

The step also writes its ``estimate`` for the chosen backend (``estimate_of``: quantum seconds by
``qiskit_argo.estimates``, money by the backend's cost model, and how) and fails permanently with
``BudgetExceeded`` when it is above what the controller reserved for the job (the ``reserved``
parameter; ``{}``: no budget) — the reservation is an upper bound from the spec alone, the
estimate knows the circuit.

Pure logic (``choose``, ``choose_backend``) plus the thin file wrapper ``run_step``. Imports no Qiskit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from qiskit_argo import estimates
from qiskit_argo.api import (
    MAX_REJECTIONS,
    AerOptions,
    BackendPhase,
    BackendSelector,
    BackendStatus,
    CircuitMetrics,
    Primitive,
    Rejection,
)
from qiskit_argo.cache import cache_key
from qiskit_argo.catalogue import AER_DEVICE, BUILTIN_SEMAPHORE_KEY, Catalogue, CatalogueEntry, SessionEntry
from qiskit_argo.errors import InvalidJobError, PermanentError, one_line, quote
from qiskit_argo.reasons import Reason
from qiskit_argo.request import ExecutionRequest
from qiskit_argo.sharding import shard_ids
from qiskit_argo.stepio import load_request, parse_parameter, read_artifact
from qiskit_argo.steps import NO_CREDENTIALS_KEY, NO_CREDENTIALS_SECRET
from qiskit_argo.steps._contract import AER_EXECUTORS, NO_CACHE_KEY, SINGLE_PART, shards_parameter

__all__ = [
    "AER",
    "IBM",
    "AER_DEFAULT_SHOTS",
    "CLIFFORD_INSTRUCTIONS",
    "GPU",
    "EXECUTOR_FILE",
    "SHARDS_FILE",
    "CACHE_KEY_FILE",
    "OUTPUT_FILES",
    "DEFAULT_CHANNEL",
    "ESTIMATE_FILE",
    "BudgetExceededError",
    "Reserved",
    "parse_reserved",
    "estimate_of",
    "check_reserved",
    "BackendNotFoundError",
    "BackendUnavailableError",
    "NoSuitableBackendError",
    "Choice",
    "is_clifford",
    "choose_backend",
    "choose",
    "executor",
    "Run",
    "aer_options",
    "plan_run",
    "load_catalogue_file",
    "write_choice",
    "run_step",
]

AER = "aer"
IBM = "ibm"
#: qiskit-ibm-runtime's channel when a QiskitBackend sets none (``QiskitBackendSpec.channel``).
DEFAULT_CHANNEL = "ibm_quantum_platform"
#: The schedule step's ``executor`` output: the word an execute step's ``when`` compares
#: (``qiskit_argo.steps``: execute-aer runs when it is ``aer``).
EXECUTOR_FILE = "executor.txt"
#: The schedule step's ``shards`` output: a JSON list of shard ids (``qiskit_argo.sharding.shard_ids``).
SHARDS_FILE = "shards.json"
#: The schedule step's ``cache-key`` output: the simulator cache key, or ``none``.
CACHE_KEY_FILE = "cache-key.txt"
#: ``AerOptions.device`` of a run on a GPU.
GPU = "GPU"
#: The schedule step's ``estimate`` output: ``{"quantumSeconds", "amount", "currency", "how"}``.
ESTIMATE_FILE = "estimate.json"
#: Shots ``AerSimulator.run`` takes when none are given (the Aer estimator gives none).
AER_DEFAULT_SHOTS = 1024

#: Instructions the stabilizer method runs whatever their parameters (``rz`` is left out: it is
#: Clifford only at multiples of pi/2, which the metrics cannot tell).
CLIFFORD_INSTRUCTIONS = frozenset(
    {
        "id", "x", "y", "z", "h", "s", "sdg", "sx", "sxdg", "cx", "cy", "cz", "swap", "ecr", "pauli",
        "measure", "reset", "barrier", "delay",
    }
)  # fmt: skip

#: Above this many qubits a dense statevector needs more memory than a typical pod has.
_LARGE_STATEVECTOR_QUBITS = 28


def is_clifford(count_ops: Mapping[str, int]) -> bool:
    """Whether every instruction of the circuit is one the stabilizer method runs."""
    return all(name in CLIFFORD_INSTRUCTIONS for name in count_ops)


def _memory(num_qubits: int, density: bool = False) -> str:
    size = 16 * 2 ** (num_qubits * (2 if density else 1))
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024:
            return f"{size:.0f} {unit}"
        size /= 1024
    return f"{size:.0f} EiB"


def choose_backend(request: ExecutionRequest, metrics: CircuitMetrics) -> BackendStatus:
    """The backend (Aer), the method, and a reason a person can read."""
    aer = request.aer
    method = aer.method
    n = metrics.num_qubits
    noise = f" with the {aer.noise_model} noise model" if aer.noise_model else ""
    gpu = " on the GPU" if aer.device == GPU else ""
    if method != "automatic":
        reason = f"spec.backend.aer.method={method}: set in the job{noise}{gpu}"
        if method == "stabilizer" and not is_clifford(metrics.count_ops):
            others = sorted(set(metrics.count_ops) - CLIFFORD_INSTRUCTIONS)
            reason += f" (non-Clifford instructions {', '.join(others[:5])} must have Clifford angles)"
        return BackendStatus(name=AER, method=method, reason=reason)

    prefix = "spec.backend.aer.method=automatic:"
    gates = sorted(set(metrics.count_ops) - CLIFFORD_INSTRUCTIONS)
    if request.primitive == Primitive.SAMPLER.value:
        shots, what = max((pub.shots or AER_DEFAULT_SHOTS for pub in request.pubs), default=AER_DEFAULT_SHOTS), "shots"
    else:  # the Aer estimator averages its noisy expectation values over Aer's default shots
        shots, what = AER_DEFAULT_SHOTS, "estimator shots"
    if aer.noise_model:
        if n < 64 and shots > 2**n:
            why = (
                f"noisy simulation ({aer.noise_model}) with {shots} {what} > 2^{n}, "
                f"Aer will use the density_matrix method ({_memory(n, density=True)} of state)"
            )
        else:
            why = (
                f"noisy simulation ({aer.noise_model}), "
                "Aer will use the statevector method, one noisy trajectory per shot"
            )
        return BackendStatus(name=AER, method="automatic", reason=f"{prefix} {why}{gpu}")
    if is_clifford(metrics.count_ops):
        why = "Clifford-only circuit, Aer will use the stabilizer method"
    else:
        shown = ", ".join(gates[:4]) + (", ..." if len(gates) > 4 else "")
        why = (
            f"{n}-qubit circuit with gates outside the Clifford set ({shown}), "
            f"Aer will use the statevector method ({_memory(n)})"
        )
        why += gpu
        if n >= _LARGE_STATEVECTOR_QUBITS:
            why += "; if it runs out of memory set spec.backend.aer.method=matrix_product_state"
    return BackendStatus(name=AER, method="automatic", reason=f"{prefix} {why}")


# --------------------------------------------------------------------------- the catalogue


class BudgetExceededError(PermanentError):
    """The estimate for the chosen backend is above what the controller reserved for the job."""

    reason = Reason.BUDGET_EXCEEDED


class BackendNotFoundError(PermanentError):
    """``spec.backend.ref`` (or a session's ``backendRef``) names no QiskitBackend of the namespace."""

    reason = Reason.BACKEND_NOT_FOUND


class BackendUnavailableError(PermanentError):
    """The named QiskitBackend exists but takes no jobs now (disabled, or not ready)."""

    reason = Reason.BACKEND_UNAVAILABLE


class NoSuitableBackendError(PermanentError):
    """Every candidate was rejected (too narrow, too dear, not ready, wrong type)."""

    reason = Reason.NO_SUITABLE_BACKEND


@dataclass(frozen=True)
class Choice:
    """What the schedule step decided: the status to show, which execute branch runs, where."""

    backend: BackendStatus
    #: ``aer`` or ``ibm``: the kind of backend (``plan_run`` makes the ``executor`` word the
    #: execute steps' ``when`` compares from it).
    executor: str = AER
    #: ibm: ``{name, device, fake, channel, instance, sessionId, mode}``; the built-in Aer: ``{}``;
    #: an aer QiskitBackend: ``{"aer": AerOptions}``, its defaults under the job's own options.
    target: dict[str, Any] = field(default_factory=dict)
    credentials_secret: str = NO_CREDENTIALS_SECRET
    credentials_key: str = NO_CREDENTIALS_KEY
    semaphore: str = BUILTIN_SEMAPHORE_KEY


def _names(entries: Iterable[CatalogueEntry]) -> str:
    names = [entry.name for entry in entries]
    if not names:
        return "it has none (kubectl get qb)"
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return f"it has {shown}"


def _money(amount: Decimal) -> str:
    if amount == 0:
        return "0"
    return f"{amount:.2f}" if amount >= 1 else f"{amount.normalize():f}"[:12]


def _merged_aer(defaults: AerOptions | None, job: AerOptions) -> AerOptions:
    """The job's Aer options over the backend's: a job's ``automatic`` method, unset seed and
    noise model, and ``CPU`` device (the default) take the backend's. ``AerOptions`` keeps
    ``tensor_network`` on a GPU, and so does the merge: a job's own tensor_network comes with its
    GPU, and a backend's with the backend's GPU, which a job's default CPU does not override."""
    if defaults is None:
        return job
    return AerOptions(
        method=job.method if job.method != "automatic" else defaults.method,
        seed=job.seed if job.seed is not None else defaults.seed,
        noise_model=job.noise_model if job.noise_model is not None else defaults.noise_model,
        device=job.device if job.device == GPU else defaults.device,
    )


def _aer_choice(
    entry: CatalogueEntry, request: ExecutionRequest, metrics: CircuitMetrics, lead: str, rejected: list[Rejection]
) -> Choice:
    """Run on the aer QiskitBackend ``entry``: its Aer options as defaults, the method as the built-in."""
    merged = _merged_aer(entry.aer, request.aer)
    status = choose_backend(request.model_copy(update={"aer": merged}), metrics)
    reason = status.reason or ""
    if request.aer.method == "automatic" and merged.method != "automatic":
        reason = reason.replace("spec.backend.aer.method=", f"QiskitBackend {entry.name} spec.aer.method=", 1)
        reason = reason.replace("set in the job", "the backend's default (spec.backend.aer.method overrides it)", 1)
    backend = BackendStatus(
        name=entry.name,
        type=AER,
        device=entry.device,
        method=status.method,
        reason=one_line(f"{lead}: {reason}", None),
        rejected=rejected[:MAX_REJECTIONS],
    )
    return Choice(backend=backend, executor=AER, target={"aer": merged.dump()}, semaphore=entry.name)


def _ibm_choice(
    entry: CatalogueEntry,
    request: ExecutionRequest,
    metrics: CircuitMetrics,
    lead: str,
    rejected: list[Rejection],
    session: SessionEntry | None = None,
) -> Choice:
    """Run on the IBM (or local-testing fake) QiskitBackend ``entry``, in ``session`` if given:
    every PUB in one IBM job, so they must share their shots or precision (``check_uniform``)."""
    from qiskit_argo.ibm.isa import check_uniform

    check_uniform(request)
    seconds = estimates.quantum_seconds_of(entry, request, metrics)
    estimate = f"estimated {seconds:.1f} quantum seconds"
    if entry.cost is not None:
        estimate += f", {_money(estimates.estimated_cost(entry, request, metrics))} {entry.cost.currency}"
    where = " in local testing mode" if entry.fake else ""
    inside = f" inside QiskitSession {session.name} ({session.mode})" if session else ""
    backend = BackendStatus(
        name=entry.name,
        type=IBM,
        device=entry.device,
        reason=one_line(f"{lead}: runs on {entry.device}{where}{inside}, {estimate}", None),
        rejected=rejected[:MAX_REJECTIONS],
    )
    channel = entry.channel or (None if entry.fake else DEFAULT_CHANNEL)
    target = {
        "name": entry.name,
        "device": entry.device,
        "fake": entry.fake,
        "channel": channel,
        "instance": entry.instance,
        "sessionId": session.session_id if session else None,
        "mode": session.mode if session else None,
    }
    credentials = entry.credentials if not entry.fake else None
    return Choice(
        backend=backend,
        executor=IBM,
        target=target,
        credentials_secret=credentials.name if credentials else NO_CREDENTIALS_SECRET,
        credentials_key=credentials.key if credentials else NO_CREDENTIALS_KEY,
        semaphore=entry.name,
    )


def _run_on(
    entry: CatalogueEntry,
    request: ExecutionRequest,
    metrics: CircuitMetrics,
    lead: str,
    rejected: list[Rejection],
    session: SessionEntry | None = None,
) -> Choice:
    if entry.type == IBM:
        return _ibm_choice(entry, request, metrics, lead, rejected, session)
    return _aer_choice(entry, request, metrics, lead, rejected)


def _unavailable(entry: CatalogueEntry) -> str | None:
    """Why ``entry`` takes no jobs now, or ``None``."""
    if not entry.enabled or entry.phase == BackendPhase.DISABLED.value:
        return "is disabled (its spec.enabled is false)"
    if entry.phase == BackendPhase.NOT_READY.value:
        return f"is not ready ({entry.message or 'see kubectl describe qb ' + entry.name})"
    return None


def _too_narrow(entry: CatalogueEntry, metrics: CircuitMetrics) -> str | None:
    if entry.num_qubits is not None and entry.num_qubits < metrics.num_qubits:
        return f"has {entry.num_qubits} qubits, the circuit needs {metrics.num_qubits}"
    return None


def _by_ref(
    name: str, request: ExecutionRequest, metrics: CircuitMetrics, catalogue: Catalogue, field_name: str, lead: str,
    session: SessionEntry | None = None,
) -> Choice:  # fmt: skip
    entry = catalogue.entry(name)
    if entry is None:
        raise BackendNotFoundError(
            one_line(
                f"{field_name}: no QiskitBackend {quote(name)} in namespace {request.namespace}: "
                f"{_names(catalogue.entries)}; create it or name an existing one"
            )
        )
    unavailable = _unavailable(entry)
    if unavailable:
        raise BackendUnavailableError(
            one_line(f"{field_name}: QiskitBackend {name} {unavailable}; enable or fix it, or name another backend")
        )
    narrow = _too_narrow(entry, metrics)
    if narrow:
        raise NoSuitableBackendError(
            one_line(f"{field_name}: QiskitBackend {name} {narrow}; name a larger backend or use fewer qubits")
        )
    return _run_on(entry, request, metrics, lead, [], session)


def _by_session(request: ExecutionRequest, metrics: CircuitMetrics, catalogue: Catalogue) -> Choice:
    name = request.session_ref or ""
    session = catalogue.session
    if session is None or session.name != name:
        raise InvalidJobError(
            one_line(
                f"spec.sessionRef: QiskitSession {quote(name)} was not passed to the schedule step; "
                f"create it in namespace {request.namespace} (kubectl get qs)"
            )
        )
    if request.backend_ref is not None and request.backend_ref != session.backend_ref:
        raise InvalidJobError(
            one_line(
                f"spec.backend.ref: {quote(request.backend_ref)} is not the backend of QiskitSession {name} "
                f"({session.backend_ref}); remove spec.backend.ref or make it {session.backend_ref}"
            )
        )
    entry = catalogue.entry(session.backend_ref)
    if entry is not None and entry.type != IBM:
        raise InvalidJobError(
            one_line(
                f"spec.sessionRef: QiskitSession {name} runs on QiskitBackend {entry.name} of type {entry.type}; "
                "a session needs a type ibm backend (fix the session's spec.backendRef)"
            )
        )
    lead = f"spec.sessionRef={name}: QiskitSession {name} runs on QiskitBackend {session.backend_ref}"
    return _by_ref(
        session.backend_ref, request, metrics, catalogue, f"spec.sessionRef ({name}'s spec.backendRef)", lead, session
    )


def _selector_problem(
    entry: CatalogueEntry,
    selector: BackendSelector,
    cost: Decimal,
    metrics: CircuitMetrics,
    *,
    any_type: bool = False,
) -> str | None:
    """Why ``entry`` does not fit ``selector``, or ``None``: a sentence naming the field to change."""
    if not any_type and selector.type is not None and entry.type != selector.type:
        return f"is of type {entry.type}, spec.backend.selector.type asks for {selector.type}"
    unavailable = _unavailable(entry)
    if unavailable:
        return unavailable
    if entry.operational is False:
        return "was not operational at its last probe"
    if entry.num_qubits is None and entry.type == IBM:
        # A device has a fixed width, unknown until probed; a simulator's is what memory allows
        # (the validate step's maxQubits already bounds the circuit), so an aer entry needs no probe.
        return "not probed yet: its qubit count is unknown (see kubectl get qb)"
    narrow = _too_narrow(entry, metrics)
    if narrow:
        return narrow
    if selector.min_qubits is not None and entry.num_qubits is not None and entry.num_qubits < selector.min_qubits:
        return f"has {entry.num_qubits} qubits, spec.backend.selector.minQubits is {selector.min_qubits}"
    if selector.max_price is not None and cost > Decimal(selector.max_price):
        currency = entry.cost.currency if entry.cost else ""
        return (
            f"estimated cost {_money(cost)} {currency} is over spec.backend.selector.maxPrice {selector.max_price}"
        ).replace("  ", " ")
    return None


def _rank_reason(first: tuple[Any, ...], other: tuple[Any, ...], chosen: str) -> str:
    what = ("earlier in spec.backend.selector.preference", "a lower estimated cost", "a shorter queue")
    for index, why in enumerate(what):
        if first[index] != other[index]:
            return f"fits, but {chosen} ranks first ({why})"
    return f"fits, but {chosen} ranks first (same preference, cost and queue: name order)"


def _listing(rejected: Sequence[Rejection]) -> str:
    return ", ".join(f"{item.name} ({item.reason})" for item in rejected)


def _by_selector(request: ExecutionRequest, metrics: CircuitMetrics, catalogue: Catalogue) -> Choice:
    selector = request.selector or BackendSelector()
    preference = {name: index for index, name in reversed(list(enumerate(selector.preference)))}
    rejected: list[Rejection] = [
        Rejection(name=name, reason="no QiskitBackend of that name (spec.backend.selector.preference)")
        for name in preference
        if catalogue.entry(name) is None
    ]
    costs = {entry.name: estimates.estimated_cost(entry, request, metrics) for entry in catalogue.entries}
    fits: list[tuple[tuple[Any, ...], CatalogueEntry]] = []
    for entry in catalogue.entries:
        problem = _selector_problem(entry, selector, costs[entry.name], metrics)
        if problem:
            rejected.append(Rejection(name=entry.name, reason=problem))
            continue
        pending = entry.pending_jobs
        key = (
            preference.get(entry.name, len(preference)),
            costs[entry.name],
            (pending is None, pending or 0),
            entry.name,
        )
        fits.append((key, entry))
    fits.sort(key=lambda item: item[0])
    if fits:
        (best_key, best), *others = fits
        rejected += [Rejection(name=entry.name, reason=_rank_reason(best_key, key, best.name)) for key, entry in others]
        return _run_on(best, request, metrics, _selected(best, selector, rejected), rejected)
    return _nothing_fits(request, metrics, catalogue, selector, rejected, costs)


def _selected(entry: CatalogueEntry, selector: BackendSelector, rejected: Sequence[Rejection]) -> str:
    why = "first in spec.backend.selector.preference" if entry.name in selector.preference else "the best fit"
    listed = f", {len(rejected)} other candidates in status.backend.rejected" if rejected else ""
    return f"spec.backend.selector: chose QiskitBackend {entry.name}, {why}{listed}{_unlisted(rejected)}"


def _unlisted(rejected: Sequence[Rejection]) -> str:
    """How many rejections ``status.backend.rejected`` has no room for (it keeps ``MAX_REJECTIONS``)."""
    more = len(rejected) - MAX_REJECTIONS
    return f" ({more} more not listed)" if more > 0 else ""


def _nothing_fits(
    request: ExecutionRequest,
    metrics: CircuitMetrics,
    catalogue: Catalogue,
    selector: BackendSelector,
    rejected: list[Rejection],
    costs: dict[str, Decimal],
) -> Choice:
    considered = [item for item in rejected if catalogue.entry(item.name) is not None]
    if not selector.allow_simulator_fallback:
        if not catalogue.entries:
            raise NoSuitableBackendError(
                f"spec.backend.selector: namespace {request.namespace} has no QiskitBackend to choose from; "
                "create one (kubectl get qb) or set spec.backend.selector.allowSimulatorFallback: true"
            )
        raise NoSuitableBackendError(
            one_line(
                f"spec.backend.selector: none of the {len(considered)} QiskitBackends fits: {_listing(considered)}; "
                "relax the selector, "
                "fix a backend, or set spec.backend.selector.allowSimulatorFallback: true"
            )
        )
    simulator = next(
        (
            entry
            for entry in catalogue.entries
            if entry.type == AER
            and _selector_problem(entry, selector, costs[entry.name], metrics, any_type=True) is None
        ),
        None,
    )
    if simulator is not None:  # chosen after all: not a rejection, neither listed nor counted
        rejected = [item for item in rejected if item.name != simulator.name]
    why = (
        f"no QiskitBackend fits ({len(rejected)} rejected, see status.backend.rejected{_unlisted(rejected)})"
        if catalogue.entries
        else "the namespace has no QiskitBackend"
    )
    lead = f"spec.backend.selector: {why}; allowSimulatorFallback"
    if simulator is not None:
        lead += f": runs on QiskitBackend {simulator.name} (Aer)"
        return _aer_choice(simulator, request, metrics, lead, rejected)
    status = choose_backend(request, metrics)
    backend = BackendStatus(
        name=AER,
        type=AER,
        device=AER_DEVICE,
        method=status.method,
        reason=one_line(f"{lead}: runs on the built-in Aer simulator: {status.reason}", None),
        rejected=rejected[:MAX_REJECTIONS],
    )
    return Choice(backend=backend)


def choose(request: ExecutionRequest, metrics: CircuitMetrics, catalogue: Catalogue | None = None) -> Choice:
    """Where the job runs, and why: the built-in Aer (no ref, selector or session: ``choose_backend``),
    the QiskitBackend ``spec.backend.ref`` names, the session's backend, or the selector's best fit."""
    catalogue = catalogue or Catalogue()
    if request.session_ref is not None:
        return _by_session(request, metrics, catalogue)
    if request.backend_ref is not None:
        name = request.backend_ref
        return _by_ref(name, request, metrics, catalogue, "spec.backend.ref", f"spec.backend.ref={name}")
    if request.selector is not None:
        return _by_selector(request, metrics, catalogue)
    return Choice(backend=choose_backend(request, metrics))


def executor(backend: BackendStatus) -> str:
    """Which execute step runs a job on ``backend``: ``ibm`` for an IBM backend, else ``aer``."""
    return IBM if backend.type == IBM else AER


def aer_options(choice: Choice, request: ExecutionRequest) -> AerOptions | None:
    """The Aer options the run uses: the target's (an aer QiskitBackend's defaults under the job's
    own), the job's on the built-in Aer; ``None`` on IBM."""
    if choice.executor == IBM:
        return None
    settled = choice.target.get("aer")
    return AerOptions.model_validate(settled) if settled is not None else request.aer


@dataclass(frozen=True)
class Run:
    """How the chosen backend runs the job: the ``executor`` word, the shard ids, the cache key."""

    executor: str
    shards: tuple[str, ...]
    cache_key: str | None = None


def plan_run(choice: Choice, request: ExecutionRequest) -> Run:
    """The ``executor``, ``shards`` and ``cache-key`` outputs for ``choice`` (see the module)."""
    aer = aer_options(choice, request)
    if aer is None:
        return Run(executor=IBM, shards=(SINGLE_PART,))
    shards = max(1, request.shards)
    key = cache_key(request, aer, choice.backend.method or aer.method, shards)
    word = AER + ("_gpu" if aer.device == GPU else "") + ("_cached" if key is not None else "")
    return Run(executor=word, shards=tuple(shard_ids(shards)), cache_key=key)


def load_catalogue_file(path: Path | None) -> Catalogue:
    """The ``catalogue`` artifact: a Catalogue as JSON; no file, an empty one or ``{}``: empty."""
    if path is None or not path.is_file():
        return Catalogue()
    text = read_artifact(path, "catalogue").decode("utf-8", "replace").strip()
    if not text:
        return Catalogue()
    try:
        return Catalogue.model_validate(json.loads(text))
    except json.JSONDecodeError as error:
        raise InvalidJobError(
            f"catalogue artifact {path}: not JSON ({error.msg} at column {error.colno}); "
            "the Workflow passes a Catalogue"
        ) from None
    except ValidationError as error:
        from qiskit_argo.manifests import describe_validation_error

        problem = describe_validation_error(error, prefix="catalogue")
        raise InvalidJobError(one_line(f"catalogue artifact {path}: {problem}")) from None


# --------------------------------------------------------------------------- the reservation


@dataclass(frozen=True)
class Reserved:
    """What the controller reserved for the job (the ``reserved`` parameter); all ``None``: no budget."""

    quantum_seconds: Decimal | None = None
    amount: Decimal | None = None
    currency: str | None = None


def _decimal(raw: object, field_name: str) -> Decimal:
    try:
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            raise ArithmeticError
        value = Decimal(str(raw))
        if not value.is_finite() or value < 0:
            raise ArithmeticError
    except ArithmeticError:
        raise InvalidJobError(
            f"reserved parameter: {field_name} {quote(raw)} is not a decimal number >= 0; the controller passes it"
        ) from None
    return value


def parse_reserved(text: str) -> Reserved:
    """The ``reserved`` parameter: ``{}`` (or empty) = no budget, else ``{"quantumSeconds", "amount", "currency"}``."""
    text = (text or "").strip()
    if not text:
        return Reserved()
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidJobError(f"reserved parameter: not JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(raw, dict):
        raise InvalidJobError("reserved parameter: not a JSON object; the controller passes {} or the reservation")
    unknown = sorted(set(raw) - {"quantumSeconds", "amount", "currency"})
    if unknown:
        raise InvalidJobError(f"reserved parameter: unknown field {quote(unknown[0])}")
    currency = raw.get("currency")
    if currency is not None and not (isinstance(currency, str) and len(currency) == 3 and currency.isupper()):
        raise InvalidJobError(f"reserved parameter: currency {quote(currency)} is not an ISO 4217 code")
    return Reserved(
        quantum_seconds=_decimal(raw["quantumSeconds"], "quantumSeconds") if "quantumSeconds" in raw else None,
        amount=_decimal(raw["amount"], "amount") if "amount" in raw else None,
        currency=currency,
    )


def _decimal_text(value: Decimal) -> str:
    return "0" if value == 0 else f"{value.normalize():f}"


def _seconds_text(seconds: float) -> str:
    """Quantum seconds as a decimal string, rounded up to the millisecond (an estimate never shrinks)."""
    exact = Decimal(str(round(seconds, 9)))  # float noise (2.2640000000000002) is not a millisecond more
    return _decimal_text(exact.quantize(Decimal("0.001"), rounding="ROUND_CEILING"))


def estimate_of(
    choice: Choice, request: ExecutionRequest, metrics: CircuitMetrics, catalogue: Catalogue, reserved: Reserved
) -> dict[str, str]:
    """The ``estimate`` output for the chosen backend (``qiskit_argo.estimates``): quantum seconds
    and money by its cost model, in its currency (the reservation's, or ``""``, when it has none)."""
    entry = catalogue.entry(choice.backend.name) if choice.backend.type is not None else None
    if entry is None:
        return {"quantumSeconds": "0", "amount": "0", "currency": reserved.currency or "",
                "how": "the built-in Aer simulator: no quantum time, no cost"}  # fmt: skip
    seconds = _seconds_text(estimates.quantum_seconds_of(entry, request, metrics))
    amount = Decimal(0)
    if entry.cost is not None:  # ``estimates.estimated_cost`` of the seconds as shown (no float noise)
        amount = entry.cost.cost(quantum_seconds=float(seconds), shots=estimates.total_shots(request), jobs=1)
    if entry.type == IBM:
        how = (
            f"IBM's model on {entry.device}: {estimates.JOB_OVERHEAD_SECONDS:g} s + (rep_delay + depth "
            f"{metrics.depth} layers) x "
        )
        if len(request.pubs) == 1:
            how += f"{estimates.shots_of(request)} shots x {max(1, request.pubs[0].num_bindings)} bindings"
        else:
            how += f"{estimates.total_shots(request)} shots (bindings x shots of {len(request.pubs)} PUBs in one job)"
        if request.primitive == Primitive.ESTIMATOR.value:
            level = request.ibm.resilience_level
            how += f" x {estimates.RESILIENCE_FACTOR[1 if level is None else level]} (resilience)"
    else:
        how = f"Aer on QiskitBackend {entry.name}: no quantum time"
    how += f"; cost by its cost model ({entry.cost.currency})" if entry.cost is not None else "; no cost model"
    currency = entry.cost.currency if entry.cost is not None else (reserved.currency or "")
    return {"quantumSeconds": seconds, "amount": _decimal_text(amount), "currency": currency,
            "how": one_line(how, 300)}  # fmt: skip


def check_reserved(estimate: Mapping[str, str], reserved: Reserved, backend: str) -> None:
    """Raise ``BudgetExceededError`` when ``estimate`` is above ``reserved`` (quantum seconds, or
    money in the reservation's currency); nothing reserved (``{}``): no budget, nothing to check."""
    seconds, amount = Decimal(estimate["quantumSeconds"]), Decimal(estimate["amount"])
    if reserved.quantum_seconds is not None and seconds > reserved.quantum_seconds:
        raise BudgetExceededError(
            one_line(
                f"the estimate on QiskitBackend {backend} is {estimate['quantumSeconds']} quantum seconds, above the "
                f"{reserved.quantum_seconds.normalize():f} reserved for the job ({estimate['how']}); lower spec.shots "
                "or the parameter bindings, or raise spec.backend.ibm.maxExecutionTime, and re-create the job"
            )
        )
    if reserved.amount is None or amount == 0:
        return
    currency = estimate["currency"]
    if reserved.currency is not None and currency and currency != reserved.currency:
        raise BudgetExceededError(
            one_line(
                f"QiskitBackend {backend} charges in {currency}, the reservation is in {reserved.currency}: "
                "the budget cannot pay for it; choose a backend priced in the budget's currency"
            )
        )
    if amount > reserved.amount:
        raise BudgetExceededError(
            one_line(
                f"the estimated cost on QiskitBackend {backend} is {_money(amount)} {currency}, above the "
                f"{_money(reserved.amount)} reserved for the job ({estimate['how']}); lower spec.shots or the "
                "parameter bindings, or choose a cheaper backend, and re-create the job"
            )
        )


#: The schedule step's output files, by output parameter.
OUTPUT_FILES = {
    "backend": "backend.json",
    "executor": EXECUTOR_FILE,
    "target": "target.json",
    "credentials-secret": "credentials-secret.txt",
    "credentials-key": "credentials-key.txt",
    "semaphore": "semaphore.txt",
    "estimate": ESTIMATE_FILE,
    "shards": SHARDS_FILE,
    "cache-key": CACHE_KEY_FILE,
    **{shards_parameter(word): f"{shards_parameter(word)}.json" for word in AER_EXECUTORS},
}


def write_choice(choice: Choice, out_dir: Path, run: Run | None = None) -> None:
    """The choice as the schedule step's output parameter files (``OUTPUT_FILES``, but the
    estimate); ``run`` (``plan_run``) gives the ``executor``, ``shards`` and ``cache-key``
    (without it: the backend's kind, one shard, no key)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    run = run or Run(executor=choice.executor, shards=(SINGLE_PART,))
    values = {
        "backend": json.dumps(choice.backend.dump()),
        "executor": run.executor,
        "target": json.dumps(choice.target),
        "credentials-secret": choice.credentials_secret,
        "credentials-key": choice.credentials_key,
        "semaphore": choice.semaphore,
        "shards": json.dumps(list(run.shards)),
        "cache-key": run.cache_key or NO_CACHE_KEY,
        # Each Aer variant's own list: the shards for the chosen one, [] (nothing to run) for the others.
        **{
            shards_parameter(word): json.dumps(list(run.shards) if word == run.executor else [])
            for word in AER_EXECUTORS
        },
    }
    for name, value in values.items():
        (out_dir / OUTPUT_FILES[name]).write_text(value)


def run_step(
    request_file: Path,
    metrics_json: str,
    out_dir: Path,
    catalogue_file: Path | None = None,
    reserved_json: str = "{}",
) -> None:
    """The schedule step: choose from the catalogue for the request and metrics, and write the
    choice (``OUTPUT_FILES``: ``backend.json``, ``executor.txt``, ``target.json``, the credentials
    Secret's name and key, the semaphore key, ``shards.json``, ``cache-key.txt``) and
    ``estimate.json``; then fail with
    ``BudgetExceeded`` when that estimate is above what was reserved (``reserved_json``)."""
    request = load_request(request_file)
    metrics = parse_parameter(CircuitMetrics, metrics_json, "metrics")
    reserved = parse_reserved(reserved_json)
    catalogue = load_catalogue_file(catalogue_file)
    choice = choose(request, metrics, catalogue)
    write_choice(choice, out_dir, plan_run(choice, request))
    estimate = estimate_of(choice, request, metrics, catalogue, reserved)
    (out_dir / ESTIMATE_FILE).write_text(json.dumps(estimate))
    check_reserved(estimate, reserved, choice.backend.name)
