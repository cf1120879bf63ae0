"""Circuits in and out: OpenQASM 2/3 and QPY parsing with one-line errors, expansion bounds, PUBs.

* ``parse_openqasm`` reads the version from the header (``OPENQASM 2.0;`` or ``OPENQASM 3[.0];``).
  Without a header a program is OpenQASM 2 when it looks like one (``include "qelib1.inc";``,
  ``qreg``/``creg`` and nothing only OpenQASM 3 has), as published benchmark suites often omit the
  line; otherwise OpenQASM 3, which allows no header. ``qiskit.qasm2.loads`` runs with Qiskit's
  legacy custom instructions (so every ``qelib1.inc`` gate is a standard-library gate); OpenQASM 3
  is parsed by the reference parser and converted by ``qiskit_qasm3_import`` with gate definitions
  built lazily (the importer otherwise deep-copies every nested definition at every call).
  A parse error becomes an ``InvalidCircuitError`` whose one-line message names the source line:
  ``spec.circuit.openqasm: line 5: expected ';' but found 'q' in `cx q[0] q[1];`; fix ...``.
* Hostile input is refused before a parser can crash or allocate: with ``limits`` given, register
  declarations larger than the platform allows (``maxQubits``; classical bits are bounded by
  ``maxCircuitSize``, since no circuit writes more bits than it has instructions) and integers
  too large for the parsers; a Rust panic of a parser becomes an ``InvalidCircuitError`` (what the
  panic prints on file descriptor 2 is swallowed, so a step's stderr stays one line).
* ``expanded_size`` counts instructions after expanding custom gate definitions (memoised, so a
  ``g39`` gate bomb of 2^39 instructions is counted in microseconds), for-loop bodies times their
  iterations; standard-library gates and Qiskit Aer's native instructions count as 1.
  ``check_circuit`` refuses what Qiskit Aer cannot run and what exceeds the ``Limits``;
  ``flatten`` replaces custom gates by their definitions, so QPY stays linear in the circuit.
* ``circuit_from_qpy`` / ``circuit_to_qpy`` move one circuit through QPY (raw bytes or base64),
  which is how circuits travel between workflow steps.
* ``sampler_pub`` / ``estimator_pub`` build the one PUB a job runs: the circuit and the whole
  parameter sweep as one bindings array (estimator observables broadcast against the bindings so
  ``evs[binding, observable]``).
* ``printable`` / ``one_line``: every message quoting input is one line of at most
  ``MAX_MESSAGE`` characters with control characters escaped (an ESC byte reads ``\\x1b``).

Only ``qiskit`` core is imported here (never Aer or qiskit-ibm-runtime); the OpenQASM importers are
imported on first use.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import math
import os
import re
import struct
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from qiskit_argo.errors import InvalidCircuitError, LimitExceededError

if TYPE_CHECKING:
    import numpy as np
    from qiskit.circuit import QuantumCircuit
    from qiskit.primitives.containers.estimator_pub import EstimatorPub
    from qiskit.primitives.containers.sampler_pub import SamplerPub
    from qiskit.quantum_info import SparsePauliOp

__all__ = [
    "QPY_MAGIC",
    "MAX_MESSAGE",
    "AER_NATIVE_INSTRUCTIONS",
    "CircuitLimits",
    "printable",
    "one_line",
    "openqasm_version",
    "parse_openqasm",
    "parse_circuit_text",
    "circuit_from_qpy",
    "circuit_from_qpy_base64",
    "circuit_to_qpy",
    "circuit_to_qpy_base64",
    "load_circuit_bytes",
    "expanded_size",
    "check_circuit",
    "flatten",
    "sparse_pauli_op",
    "sampler_pub",
    "estimator_pub",
]

#: The first bytes of every QPY file.
QPY_MAGIC = b"QISKIT"
#: The longest one-line message an error carries.
MAX_MESSAGE = 300

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


class CircuitLimits(Protocol):
    """What the circuit checks read from ``qiskit_argo.request.Limits``."""

    @property
    def max_qubits(self) -> int: ...

    @property
    def max_circuit_size(self) -> int: ...


# Whitespace and comments that may precede the version header.
_LEADING = re.compile(r"\A(?:\s+|//[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.DOTALL)
_HEADER = re.compile(r"OPENQASM\s+([0-9]+)(?:\.([0-9]+))?\s*;")
_QASM2_POSITION = re.compile(r"^\s*(?:<input>|[^:]*):(\d+),(\d+):\s*(.*)$", re.DOTALL)
_QASM3_LEXER_POSITION = re.compile(r"^\s*L(\d+):C(\d+):\s*(.*)$", re.DOTALL)
_QASM3_POSITION = re.compile(r"^\s*(\d+),(\d+):\s*(.*)$", re.DOTALL)
_MAX_SNIPPET = 60
_MAX_PROBLEM = 120
_MAX_EXPECTED = 6
#: Deepest nesting of gate definitions inside gate definitions that is expanded.
_MAX_NESTING = 100
#: Widest user-defined gate a ``pow(x) @`` modifier may raise (Qiskit builds its 2^n x 2^n matrix).
_MAX_POWER_QUBITS = 10
#: Integers the OpenQASM 2 parser reads as 64-bit numbers; longer literals make it panic.
_MAX_QASM2_INTEGER = 2**63 - 1


# --------------------------------------------------------------------------- safe text

_UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ufeff\ud800-\udfff]"
)
_PARTIAL_ESCAPE = re.compile(r"\\(?:x[0-9a-f]?|u[0-9a-f]{0,3})?\Z")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: object, limit: int = _MAX_SNIPPET) -> str:
    """``text`` as one line of at most ``limit`` characters: control, bidi and other invisible
    characters escaped (``\\x1b``), whitespace runs collapsed, the rest cut off with ``...``."""
    raw = str(text)
    head = raw[: 4 * limit + 8]
    out = " ".join(_UNSAFE.sub(_escape, head).split())
    if len(out) > limit or len(head) < len(raw):
        out = _PARTIAL_ESCAPE.sub("", out[: max(limit - 3, 0)].rstrip()) + "..."
    return out


def one_line(text: object, limit: int = MAX_MESSAGE) -> str:
    """A whole message as one safe line of at most ``limit`` characters.

    Too long a message loses its middle, never its end (which says what to do).
    """
    raw = str(text)
    if len(raw) > 8 * limit:
        raw = raw[: 4 * limit] + " ... " + raw[-2 * limit :]
    out = " ".join(_UNSAFE.sub(_escape, raw).split())
    if len(out) <= limit:
        return out
    cut = out.rfind("; ")
    tail = out[cut:] if 0 < cut and len(out) - cut <= limit // 2 else out[-(limit // 3) :]
    head = _PARTIAL_ESCAPE.sub("", out[: limit - len(tail) - 4].rstrip())
    return f"{head} ...{tail}"[:limit]


def _invalid(message: str) -> InvalidCircuitError:
    return InvalidCircuitError(one_line(message))


def _limit(message: str) -> LimitExceededError:
    return LimitExceededError(one_line(message))


# --------------------------------------------------------------------------- parser crashes

_PASS_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit)


def _is_panic(error: BaseException) -> bool:
    """A Rust panic surfacing through pyo3 (``pyo3_runtime.PanicException``, a BaseException)."""
    return type(error).__name__ == "PanicException" and not isinstance(error, _PASS_THROUGH)


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null while native code runs: a Rust panic prints its
    message and backtrace there before Python sees the exception, and a step's stderr must stay
    one line. Python's own ``sys.stderr`` is flushed first, so nothing of ours is lost."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        saved = -1
    if saved >= 0:
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, 2)
            finally:
                os.close(null)
        except OSError:
            os.close(saved)
            saved = -1
    try:
        yield
    finally:
        if saved >= 0:
            os.dup2(saved, 2)
            os.close(saved)


def _panic_problem(error: BaseException) -> str:
    text = str(error)
    if "ParseIntError" in text or "too large" in text:
        return "a number in it is too large for Qiskit's parser"
    if "null" in text or "alloc" in text:
        return "Qiskit's parser ran out of memory on it"
    return "Qiskit's parser failed on it (an internal error)"


# --------------------------------------------------------------------------- OpenQASM version

_COMMENT = re.compile(r"//[^\n]*|/\*.*?(?:\*/|\Z)", re.DOTALL)
_QASM2_SIGNS = re.compile(r'^[ \t]*(?:include\s*"qelib1\.inc"|qreg\s+[A-Za-z_]\w*\s*\[|creg\s+[A-Za-z_]\w*\s*\[)', re.M)
_QASM3_SIGNS = re.compile(
    r'^[ \t]*(?:include\s*"stdgates\.inc"|(?:qubit|bit|input|output|const|def|for|while|box|let|bool|int|uint'
    r"|float|angle|complex|duration|stretch|array|switch|extern|defcal|cal|gphase|ctrl|negctrl|inv|pow)\b)",
    re.M,
)


def _blank_comments(source: str) -> str:
    """``source`` with every comment replaced by spaces (newlines kept, so line numbers hold)."""
    return _COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), source)


def _line_of(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def _looks_like_qasm2(source: str) -> bool:
    code = _blank_comments(source[:1_000_000])
    return _QASM2_SIGNS.search(code) is not None and _QASM3_SIGNS.search(code) is None


def openqasm_version(source: str) -> int:
    """The major OpenQASM version of a program: 2 or 3.

    The header decides; without one, a program that looks like OpenQASM 2 (``include
    "qelib1.inc";``, ``qreg``/``creg`` declarations and nothing only OpenQASM 3 has) is 2,
    anything else 3. Raises ``InvalidCircuitError`` for any other declared version.
    """
    start = _LEADING.match(source)
    rest = source[start.end() if start else 0 :]
    header = _HEADER.match(rest)
    if header is None:
        return 2 if _looks_like_qasm2(source) else 3
    major_text = header.group(1)
    if major_text not in ("2", "3"):
        line = source.count("\n", 0, len(source) - len(rest)) + 1
        minor = f".{printable(header.group(2), 8)}" if header.group(2) else ""
        raise _invalid(
            f"line {line}: OpenQASM {printable(major_text, 12)}{minor} is not supported; "
            "declare OPENQASM 2.0; or OPENQASM 3.0;"
        )
    return int(major_text)


# --------------------------------------------------------------------------- before parsing

_DECLARATION2 = re.compile(r"\b(qreg|creg)\s+([A-Za-z_][A-Za-z0-9_]*)\s*\[\s*([0-9]+)\s*\]")
_INTEGER = re.compile(r"(?<![\w.])[0-9]{19,}(?![\w.])")


def _number(digits: str) -> int:
    """A decimal literal as an int; absurdly long ones as a value that exceeds every limit."""
    return int(digits) if len(digits) <= 40 else 10**40


def _qubit_limit(field: str, line: int, what: str, count: int, limits: CircuitLimits) -> LimitExceededError:
    return _limit(
        f"{field}: line {line}: {printable(count, 24)} qubits in {what} exceeds the limit of {limits.max_qubits} "
        f"(maxQubits); declare at most {limits.max_qubits} qubits in all"
    )


def _bit_limit(field: str, line: int, what: str, count: int, limits: CircuitLimits) -> LimitExceededError:
    return _limit(
        f"{field}: line {line}: {printable(count, 24)} bits in {what} exceeds the limit of {limits.max_circuit_size} "
        "(maxCircuitSize: a circuit cannot write more bits than it has instructions); declare fewer bits"
    )


def _prescan_qasm2(source: str, field: str, limits: CircuitLimits | None) -> None:
    """Refuse register sizes over the limits and integers the OpenQASM 2 parser cannot hold."""
    code = _blank_comments(source)
    if limits is not None:
        qubits = bits = 0
        for match in _DECLARATION2.finditer(code):
            kind, name, size = match.group(1), match.group(2), _number(match.group(3))
            line = _line_of(code, match.start())
            what = f"{kind} {printable(name, 24)}"
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
            line = _line_of(code, match.start())
            raise _invalid(
                f"{field}: line {line}: the integer {printable(match.group(), 24)} is too large for the OpenQASM 2 "
                "parser; fix the OpenQASM 2 source at that line"
            )


class _Qasm3Scan:
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
        try:
            if op == "+":
                result = left + right
            elif op == "-":
                result = left - right
            elif op == "*":
                result = left * right
            elif op == "/":
                result = int(left / right) if right else None  # type: ignore[assignment]
            elif op == "%":
                result = left % right if right else None  # type: ignore[assignment]
            elif op == "**":
                result = huge if right > 128 and abs(left) > 1 else left**right if right >= 0 else 0
            elif op == "<<":
                result = huge if right > 128 else left << right if right >= 0 else None  # type: ignore[assignment]
            elif op == ">>":
                result = left >> right if right >= 0 else None  # type: ignore[assignment]
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
            raise _invalid(
                f"{self.field}: line {self._line(node)}: the size of {what} is not a constant integer this platform "
                "can work out; write a number or a const integer of numbers"
            )
        return value

    def _declare_qubits(self, node: Any) -> None:
        name = printable(node.qubit.name, 24)
        self.qubits += max(self._size(node, node.size, f"qubit register {name}"), 0)
        if self.limits is not None and self.qubits > self.limits.max_qubits:
            size = self.value(node.size) if node.size is not None else 1
            what = f"register {name}" if size == self.qubits else f"register {name} and before"
            raise _qubit_limit(self.field, self._line(node), what, self.qubits, self.limits)

    def _declare_bits(self, node: Any) -> None:
        from openqasm3 import ast

        if not isinstance(node.type, ast.BitType):
            return
        name = printable(node.identifier.name, 24)
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
        if depth > _MAX_NESTING:
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
        name = printable(node.name.name, 24)
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
                raise _invalid(
                    f"{self.field}: line {line}: pow(...) @ {name} needs the 2^{width} x 2^{width} matrix of a "
                    f"{width}-qubit gate; repeat the gate instead, or use pow on gates of at most "
                    f"{_MAX_POWER_QUBITS} qubits"
                )
        size = self.cost(node.name.name)
        if limits is not None and size > limits.max_circuit_size:
            raise _limit(
                f"{self.field}: line {line}: gate {name} expands to {size} instructions, more than the limit of "
                f"{limits.max_circuit_size} (maxCircuitSize, instructions after expanding gate definitions); "
                "use fewer or smaller gate definitions"
            )


# --------------------------------------------------------------------------- parsing


def _snippet(source: str, line: int) -> str:
    lines = source.splitlines()
    if not 1 <= line <= len(lines):
        return ""
    text = printable(lines[line - 1].strip(), _MAX_SNIPPET)
    return f" in `{text}`" if text else ""


def _located(field: str, source: str, line: int | None, problem: str, version: int) -> InvalidCircuitError:
    problem = printable(problem, _MAX_PROBLEM).rstrip(".")
    if line is None:
        return _invalid(f"{field}: {problem}; fix the OpenQASM {version} source")
    return _invalid(
        f"{field}: line {line}: {problem}{_snippet(source, line)}; fix the OpenQASM {version} source at that line"
    )


def _panicked(field: str, error: BaseException, version: int | str) -> InvalidCircuitError:
    what = f"OpenQASM {version}" if isinstance(version, int) else version
    return _invalid(f"{field}: {_panic_problem(error)}; check register sizes, indices and numbers in the {what} source")


def _parse_qasm2(source: str, field: str, limits: CircuitLimits | None) -> QuantumCircuit:
    from qiskit import qasm2

    _prescan_qasm2(source, field, limits)
    try:
        with _quiet_native_stderr():
            return qasm2.loads(
                source,
                include_path=(),
                custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS,
                custom_classical=qasm2.LEGACY_CUSTOM_CLASSICAL,
                strict=False,
            )
    except qasm2.QASM2Error as error:
        text = " ".join(str(getattr(error, "message", None) or error)[:4096].split())
        match = _QASM2_POSITION.match(text)
        if match:
            raise _located(field, source, int(match.group(1)), match.group(3), 2) from None
        raise _located(field, source, None, text, 2) from None
    except RecursionError:
        raise _invalid(
            f"{field}: the program nests too deeply for the OpenQASM 2 parser; split deep expressions into several "
            "statements"
        ) from None
    except Exception as error:  # noqa: BLE001 - anything else the parser raises is still bad input
        raise _located(field, source, None, str(error) or type(error).__name__, 2) from None
    except BaseException as error:
        if _is_panic(error):
            raise _panicked(field, error, 2) from None
        raise


def _antlr_problem(error: BaseException) -> tuple[int, int, str] | None:
    """Line and text of an ANTLR syntax error hidden in the cause chain of a QASM3ParsingError."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for candidate in (current, *[a for a in current.args if isinstance(a, BaseException)]):
            token = getattr(candidate, "offendingToken", None)
            if token is not None and getattr(token, "line", None) is not None:
                found = "end of file" if token.type == -1 else repr(printable(token.text, 40))
                problem = f"unexpected {found}"
                recognizer: Any = getattr(candidate, "recognizer", None)
                try:
                    expected = candidate.getExpectedTokens()  # type: ignore[attr-defined]
                    names = expected.toString(recognizer.literalNames, recognizer.symbolicNames)
                    alternatives = names.strip("{}").split(", ")
                    if names and len(alternatives) <= _MAX_EXPECTED:
                        problem = f"expected {' or '.join(alternatives)} but found {found}"
                except Exception:  # noqa: BLE001 - the expected set is a nicety
                    pass
                return int(token.line), int(getattr(token, "column", 0) or 0), problem
        current = current.__cause__ or current.__context__
    return None


