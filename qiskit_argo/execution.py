"""The execute-aer step: run the job's one PUB on Qiskit Aer primitives and write the result.

One PUB holds the whole parameter sweep as a bindings array, so Aer runs every binding in one
call. The Aer ``SamplerV2`` / ``EstimatorV2`` are seeded with ``spec.backend.aer.seed`` and use the
method the schedule step chose. Circuit preparation:

* ideal simulation: the circuit runs as written (Aer fuses gates itself); custom gates (e.g. an
  OpenQASM ``gate`` definition) are replaced by their definitions (``circuits.flatten``, memoised,
  so nested definitions cost their expanded size once, not a transpiler pass per level), other
  instructions Aer does not know are decomposed, and only if that is not enough is the circuit
  transpiled for the simulator at ``optimizationLevel``;
* ``noiseModel: FakeXxx``: the simulator is ``AerSimulator.from_backend(FakeXxx())`` and the
  circuit is transpiled for that device with the preset pass manager at ``optimizationLevel``
  and ``seed_transpiler`` = the Aer seed (level 0 if optimization removed a swept parameter);
  estimator observables follow the layout. qiskit-ibm-runtime is imported only then.

``result.json`` (never truncated) mirrors ``PrimitiveResult``::

    {
      "primitive": "sampler" | "estimator",
      "job": {"name": str, "namespace": str},
      "backend": {"name": "aer", "method": str, "noise_model": str | null, "seed": int | null},
      "pubs": [{                       # what ran, parallel to pub_results
        "parameter_names": [str],      # the circuit's parameter order
        "parameter_values": [[float]], # one row per binding; [] when unparameterized
        "num_bindings": int,           # rows, or 1 when unparameterized
        "shots": int,                  # sampler
        "precision": float,            # estimator
        "observables": [{pauli: coeff}]  # estimator
      }],
      "pub_results": [{
        "data": {                      # sampler: one entry per classical register
          "<creg>": {"num_bits": int, "num_shots": int,
                     "counts": [{"<bitstring>": int}, ...]}   # one dict per binding, in order
        }
        | {                            # estimator: [binding][observable]
          "evs": [[float]], "stds": [[float]]
        },
        "metadata": {...}              # Aer's pub metadata (shots / target_precision, simulator)
      }],
      "metadata": {"version": 2, "transpiled": bool, "optimization_level": int | null,
                   "qiskit_version": str, "qiskit_aer_version": str}
    }

Bitstrings are Qiskit's: clbit 0 rightmost. ``summary.json`` is the bounded ``ResultSummary``: the
top 8 counts of the first binding (all registers joined, as ``SamplerPubResult.join_data``) or the
first 16 expectation values and standard errors, with ``truncated`` set when anything was cut.

Failures: whatever Aer refuses because of the circuit or the request (unknown instructions, an
instruction the chosen method cannot simulate, a condition it cannot evaluate, its own memory
estimate over the limit, observables or parameter values it rejects) is a permanent error worded
here, naming the field to change; Aer's own text is never passed on. Only failures that may pass
on a retry (memory allocation failing at run time, an interrupted or failed system call) are
transient.

Pure logic (``prepare_circuit``, ``run_pub``, ``result_document``, ``summarize``,
``counts_per_binding``) is separate from the file wrapper ``run_step``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qiskit_argo.api import AerOptions, BackendStatus, Primitive, ResultSummary
from qiskit_argo.errors import (
    ExecutionError,
    InvalidCircuitError,
    InvalidJobError,
    LimitExceededError,
    PermanentError,
    QiskitArgoError,
    one_line,
)
from qiskit_argo.reasons import Reason
from qiskit_argo.request import ExecutionRequest
from qiskit_argo.stepio import load_request, parse_parameter, read_artifact

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit
    from qiskit.primitives import PrimitiveResult
    from qiskit.primitives.containers import BitArray

__all__ = [
    "TOP_COUNTS",
    "MAX_SUMMARY_VALUES",
    "Prepared",
    "fake_backend",
    "simulator",
    "prepare_circuit",
    "observables_for",
    "run_pub",
    "counts_per_binding",
    "result_document",
    "summarize",
    "execute",
    "write_outputs",
    "run_step",
]

#: The summary keeps this many of the most frequent bitstrings of the first binding.
TOP_COUNTS = 8
#: The summary keeps at most this many expectation values (and standard errors).
MAX_SUMMARY_VALUES = 16

_ALWAYS_SUPPORTED = frozenset({"measure", "barrier", "reset", "delay", "store"})
_MAX_UNROLL_ROUNDS = 8
# Counting by histogram needs bindings * 2^bits cells; above these sizes sort instead.
_BINCOUNT_BITS = 16
_BINCOUNT_CELLS = 1 << 22


# --------------------------------------------------------------------------- simulator


def fake_backend(name: str) -> Any:
    """An instance of ``qiskit_ibm_runtime.fake_provider.<name>`` (imports qiskit-ibm-runtime)."""
    where = "spec.backend.aer.noiseModel"
    try:
        from qiskit_ibm_runtime import fake_provider
    except ImportError:
        raise PermanentError(
            f"{where}: {name} needs qiskit-ibm-runtime, which this executor image lacks; use the executor image "
            "built with the executor extra",
            reason=Reason.NOISE_MODEL_UNAVAILABLE,
        ) from None
    cls = getattr(fake_provider, name, None)
    if not isinstance(cls, type):
        raise InvalidJobError(
            f"{where}: unknown fake backend {name!r}; "
            "use a class of qiskit_ibm_runtime.fake_provider, e.g. FakeManilaV2"
        )
    backend = cls()
    if not hasattr(backend, "target"):
        raise InvalidJobError(f"{where}: {name} is not a BackendV2 fake backend; use its V2 form, e.g. {name}V2")
    return backend


def simulator(method: str, noise_model: str | None) -> Any:
    """The ``AerSimulator`` for a method, mimicking a fake backend's noise when one is named."""
    from qiskit_aer import AerError, AerSimulator

    try:
        if noise_model:
            return AerSimulator.from_backend(fake_backend(noise_model), method=method)
        return AerSimulator(method=method)
    except AerError:
        available = ", ".join(AerSimulator().available_methods())
        raise InvalidJobError(
            f"spec.backend.aer.method={method}: not available in this executor (Qiskit Aer was built without it); "
            f"use one of {available}"
        ) from None


