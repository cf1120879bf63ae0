"""What Qiskit Aer runs natively, and what it cannot run at all, found before it is asked to.

Aer refuses real-time classical variables, stretch durations and conditions built from operators
it does not evaluate, and runs angles that are not finite silently; these are ``Refused`` here,
in our words, so the validate step fails instead of the execute step.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from qiskit_argo.circuits._limits import Refused
from qiskit_argo.errors import one_line

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit

__all__ = ["AER_NATIVE_INSTRUCTIONS", "check_params", "check_expression", "check_scope"]

#: Instruction names Qiskit Aer 0.18 runs natively (``AerSimulator().configuration().basis_gates``
#: and ``measure``); a Qiskit library instruction with one of these names is never expanded.
#: ``tests/unit/test_execution.py`` checks this set against the installed Aer.
AER_NATIVE_INSTRUCTIONS = frozenset(
    {
        "break_loop", "ccx", "ccz", "continue_loop", "cp", "crx", "cry", "crz", "cswap", "csx", "cu",
        "cu1", "cu2", "cu3", "cx", "cy", "cz", "delay", "diagonal", "ecr", "for_loop", "h", "id",
        "if_else", "initialize", "kraus", "mcp", "mcphase", "mcr", "mcrx", "mcry", "mcrz", "mcswap",
        "mcsx", "mcu", "mcu1", "mcu2", "mcu3", "mcx", "mcx_gray", "mcy", "mcz", "measure",
        "multiplexer", "p", "pauli", "qerror_loc", "quantum_channel", "r", "reset", "roerror", "rx",
        "rxx", "ry", "ryy", "rz", "rzx", "rzz", "s", "save_amplitudes", "save_amplitudes_sq",
        "save_clifford", "save_density_matrix", "save_expval", "save_expval_var",
        "save_matrix_product_state", "save_probabilities", "save_probabilities_dict",
        "save_stabilizer", "save_state", "save_statevector", "save_statevector_dict",
        "save_superop", "save_unitary", "sdg", "set_density_matrix", "set_matrix_product_state",
        "set_stabilizer", "set_statevector", "set_superop", "set_unitary", "store", "superop",
        "swap", "switch_case", "sx", "sxdg", "t", "tdg", "u", "u1", "u2", "u3", "unitary",
        "while_loop", "x", "y", "z",
    }
)  # fmt: skip

#: Classical-expression operators Qiskit Aer 0.18 evaluates (``qiskit_aer.backends.aer_compiler``).
_AER_BINARY = frozenset(
    {"BIT_AND", "BIT_OR", "BIT_XOR", "LOGIC_AND", "LOGIC_OR", "EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL",
     "GREATER", "GREATER_EQUAL"}
)  # fmt: skip
_AER_UNARY = frozenset({"BIT_NOT", "LOGIC_NOT"})
_CONDITION_TODO = "compare bits and registers with ==, !=, <, <=, >, >= and combine them with &, |, ^, ~, &&, ||, !"


def check_params(op: Any) -> None:
    """Refuse a gate parameter that is a number but not a finite one (Aer would run it silently)."""
    import numbers

    for param in getattr(op, "params", ()):
        if isinstance(param, numbers.Number) and not isinstance(param, bool):
            value = complex(param)  # type: ignore[call-overload]
            if not (math.isfinite(value.real) and math.isfinite(value.imag)):
                raise Refused(
                    f"gate {one_line(op.name, 24)} has the parameter {one_line(param, 24)}",
                    "use a finite number",
                    gate=op.name,
                )


def check_expression(node: Any) -> None:
    """Refuse a control-flow condition Aer 0.18 cannot evaluate (arithmetic, shifts, indexing)."""
    from qiskit.circuit.classical import expr, types

    if not isinstance(node, expr.Expr):
        return
    if isinstance(node, expr.Binary | expr.Unary):
        allowed = _AER_BINARY if isinstance(node, expr.Binary) else _AER_UNARY
        if node.op.name not in allowed:
            raise Refused(
                f"a condition uses the operator {node.op.name.lower()}, which Qiskit Aer cannot evaluate",
                _CONDITION_TODO,
            )
        for operand in (node.left, node.right) if isinstance(node, expr.Binary) else (node.operand,):
            check_expression(operand)
    elif isinstance(node, expr.Cast):
        check_expression(node.operand)
    elif isinstance(node, expr.Value):
        if not isinstance(node.type, types.Bool | types.Uint):
            raise Refused(
                "a condition uses a value that is not a bit, a boolean or an unsigned integer, which "
                "Qiskit Aer cannot evaluate",
                _CONDITION_TODO,
            )
    elif not isinstance(node, expr.Var):
        raise Refused(
            f"a condition uses {type(node).__name__.lower()} expressions, which Qiskit Aer cannot evaluate",
            _CONDITION_TODO,
        )


def check_scope(circuit: QuantumCircuit) -> None:
    """Refuse real-time variables and stretches (Qiskit 2 features Aer 0.18 cannot run)."""
    variables = list(circuit.iter_vars()) if getattr(circuit, "num_vars", 0) else []
    if variables:
        names = ", ".join(one_line(var.name, 20) for var in variables[:3])
        raise Refused(
            f"the circuit uses real-time classical variables ({names}), which Qiskit Aer cannot run",
            "use classical bits and registers (OpenQASM: bit[2] c;) and input float[64] or angle parameters "
            "for values given at run time",
        )
    stretches = list(circuit.iter_stretches()) if getattr(circuit, "num_stretches", 0) else []
    if stretches:
        names = ", ".join(one_line(stretch.name, 20) for stretch in stretches[:3])
        raise Refused(
            f"the circuit uses stretch durations ({names}), which Qiskit Aer cannot run",
            "give every delay a fixed duration",
        )
