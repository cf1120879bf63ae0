"""Custom gates replaced by their definitions, so QPY stays linear in the circuit's size.

QPY stores a custom gate's definition once per call, so a nested gate-definition bomb would
serialise exponentially; flattened, the circuit holds only library gates and control flow.
Expansions are memoised per definition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qiskit_argo.circuits._expansion import definition, kind, params_key
from qiskit_argo.circuits._limits import MAX_NESTING, Refused

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit

__all__ = ["flatten"]

#: An operation with the indices of its qubits and clbits in the circuit it is placed in.
_Placed = tuple[Any, tuple[int, ...], tuple[int, ...]]


class _Flattener:
    """Replaces custom gates (and boxes) by their definitions, memoised per definition."""

    def __init__(self) -> None:
        self.memo: dict[Any, tuple[list[_Placed], Any]] = {}
        self.alive: list[Any] = []  # keeps memoised definitions alive, so their ids stay unique

    @staticmethod
    def needed(circuit: QuantumCircuit, depth: int = 0) -> bool:
        for instruction in circuit.data:
            op_kind = kind(instruction.operation)
            if op_kind in ("custom", "box"):
                return True
            if (
                op_kind == "flow"
                and depth < MAX_NESTING
                and any(_Flattener.needed(block, depth + 1) for block in instruction.operation.blocks)
            ):
                return True
        return False

    def circuit(self, circuit: QuantumCircuit, depth: int = 0) -> QuantumCircuit:
        from qiskit.circuit import CircuitInstruction

        if depth > MAX_NESTING or not self.needed(circuit):
            return circuit
        operations, phase = self.operations(circuit, depth)
        out = circuit.copy_empty_like()
        out.global_phase = phase
        qubit_at, clbit_at = out.qubits.__getitem__, out.clbits.__getitem__
        seen: set[int] = set()
        append = out._append
        for op, qs, cs in operations:
            if getattr(op, "_standard_gate", None) is None:
                if id(op) in seen:
                    op = op.copy()  # one object per place: parameter binding may change it in place
                seen.add(id(op))
            append(CircuitInstruction(op, tuple(map(qubit_at, qs)), tuple(map(clbit_at, cs))))
        return out

    def operations(self, circuit: QuantumCircuit, depth: int) -> tuple[list[_Placed], Any]:
        qubit_index = {bit: i for i, bit in enumerate(circuit.qubits)}
        clbit_index = {bit: i for i, bit in enumerate(circuit.clbits)}
        out: list[_Placed] = []
        phase = circuit.global_phase
        for instruction in circuit.data:
            op = instruction.operation
            qs = tuple(qubit_index[bit] for bit in instruction.qubits)
            cs = tuple(clbit_index[bit] for bit in instruction.clbits)
            op_kind = kind(op)
            if op_kind in ("leaf", "library", "annotated"):
                out.append((op, qs, cs))
                continue
            if op_kind == "flow":
                out.append((op.replace_blocks([self.circuit(block, depth + 1) for block in op.blocks]), qs, cs))
                continue
            expanded = self.expand(op, depth)
            if expanded is None:
                out.append((op, qs, cs))
                continue
            operations, inner_phase = expanded
            phase = phase + inner_phase
            if qs == tuple(range(len(qs))) and cs == tuple(range(len(cs))):
                out.extend(operations)
            else:
                qubit_at, clbit_at = qs.__getitem__, cs.__getitem__
                out.extend([(o, tuple(map(qubit_at, q)), tuple(map(clbit_at, c))) for o, q, c in operations])
        return out, phase

    def expand(self, op: Any, depth: int) -> tuple[list[_Placed], Any] | None:
        if op.name == "box" and kind(op) == "box":
            return self.operations(op.blocks[0], depth)
        built = getattr(op, "_definition", None)
        params = params_key(op)
        key: Any = ("definition", id(built)) if built is not None else None
        if key is None and params is not None:
            key = ("lazy", getattr(op, "base_class", type(op)), op.name, op.num_qubits, op.num_clbits, params)
        if key is not None and key in self.memo:
            return self.memo[key]
        if depth >= MAX_NESTING:
            return None
        try:
            expanded = definition(op)
        except Refused:
            return None
        if expanded is None:
            return None
        result = self.operations(expanded, depth + 1)
        if key is not None:
            self.memo[key] = result
            self.alive.append(expanded)
        return result


def flatten(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` with every custom gate replaced by its definition, recursively (inside control
    flow too) and boxes opened; standard-library gates, Aer's native instructions and other Qiskit
    library gates stay as they are. Returns ``circuit`` itself when there is nothing to expand.

    Expansions are memoised per definition, so the work is linear in the size of the result:
    bound that first with ``check_circuit``.
    """
    return _Flattener().circuit(circuit)