# --------------------------------------------------------------------------- circuit preparation


@dataclass(frozen=True)
class Prepared:
    """The circuit Aer runs, the layout observables must follow, and what was done to it."""

    circuit: QuantumCircuit
    layout: Any = None
    transpiled: bool = False
    optimization_level: int | None = None


def _unsupported(circuit: QuantumCircuit, supported: frozenset[str]) -> set[str]:
    names: set[str] = set()
    for instruction in circuit.data:
        operation = instruction.operation
        if operation.name not in supported:
            names.add(operation.name)
        for block in getattr(operation, "blocks", ()):
            names |= _unsupported(block, supported)
    return names


def _transpile(circuit: QuantumCircuit, backend: Any, level: int, seed: int | None) -> QuantumCircuit:
    from qiskit.transpiler import generate_preset_pass_manager

    try:
        manager = generate_preset_pass_manager(optimization_level=level, backend=backend, seed_transpiler=seed)
        return manager.run(circuit)
    except Exception as error:  # noqa: BLE001 - TranspilerError and friends: the circuit does not fit
        raise InvalidCircuitError(
            one_line(
                f"spec.circuit: cannot compile the circuit for {one_line(backend.name, 40)} "
                f"({one_line(str(error) or type(error).__name__, 120)}); "
                "use gates with definitions, or another backend/method"
            )
        ) from None


