"""The execute-aer step: run one shard of the job's PUBs on Qiskit Aer primitives and write its part.

The request holds the job's PUBs (``request.pubs``: a circuit of ``circuit.qpy`` each, its bindings
in ``bindings/pub-<i>.npy``, shots or precision and observables). ``spec.execution.shards`` cuts the
bindings of all PUBs, in order, into contiguous ranges (``qiskit_argo.sharding.plan``); a shard
task (``shard`` parameter ``"1-of-4"``) runs ALL its slices in ONE primitive call, one PUB per slice,
reading only its rows of each bindings file (memory-mapped). Its seed is
``sharding.shard_seed(spec.backend.aer.seed, index)``: shard 0 uses the job's seed itself (an
unsharded run is exactly the run of one bare Aer call), so a shard's counts equal bare Aer's
``SamplerV2(seed=shard_seed).run(pubs of that shard)``; the Aer ``EstimatorV2`` gets it as
``seed_simulator``. ``spec.backend.aer.device: GPU`` runs on ``AerSimulator(device="GPU")`` and
fails permanently (``GpuUnavailable``) where Aer has no GPU. Circuit preparation, per PUB:

* ideal simulation: the circuit runs as written (Aer fuses gates itself); custom gates (e.g. an
  OpenQASM ``gate`` definition) are replaced by their definitions (``circuits.flatten``, memoised,
  so nested definitions cost their expanded size once, not a transpiler pass per level), other
  instructions Aer does not know are decomposed, and only if that is not enough is the circuit
  transpiled for the simulator at ``optimizationLevel``;
* ``noiseModel: FakeXxx``: the simulator is ``AerSimulator.from_backend(FakeXxx())`` and the
  circuit is transpiled for that device with the preset pass manager at ``optimizationLevel``
  and ``seed_transpiler`` = the job's Aer seed (the same in every shard; level 0 if optimization
  removed a swept parameter); estimator observables follow the layout. qiskit-ibm-runtime is
  imported only then.

The part (``out/part.json``, ``PART_VERSION`` 3) is what store-results merges
(``qiskit_argo.results.merge_parts``)::

    {
      "version": 3, "shard": "1-of-4", "seed": int | null,          # the shard's seed
      "primitive": "sampler" | "estimator",
      "job": {"name": str, "namespace": str},
      "backend": {"name": str, "method": str, "noise_model": str | null,
                  "seed": int | null,                                # the job's seed
                  "device": "CPU" | "GPU"},
      "pub_results": [{                  # one per slice, in PUB order
        "pub": int, "start": int, "stop": int,      # rows start..stop-1 of PUB pub
        "data": {                        # sampler: one entry per classical register
          "<creg>": {"num_bits": int, "num_shots": int,
                     "counts": [{"<bitstring>": int}, ...]}   # one dict per row, in order
        }
        | {"evs": [[float]], "stds": [[float]]},               # estimator: [row][observable]
        "metadata": {...},               # Aer's pub metadata (shots / target_precision, simulator)
        "joined_counts": {"<bits>": int} # the first row's counts of all registers joined (slice
                                         # starting at row 0 of a PUB of several registers)
      }],
      "metadata": {"transpiled": bool, "optimization_level": int | null, "transpiled_pubs": [int],
                   "qiskit_version": str, "qiskit_aer_version": str, ...},
      "ibm": {...}                       # ibm-wait's part only
    }

Bitstrings are Qiskit's: clbit 0 rightmost. ``part_header``, ``pub_result_entry`` and
``write_part`` build and write a part for any executor (ibm-wait writes the one part, ``0-of-1``,
of an IBM run).

Failures: whatever Aer refuses because of the circuit or the request (unknown instructions, an
instruction the chosen method cannot simulate, a condition it cannot evaluate, its own memory
estimate over the limit, observables or parameter values it rejects) is a permanent error worded
here, naming the field to change; Aer's own text is never passed on. Only failures that may pass
on a retry (memory allocation failing at run time, an interrupted or failed system call) are
transient.

Pure logic (``prepare_circuit``, ``run_pubs``, ``pub_result_entry``, ``execute_shard``,
``counts_per_binding``) is separate from the file wrapper ``run_step``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qiskit_argo import sharding, sweeps
from qiskit_argo.api import AerOptions, BackendStatus, Observable, Primitive
from qiskit_argo.errors import (
    ExecutionError,
    InvalidCircuitError,
    InvalidJobError,
    LimitExceededError,
    PermanentError,
    QiskitArgoError,
    one_line,
)
from qiskit_argo.progress import ProgressFile
from qiskit_argo.reasons import Reason
from qiskit_argo.request import ExecutionRequest, PubRequest
from qiskit_argo.results import MAX_SUMMARY_VALUES, TOP_COUNTS
from qiskit_argo.stepio import load_request, parse_parameter, read_artifact

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit
    from qiskit.primitives import PrimitiveResult
    from qiskit.primitives.containers import BitArray

__all__ = [
    "TOP_COUNTS",
    "MAX_SUMMARY_VALUES",
    "PART_VERSION",
    "DEFAULT_SHOTS",
    "Prepared",
    "fake_backend",
    "gpu_available",
    "aer_threads",
    "simulator",
    "prepare_circuit",
    "observables_for",
    "load_circuits",
    "shard_slices",
    "run_pubs",
    "counts_per_binding",
    "joined_counts",
    "pub_result_entry",
    "part_header",
    "versions",
    "execute_shard",
    "write_part",
    "run_step",
]

#: ``part.json``'s (and the merged ``result.json``'s ``metadata``) format version.
PART_VERSION = 3
#: Shots of a sampler PUB that names none (validate always fills them in).
DEFAULT_SHOTS = 1024

_ALWAYS_SUPPORTED = frozenset({"measure", "barrier", "reset", "delay", "store"})
_MAX_UNROLL_ROUNDS = 8
# Counting by histogram needs bindings * 2^bits cells; above these sizes sort instead.
_BINCOUNT_BITS = 16
_BINCOUNT_CELLS = 1 << 22
_GPU = "GPU"


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


def _available_devices() -> tuple[str, ...]:
    from qiskit_aer import AerSimulator

    with contextlib.suppress(Exception):  # an Aer build that cannot even probe: CPU only
        return tuple(str(device) for device in AerSimulator().available_devices())
    return ("CPU",)


def gpu_available() -> bool:
    """Whether this Qiskit Aer can simulate on a GPU (the qiskit-aer-gpu build on a node with one)."""
    return _GPU in _available_devices()


def _require_gpu() -> None:
    devices = _available_devices()
    if _GPU not in devices:
        raise PermanentError(
            f"spec.backend.aer.device=GPU: this executor has no GPU Qiskit Aer can use (available: "
            f"{', '.join(devices) or 'CPU'}); run on a node with an NVIDIA GPU and the executor-gpu image, "
            "or set device: CPU",
            reason=Reason.GPU_UNAVAILABLE,
        )


def _cgroup_cpus(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The CPU limit of this container from its cgroup (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``),
    rounded up; None without one."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
        return None
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return max(1, math.ceil(quota_us / period_us)) if quota_us > 0 and period_us > 0 else None
    except (OSError, ValueError):
        return None


def aer_threads(environ: Mapping[str, str] | None = None, cgroup: Path = Path("/sys/fs/cgroup")) -> int | None:
    """How many threads Aer may start: ``CPUS_ENV`` when the runner sets it (shards side by side),
    else the container's CPU limit, else None (Aer's own choice: every core it sees). Aer counts the
    node's cores, not the pod's limit, and its OpenMP threads spin while they wait, so more threads
    than CPUs are slower than fewer."""
    from qiskit_argo.steps._contract import CPUS_ENV

    value = (os.environ if environ is None else environ).get(CPUS_ENV, "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    return _cgroup_cpus(cgroup)


def simulator(method: str, noise_model: str | None, device: str = "CPU") -> Any:
    """The ``AerSimulator`` for a method on ``device`` (``CPU``/``GPU``), mimicking a fake
    backend's noise when one is named, with at most ``aer_threads()`` threads."""
    from qiskit_aer import AerError, AerSimulator

    options: dict[str, Any] = {"method": method}
    threads = aer_threads()
    if threads is not None:
        options["max_parallel_threads"] = threads
    if device == _GPU:
        _require_gpu()
        options["device"] = _GPU
    try:
        if noise_model:
            return AerSimulator.from_backend(fake_backend(noise_model), **options)
        return AerSimulator(**options)
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