def _span_line(error: BaseException) -> int | None:
    """The line of the innermost OpenQASM 3 AST node being converted when ``error`` was raised.

    Some importer errors (``IndexError: index out of range``) carry no position; the converter's
    frames still hold the node they were visiting, and every node has a source ``span``.
    """
    line: int | None = None
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frame = current.__traceback__
        while frame is not None:
            for value in list(frame.tb_frame.f_locals.values()):
                span = getattr(value, "span", None)
                start = getattr(span, "start_line", None)
                if isinstance(start, int) and type(value).__name__ != "Program":
                    line = start
            frame = frame.tb_next
        current = current.__cause__ or current.__context__
    return line


_QASM3_CONVERTER: Any = None
_IMPORTED_GATE: Any = None


def _imported_gate_class() -> Any:
    """``_ImportedGate``: a gate of an OpenQASM 3 ``gate`` definition, defined on first use (it
    subclasses Qiskit's ``Gate``, and Qiskit is not imported with this module). The module's
    ``__getattr__`` hands it out by name, so a circuit holding one can be pickled."""
    global _IMPORTED_GATE
    if _IMPORTED_GATE is not None:
        return _IMPORTED_GATE
    from qiskit.circuit import Gate

    class _ImportedGate(Gate):
        """A gate of an OpenQASM 3 ``gate`` definition; its definition is built on first use."""

        def __init__(self, name: str, template: QuantumCircuit, order: tuple[Any, ...], params: Sequence[Any]):
            super().__init__(name, template.num_qubits, list(params))
            self._template = template
            self._order = order

        def _define(self) -> None:
            if self._order:
                self._definition = self._template.assign_parameters(
                    dict(zip(self._order, self.params, strict=True)), strict=False
                )
            else:
                self._definition = self._template  # shared: nothing here changes a definition in place

    _ImportedGate.__qualname__ = "_ImportedGate"
    _IMPORTED_GATE = _ImportedGate
    return _ImportedGate


