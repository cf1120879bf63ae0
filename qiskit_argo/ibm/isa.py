"""ISA circuits for an IBM backend: the job's PUB transpiled for the device's target, as IBM requires.

IBM Quantum (and local testing mode, which checks the same) runs only circuits made of the
backend's native instructions on its physical qubits. ``isa_request`` transpiles the job's
circuit with ``generate_preset_pass_manager(optimization_level=..., backend=...)`` (seeded with
``spec.backend.aer.seed`` when there is one, so a run repeats), makes estimator observables follow
the layout (``SparsePauliOp.apply_layout(isa.layout)``), orders every binding's values as the
transpiled circuit's parameters, and builds the ``SubmitRequest``: shots (sampler), precision and
``resilience_level`` (estimator; unset leaves IBM's default 1), ``max_execution_time`` — from the
request's ``IbmOptions``. If optimization removed a swept parameter, it transpiles again at level 0
(every binding must still bind), as ``execute-aer`` does for a noise model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from qiskit_argo.api import Primitive
from qiskit_argo.errors import InvalidCircuitError, one_line, quote
from qiskit_argo.ibm.service import SubmitRequest
from qiskit_argo.request import ExecutionRequest

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit

    from qiskit_argo.execution import Prepared

__all__ = ["transpile_for", "isa_request"]


def transpile_for(circuit: QuantumCircuit, backend: Any, level: int, seed: int | None) -> QuantumCircuit:
    """``circuit`` as an ISA circuit of ``backend`` (its target), or a one-line ``InvalidCircuitError``."""
    from qiskit.transpiler import generate_preset_pass_manager

    device = one_line(backend.name, 40)
    if circuit.num_qubits > backend.num_qubits:
        raise InvalidCircuitError(
            f"spec.circuit: {circuit.num_qubits} qubits, but {device} has {backend.num_qubits}; use fewer qubits or "
            "a larger backend"
        )
    try:
        manager = generate_preset_pass_manager(optimization_level=level, backend=backend, seed_transpiler=seed)
        return manager.run(circuit)
    except Exception as error:  # noqa: BLE001 - TranspilerError and friends: the circuit does not fit the device
        raise InvalidCircuitError(
            one_line(
                f"spec.circuit: cannot compile the circuit for {device} "
                f"({one_line(str(error) or type(error).__name__, 120)}); use gates with definitions and "
                "control flow the device supports, or another backend"
            )
        ) from None


def _values(isa: QuantumCircuit, request: ExecutionRequest) -> np.ndarray | None:
    """The request's binding rows, columns in the ISA circuit's parameter order."""
    if not request.parameter_values or isa.num_parameters == 0:
        return None
    values = np.asarray(request.parameter_values, dtype=float)
    index = {name: i for i, name in enumerate(request.parameter_names)}
    missing = [p.name for p in isa.parameters if p.name not in index]
    if missing:
        raise InvalidCircuitError(
            f"spec.parameterValues: no value for parameter {quote(missing[0])} of the circuit; give one value per "
            "circuit parameter in every binding"
        )
    return values[:, [index[p.name] for p in isa.parameters]]


def isa_request(
    circuit: QuantumCircuit,
    request: ExecutionRequest,
    backend: Any,
    *,
    session_id: str | None = None,
    seed: int | None = None,
) -> tuple[SubmitRequest, Prepared]:
    """The ``SubmitRequest`` running ``request``'s one PUB on ``backend`` (an ``IBMBackend`` or a fake
    one), and how the circuit was prepared (for ``result.json``). ``seed`` seeds the transpiler and,
    on a fake backend, the simulator."""
    from qiskit_argo.execution import Prepared, observables_for

    level = request.optimization_level
    isa = transpile_for(circuit, backend, level, request.aer.seed)
    if len(isa.parameters) != len(circuit.parameters) and level > 0:
        isa, level = transpile_for(circuit, backend, 0, request.aer.seed), 0
    prepared = Prepared(isa, layout=isa.layout, transpiled=True, optimization_level=level)
    values = _values(isa, request)
    options = request.ibm
    pub: tuple[Any, ...]
    if request.primitive == Primitive.ESTIMATOR.value:
        observables = observables_for(prepared, request)
        if values is not None:
            values = values.reshape(values.shape[0], 1, values.shape[1])  # broadcast against (observables,)
        precision = request.precision if request.precision else None
        pub = (isa, observables, values, precision) if values is not None else (isa, observables)
        if values is None and precision is not None:
            pub = (isa, observables, None, precision)
        submit = SubmitRequest(
            backend=str(backend.name),
            primitive="estimator",
            pubs=[pub],
            precision=precision,
            max_execution_time=options.max_execution_time,
            session_id=session_id,
            seed=seed,
            resilience_level=options.resilience_level,
        )
    else:
        shots = request.shots or 1024
        pub = (isa, values, shots)
        submit = SubmitRequest(
            backend=str(backend.name),
            primitive="sampler",
            pubs=[pub],
            shots=shots,
            max_execution_time=options.max_execution_time,
            session_id=session_id,
            seed=seed,
        )
    return submit, prepared
