"""The exception tree, and the one-line form every message takes.

Every error qiskit-argo raises on purpose is permanent (retrying cannot help: exit code 2, never
retried by Argo) or transient (retrying may help: exit code 1)::

    QiskitArgoError
    ├── PermanentError              reason PermanentFailure
    │   ├── InvalidJobError         reason InvalidSpec: the manifest itself
    │   ├── InvalidCircuitError     reason InvalidCircuit: the circuit, or how it fits the job
    │   └── LimitExceededError      reason LimitExceeded: a platform limit
    └── TransientError              reason TransientFailure
        └── ExecutionError          reason ExecutionFailed: the backend failed on valid work

(``qiskit_argo.safeio`` adds ``UnsafePathError`` and ``ResultsDirError`` under ``PermanentError``.)
Every ``reason`` is a member of ``qiskit_argo.reasons.Reason``, the one list of reasons: a class
naming a word that is not a member fails at import, a ``reason=`` that is not one fails at once.

A message is one line a person can act on: ``<field>: <what is wrong>; <what to do>``. Text
quoted from input or from a library goes through ``one_line`` (a whole message) or ``quote`` (a
value inside one): control characters, line and paragraph separators, bidi controls and lone
surrogates are shown escaped (an ESC byte reads ``\\x1b``), so nothing can move a terminal's cursor,
reorder what a person reads or split a log line; and the text is bounded, cut where it matters
least and marked with ``...``.
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

from qiskit_argo.reasons import Reason

__all__ = [
    "QiskitArgoError",
    "PermanentError",
    "TransientError",
    "InvalidJobError",
    "InvalidCircuitError",
    "LimitExceededError",
    "ExecutionError",
    "EXIT_OK",
    "EXIT_TRANSIENT",
    "EXIT_PERMANENT",
    "MAX_MESSAGE",
    "MAX_QUOTE",
    "ELLIPSIS",
    "Keep",
    "one_line",
    "quote",
]

#: Exit codes shared by the CLI and the step runner. Argo's retryStrategy never retries
#: ``EXIT_PERMANENT``; the CLI uses the same code for "bad input".
EXIT_OK = 0
EXIT_TRANSIENT = 1
EXIT_PERMANENT = 2

#: The most characters of one message (an error, a printed line).
MAX_MESSAGE: Final = 300
#: The most characters of one value quoted inside a message.
MAX_QUOTE: Final = 40
#: What marks a cut.
ELLIPSIS: Final = "..."


def _member(reason: Reason | str) -> Reason:
    try:
        return Reason(reason)
    except ValueError:
        raise ValueError(f"{reason!r} is not a qiskit_argo.reasons.Reason; add it there (the one list)") from None


class QiskitArgoError(Exception):
    """Base of every error qiskit-argo raises on purpose.

    ``reason`` is a ``Reason`` (it ends up in ``status.reason`` and conditions); ``str(error)``
    is the one line a person reads.
    """

    reason: Reason = Reason.ERROR
    permanent = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # A subclass naming its reason by its word gets the member (an unknown word fails here).
        super().__init_subclass__(**kwargs)
        cls.reason = _member(cls.reason)

    def __init__(self, message: str, *, reason: Reason | str | None = None) -> None:
        """``reason`` overrides the class's: a ``Reason``, or its word (made the member)."""
        super().__init__(message)
        if reason is not None:
            self.reason = _member(reason)

    @property
    def exit_code(self) -> int:
        return EXIT_PERMANENT if self.permanent else EXIT_TRANSIENT


class PermanentError(QiskitArgoError):
    """Retrying cannot help: the input is wrong."""

    reason = Reason.PERMANENT_FAILURE
    permanent = True


class TransientError(QiskitArgoError):
    """Retrying may help: a backend, the network or the cluster failed."""

    reason = Reason.TRANSIENT_FAILURE


class InvalidJobError(PermanentError):
    """The QiskitJob manifest itself is malformed (YAML, apiVersion/kind, fields)."""

    reason = Reason.INVALID_SPEC


class InvalidCircuitError(PermanentError):
    """The circuit cannot be parsed or does not fit the job (parameters, observables)."""

    reason = Reason.INVALID_CIRCUIT


class LimitExceededError(PermanentError):
    """The circuit or the request exceeds a configured limit (qubits, shots, size, sweep)."""

    reason = Reason.LIMIT_EXCEEDED


class ExecutionError(TransientError):
    """The backend failed while running valid work."""

    reason = Reason.EXECUTION_FAILED