def __getattr__(name: str) -> Any:
    if name == "_ImportedGate":
        return _imported_gate_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _qasm3_converter() -> Any:
    """``qiskit_qasm3_import``'s converter, with gate definitions built when first read.

    The stock ``GateBuilder`` deep-copies a gate's whole definition (nested definitions included)
    at every call, so ``g16 q;`` of 16 nested two-call gates costs 2^17 instruction copies (15 s)
    and ``g39`` never finishes. Here a call returns a gate that shares its definition when it has
    no parameters and binds a copy of its own body (whose calls are again lazy) when it has.
    """
    global _QASM3_CONVERTER
    if _QASM3_CONVERTER is not None:
        return _QASM3_CONVERTER
    from qiskit_qasm3_import import converter

    imported_gate = _imported_gate_class()

    class LazyGateBuilder:
        def __init__(self, builder: Any) -> None:
            self._builder = builder
            self._name = builder._name
            self._definition = builder._definition
            self._order = tuple(builder._order)

        def __call__(self, *parameters: Any) -> Any:
            if len(parameters) != len(self._order):
                return self._builder(*parameters)  # raises the importer's own error
            return imported_gate(self._name, self._definition, self._order, parameters)

    class Converter(converter.ConvertVisitor):  # type: ignore[misc]
        def _define_gate(self, name: str, definition: Any, *args: Any) -> Any:
            if isinstance(definition, converter.GateBuilder):
                definition = LazyGateBuilder(definition)
            return super()._define_gate(name, definition, *args)

    _QASM3_CONVERTER = Converter
    return Converter


