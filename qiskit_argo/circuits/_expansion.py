"""Circuit size after expanding gate definitions, counted without unrolling, and the checks on it.

Custom gate definitions are counted once each (memoised), so a ``g39`` gate bomb of 2^39
instructions is counted in microseconds; for-loop bodies count times their iterations;
standard-library gates and Qiskit Aer's native instructions count as 1. ``check_circuit`` refuses
what exceeds the ``Limits`` and what Qiskit Aer cannot run.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from qiskit_argo.circuits._aer import AER_NATIVE_INSTRUCTIONS, check_expression, check_params, check_scope
from qiskit_argo.circuits._limits import MAX_NESTING, CircuitLimits, Refused, check_width, invalid, over_limit
from qiskit_argo.circuits._native import is_panic, panic_problem, quiet_native_stderr
from qiskit_argo.circuits._text import call_line
from qiskit_argo.errors import one_line

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit

__all__ = ["kind", "definition", "params_key", "expanded_size", "check_circuit"]

_DIRECTIVES = frozenset({"measure", "reset", "barrier", "delay", "store"})
_DIRECTIVE_MODULES = (
    "qiskit.circuit.measure",
    "qiskit.circuit.reset",
    "qiskit.circuit.barrier",
    "qiskit.circuit.delay",
    "qiskit.circuit.store",
)


def _library(op: Any) -> bool:
    """Whether ``op`` is an instance of a Qiskit or Aer library class (not a user's own gate)."""
    cls = getattr(op, "base_class", None) or type(op)
    module = getattr(cls, "__module__", None) or ""
    return module.startswith(("qiskit.circuit.library", "qiskit_aer")) or module in _DIRECTIVE_MODULES


def kind(op: Any) -> str:
    """``leaf`` (counts 1, runs as it is), ``flow`` (control flow), ``box``, ``annotated`` (an
    operation with modifiers, synthesised by the transpiler), ``library`` (a Qiskit library gate Aer
    lacks: synthesised on expansion) or ``custom`` (a user's gate definition)."""
    if getattr(op, "_standard_gate", None) is not None:
        return "leaf"
    if getattr(op, "blocks", None) is not None and hasattr(op, "replace_blocks"):
        return "box" if op.name == "box" else "flow"
    if getattr(op, "base_op", None) is not None and getattr(op, "modifiers", None) is not None:
        return "annotated"  # an AnnotatedOperation: a base operation with inverse/control/power modifiers
    if _library(op):
        return "leaf" if op.name in AER_NATIVE_INSTRUCTIONS or op.name in _DIRECTIVES else "library"
    return "custom"


def definition(op: Any) -> QuantumCircuit | None:
    """``op.definition``, built now if it is lazy; ``Refused`` when it cannot be built."""
    try:
        with quiet_native_stderr():
            return op.definition  # type: ignore[no-any-return]
    except Exception as error:  # noqa: BLE001 - a lazily built definition fails on bad input
        name = one_line(op.name, 24)
        if "parameter index out of range" in str(error):  # qiskit.qasm2 accepts `g q;` for `gate g(a) q`
            raise Refused(
                f"gate {name} is called without the parameters its definition uses",
                f"pass every parameter of {name}, e.g. {name}(0.5) q[0];",
                gate=op.name,
            ) from None
        raise Refused(
            f"gate {name} cannot be expanded ({one_line(str(error) or type(error).__name__, 80)})",
            f"check that every call of {name} passes the parameters and qubits its definition uses",
            gate=op.name,
        ) from None
    except BaseException as error:
        if not is_panic(error):
            raise
        name = one_line(op.name, 24)
        raise Refused(
            f"gate {name} cannot be expanded ({panic_problem(error)})",
            f"check the definition of {name}",
            gate=op.name,
        ) from None


def params_key(op: Any) -> tuple[Any, ...] | None:
    """``op``'s parameters as a dictionary key, ``None`` when one cannot be hashed."""
    key: list[Any] = []
    for param in op.params:
        try:
            hash(param)
        except TypeError:
            return None
        key.append(param)
    return tuple(key)


def _iterations(indexset: Any) -> int:
    if isinstance(indexset, range):
        start, stop, step = indexset.start, indexset.stop, indexset.step
        span = stop - start if step > 0 else start - stop
        return max(0, (span + abs(step) - 1) // abs(step))
    try:
        return len(indexset)
    except (TypeError, OverflowError):
        return 1


class _Expansion:
    """Expanded sizes, memoised per definition, checking every distinct definition once."""

    def __init__(self) -> None:
        self.sizes: dict[Any, int] = {}
        self.alive: list[Any] = []  # keeps memoised definitions alive, so their ids stay unique

    def key(self, op: Any) -> Any:
        built = getattr(op, "_definition", None)
        if built is not None:
            return ("definition", id(built))
        if kind(op) == "library":
            params = params_key(op)
            return None if params is None else ("library", op.base_class, op.name, op.num_qubits, params)
        return ("lazy", getattr(op, "base_class", type(op)), op.name, op.num_qubits, op.num_clbits)

    def circuit(self, circuit: QuantumCircuit, depth: int = 0) -> int:
        if depth > MAX_NESTING:
            raise Refused(
                f"gate definitions and control flow nest more than {MAX_NESTING} levels deep",
                "nest fewer levels of gates and blocks",
            )
        check_scope(circuit)
        total = 0
        for instruction in circuit.data:
            total += self.operation(instruction.operation, depth)
        return total

    def operation(self, op: Any, depth: int) -> int:
        op_kind = kind(op)
        if op_kind == "leaf":
            check_params(op)
            return 1
        if op_kind in ("flow", "box"):
            for condition in (getattr(op, "condition", None), getattr(op, "target", None)):
                check_expression(condition)
            sizes = [self.circuit(block, depth + 1) for block in op.blocks]
            if op.name == "for_loop":
                return max(_iterations(op.params[0]), 1) * max(sizes[0], 1)
            if op.name in ("if_else", "switch_case"):
                return max([*sizes, 1])
            return max(sum(sizes), 1)  # while_loop (at least once), box
        if op_kind == "annotated":
            repeat = 1
            for modifier in op.modifiers:
                power = getattr(modifier, "power", None)
                if isinstance(power, int | float) and math.isfinite(power) and abs(power) > 1:
                    repeat *= math.ceil(abs(power))
            return repeat * self.operation(op.base_op, depth + 1)
        key = self.key(op)
        if key is not None and key in self.sizes:
            return self.sizes[key]
        if key is not None:
            self.sizes[key] = 1  # a definition that contains itself counts once
        built = definition(op)
        if built is None:
            if op_kind == "custom" and op.name not in AER_NATIVE_INSTRUCTIONS:
                name = one_line(op.name, 24)
                raise Refused(
                    f"gate {name} has no definition (an opaque gate), so Qiskit Aer cannot run it",
                    f"define it with `gate {name} ... {{ ... }}` or use standard gates",
                    gate=op.name,
                )
            return 1
        if built.num_qubits != op.num_qubits or built.num_clbits != op.num_clbits:
            name = one_line(op.name, 24)
            raise Refused(
                f"gate {name} acts on {op.num_qubits} qubits but its definition on {built.num_qubits}",
                f"fix the definition of {name}",
                gate=op.name,
            )
        size = self.circuit(built, depth + 1)
        if key is not None:
            self.sizes[key] = size
            self.alive.append(built)
        return size


def expanded_size(circuit: QuantumCircuit) -> int:
    """Instructions after expanding custom gate definitions (memoised); for-loop bodies count
    times their iterations, ``if``/``switch`` their largest branch, ``while`` its body once.

    Raises ``InvalidCircuitError`` for a definition that cannot be built, or what Qiskit Aer
    cannot run.
    """
    return check_circuit(circuit, None)


def check_circuit(
    circuit: QuantumCircuit,
    limits: CircuitLimits | None,
    *,
    field: str = "spec.circuit",
    source: str | None = None,
) -> int:
    """Refuse a circuit over the ``limits`` or one Qiskit Aer cannot run; return its expanded size.

    Checked: qubits (``maxQubits``), classical bits and instructions after expanding gate
    definitions (``maxCircuitSize``), real-time variables and stretches, opaque gates, gate
    parameters that are not finite, conditions Aer cannot evaluate, definitions that cannot be
    built. ``source`` (OpenQASM) lets a message name the line of the gate concerned. Without
    ``limits`` only what Aer cannot run is checked.
    """
    if limits is not None:
        check_width(field, circuit.num_qubits, circuit.num_clbits, limits)
    try:
        size = _Expansion().circuit(circuit)
    except Refused as refused:
        line = call_line(source, refused.gate)
        where = f"line {line}: " if line else ""
        raise invalid(f"{field}: {where}{refused.problem}; {refused.todo}") from None
    except RecursionError:
        raise invalid(f"{field}: the circuit nests too deeply; nest fewer levels of gates and blocks") from None
    if limits is not None and size > limits.max_circuit_size:
        raise over_limit(
            f"{field}: {size} instructions after expanding gate definitions exceeds the limit of "
            f"{limits.max_circuit_size} (maxCircuitSize); use a smaller circuit, fewer nested gates, "
            "or a parameter sweep instead of unrolled copies"
        )
    return size