def prepare_circuit(
    circuit: QuantumCircuit,
    backend: Any,
    *,
    noisy: bool,
    optimization_level: int,
    seed: int | None,
) -> Prepared:
    """The circuit as Aer will run it (see the module docstring for the rules)."""
    from qiskit_argo import circuits

    circuits.check_circuit(circuit, None)  # what Aer cannot run, in our words (validate checked it too)
    circuit = circuits.flatten(circuit)
    if noisy:
        device_qubits = backend.num_qubits
        if circuit.num_qubits > device_qubits:
            raise InvalidCircuitError(
                f"spec.backend.aer.noiseModel: the device has {device_qubits} qubits but the circuit has "
                f"{circuit.num_qubits}; pick a larger fake backend or drop the noise model"
            )
        isa = _transpile(circuit, backend, optimization_level, seed)
        level = optimization_level
        if len(isa.parameters) != len(circuit.parameters) and optimization_level > 0:
            # Optimization removed a parameter; every binding must still bind, so do not optimize.
            isa, level = _transpile(circuit, backend, 0, seed), 0
        return Prepared(isa, layout=isa.layout, transpiled=True, optimization_level=level)

    supported = frozenset(backend.configuration().basis_gates) | _ALWAYS_SUPPORTED
    missing = _unsupported(circuit, supported)
    if not missing:
        return Prepared(circuit)
    unrolled = circuit
    for _ in range(_MAX_UNROLL_ROUNDS):
        try:
            unrolled = unrolled.decompose(gates_to_decompose=sorted(missing))
        except Exception:  # noqa: BLE001 - fall back to the transpiler below
            break
        missing = _unsupported(unrolled, supported)
        if not missing:
            return Prepared(unrolled)
    isa = _transpile(circuit, backend, optimization_level, seed)
    return Prepared(isa, layout=isa.layout, transpiled=True, optimization_level=optimization_level)


# --------------------------------------------------------------------------- running


def _values_for(prepared: QuantumCircuit, request: ExecutionRequest) -> np.ndarray | None:
    """The request's binding rows with columns in the prepared circuit's parameter order."""
    if not request.parameter_values or prepared.num_parameters == 0:
        return None
    values = np.asarray(request.parameter_values, dtype=float)
    order = [p.name for p in prepared.parameters]
    if order == list(request.parameter_names):
        return values
    index = {name: i for i, name in enumerate(request.parameter_names)}
    return values[:, [index[name] for name in order]]


@contextlib.contextmanager
def _quiet_aer() -> Iterator[None]:
    """Aer logs a failed simulation on stderr before raising; the step's reason must be the last line."""
    logger = logging.getLogger("qiskit_aer")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


#: Failures that may pass on a retry: an allocation failing at run time (the node was short of
#: memory, unlike Aer's own up-front estimate below) or an interrupted or failed system call.
_TRANSIENT_MARKERS = (
    "bad_alloc",
    "cannot allocate",
    "out of memory",
    "resource temporarily unavailable",
    "interrupted",
    "timed out",
    "connection reset",
    "broken pipe",
)
_AER_MEMORY = re.compile(r"required memory:\s*(\d+)\s*M,\s*max memory:\s*(\d+)\s*M", re.IGNORECASE)
_AER_INVALID = re.compile(r'invalid instructions \{"\w+":\s*\{([^}]*)\}\}', re.IGNORECASE)
_AER_UNKNOWN = re.compile(r"unknown instruction:\s*([^\s'\"]+)", re.IGNORECASE)
_CONDITION_TODO = "compare bits and registers with ==, !=, <, <=, >, >= and combine them with &, |, ^, ~, &&, ||, !"


def _names(listed: str) -> str:
    names = [one_line(name.strip(" '\""), 24) for name in listed.split(",") if name.strip(" '\"")]
    return ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")