def _parse_qasm3(source: str, field: str, limits: CircuitLimits | None) -> QuantumCircuit:
    import openqasm3

    try:
        # ANTLR prints lexer errors to stderr before raising; the step's stderr must stay one line.
        with contextlib.redirect_stderr(io.StringIO()), _quiet_native_stderr():
            program = openqasm3.parse(source)
            _Qasm3Scan(field, limits).run(program)
            return _qasm3_converter()().convert(program).circuit
    except (InvalidCircuitError, LimitExceededError):
        raise
    except RecursionError:
        raise _invalid(
            f"{field}: the program nests too deeply (expressions, blocks or gate calls) for the OpenQASM 3 parser; "
            "split deep expressions into several statements"
        ) from None
    except Exception as error:  # noqa: BLE001 - the importer raises several unrelated types
        text = " ".join(str(getattr(error, "message", None) or error)[:4096].split())
        for pattern in (_QASM3_LEXER_POSITION, _QASM3_POSITION):
            match = pattern.match(text)
            if match:
                raise _located(field, source, int(match.group(1)), match.group(3), 3) from None
        located = _antlr_problem(error)
        if located is not None:
            line, column, problem = located
            lines = source.splitlines()
            first_on_line = 0 < line <= len(lines) and not lines[line - 1][:column].strip()
            if problem.startswith("expected ';'") and "found '" in problem and first_on_line and line > 1:
                problem += f" (is the ';' at the end of line {line - 1} missing?)"
            raise _located(field, source, line, problem, 3) from None
        problem = text or type(error).__name__
        raise _located(field, source, _span_line(error), problem, 3) from None
    except BaseException as error:
        if _is_panic(error):
            raise _panicked(field, error, 3) from None
        raise


