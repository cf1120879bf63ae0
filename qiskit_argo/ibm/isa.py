"""ISA circuits for an IBM backend: the job's PUBs transpiled for the device's target, as IBM requires.

IBM Quantum (and local testing mode, which checks the same) runs only circuits made of the
backend's native instructions on its physical qubits. ``isa_request`` transpiles each PUB's
circuit with ``generate_preset_pass_manager(optimization_level=..., backend=...)`` (seeded with
``spec.backend.aer.seed`` when there is one, so a run repeats), makes that PUB's estimator
observables follow its layout (``SparsePauliOp.apply_layout(isa.layout)``), orders every binding's
values (the ``bindings`` directory, ``qiskit_argo.sweeps.load_values``) as the transpiled
circuit's parameters, and builds one ``SubmitRequest`` holding every PUB in the job's order (one
IBM job, so one identity tag, one overhead): shots (sampler), precision and ``resilience_level``
(estimator; unset leaves IBM's default 1), ``max_execution_time`` — from the request. IBM runs all
PUBs of a job with the same shots or precision (``check_uniform`` refuses PUBs that differ). If
optimization removed a swept parameter of a PUB, that PUB is transpiled again at level 0 (every
binding must still bind), as ``execute-aer`` does for a noise model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qiskit_argo.api import Primitive
from qiskit_argo.errors import InvalidCircuitError, InvalidJobError, one_line, quote
from qiskit_argo.ibm.service import SubmitRequest
from qiskit_argo.request import ExecutionRequest, PubRequest

if TYPE_CHECKING:
    import numpy as np
    from qiskit.circuit import QuantumCircuit

__all__ = ["DEFAULT_SHOTS", "transpile_for", "pub_field", "check_uniform", "isa_pub", "isa_request"]

#: The sampler's shots per binding when a PUB sets none (``spec.shots``' default).
DEFAULT_SHOTS = 1024


def pub_field(request: ExecutionRequest, index: int, name: str) -> str:
    """The spec field an error about PUB ``index`` names: ``spec.<name>`` for a job of one PUB
    (the single-circuit form), ``spec.pubs[i].<name>`` otherwise."""
    return f"spec.{name}" if len(request.pubs) == 1 else f"spec.pubs[{index}].{name}"


def transpile_for(
    circuit: QuantumCircuit, backend: Any, level: int, seed: int | None, *, field: str = "spec.circuit"
) -> QuantumCircuit:
    """``circuit`` as an ISA circuit of ``backend`` (its target), or a one-line ``InvalidCircuitError``."""
    from qiskit.transpiler import generate_preset_pass_manager

    device = one_line(backend.name, 40)
    if circuit.num_qubits > backend.num_qubits:
        raise InvalidCircuitError(
            f"{field}: {circuit.num_qubits} qubits, but {device} has {backend.num_qubits}; use fewer qubits or "
            "a larger backend"
        )
    try:
        manager = generate_preset_pass_manager(optimization_level=level, backend=backend, seed_transpiler=seed)
        return manager.run(circuit)
    except Exception as error:  # noqa: BLE001 - TranspilerError and friends: the circuit does not fit the device
        raise InvalidCircuitError(
            one_line(
                f"{field}: cannot compile the circuit for {device} "
                f"({one_line(str(error) or type(error).__name__, 120)}); use gates with definitions and "
                "control flow the device supports, or another backend"
            )
        ) from None


def _values(isa: QuantumCircuit, pub: PubRequest, rows: np.ndarray | None, field: str) -> np.ndarray | None:
    """The PUB's binding rows (columns in ``pub.parameter_names`` order), columns in the ISA
    circuit's parameter order."""
    import numpy as np

    if rows is None or isa.num_parameters == 0:
        return None
    values = np.asarray(rows, dtype=float).reshape(-1, len(pub.parameter_names))
    index = {name: i for i, name in enumerate(pub.parameter_names)}
    missing = [p.name for p in isa.parameters if p.name not in index]
    if missing:
        raise InvalidCircuitError(
            f"{field}: no value for parameter {quote(missing[0])} of the circuit; give one value per "
            "circuit parameter in every binding"
        )
    return values[:, [index[p.name] for p in isa.parameters]]


def _observables(isa: QuantumCircuit, pub: PubRequest, field: str) -> list[Any]:
    """The PUB's observables as ``SparsePauliOp``, following the ISA circuit's layout."""
    from qiskit_argo import circuits

    observables = []
    for i, observable in enumerate(pub.observables or []):
        if not all(math.isfinite(coefficient) for coefficient in observable.paulis.values()):
            raise InvalidJobError(f"{field}[{i}]: a coefficient is not a finite number; use finite numbers")
        operator = circuits.sparse_pauli_op(observable.paulis)
        observables.append(operator.apply_layout(isa.layout) if isa.layout is not None else operator)
    return observables