def _transpile(
    circuit: QuantumCircuit, backend: Any, level: int, seed: int | None, field: str = "spec.circuit"
) -> QuantumCircuit:
    from qiskit.transpiler import generate_preset_pass_manager

    try:
        manager = generate_preset_pass_manager(optimization_level=level, backend=backend, seed_transpiler=seed)
        return manager.run(circuit)
    except Exception as error:  # noqa: BLE001 - TranspilerError and friends: the circuit does not fit
        raise InvalidCircuitError(
            one_line(
                f"{field}: cannot compile the circuit for {one_line(backend.name, 40)} "
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
    field: str = "spec.circuit",
) -> Prepared:
    """The circuit as Aer will run it (see the module docstring for the rules); errors name ``field``."""
    from qiskit_argo import circuits

    circuits.check_circuit(circuit, None, field=field)  # what Aer cannot run, in our words (validate checked it too)
    circuit = circuits.flatten(circuit)
    if noisy:
        device_qubits = backend.num_qubits
        if circuit.num_qubits > device_qubits:
            raise InvalidCircuitError(
                f"spec.backend.aer.noiseModel: the device has {device_qubits} qubits but the circuit ({field}) has "
                f"{circuit.num_qubits}; pick a larger fake backend or drop the noise model"
            )
        isa = _transpile(circuit, backend, optimization_level, seed, field)
        level = optimization_level
        if len(isa.parameters) != len(circuit.parameters) and optimization_level > 0:
            # Optimization removed a parameter; every binding must still bind, so do not optimize.
            isa, level = _transpile(circuit, backend, 0, seed, field), 0
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
    isa = _transpile(circuit, backend, optimization_level, seed, field)
    return Prepared(isa, layout=isa.layout, transpiled=True, optimization_level=optimization_level)


# --------------------------------------------------------------------------- what Aer refuses


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


def _classify(error: BaseException, method: str, spec: str = "spec") -> QiskitArgoError:
    """What a failure of an Aer run means for the job, in our words (never Aer's text).

    Permanent unless the failure may pass on a retry (``_TRANSIENT_MARKERS``, ``MemoryError``,
    ``OSError``): whatever Aer refuses because of the circuit or the request fails the same way
    every time. ``spec`` prefixes the fields named (``spec.pubs[*]`` when several PUBs ran at once).
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
                f"{spec}.circuit: simulating it with method {method}{need}; raise spec.resources.limits.memory, "
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
                f"{spec}.circuit: Qiskit Aer has no instruction {_names(unknown.group(1))} and it has no definition to "
                "expand; define it as a gate of standard gates, or remove it"
            )
        )
    if "unknown op" in lowered or "unsupported expression" in lowered or "invalid value type" in lowered:
        return InvalidCircuitError(
            f"{spec}.circuit: a condition uses an operation Qiskit Aer cannot evaluate; {_CONDITION_TODO}"
        )
    if "observable" in lowered or "hermitian" in lowered:
        return InvalidCircuitError(
            f"{spec}.observables: Qiskit Aer cannot use the observables; give every one a finite coefficient per "
            "Pauli string and one letter per circuit qubit"
        )
    if "number of values" in lowered or "parameter" in lowered or "shape" in lowered or "broadcast" in lowered:
        return InvalidCircuitError(
            f"{spec}.parameterValues: Qiskit Aer cannot bind the parameter values to the circuit; give one finite "
            "value per circuit parameter in every binding"
        )
    return InvalidCircuitError(
        f"{where}: Qiskit Aer cannot run this circuit (it raised {one_line(type(error).__name__, 40)}); use "
        "standard gates, measurements and control flow on bits and registers, or another method"
    )


# --------------------------------------------------------------------------- running


def _spec_prefix(request: ExecutionRequest, index: int | None = None) -> str:
    """Where a PUB's fields live in the QiskitJob: ``spec`` for a job of one PUB, else ``spec.pubs[i]``."""
    if len(request.pubs) <= 1:
        return "spec"
    return f"spec.pubs[{index}]" if index is not None else "spec.pubs[*]"


def _shots(pub: PubRequest) -> int:
    return pub.shots if pub.shots is not None else DEFAULT_SHOTS


def _precision(pub: PubRequest) -> float:
    return pub.precision or 0.0


def load_circuits(data: bytes, field: str = "circuit artifact") -> list[QuantumCircuit]:
    """Every circuit of the ``circuit`` artifact (validate writes one per PUB, in PUB order)."""
    from qiskit_argo.circuits import circuits_from_qpy

    return circuits_from_qpy(data, field=field)


def _circuit_of(circuits: Sequence[QuantumCircuit], pub: PubRequest, index: int) -> QuantumCircuit:
    if not 0 <= pub.circuit < len(circuits):
        raise InvalidJobError(
            f"request artifact: PUB {index} names circuit {pub.circuit} but circuit.qpy holds {len(circuits)}; "
            "the validate step writes both, rerun the job"
        )
    return circuits[pub.circuit]


def _ordered(
    values: np.ndarray | None, prepared: QuantumCircuit, pub: PubRequest, field: str = "spec.parameterValues"
) -> np.ndarray | None:
    """A PUB's binding rows (columns in ``pub.parameter_names`` order) in the prepared circuit's
    parameter order; None when the circuit has no parameters."""
    if values is None or prepared.num_parameters == 0:
        return None
    values = np.asarray(values, dtype=float).reshape(values.shape[0], -1)
    order = [p.name for p in prepared.parameters]
    if order == list(pub.parameter_names):
        return values
    index = {name: i for i, name in enumerate(pub.parameter_names)}
    missing = [name for name in order if name not in index]
    if missing:
        raise InvalidCircuitError(
            f"{field}: no value for parameter {one_line(missing[0], 40)} of the circuit; give one value per "
            "circuit parameter in every binding"
        )
    return values[:, [index[name] for name in order]]


def observables_for(
    prepared: Prepared, observables: Sequence[Observable] | None, field: str = "spec.observables"
) -> list[Any]:
    """The observables as ``SparsePauliOp``, following the transpiled layout."""
    from qiskit_argo import circuits

    for i, observable in enumerate(observables or []):
        if not all(math.isfinite(coefficient) for coefficient in observable.paulis.values()):
            raise InvalidJobError(f"{field}[{i}]: a coefficient is not a finite number; use finite numbers")
    operators = [circuits.sparse_pauli_op(o.paulis) for o in observables or []]
    if prepared.layout is not None:
        operators = [o.apply_layout(prepared.layout) for o in operators]
    return operators


@dataclass(frozen=True)
class _Slice:
    """One slice of a shard, ready to run: the PUB, its rows, and what Aer gets."""

    pub: int
    start: int
    stop: int
    prepared: Prepared
    primitive_pub: Any


def shard_slices(request: ExecutionRequest, shard_id: str) -> tuple[int, list[sharding.Slice]]:
    """The shard's index and its slices (``sharding.plan`` of the request's PUBs)."""
    index, count = sharding.parse_shard_id(shard_id)
    if count != request.shards:
        raise InvalidJobError(
            f"shard parameter: {one_line(shard_id, 20)} is a shard of {count}, but the request has {request.shards} "
            "shards; the schedule step writes the shard ids from the request"
        )
    plan = sharding.plan([pub.num_bindings for pub in request.pubs], count)
    return index, list(plan[index])


def _prepare_slices(
    circuits: Sequence[QuantumCircuit],
    request: ExecutionRequest,
    bindings_dir: Path | None,
    slices: Sequence[sharding.Slice],
    backend: Any,
) -> list[_Slice]:
    from qiskit_argo import circuits as circuit_tools

    prepared_by_pub: dict[int, Prepared] = {}
    observables_by_pub: dict[int, list[Any]] = {}
    out: list[_Slice] = []
    for piece in slices:
        pub = request.pubs[piece.pub]
        prefix = _spec_prefix(request, piece.pub)
        prepared = prepared_by_pub.get(piece.pub)
        if prepared is None:
            prepared = prepare_circuit(
                _circuit_of(circuits, pub, piece.pub),
                backend,
                noisy=bool(request.aer.noise_model),
                optimization_level=request.optimization_level,
                seed=request.aer.seed,  # the job's seed: every shard compiles the same circuit
                field=f"{prefix}.circuit",
            )
            prepared_by_pub[piece.pub] = prepared
        rows = None
        if pub.values is not None and bindings_dir is not None:
            rows = sweeps.load_values(bindings_dir, piece.pub, piece.start, piece.stop)
        values = _ordered(rows, prepared.circuit, pub, f"{prefix}.parameterValues")
        if request.primitive == Primitive.ESTIMATOR.value:
            if piece.pub not in observables_by_pub:
                observables_by_pub[piece.pub] = observables_for(prepared, pub.observables, f"{prefix}.observables")
            primitive_pub = circuit_tools.estimator_pub(
                prepared.circuit, observables_by_pub[piece.pub], values, _precision(pub)
            )
        else:
            primitive_pub = circuit_tools.sampler_pub(prepared.circuit, values, _shots(pub))
        out.append(_Slice(piece.pub, piece.start, piece.stop, prepared, primitive_pub))
    return out


def run_pubs(
    pubs: Sequence[Any],
    primitive: str,
    backend: Any,
    seed: int | None,
    *,
    spec: str = "spec",
) -> PrimitiveResult:
    """Run ``pubs`` (coerced sampler or estimator PUBs) in ONE call of the Aer primitive on
    ``backend``, seeded with ``seed`` (the sampler's ``seed``, the estimator's ``seed_simulator``)."""
    method = str(backend.options.method)
    try:
        with _quiet_aer():
            if primitive == Primitive.ESTIMATOR.value:
                from qiskit_aer.primitives import EstimatorV2

                options: dict[str, Any] = {"run_options": {"seed_simulator": seed} if seed is not None else {}}
                estimator = EstimatorV2.from_backend(backend, options=options)
                return estimator.run(list(pubs)).result()
            from qiskit_aer.primitives import SamplerV2

            sampler = SamplerV2.from_backend(backend, seed=seed)
            return sampler.run(list(pubs)).result()
    except QiskitArgoError:
        raise
    except Exception as error:  # noqa: BLE001 - Aer raises AerError, QiskitError, RuntimeError, ...
        raise _classify(error, method, spec) from None


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


# --------------------------------------------------------------------------- documents


def versions() -> dict[str, str]:
    """``qiskit_version`` and ``qiskit_aer_version`` for a part's ``metadata``."""
    import qiskit
    import qiskit_aer

    return {"qiskit_version": qiskit.__version__, "qiskit_aer_version": qiskit_aer.__version__}


def joined_counts(pub_result: Any) -> dict[str, int] | None:
    """The first binding's counts of a sampler PUB result with every register joined
    (``SamplerPubResult.join_data``); None for fewer than two registers."""
    registers = list(pub_result.data.values())
    if len(registers) < 2:
        return None
    bits = pub_result.join_data()
    array = np.asarray(bits.array).reshape(-1, bits.num_shots, bits.array.shape[-1])
    return _packed_counts(array[:1], bits.num_bits)[0] if array.shape[0] else {}


def pub_result_entry(pub: int, start: int, stop: int, pub_result: Any, primitive: str) -> dict[str, Any]:
    """A part's ``pub_results`` entry: rows ``start..stop-1`` of PUB ``pub`` from a Qiskit PUB result
    (Aer's or IBM's), with the joined counts of the PUB's first binding when it has several registers."""
    size = stop - start
    data: dict[str, Any] = {}
    if primitive == Primitive.ESTIMATOR.value:
        evs = np.asarray(pub_result.data.evs, dtype=float).reshape(size, -1)
        stds = np.asarray(pub_result.data.stds, dtype=float).reshape(size, -1)
        data = {"evs": [_finite(row) for row in evs], "stds": [_finite(row) for row in stds]}
    else:
        for name, bits in pub_result.data.items():
            data[name] = {"num_bits": bits.num_bits, "num_shots": bits.num_shots, "counts": counts_per_binding(bits)}
    entry: dict[str, Any] = {
        "pub": pub,
        "start": start,
        "stop": stop,
        "data": data,
        "metadata": _jsonable(dict(pub_result.metadata)),
    }
    if primitive != Primitive.ESTIMATOR.value and start == 0:
        joined = joined_counts(pub_result)
        if joined is not None:
            entry["joined_counts"] = joined
    return entry


def part_header(
    request: ExecutionRequest,
    backend_status: BackendStatus,
    *,
    shard: str,
    seed: int | None,
    device: str = "CPU",
) -> dict[str, Any]:
    """The fields every part starts with: version, shard and its seed, primitive, job, backend
    (``seed`` there is the job's; ``device`` where it ran). The caller adds ``pub_results``,
    ``metadata`` (and ibm-wait its ``ibm`` block)."""
    return {
        "version": PART_VERSION,
        "shard": shard,
        "seed": seed,
        "primitive": request.primitive,
        "job": {"name": request.job_name, "namespace": request.namespace},
        "backend": {
            "name": backend_status.name,
            "method": backend_status.method or request.aer.method,
            "noise_model": request.aer.noise_model,
            "seed": request.aer.seed,
            "device": device,
        },
    }


def execute_shard(
    circuits: Sequence[QuantumCircuit],
    request: ExecutionRequest,
    bindings_dir: Path | None,
    shard_id: str,
    backend_status: BackendStatus,
    *,
    progress: ProgressFile | None = None,
) -> dict[str, Any]:
    """Run shard ``shard_id`` of the request (all its slices in one primitive call) and return its part."""
    index, slices = shard_slices(request, shard_id)
    seed = sharding.shard_seed(request.aer.seed, index)
    device = request.aer.device
    method = backend_status.method or request.aer.method
    total = sum(piece.stop - piece.start for piece in slices)
    progress = progress if progress is not None else ProgressFile(total)
    progress.start()
    backend = simulator(method, request.aer.noise_model, device)
    ready = _prepare_slices(circuits, request, bindings_dir, slices, backend)
    pub_results: list[dict[str, Any]] = []
    result_metadata: dict[str, Any] = {}
    if ready:
        result = run_pubs(
            [piece.primitive_pub for piece in ready],
            request.primitive,
            backend,
            seed,
            spec=_spec_prefix(request),
        )
        result_metadata = _jsonable(dict(result.metadata))
        for piece, pub_result in zip(ready, result, strict=True):
            pub_results.append(pub_result_entry(piece.pub, piece.start, piece.stop, pub_result, request.primitive))
    transpiled = sorted({piece.pub for piece in ready if piece.prepared.transpiled})
    levels = [piece.prepared.optimization_level for piece in ready if piece.prepared.transpiled]
    document = part_header(request, backend_status, shard=shard_id, seed=seed, device=device)
    document["pub_results"] = pub_results
    document["metadata"] = {
        **result_metadata,
        "transpiled": bool(transpiled),
        "optimization_level": levels[0] if levels else None,
        "transpiled_pubs": transpiled,
        **versions(),
    }
    progress.finish()
    return document


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


def write_part(out_dir: Path, document: Mapping[str, Any]) -> Path:
    """Write ``out_dir/part.json`` (compact, strict JSON) atomically; returns its path."""
    from qiskit_argo.steps._contract import PART_FILE

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / PART_FILE
    temporary = out_dir / f".{PART_FILE}.tmp"
    # json.dumps (not json.dump) so the C encoder does the work: 10x faster on big sweeps.
    temporary.write_text(json.dumps(document, separators=(",", ":"), allow_nan=False))
    os.replace(temporary, path)
    return path


def run_step(
    circuit_file: Path,
    request_file: Path,
    bindings_dir: Path | None,
    backend_json: str,
    shard: str,
    out_dir: Path,
    target_json: str | None = None,
) -> Path:
    """The execute-aer step (every variant): run shard ``shard`` and write ``out_dir/part.json``."""
    request = _aer_target(load_request(request_file), target_json)
    status = parse_parameter(BackendStatus, backend_json, "backend")
    _check_backend(status)
    circuits = load_circuits(read_artifact(circuit_file, "circuit"))
    document = execute_shard(circuits, request, bindings_dir, shard, status)
    return write_part(out_dir, document)
