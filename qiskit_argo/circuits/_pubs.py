"""The one PUB a job runs: the circuit and the whole parameter sweep as one bindings array.

Estimator observables broadcast against the bindings, so results read ``evs[binding, observable]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from qiskit_argo.errors import InvalidCircuitError

if TYPE_CHECKING:
    import numpy as np
    from qiskit.circuit import QuantumCircuit
    from qiskit.primitives.containers.estimator_pub import EstimatorPub
    from qiskit.primitives.containers.sampler_pub import SamplerPub
    from qiskit.quantum_info import SparsePauliOp

__all__ = ["sparse_pauli_op", "sampler_pub", "estimator_pub"]


def sparse_pauli_op(paulis: Mapping[str, float]) -> SparsePauliOp:
    """``{"ZZ": 1.0, "XX": 0.5}`` as a ``SparsePauliOp`` (qubit 0 is the rightmost letter)."""
    from qiskit.quantum_info import SparsePauliOp

    return SparsePauliOp.from_list(list(paulis.items()))


def _values_array(parameter_values: Sequence[Sequence[float]] | np.ndarray | None, num_parameters: int) -> Any:
    import numpy as np

    if num_parameters == 0 or parameter_values is None or len(parameter_values) == 0:
        return None
    array = np.asarray(parameter_values, dtype=float)
    if array.ndim != 2 or array.shape[1] != num_parameters:
        raise InvalidCircuitError(
            f"parameter values have shape {array.shape}; expected (bindings, {num_parameters}) "
            "in the circuit's parameter order"
        )
    return array


def sampler_pub(
    circuit: QuantumCircuit,
    parameter_values: Sequence[Sequence[float]] | np.ndarray | None,
    shots: int,
) -> SamplerPub:
    """One sampler PUB: the circuit, every binding as one bindings array (shape ``(bindings,)``)."""
    from qiskit.primitives.containers.sampler_pub import SamplerPub

    values = _values_array(parameter_values, circuit.num_parameters)
    return SamplerPub.coerce((circuit, values, shots))


def estimator_pub(
    circuit: QuantumCircuit,
    observables: Sequence[SparsePauliOp],
    parameter_values: Sequence[Sequence[float]] | np.ndarray | None,
    precision: float,
) -> EstimatorPub:
    """One estimator PUB whose result has shape ``(bindings, observables)``, or ``(observables,)``
    for an unparameterized circuit.

    The bindings get shape ``(bindings, 1)`` so they broadcast against the ``(observables,)`` array.
    """
    from qiskit.primitives.containers.estimator_pub import EstimatorPub

    values = _values_array(parameter_values, circuit.num_parameters)
    if values is not None:
        values = values.reshape(values.shape[0], 1, values.shape[1])
    return EstimatorPub.coerce((circuit, list(observables), values, precision))