# --------------------------------------------------------------------------- one line

#: Where a cut text keeps its characters: ``"both"`` its start and its last ``; what to do``
#: clause (a message), ``"start"`` its start (a value), ``"end"`` its end (a path).
Keep = Literal["both", "start", "end"]

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
#: A run of whitespace holding anything but a plain space: layout of prose (a wrapped line, a tab).
_LAYOUT = re.compile(r"\s*[^\S ]\s*")


def _escaped(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _pieces(text: str, mark: str = "") -> list[str]:
    """``text`` one piece per character, a character ``str.isprintable`` refuses as its escape;
    with a quotation ``mark``, a backslash and the mark escaped too (as ``repr`` does)."""
    if mark:
        special = {"\\": "\\\\", mark: "\\" + mark}
        return [special.get(char) or (char if char.isprintable() else _escaped(char)) for char in text]
    return [char if char.isprintable() else _escaped(char) for char in text]


def _fit(pieces: list[str], room: int) -> str:
    """The first pieces, whole, that fit in ``room`` characters."""
    size = 0
    for count, piece in enumerate(pieces):
        size += len(piece)
        if size > room:
            return "".join(pieces[:count])
    return "".join(pieces)


def _fit_end(pieces: list[str], room: int) -> str:
    """The last pieces, whole, that fit in ``room`` characters."""
    size = 0
    for count, piece in enumerate(reversed(pieces)):
        size += len(piece)
        if size > room:
            return "".join(pieces[len(pieces) - count :])
    return "".join(pieces)


def one_line(text: object, limit: int | None = MAX_MESSAGE, *, prose: bool = True, keep: Keep = "both") -> str:
    """``text`` as one printable line of at most ``limit`` characters.

    Every character ``str.isprintable`` refuses is escaped (``\\x1b``, ``\\u202e``, ``\\ud800``).
    ``prose`` (a message, a library's error text): a run of whitespace holding a line break or a
    tab is layout and becomes one space, and the ends are stripped; without it every character
    reads as given (``\\n``, ``\\t``, spaces kept). A text over ``limit`` is cut, never inside an
    escape, where ``keep`` says (``"both"``: the start and the last ``; what to do`` clause when
    it takes at most half the line, else the start), the cut marked with ``...``.
    ``limit=None`` only escapes.
    """
    return _line(str(text), limit, prose, keep)


def quote(value: object, limit: int = MAX_QUOTE) -> str:
    """A bounded snippet of input to put inside a message, as ``repr`` writes it (``'a\\tb'``,
    ``"it's"``, ``'a\\\\b'``, ``7``) but with at most ``limit`` characters inside the quotes, cut at
    the end with ``...``."""
    if not isinstance(value, str):
        return _line(repr(value), limit, False, "start")
    mark = '"' if "'" in value and '"' not in value else "'"
    return mark + _line(value, limit, False, "start", mark) + mark


def _line(raw: str, limit: int | None, prose: bool, keep: Keep, mark: str = "") -> str:
    """``one_line``; with a quotation ``mark``, the inside of ``quote``."""
    if limit is None:
        if prose:
            raw = _LAYOUT.sub(" ", raw).strip()
        return raw if raw.isprintable() and not mark else "".join(_pieces(raw, mark))
    # Only the first and the last ``limit`` characters can be shown (prose may collapse a few).
    window = 4 * limit + 16
    cut = len(raw) > 2 * window
    head_raw, tail_raw = (raw[:window], raw[-window:]) if cut else (raw, raw)
    if prose:
        head_raw, tail_raw = _LAYOUT.sub(" ", head_raw).lstrip(), _LAYOUT.sub(" ", tail_raw).rstrip()
        if not cut:
            head_raw = tail_raw = head_raw.strip()
    head = _pieces(head_raw, mark)
    if not cut and sum(map(len, head)) <= limit:
        return "".join(head)
    tail = head if not cut else _pieces(tail_raw, mark)
    if keep == "end":
        return ELLIPSIS + _fit_end(tail, limit - len(ELLIPSIS)).lstrip()
    if keep == "both":
        ending = "".join(tail[-limit:])
        clause = ending.rfind("; ")
        if clause > 0 and len(ending) - clause <= limit // 2:
            todo = ending[clause:]
            return _fit(head, limit - len(todo) - len(ELLIPSIS) - 1).rstrip() + " " + ELLIPSIS + todo
    return _fit(head, limit - len(ELLIPSIS)).rstrip() + ELLIPSIS