def isa_pub(
    circuit: QuantumCircuit, request: ExecutionRequest, index: int, rows: np.ndarray | None, backend: Any
) -> tuple[tuple[Any, ...], QuantumCircuit]:
    """PUB ``index`` of the request as a PUB-like of IBM's primitives on ``backend``, and its ISA circuit.

    ``rows``: its binding rows (``qiskit_argo.sweeps.load_values``), ``None`` when unparameterized."""
    pub = request.pubs[index]
    level = request.optimization_level
    field = pub_field(request, index, "circuit")
    isa = transpile_for(circuit, backend, level, request.aer.seed, field=field)
    if len(isa.parameters) != len(circuit.parameters) and level > 0:
        isa = transpile_for(circuit, backend, 0, request.aer.seed, field=field)
    values = _values(isa, pub, rows, pub_field(request, index, "parameterValues"))
    if request.primitive == Primitive.ESTIMATOR.value:
        observables = _observables(isa, pub, pub_field(request, index, "observables"))
        if values is not None:
            values = values.reshape(values.shape[0], 1, values.shape[1])  # broadcast against (observables,)
        precision = pub.precision if pub.precision else None
        if values is None and precision is None:
            return (isa, observables), isa
        return (isa, observables, values, precision), isa
    return (isa, values, pub.shots or DEFAULT_SHOTS), isa


def check_uniform(request: ExecutionRequest) -> None:
    """IBM runs every PUB of one job with the same shots (sampler) or precision (estimator):
    qiskit-ibm-runtime's ``executor_sampler``/``executor_estimator`` refuse PUBs that differ
    ("All pubs must have the same number of shots"). Refuse such a job in one line first."""
    if request.primitive == Primitive.ESTIMATOR.value:
        name, values = "precision", [pub.precision or None for pub in request.pubs]
        shown = [str(value) if value is not None else "unset" for value in values]
    else:
        name, values = "shots", [pub.shots or DEFAULT_SHOTS for pub in request.pubs]
        shown = [str(value) for value in values]
    for index, value in enumerate(values):
        if value != values[0]:
            raise InvalidJobError(
                f"spec.pubs[{index}].{name}: {shown[index]}, but spec.pubs[0].{name} is {shown[0]}; IBM Quantum runs "
                f"every PUB of a job with the same {name}: give every PUB the same {name}, or run them on Aer"
            )


def isa_request(
    circuits: Sequence[QuantumCircuit],
    request: ExecutionRequest,
    backend: Any,
    bindings: Path | None,
    *,
    session_id: str | None = None,
    seed: int | None = None,
) -> tuple[SubmitRequest, list[QuantumCircuit]]:
    """The ``SubmitRequest`` running every PUB of ``request`` on ``backend`` (an ``IBMBackend`` or a
    fake one) in one job, in the request's order, and each PUB's ISA circuit. ``circuits``: the
    ``circuit`` artifact's circuits (``PubRequest.circuit`` indexes them); ``bindings``: the
    ``bindings`` directory. ``seed`` seeds, on a fake backend, the simulator."""
    from qiskit_argo.sweeps import load_values

    check_uniform(request)
    pubs: list[tuple[Any, ...]] = []
    isas: list[QuantumCircuit] = []
    for index, pub in enumerate(request.pubs):
        if not 0 <= pub.circuit < len(circuits):
            raise InvalidJobError(
                f"request artifact: PUB {index} names circuit {pub.circuit}, but the circuit artifact holds "
                f"{len(circuits)}; the validate step writes both"
            )
        rows = None
        if pub.values is not None:
            if bindings is None:
                raise InvalidJobError(
                    f"PUB {index} has parameter values but no bindings artifact came; the validate step writes it"
                )
            rows = load_values(bindings, index, 0, max(1, pub.num_bindings))
        pub_like, isa = isa_pub(circuits[pub.circuit], request, index, rows, backend)
        pubs.append(pub_like)
        isas.append(isa)
    options = request.ibm
    if request.primitive == Primitive.ESTIMATOR.value:
        submit = SubmitRequest(
            backend=str(backend.name),
            primitive="estimator",
            pubs=pubs,
            precision=request.pubs[0].precision or None,
            max_execution_time=options.max_execution_time,
            session_id=session_id,
            seed=seed,
            resilience_level=options.resilience_level,
        )
    else:
        submit = SubmitRequest(
            backend=str(backend.name),
            primitive="sampler",
            pubs=pubs,
            shots=request.pubs[0].shots or DEFAULT_SHOTS,
            max_execution_time=options.max_execution_time,
            session_id=session_id,
            seed=seed,
        )
    return submit, isas