def _classify(error: BaseException, method: str) -> QiskitArgoError:
    """What a failure of an Aer run means for the job, in our words (never Aer's text).

    Permanent unless the failure may pass on a retry (``_TRANSIENT_MARKERS``, ``MemoryError``,
    ``OSError``): whatever Aer refuses because of the circuit or the request fails the same way
    every time.
    """
    text = " ".join(str(error)[:4096].split())
    lowered = text.lower()
    where = f"spec.backend.aer.method={method}"
    if "insufficient memory" in lowered:
        found = _AER_MEMORY.search(text)
        need = (
            f" needs {int(found.group(1)):,} MiB but the executor has {int(found.group(2)):,} MiB"
            if found
            else (" needs more memory than the executor has")
        )
        return LimitExceededError(
            one_line(
                f"spec.circuit: simulating it with method {method}{need}; raise spec.resources.limits.memory, "
                "use fewer qubits, or set spec.backend.aer.method=matrix_product_state"
            )
        )
    if isinstance(error, MemoryError | OSError) or any(marker in lowered for marker in _TRANSIENT_MARKERS):
        return ExecutionError(
            f"Qiskit Aer ran out of memory or was interrupted while running the circuit ({type(error).__name__}); "
            "retrying may help; if it keeps failing, raise spec.resources.limits.memory"
        )
    invalid = _AER_INVALID.search(text)
    if invalid or "invalid parameters" in lowered:
        what = f"instructions {_names(invalid.group(1))}" if invalid else "gates at these angles"
        if method == "stabilizer":
            what += " (it runs Clifford gates only: angles that are multiples of pi/2)"
        return InvalidCircuitError(
            one_line(
                f"{where}: the {method} method cannot simulate {what}; "
                "set spec.backend.aer.method=automatic (or statevector), or change the circuit"
            )
        )
    unknown = _AER_UNKNOWN.search(text)
    if unknown:
        return InvalidCircuitError(
            one_line(
                f"spec.circuit: Qiskit Aer has no instruction {_names(unknown.group(1))} and it has no definition to "
                "expand; define it as a gate of standard gates, or remove it"
            )
        )
    if "unknown op" in lowered or "unsupported expression" in lowered or "invalid value type" in lowered:
        return InvalidCircuitError(
            f"spec.circuit: a condition uses an operation Qiskit Aer cannot evaluate; {_CONDITION_TODO}"
        )
    if "observable" in lowered or "hermitian" in lowered:
        return InvalidCircuitError(
            "spec.observables: Qiskit Aer cannot use the observables; give every one a finite coefficient per "
            "Pauli string and one letter per circuit qubit"
        )
    if "number of values" in lowered or "parameter" in lowered or "shape" in lowered or "broadcast" in lowered:
        return InvalidCircuitError(
            "spec.parameterValues: Qiskit Aer cannot bind the parameter values to the circuit; give one finite "
            "value per circuit parameter in every binding"
        )
    return InvalidCircuitError(
        f"{where}: Qiskit Aer cannot run this circuit (it raised {one_line(type(error).__name__, 40)}); use "
        "standard gates, measurements and control flow on bits and registers, or another method"
    )


def run_pub(
    prepared: Prepared,
    request: ExecutionRequest,
    backend: Any,
) -> PrimitiveResult:
    """Run the job's single PUB (every binding at once) on the Aer primitive it asks for."""
    values = _values_for(prepared.circuit, request)
    observables = observables_for(prepared, request)
    with _quiet_aer():
        return _run(prepared.circuit, values, observables, request, backend, backend.options.method)


def observables_for(prepared: Prepared, request: ExecutionRequest) -> list[Any]:
    """The request's observables as ``SparsePauliOp``, following the transpiled layout."""
    from qiskit_argo import circuits

    for i, observable in enumerate(request.observables or []):
        if not all(math.isfinite(coefficient) for coefficient in observable.paulis.values()):
            raise InvalidJobError(f"spec.observables[{i}]: a coefficient is not a finite number; use finite numbers")
    observables = [circuits.sparse_pauli_op(o.paulis) for o in request.observables or []]
    if prepared.layout is not None:
        observables = [o.apply_layout(prepared.layout) for o in observables]
    return observables