def parse_openqasm(
    source: str,
    *,
    field: str = "spec.circuit.openqasm",
    limits: CircuitLimits | None = None,
) -> QuantumCircuit:
    """Parse OpenQASM 2 or 3 into a circuit; errors name the source line.

    With ``limits``, registers and gate modifiers that would exceed them are refused before the
    parser allocates anything, and the parsed circuit is checked with ``check_circuit``.
    """
    if not source.strip():
        raise InvalidCircuitError(f"{field}: the OpenQASM source is empty; put the program text there")
    if not _blank_comments(source).strip():
        raise InvalidCircuitError(f"{field}: the OpenQASM source holds only comments; put the program text there")
    try:
        version = openqasm_version(source)
    except InvalidCircuitError as error:
        raise _invalid(f"{field}: {error}") from None
    circuit = _parse_qasm2(source, field, limits) if version == 2 else _parse_qasm3(source, field, limits)
    if limits is not None:
        check_circuit(circuit, limits, field=field, source=source)
    return circuit


# --------------------------------------------------------------------------- QPY

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_QPY_ERROR = re.compile(r"Error:\s*(.+?)\s*(?:\n|$)")
_QPY_FIELD = re.compile(r"While parsing field '(\w+)'")


def _qpy_problem(error: BaseException) -> str:
    """What a QPY loader error says, without its ANSI colours and its Rust backtrace."""
    raw = getattr(error, "message", None) or str(error)  # QiskitError's str() is the repr of its message
    text = _ANSI.sub("", str(raw)[:8192].replace("\\x1b", "\x1b").replace("\\n", "\n"))
    found = _QPY_ERROR.search(text)
    problem = found.group(1) if found else text.splitlines()[0] if text.strip() else type(error).__name__
    field = _QPY_FIELD.search(text)
    if field:
        problem += f" (field {field.group(1)})"
    return printable(problem, _MAX_PROBLEM)


def _qpy_prescan(data: bytes, field: str, limits: CircuitLimits | None) -> None:
    """Read the QPY file header and the first circuit's header before ``qpy.load`` allocates its
    qubits and clbits: a 40-byte file can claim 40 million qubits (``qpy.load`` then runs for
    minutes) or 2^32 clbits."""
    try:
        version = data[6]
        wide = version >= 10
        header = "!6sBBBBQc" if wide else "!6sBBBBQ"
        num_programs = struct.unpack_from(header, data)[5]
        offset = struct.calcsize(header)
        if num_programs != 1:
            raise _invalid(f"{field}: the QPY payload holds {num_programs} circuits; put exactly one in it")
        if version >= 5:
            kind = data[offset : offset + 1]
            offset += 1
            if kind != b"q":
                return  # qpy.load says what it is (a schedule, or garbage)
        if version >= 16:
            offset = struct.unpack_from("!Q", data, offset)[0]
        qubits_at = offset + (10 if version < 2 else 5)
        num_qubits, num_clbits = struct.unpack_from("!II", data, qubits_at)
    except (struct.error, IndexError):
        return  # too short to hold a circuit: qpy.load reports it
    if limits is None:
        return
    if num_qubits > limits.max_qubits:
        raise _limit(
            f"{field}: {num_qubits} qubits exceeds the limit of {limits.max_qubits} (maxQubits); use a smaller circuit"
        )
    if num_clbits > limits.max_circuit_size:
        raise _limit(
            f"{field}: {num_clbits} clbits exceeds the limit of {limits.max_circuit_size} (maxCircuitSize: a circuit "
            "cannot write more bits than it has instructions); use fewer classical bits"
        )


def circuit_from_qpy(
    data: bytes,
    *,
    field: str = "spec.circuit.qpy",
    limits: CircuitLimits | None = None,
) -> QuantumCircuit:
    """The single circuit of a QPY payload (checked with ``check_circuit`` when ``limits`` are given)."""
    from qiskit import qpy

    if not data.startswith(QPY_MAGIC):
        raise InvalidCircuitError(
            f"{field}: not QPY (it does not start with the QPY header {QPY_MAGIC.decode()}); "
            "write the circuit with qiskit.qpy.dump and base64-encode the file"
        )
    _qpy_prescan(data, field, limits)
    try:
        with _quiet_native_stderr():
            circuits = qpy.load(io.BytesIO(data))
    except Exception as error:  # noqa: BLE001 - qpy raises QpyError, QiskitError, struct.error, ...
        raise _invalid(
            f"{field}: cannot read the QPY payload ({_qpy_problem(error)}); "
            "write it with qiskit.qpy.dump from Qiskit 1.0 or newer"
        ) from None
    except BaseException as error:
        if _is_panic(error):
            raise _panicked(field, error, "QPY") from None
        raise
    if len(circuits) != 1:
        raise InvalidCircuitError(f"{field}: the QPY payload holds {len(circuits)} circuits; put exactly one in it")
    circuit = circuits[0]
    if not hasattr(circuit, "num_qubits") or not hasattr(circuit, "parameters"):
        raise InvalidCircuitError(f"{field}: the QPY payload holds a schedule, not a circuit; dump a QuantumCircuit")
    if limits is not None:
        check_circuit(circuit, limits, field=field)
    return circuit


