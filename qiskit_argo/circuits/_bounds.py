"""Bounds checked on OpenQASM before a parser allocates anything.

Register declarations larger than the platform allows (``maxQubits``; classical bits are bounded
by ``maxCircuitSize``, since no circuit writes more bits than it has instructions), integers too
large for the OpenQASM 2 parser, and, on the OpenQASM 3 syntax tree, the gate modifiers the
importer would expand eagerly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from qiskit_argo.circuits._limits import MAX_NESTING, CircuitLimits, invalid, over_limit
from qiskit_argo.circuits._text import blank_comments, line_of
from qiskit_argo.errors import LimitExceededError, one_line

__all__ = ["prescan_qasm2", "Qasm3Scan"]

_DECLARATION2 = re.compile(r"\b(qreg|creg)\s+([A-Za-z_][A-Za-z0-9_]*)\s*\[\s*([0-9]+)\s*\]")
_INTEGER = re.compile(r"(?<![\w.])[0-9]{19,}(?![\w.])")
#: Integers the OpenQASM 2 parser reads as 64-bit numbers; longer literals make it panic.
_MAX_QASM2_INTEGER = 2**63 - 1
#: Widest user-defined gate a ``pow(x) @`` modifier may raise (Qiskit builds its 2^n x 2^n matrix).
_MAX_POWER_QUBITS = 10


def _number(digits: str) -> int:
    """A decimal literal as an int; absurdly long ones as a value that exceeds every limit."""
    return int(digits) if len(digits) <= 40 else 10**40


def _qubit_limit(field: str, line: int, what: str, count: int, limits: CircuitLimits) -> LimitExceededError:
    return over_limit(
        f"{field}: line {line}: {one_line(count, 24)} qubits in {what} exceeds the limit of {limits.max_qubits} "
        f"(maxQubits); declare at most {limits.max_qubits} qubits in all"
    )


def _bit_limit(field: str, line: int, what: str, count: int, limits: CircuitLimits) -> LimitExceededError:
    return over_limit(
        f"{field}: line {line}: {one_line(count, 24)} bits in {what} exceeds the limit of {limits.max_circuit_size} "
        "(maxCircuitSize: a circuit cannot write more bits than it has instructions); declare fewer bits"
    )


def prescan_qasm2(source: str, field: str, limits: CircuitLimits | None) -> None:
    """Refuse register sizes over the limits and integers the OpenQASM 2 parser cannot hold."""
    code = blank_comments(source)
    if limits is not None:
        qubits = bits = 0
        for match in _DECLARATION2.finditer(code):
            kind, name, size = match.group(1), match.group(2), _number(match.group(3))
            line = line_of(code, match.start())
            what = f"{kind} {one_line(name, 24)}"
            if kind == "qreg":
                qubits += size
                if qubits > limits.max_qubits:
                    raise _qubit_limit(field, line, what if qubits == size else f"{what} and before", qubits, limits)
            else:
                bits += size
                if bits > limits.max_circuit_size:
                    raise _bit_limit(field, line, what if bits == size else f"{what} and before", bits, limits)
    for match in _INTEGER.finditer(code):
        if _number(match.group()) > _MAX_QASM2_INTEGER:
            line = line_of(code, match.start())
            raise invalid(
                f"{field}: line {line}: the integer {one_line(match.group(), 24)} is too large for the OpenQASM 2 "
                "parser; fix the OpenQASM 2 source at that line"
            )


class Qasm3Scan:
    """Checks on the OpenQASM 3 syntax tree before Qiskit converts it.

    The importer allocates every declared register and eagerly builds the definitions a gate
    modifier (``inv``, ``pow``, ``ctrl``) touches, so those are bounded here: register sizes
    (constant expressions included), modifiers applied to user-defined gates that expand past
    ``maxCircuitSize``, ``ctrl`` counts past ``maxQubits``, and ``pow`` of wide user gates.
    """

    _HUGE = 2**64

    def __init__(self, field: str, limits: CircuitLimits | None) -> None:
        self.field = field
        self.limits = limits
        self.constants: dict[str, int | None] = {}
        self.gates: dict[str, Any] = {}
        self.costs: dict[str, int] = {}
        self.qubits = 0
        self.bits = 0

    @staticmethod
    def _line(node: Any) -> int:
        span = getattr(node, "span", None)
        return int(getattr(span, "start_line", 0) or 0)

    def value(self, node: Any) -> int | None:
        """The value of a constant integer expression, ``None`` when it is not one we can tell."""
        from openqasm3 import ast

        if node is None:
            return None
        if isinstance(node, ast.IntegerLiteral):
            return int(node.value)
        if isinstance(node, ast.Identifier):
            return self.constants.get(node.name)
        if isinstance(node, ast.UnaryExpression) and node.op.name == "-":
            inner = self.value(node.expression)
            return None if inner is None else -inner
        if isinstance(node, ast.BinaryExpression):
            left, right = self.value(node.lhs), self.value(node.rhs)
            if left is None or right is None:
                return None
            return self._binary(node.op.name, left, right)
        return None

    def _binary(self, op: str, left: int, right: int) -> int | None:
        huge = self._HUGE
        result: int | None
        try:
            if op == "+":
                result = left + right
            elif op == "-":
                result = left - right
            elif op == "*":
                result = left * right
            elif op == "/":
                result = int(left / right) if right else None
            elif op == "%":
                result = left % right if right else None
            elif op == "**":
                result = huge if right > 128 and abs(left) > 1 else left**right if right >= 0 else 0
            elif op == "<<":
                result = huge if right > 128 else left << right if right >= 0 else None
            elif op == ">>":
                result = left >> right if right >= 0 else None
            else:
                return None
        except (ArithmeticError, ValueError):
            return None
        if result is None:
            return None
        return max(min(result, huge), -huge)

    def run(self, program: Any) -> None:
        self._statements(program.statements, in_gate=False)

    def _statements(self, statements: Sequence[Any], *, in_gate: bool) -> None:
        from openqasm3 import ast

        for statement in statements:
            if isinstance(statement, ast.ConstantDeclaration):
                self.constants[statement.identifier.name] = self.value(statement.init_expression)
            elif isinstance(statement, ast.QubitDeclaration):
                self._declare_qubits(statement)
            elif isinstance(statement, ast.ClassicalDeclaration | ast.IODeclaration):
                self._declare_bits(statement)
            elif isinstance(statement, ast.QuantumGateDefinition):
                self.gates[statement.name.name] = statement
                self._statements(statement.body, in_gate=True)
            elif isinstance(statement, ast.QuantumGate):
                self._gate_call(statement)
            for child in self._children(statement):
                self._statements(child, in_gate=in_gate)

    @staticmethod
    def _children(statement: Any) -> Iterator[Sequence[Any]]:
        from openqasm3 import ast

        if isinstance(statement, ast.QuantumGateDefinition):
            return
        for name in ("block", "if_block", "else_block", "body", "statements"):
            child = getattr(statement, name, None)
            if isinstance(child, list):
                yield child
            elif isinstance(child, ast.CompoundStatement):
                yield child.statements
        for _, case in getattr(statement, "cases", None) or ():
            yield getattr(case, "statements", case)
        default = getattr(statement, "default", None)
        if default is not None:
            yield getattr(default, "statements", default)

    def _size(self, node: Any, size: Any, what: str) -> int:
        if size is None:
            return 1
        value = self.value(size)
        if value is None:
            raise invalid(
                f"{self.field}: line {self._line(node)}: the size of {what} is not a constant integer this platform "
                "can work out; write a number or a const integer of numbers"
            )
        return value

    def _declare_qubits(self, node: Any) -> None:
        name = one_line(node.qubit.name, 24)
        self.qubits += max(self._size(node, node.size, f"qubit register {name}"), 0)
        if self.limits is not None and self.qubits > self.limits.max_qubits:
            size = self.value(node.size) if node.size is not None else 1
            what = f"register {name}" if size == self.qubits else f"register {name} and before"
            raise _qubit_limit(self.field, self._line(node), what, self.qubits, self.limits)

    def _declare_bits(self, node: Any) -> None:
        from openqasm3 import ast

        if not isinstance(node.type, ast.BitType):
            return
        name = one_line(node.identifier.name, 24)
        self.bits += max(self._size(node, node.type.size, f"bit register {name}"), 0)
        if self.limits is not None and self.bits > self.limits.max_circuit_size:
            raise _bit_limit(self.field, self._line(node), f"register {name}", self.bits, self.limits)

    def cost(self, name: str, depth: int = 0) -> int:
        """Instructions a call of gate ``name`` expands to (1 for a gate not defined here)."""
        gate = self.gates.get(name)
        if gate is None:
            return 1
        if name in self.costs:
            return self.costs[name]
        self.costs[name] = 1  # a recursive definition is the importer's error to report
        if depth > MAX_NESTING:
            return 1
        total = sum(self.cost(call.name.name, depth + 1) for call in self._calls(gate.body))
        self.costs[name] = max(total, 1)
        return self.costs[name]

    @staticmethod
    def _calls(body: Sequence[Any]) -> Iterator[Any]:
        from openqasm3 import ast

        for statement in body:
            if isinstance(statement, ast.QuantumGate):
                yield statement

    def _gate_call(self, node: Any) -> None:
        if not node.modifiers:
            return
        name = one_line(node.name.name, 24)
        line = self._line(node)
        user = self.gates.get(node.name.name)
        width = len(user.qubits) if user is not None else 1
        limits = self.limits
        for modifier in node.modifiers:
            kind = modifier.modifier.name
            if kind in ("ctrl", "negctrl") and limits is not None:
                controls = 1 if modifier.argument is None else self.value(modifier.argument)
                if controls is not None and controls + width > limits.max_qubits:
                    raise _qubit_limit(self.field, line, f"{kind}({controls}) @ {name}", controls + width, limits)
            if kind == "pow" and user is not None and width > _MAX_POWER_QUBITS:
                raise invalid(
                    f"{self.field}: line {line}: pow(...) @ {name} needs the 2^{width} x 2^{width} matrix of a "
                    f"{width}-qubit gate; repeat the gate instead, or use pow on gates of at most "
                    f"{_MAX_POWER_QUBITS} qubits"
                )
        size = self.cost(node.name.name)
        if limits is not None and size > limits.max_circuit_size:
            raise over_limit(
                f"{self.field}: line {line}: gate {name} expands to {size} instructions, more than the limit of "
                f"{limits.max_circuit_size} (maxCircuitSize, instructions after expanding gate definitions); "
                "use fewer or smaller gate definitions"
            )