def _run(
    circuit: QuantumCircuit,
    values: np.ndarray | None,
    observables: list[Any],
    request: ExecutionRequest,
    backend: Any,
    method: str,
) -> PrimitiveResult:
    from qiskit_argo import circuits

    seed = request.aer.seed
    try:
        if request.primitive == Primitive.ESTIMATOR.value:
            from qiskit_aer.primitives import EstimatorV2

            options: dict[str, Any] = {"run_options": {"seed_simulator": seed} if seed is not None else {}}
            estimator = EstimatorV2.from_backend(backend, options=options)
            pub = circuits.estimator_pub(circuit, observables, values, request.precision or 0.0)
            return estimator.run([pub]).result()
        from qiskit_aer.primitives import SamplerV2

        sampler = SamplerV2.from_backend(backend, seed=seed)
        pub = circuits.sampler_pub(circuit, values, request.shots or 1024)
        return sampler.run([pub]).result()
    except QiskitArgoError:
        raise
    except Exception as error:  # noqa: BLE001 - Aer raises AerError, QiskitError, RuntimeError, ...
        raise _classify(error, method) from None


# --------------------------------------------------------------------------- counting


def _format_keys(keys: np.ndarray, num_bits: int) -> list[str]:
    width = max(num_bits, 1)
    return [format(key, f"0{width}b") for key in keys.tolist()]


def _packed_counts(array: np.ndarray, num_bits: int) -> list[dict[str, int]]:
    """Counts of a packed ``(bindings, shots, bytes)`` uint8 array, one dict per binding.

    Up to 64 bits each shot becomes one integer key. Small outcome spaces are histogrammed with
    one ``np.bincount`` over (binding, key); larger ones are sorted per binding and runs of equal
    keys counted. Either way there is no Python loop over shots, only over distinct outcomes.
    """
    bindings, shots, num_bytes = array.shape
    if bindings == 0:
        return []
    if shots == 0:
        return [{} for _ in range(bindings)]
    if num_bytes > 8:
        return _wide_counts(array, num_bits)
    keys = np.zeros((bindings, shots), dtype=np.uint64)
    for column in range(num_bytes):
        keys = (keys << np.uint64(8)) | array[:, :, column].astype(np.uint64)
    if num_bits < 64:
        keys &= np.uint64((1 << num_bits) - 1)
    if num_bits <= _BINCOUNT_BITS and bindings << num_bits <= _BINCOUNT_CELLS:
        space = 1 << num_bits
        offsets = (np.arange(bindings, dtype=np.int64) * space)[:, None]
        histogram = np.bincount((keys.astype(np.int64) + offsets).ravel(), minlength=bindings * space)
        cells = np.flatnonzero(histogram)
        sizes = histogram[cells].tolist()
        rows = cells // space
        outcomes: np.ndarray = cells - rows * space
    else:
        flat = np.sort(keys, axis=1).ravel()
        starts = np.empty(flat.size, dtype=bool)
        starts[0] = True
        np.not_equal(flat[1:], flat[:-1], out=starts[1:])
        starts[::shots] = True
        first = np.flatnonzero(starts)
        sizes = np.diff(np.append(first, flat.size)).tolist()
        rows = first // shots
        outcomes = flat[first]
    distinct, which = np.unique(outcomes, return_inverse=True)
    names = _format_keys(distinct, num_bits)
    labels = [names[i] for i in which.tolist()]
    bounds = np.searchsorted(rows, np.arange(bindings + 1)).tolist()
    return [dict(zip(labels[lo:hi], sizes[lo:hi], strict=True)) for lo, hi in zip(bounds, bounds[1:], strict=False)]