def circuit_from_qpy_base64(
    text: str,
    *,
    field: str = "spec.circuit.qpy",
    limits: CircuitLimits | None = None,
) -> QuantumCircuit:
    """The single circuit of a base64-encoded QPY payload."""
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidCircuitError(f"{field}: not base64; encode the QPY file with `base64 -w0 circuit.qpy`") from None
    return circuit_from_qpy(data, field=field, limits=limits)


def circuit_to_qpy(circuit: QuantumCircuit) -> bytes:
    """One circuit as QPY bytes."""
    from qiskit import qpy

    buffer = io.BytesIO()
    qpy.dump(circuit, buffer)
    return buffer.getvalue()


def circuit_to_qpy_base64(circuit: QuantumCircuit) -> str:
    """One circuit as base64-encoded QPY (what ``spec.circuit.qpy`` holds)."""
    return base64.b64encode(circuit_to_qpy(circuit)).decode("ascii")


def parse_circuit_text(text: str, *, field: str, limits: CircuitLimits | None = None) -> QuantumCircuit:
    """Text that holds either OpenQASM 2/3 or base64 QPY (a ConfigMap ``data`` key)."""
    stripped = text.strip()
    if stripped and _HEADER.search(stripped[:4096]) is None and re.fullmatch(r"[A-Za-z0-9+/=\s]+", stripped):
        # Base64 of QPY starts with "UUlTS0lU" ("QISKIT").
        if "".join(stripped[:64].split()).startswith("UUlTS0lU"):
            return circuit_from_qpy_base64(stripped, field=field, limits=limits)
    return parse_openqasm(text, field=field, limits=limits)


def load_circuit_bytes(data: bytes, *, field: str, limits: CircuitLimits | None = None) -> QuantumCircuit:
    """A mounted ConfigMap key: raw QPY (``binaryData``), base64 QPY, or OpenQASM text."""
    if data.startswith(QPY_MAGIC):
        return circuit_from_qpy(data, field=field, limits=limits)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidCircuitError(
            f"{field}: neither UTF-8 OpenQASM text nor QPY; store OpenQASM or base64 QPY under that key"
        ) from None
    return parse_circuit_text(text, field=field, limits=limits)


# --------------------------------------------------------------------------- expansion and checks

_DIRECTIVES = frozenset({"measure", "reset", "barrier", "delay", "store"})
_DIRECTIVE_MODULES = (
    "qiskit.circuit.measure",
    "qiskit.circuit.reset",
    "qiskit.circuit.barrier",
    "qiskit.circuit.delay",
    "qiskit.circuit.store",
)
#: Classical-expression operators Qiskit Aer 0.18 evaluates (``qiskit_aer.backends.aer_compiler``).
_AER_BINARY = frozenset(
    {"BIT_AND", "BIT_OR", "BIT_XOR", "LOGIC_AND", "LOGIC_OR", "EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL",
     "GREATER", "GREATER_EQUAL"}
)  # fmt: skip
_AER_UNARY = frozenset({"BIT_NOT", "LOGIC_NOT"})


class _Refused(Exception):
    """A problem found while walking a circuit; ``check_circuit`` adds the field and the line."""

    def __init__(self, problem: str, todo: str, *, gate: str | None = None, cls: type = InvalidCircuitError):
        super().__init__(problem)
        self.problem, self.todo, self.gate, self.cls = problem, todo, gate, cls


def _library(op: Any) -> bool:
    """Whether ``op`` is an instance of a Qiskit or Aer library class (not a user's own gate)."""
    cls = getattr(op, "base_class", None) or type(op)
    module = getattr(cls, "__module__", None) or ""
    return module.startswith(("qiskit.circuit.library", "qiskit_aer")) or module in _DIRECTIVE_MODULES


def _kind(op: Any) -> str:
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


def _definition(op: Any) -> QuantumCircuit | None:
    try:
        with _quiet_native_stderr():
            return op.definition  # type: ignore[no-any-return]
    except Exception as error:  # noqa: BLE001 - a lazily built definition fails on bad input
        if "parameter index out of range" in str(error):  # qiskit.qasm2 accepts `g q;` for `gate g(a) q`
            raise _Refused(
                f"gate {printable(op.name, 24)} is called without the parameters its definition uses",
                f"pass every parameter of {printable(op.name, 24)}, e.g. {printable(op.name, 24)}(0.5) q[0];",
                gate=op.name,
            ) from None
        raise _Refused(
            f"gate {printable(op.name, 24)} cannot be expanded ({printable(str(error) or type(error).__name__, 80)})",
            f"check that every call of {printable(op.name, 24)} passes the parameters and qubits its definition uses",
            gate=op.name,
        ) from None
    except BaseException as error:
        if not _is_panic(error):
            raise
        raise _Refused(
            f"gate {printable(op.name, 24)} cannot be expanded ({_panic_problem(error)})",
            f"check the definition of {printable(op.name, 24)}",
            gate=op.name,
        ) from None


