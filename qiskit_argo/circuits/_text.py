"""OpenQASM source text before any parser: comments, line numbers and the version.

A program's version comes from its header (``OPENQASM 2.0;`` or ``OPENQASM 3[.0];``). Without
one, a program is OpenQASM 2 when it looks like one (``include "qelib1.inc";``, ``qreg``/``creg``
and nothing only OpenQASM 3 has), as published benchmark suites often omit the line; otherwise
OpenQASM 3, which allows no header.
"""

from __future__ import annotations

import re

from qiskit_argo.circuits._limits import invalid
from qiskit_argo.errors import one_line

__all__ = ["HEADER", "blank_comments", "line_of", "call_line", "openqasm_version"]

#: The version header.
HEADER = re.compile(r"OPENQASM\s+([0-9]+)(?:\.([0-9]+))?\s*;")
# Whitespace and comments that may precede the version header.
_LEADING = re.compile(r"\A(?:\s+|//[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.DOTALL)
_COMMENT = re.compile(r"//[^\n]*|/\*.*?(?:\*/|\Z)", re.DOTALL)
_QASM2_SIGNS = re.compile(r'^[ \t]*(?:include\s*"qelib1\.inc"|qreg\s+[A-Za-z_]\w*\s*\[|creg\s+[A-Za-z_]\w*\s*\[)', re.M)
_QASM3_SIGNS = re.compile(
    r'^[ \t]*(?:include\s*"stdgates\.inc"|(?:qubit|bit|input|output|const|def|for|while|box|let|bool|int|uint'
    r"|float|angle|complex|duration|stretch|array|switch|extern|defcal|cal|gphase|ctrl|negctrl|inv|pow)\b)",
    re.M,
)


def blank_comments(source: str) -> str:
    """``source`` with every comment replaced by spaces (newlines kept, so line numbers hold)."""
    return _COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), source)


def line_of(source: str, offset: int) -> int:
    """The line number (from 1) of the character at ``offset``."""
    return source.count("\n", 0, offset) + 1


def call_line(source: str | None, name: str | None) -> int | None:
    """The first line outside gate bodies whose statement calls gate ``name``."""
    if not source or not name:
        return None
    pattern = re.compile(rf"(?:^|[;{{}}])\s*(?:opaque\s+)?{re.escape(name)}\s*(?:\(|[A-Za-z_$])")
    depth = 0
    for number, line in enumerate(blank_comments(source).splitlines(), start=1):
        if depth == 0 and not line.lstrip().startswith("gate") and pattern.search(line):
            return number
        depth = max(depth + line.count("{") - line.count("}"), 0)
    return None


def _looks_like_qasm2(source: str) -> bool:
    code = blank_comments(source[:1_000_000])
    return _QASM2_SIGNS.search(code) is not None and _QASM3_SIGNS.search(code) is None


def openqasm_version(source: str) -> int:
    """The major OpenQASM version of a program: 2 or 3.

    The header decides; without one, a program that looks like OpenQASM 2 (``include
    "qelib1.inc";``, ``qreg``/``creg`` declarations and nothing only OpenQASM 3 has) is 2,
    anything else 3. Raises ``InvalidCircuitError`` for any other declared version.
    """
    start = _LEADING.match(source)
    rest = source[start.end() if start else 0 :]
    header = HEADER.match(rest)
    if header is None:
        return 2 if _looks_like_qasm2(source) else 3
    major_text = header.group(1)
    if major_text not in ("2", "3"):
        line = line_of(source, len(source) - len(rest))
        minor = f".{one_line(header.group(2), 8)}" if header.group(2) else ""
        raise invalid(
            f"line {line}: OpenQASM {one_line(major_text, 12)}{minor} is not supported; "
            "declare OPENQASM 2.0; or OPENQASM 3.0;"
        )
    return int(major_text)
