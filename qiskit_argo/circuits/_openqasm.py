"""OpenQASM 2 and 3 parsed into circuits, with errors that name the source line.

``qiskit.qasm2.loads`` runs with Qiskit's legacy custom instructions (so every ``qelib1.inc`` gate
is a standard-library gate); OpenQASM 3 is parsed by the reference parser and converted by
``qiskit_qasm3_import`` with gate definitions built lazily. A parse error becomes an
``InvalidCircuitError`` whose one-line message names the source line:
``spec.circuit.openqasm: line 5: expected ';' but found 'q' in `cx q[0] q[1];`; fix ...``.
"""

from __future__ import annotations

import contextlib
import io
import re
from typing import TYPE_CHECKING, Any

from qiskit_argo.circuits._bounds import Qasm3Scan, prescan_qasm2
from qiskit_argo.circuits._expansion import check_circuit
from qiskit_argo.circuits._limits import CircuitLimits, invalid
from qiskit_argo.circuits._native import is_panic, panicked, quiet_native_stderr
from qiskit_argo.circuits._qasm3_gates import qasm3_converter
from qiskit_argo.circuits._text import blank_comments, openqasm_version
from qiskit_argo.errors import InvalidCircuitError, LimitExceededError, one_line, quote

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit

__all__ = ["parse_openqasm"]

_QASM2_POSITION = re.compile(r"^\s*(?:<input>|[^:]*):(\d+),(\d+):\s*(.*)$", re.DOTALL)
_QASM3_LEXER_POSITION = re.compile(r"^\s*L(\d+):C(\d+):\s*(.*)$", re.DOTALL)
_QASM3_POSITION = re.compile(r"^\s*(\d+),(\d+):\s*(.*)$", re.DOTALL)
#: The most characters quoted of a source line, and of a parser's problem.
_MAX_SNIPPET = 60
_MAX_PROBLEM = 120
#: The most alternatives an ``expected ... but found ...`` message lists.
_MAX_EXPECTED = 6


def _snippet(source: str, line: int) -> str:
    lines = source.splitlines()
    if not 1 <= line <= len(lines):
        return ""
    text = one_line(lines[line - 1], _MAX_SNIPPET, keep="start")
    return f" in `{text}`" if text else ""


def _located(field: str, source: str, line: int | None, problem: str, version: int) -> InvalidCircuitError:
    problem = one_line(problem, _MAX_PROBLEM).rstrip(".")
    if line is None:
        return invalid(f"{field}: {problem}; fix the OpenQASM {version} source")
    return invalid(
        f"{field}: line {line}: {problem}{_snippet(source, line)}; fix the OpenQASM {version} source at that line"
    )


def _message(error: BaseException) -> str:
    """A parser error's text (``QASM2ParseError`` and friends keep it in ``message``), one line."""
    return " ".join(str(getattr(error, "message", None) or error)[:4096].split())


def _parse_qasm2(source: str, field: str, limits: CircuitLimits | None) -> QuantumCircuit:
    from qiskit import qasm2

    prescan_qasm2(source, field, limits)
    try:
        with quiet_native_stderr():
            return qasm2.loads(
                source,
                include_path=(),
                custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS,
                custom_classical=qasm2.LEGACY_CUSTOM_CLASSICAL,
                strict=False,
            )
    except qasm2.QASM2Error as error:
        text = _message(error)
        match = _QASM2_POSITION.match(text)
        if match:
            raise _located(field, source, int(match.group(1)), match.group(3), 2) from None
        raise _located(field, source, None, text, 2) from None
    except RecursionError:
        raise invalid(
            f"{field}: the program nests too deeply for the OpenQASM 2 parser; split deep expressions into several "
            "statements"
        ) from None
    except Exception as error:  # noqa: BLE001 - anything else the parser raises is still bad input
        raise _located(field, source, None, str(error) or type(error).__name__, 2) from None
    except BaseException as error:
        if is_panic(error):
            raise panicked(field, error, 2) from None
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
                found = "end of file" if token.type == -1 else quote(token.text)
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


def _parse_qasm3(source: str, field: str, limits: CircuitLimits | None) -> QuantumCircuit:
    import openqasm3

    try:
        # ANTLR prints lexer errors to stderr before raising; the step's stderr must stay one line.
        with contextlib.redirect_stderr(io.StringIO()), quiet_native_stderr():
            program = openqasm3.parse(source)
            Qasm3Scan(field, limits).run(program)
            return qasm3_converter()().convert(program).circuit
    except (InvalidCircuitError, LimitExceededError):
        raise
    except RecursionError:
        raise invalid(
            f"{field}: the program nests too deeply (expressions, blocks or gate calls) for the OpenQASM 3 parser; "
            "split deep expressions into several statements"
        ) from None
    except Exception as error:  # noqa: BLE001 - the importer raises several unrelated types
        text = _message(error)
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
        if is_panic(error):
            raise panicked(field, error, 3) from None
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
    if not blank_comments(source).strip():
        raise InvalidCircuitError(f"{field}: the OpenQASM source holds only comments; put the program text there")
    try:
        version = openqasm_version(source)
    except InvalidCircuitError as error:
        raise invalid(f"{field}: {error}") from None
    circuit = _parse_qasm2(source, field, limits) if version == 2 else _parse_qasm3(source, field, limits)
    if limits is not None:
        check_circuit(circuit, limits, field=field, source=source)
    return circuit