def _wide_counts(array: np.ndarray, num_bits: int) -> list[dict[str, int]]:
    """Counts for registers wider than 64 bits: one ``np.unique`` per binding."""
    bindings, shots, num_bytes = array.shape
    mask = (1 << num_bits) - 1
    out: list[dict[str, int]] = []
    rows = np.ascontiguousarray(array).view(np.dtype((np.void, num_bytes))).reshape(bindings, shots)
    for b in range(bindings):
        distinct, sizes = np.unique(rows[b], return_counts=True)
        out.append(
            {
                format(int.from_bytes(item.tobytes(), "big") & mask, f"0{num_bits}b"): int(size)
                for item, size in zip(distinct, sizes, strict=True)
            }
        )
    return out


def counts_per_binding(bits: BitArray) -> list[dict[str, int]]:
    """One counts dict per binding (C order of the bit array's shape; ``[all]`` for shape ``()``).

    Equal to ``[bits.get_counts(i) for i in ...]`` without the per-shot Python loop.
    """
    array = np.asarray(bits.array)
    return _packed_counts(array.reshape(-1, bits.num_shots, array.shape[-1]), bits.num_bits)


# --------------------------------------------------------------------------- documents


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _finite(values: np.ndarray) -> list[Any]:
    return [v if math.isfinite(v) else None for v in values.tolist()]


def _versions() -> dict[str, str]:
    import qiskit
    import qiskit_aer

    return {"qiskit_version": qiskit.__version__, "qiskit_aer_version": qiskit_aer.__version__}


def result_document(
    result: PrimitiveResult,
    request: ExecutionRequest,
    backend_status: BackendStatus,
    prepared: Prepared,
) -> dict[str, Any]:
    """The full, untruncated ``result.json`` document (shape in the module docstring)."""
    num_bindings = max(len(request.parameter_values), 1)
    pub: dict[str, Any] = {
        "parameter_names": list(request.parameter_names),
        "parameter_values": request.parameter_values,
        "num_bindings": num_bindings,
    }
    pub_results = []
    for pub_result in result:
        data: dict[str, Any] = {}
        if request.primitive == Primitive.ESTIMATOR.value:
            evs = np.asarray(pub_result.data.evs, dtype=float).reshape(num_bindings, -1)
            stds = np.asarray(pub_result.data.stds, dtype=float).reshape(num_bindings, -1)
            data = {"evs": [_finite(row) for row in evs], "stds": [_finite(row) for row in stds]}
        else:
            for name, bits in pub_result.data.items():
                data[name] = {
                    "num_bits": bits.num_bits,
                    "num_shots": bits.num_shots,
                    "counts": counts_per_binding(bits),
                }
        pub_results.append({"data": data, "metadata": _jsonable(dict(pub_result.metadata))})
    if request.primitive == Primitive.ESTIMATOR.value:
        pub["precision"] = request.precision or 0.0
        pub["observables"] = [dict(o.paulis) for o in request.observables or []]
    else:
        pub["shots"] = request.shots
    return {
        "primitive": request.primitive,
        "job": {"name": request.job_name, "namespace": request.namespace},
        "backend": {
            "name": backend_status.name,
            "method": backend_status.method or request.aer.method,
            "noise_model": request.aer.noise_model,
            "seed": request.aer.seed,
        },
        "pubs": [pub],
        "pub_results": pub_results,
        "metadata": {
            **_jsonable(dict(result.metadata)),
            "transpiled": prepared.transpiled,
            "optimization_level": prepared.optimization_level,
            **_versions(),
        },
    }


def _top(counts: dict[str, int], keep: int) -> dict[str, int]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return dict(ranked[:keep])


def _joined_first_binding(result: PrimitiveResult) -> dict[str, int]:
    pub_result = result[0]
    registers = list(pub_result.data.values())
    if not registers:
        return {}
    bits = registers[0] if len(registers) == 1 else pub_result.join_data()
    array = np.asarray(bits.array).reshape(-1, bits.num_shots, bits.array.shape[-1])
    return _packed_counts(array[:1], bits.num_bits)[0] if array.shape[0] else {}