def _params_key(op: Any) -> tuple[Any, ...] | None:
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


def _check_params(op: Any) -> None:
    import numbers

    for param in getattr(op, "params", ()):
        if isinstance(param, numbers.Number) and not isinstance(param, bool):
            value = complex(param)  # type: ignore[call-overload]
            if not (math.isfinite(value.real) and math.isfinite(value.imag)):
                shown = printable(param, 24)
                raise _Refused(
                    f"gate {printable(op.name, 24)} has the parameter {shown}",
                    "use a finite number",
                    gate=op.name,
                )


def _check_expression(node: Any) -> None:
    """Refuse a control-flow condition Aer 0.18 cannot evaluate (arithmetic, shifts, indexing)."""
    from qiskit.circuit.classical import expr, types

    if not isinstance(node, expr.Expr):
        return
    todo = "compare bits and registers with ==, !=, <, <=, >, >= and combine them with &, |, ^, ~, &&, ||, !"
    if isinstance(node, expr.Binary):
        if node.op.name not in _AER_BINARY:
            raise _Refused(
                f"a condition uses the operator {node.op.name.lower()}, which Qiskit Aer cannot evaluate", todo
            )
        _check_expression(node.left)
        _check_expression(node.right)
    elif isinstance(node, expr.Unary):
        if node.op.name not in _AER_UNARY:
            raise _Refused(
                f"a condition uses the operator {node.op.name.lower()}, which Qiskit Aer cannot evaluate", todo
            )
        _check_expression(node.operand)
    elif isinstance(node, expr.Cast):
        _check_expression(node.operand)
    elif isinstance(node, expr.Value):
        if not isinstance(node.type, types.Bool | types.Uint):
            raise _Refused(
                "a condition uses a value that is not a bit, a boolean or an unsigned integer, which "
                "Qiskit Aer cannot evaluate",
                todo,
            )
    elif not isinstance(node, expr.Var):
        raise _Refused(
            f"a condition uses {type(node).__name__.lower()} expressions, which Qiskit Aer cannot evaluate", todo
        )


def _check_scope(circuit: QuantumCircuit) -> None:
    """Real-time variables and stretches (Qiskit 2 features Aer 0.18 cannot run)."""
    variables = list(circuit.iter_vars()) if getattr(circuit, "num_vars", 0) else []
    if variables:
        names = ", ".join(printable(var.name, 20) for var in variables[:3])
        raise _Refused(
            f"the circuit uses real-time classical variables ({names}), which Qiskit Aer cannot run",
            "use classical bits and registers (OpenQASM: bit[2] c;) and input float[64] or angle parameters "
            "for values given at run time",
        )
    stretches = list(circuit.iter_stretches()) if getattr(circuit, "num_stretches", 0) else []
    if stretches:
        names = ", ".join(printable(stretch.name, 20) for stretch in stretches[:3])
        raise _Refused(
            f"the circuit uses stretch durations ({names}), which Qiskit Aer cannot run",
            "give every delay a fixed duration",
        )


class _Expansion:
    """Expanded sizes, memoised per definition, checking every distinct definition once."""

    def __init__(self) -> None:
        self.sizes: dict[Any, int] = {}
        self.alive: list[Any] = []  # keeps memoised definitions alive, so their ids stay unique

    def key(self, op: Any) -> Any:
        built = getattr(op, "_definition", None)
        if built is not None:
            return ("definition", id(built))
        if _kind(op) == "library":
            params = _params_key(op)
            return None if params is None else ("library", op.base_class, op.name, op.num_qubits, params)
        return ("lazy", getattr(op, "base_class", type(op)), op.name, op.num_qubits, op.num_clbits)

    def circuit(self, circuit: QuantumCircuit, depth: int = 0) -> int:
        if depth > _MAX_NESTING:
            raise _Refused(
                f"gate definitions and control flow nest more than {_MAX_NESTING} levels deep",
                "nest fewer levels of gates and blocks",
            )
        _check_scope(circuit)
        total = 0
        for instruction in circuit.data:
            total += self.operation(instruction.operation, depth)
        return total

    def operation(self, op: Any, depth: int) -> int:
        kind = _kind(op)
        if kind == "leaf":
            _check_params(op)
            return 1
        if kind in ("flow", "box"):
            for condition in (getattr(op, "condition", None), getattr(op, "target", None)):
                _check_expression(condition)
            sizes = [self.circuit(block, depth + 1) for block in op.blocks]
            if op.name == "for_loop":
                return max(_iterations(op.params[0]), 1) * max(sizes[0], 1)
            if op.name in ("if_else", "switch_case"):
                return max([*sizes, 1])
            return max(sum(sizes), 1)  # while_loop (at least once), box
        if kind == "annotated":
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
        definition = _definition(op)
        if definition is None:
            if kind == "custom" and op.name not in AER_NATIVE_INSTRUCTIONS:
                name = printable(op.name, 24)
                raise _Refused(
                    f"gate {name} has no definition (an opaque gate), so Qiskit Aer cannot run it",
                    f"define it with `gate {name} ... {{ ... }}` or use standard gates",
                    gate=op.name,
                )
            return 1
        if definition.num_qubits != op.num_qubits or definition.num_clbits != op.num_clbits:
            name = printable(op.name, 24)
            raise _Refused(
                f"gate {name} acts on {op.num_qubits} qubits but its definition on {definition.num_qubits}",
                f"fix the definition of {name}",
                gate=op.name,
            )
        size = self.circuit(definition, depth + 1)
        if key is not None:
            self.sizes[key] = size
            self.alive.append(definition)
        return size