def summarize(
    result: PrimitiveResult,
    request: ExecutionRequest,
    document: dict[str, Any] | None = None,
) -> ResultSummary:
    """The bounded digest that goes into the job's status."""
    num_bindings = max(len(request.parameter_values), 1)
    if request.primitive == Primitive.ESTIMATOR.value:
        evs = np.asarray(result[0].data.evs, dtype=float).ravel()
        stds = np.asarray(result[0].data.stds, dtype=float).ravel()
        return ResultSummary(
            primitive=request.primitive,
            num_pubs=len(result),
            num_bindings=num_bindings,
            expectation_values=[float(v) for v in evs[:MAX_SUMMARY_VALUES]],
            standard_errors=[float(v) for v in stds[:MAX_SUMMARY_VALUES]],
            truncated=bool(evs.size > MAX_SUMMARY_VALUES),
        )
    registers = document["pub_results"][0]["data"] if document else None
    if registers is not None and len(registers) == 1:
        first = next(iter(registers.values()))["counts"][0]
    else:
        first = _joined_first_binding(result)
    return ResultSummary(
        primitive=request.primitive,
        num_pubs=len(result),
        num_bindings=num_bindings,
        shots=request.shots,
        top_counts=_top(first, TOP_COUNTS),
        truncated=len(first) > TOP_COUNTS or num_bindings > 1,
    )


def execute(
    circuit: QuantumCircuit,
    request: ExecutionRequest,
    backend_status: BackendStatus,
) -> tuple[dict[str, Any], ResultSummary]:
    """Prepare, run and digest: the ``result.json`` document and the summary."""
    method = backend_status.method or request.aer.method
    backend = simulator(method, request.aer.noise_model)
    prepared = prepare_circuit(
        circuit,
        backend,
        noisy=bool(request.aer.noise_model),
        optimization_level=request.optimization_level,
        seed=request.aer.seed,
    )
    result = run_pub(prepared, request, backend)
    document = result_document(result, request, backend_status, prepared)
    return document, summarize(result, request, document)


# --------------------------------------------------------------------------- the step


def _check_backend(status: BackendStatus) -> None:
    if status.type not in (None, "aer"):
        raise InvalidJobError(
            f"backend parameter: execute-aer cannot run on backend {status.name!r} of type {status.type}"
        )


def _aer_target(request: ExecutionRequest, target_json: str | None) -> ExecutionRequest:
    """The request with the Aer options the schedule step settled on (an aer QiskitBackend's
    defaults under the job's own: ``target.json``'s ``aer``); unchanged for the built-in Aer."""
    if not target_json:
        return request
    try:
        target = json.loads(target_json)
    except json.JSONDecodeError:
        raise InvalidJobError("target parameter: not JSON; the schedule step writes target.json") from None
    if not isinstance(target, dict) or target.get("aer") is None:
        return request
    options = parse_parameter(AerOptions, json.dumps(target["aer"]), "target.aer")
    return request.model_copy(update={"aer": options})


def run_step(
    circuit_file: Path, request_file: Path, backend_json: str, out_dir: Path, target_json: str | None = None
) -> None:
    """The execute-aer step: write ``result.json`` (full) and ``summary.json`` (bounded)."""
    from qiskit_argo.circuits import circuit_from_qpy

    request = _aer_target(load_request(request_file), target_json)
    status = parse_parameter(BackendStatus, backend_json, "backend")
    _check_backend(status)
    circuit = circuit_from_qpy(read_artifact(circuit_file, "circuit"), field="circuit artifact")
    document, summary = execute(circuit, request, status)
    write_outputs(out_dir, document, summary)


def write_outputs(out_dir: Path, document: dict[str, Any], summary: ResultSummary) -> None:
    """Write an execute step's ``result.json`` (full) and ``summary.json`` (bounded): execute-aer's
    and ibm-wait's, the same files for store-results."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # json.dumps (not json.dump) so the C encoder does the work: 10x faster on big sweeps.
    (out_dir / "result.json").write_text(json.dumps(document, separators=(",", ":"), allow_nan=False))
    (out_dir / "summary.json").write_text(json.dumps(summary.dump()))