def _call_line(source: str | None, name: str | None) -> int | None:
    """The first line outside gate bodies whose statement calls ``name`` (an OpenQASM source)."""
    if not source or not name:
        return None
    pattern = re.compile(rf"(?:^|[;{{}}])\s*(?:opaque\s+)?{re.escape(name)}\s*(?:\(|[A-Za-z_$])")
    depth = 0
    for number, line in enumerate(_blank_comments(source).splitlines(), start=1):
        if depth == 0 and not line.lstrip().startswith("gate") and pattern.search(line):
            return number
        depth = max(depth + line.count("{") - line.count("}"), 0)
    return None


def expanded_size(circuit: QuantumCircuit) -> int:
    """Instructions after expanding custom gate definitions (memoised); for-loop bodies count
    times their iterations, ``if``/``switch`` their largest branch, ``while`` its body once.

    Raises ``InvalidCircuitError`` for a definition that cannot be built.
    """
    try:
        return _Expansion().circuit(circuit)
    except _Refused as refused:
        raise _invalid(f"spec.circuit: {refused.problem}; {refused.todo}") from None
    except RecursionError:
        raise _invalid("spec.circuit: the circuit nests too deeply; nest fewer levels of gates and blocks") from None


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
    if limits is not None and circuit.num_qubits > limits.max_qubits:
        raise _limit(
            f"{field}: {circuit.num_qubits} qubits exceeds the limit of {limits.max_qubits} (maxQubits); "
            "use a smaller circuit"
        )
    if limits is not None and circuit.num_clbits > limits.max_circuit_size:
        raise _limit(
            f"{field}: {circuit.num_clbits} clbits exceeds the limit of {limits.max_circuit_size} (maxCircuitSize: "
            "a circuit cannot write more bits than it has instructions); use fewer classical bits"
        )
    try:
        size = _Expansion().circuit(circuit)
    except _Refused as refused:
        line = _call_line(source, refused.gate)
        where = f"line {line}: " if line else ""
        raise refused.cls(one_line(f"{field}: {where}{refused.problem}; {refused.todo}")) from None
    except RecursionError:
        raise _invalid(f"{field}: the circuit nests too deeply; nest fewer levels of gates and blocks") from None
    if limits is not None and size > limits.max_circuit_size:
        raise _limit(
            f"{field}: {size} instructions after expanding gate definitions exceeds the limit of "
            f"{limits.max_circuit_size} (maxCircuitSize); use a smaller circuit, fewer nested gates, "
            "or a parameter sweep instead of unrolled copies"
        )
    return size


#: An operation with the indices of its qubits and clbits in the circuit it is placed in.
_Placed = tuple[Any, tuple[int, ...], tuple[int, ...]]


class _Flattener:
    """Replaces custom gates (and boxes) by their definitions, memoised per definition."""

    def __init__(self) -> None:
        self.memo: dict[Any, tuple[list[_Placed], Any]] = {}
        self.alive: list[Any] = []

    @staticmethod
    def needed(circuit: QuantumCircuit, depth: int = 0) -> bool:
        for instruction in circuit.data:
            kind = _kind(instruction.operation)
            if kind in ("custom", "box"):
                return True
            if (
                kind == "flow"
                and depth < _MAX_NESTING
                and any(_Flattener.needed(block, depth + 1) for block in instruction.operation.blocks)
            ):
                return True
        return False

    def circuit(self, circuit: QuantumCircuit, depth: int = 0) -> QuantumCircuit:
        from qiskit.circuit import CircuitInstruction

        if depth > _MAX_NESTING or not self.needed(circuit):
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
            kind = _kind(op)
            if kind in ("leaf", "library", "annotated"):
                out.append((op, qs, cs))
                continue
            if kind == "flow":
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
        if op.name == "box" and _kind(op) == "box":
            return self.operations(op.blocks[0], depth)
        built = getattr(op, "_definition", None)
        params = _params_key(op)
        key: Any = ("definition", id(built)) if built is not None else None
        if key is None and params is not None:
            key = ("lazy", getattr(op, "base_class", type(op)), op.name, op.num_qubits, op.num_clbits, params)
        if key is not None and key in self.memo:
            return self.memo[key]
        if depth >= _MAX_NESTING:
            return None
        try:
            definition = _definition(op)
        except _Refused:
            return None
        if definition is None:
            return None
        result = self.operations(definition, depth + 1)
        if key is not None:
            self.memo[key] = result
            self.alive.append(definition)
        return result


def flatten(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` with every custom gate replaced by its definition, recursively (inside control
    flow too) and boxes opened; standard-library gates, Aer's native instructions and other Qiskit
    library gates stay as they are. Returns ``circuit`` itself when there is nothing to expand.

    Expansions are memoised per definition, so the work is linear in the size of the result:
    bound that first with ``check_circuit``.
    """
    return _Flattener().circuit(circuit)


# --------------------------------------------------------------------------- PUBs


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
    return SamplerPub.coerce((circuit, values, shots) if values is not None else (circuit, None, shots))


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
    if values is None:
        return EstimatorPub.coerce((circuit, list(observables), None, precision))
    values = values.reshape(values.shape[0], 1, values.shape[1])
    return EstimatorPub.coerce((circuit, list(observables), values, precision))
