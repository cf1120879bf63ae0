"""Qiskit's native parsers (Rust, through pyo3) kept quiet, and their panics turned into errors.

A Rust panic prints its message and backtrace on file descriptor 2 before Python sees it, as a
``pyo3_runtime.PanicException`` (a ``BaseException``); a step's stderr must stay one line.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from qiskit_argo.circuits._limits import invalid
from qiskit_argo.errors import InvalidCircuitError

__all__ = ["quiet_native_stderr", "is_panic", "panic_problem", "panicked"]

_PASS_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit)


def is_panic(error: BaseException) -> bool:
    """A Rust panic surfacing through pyo3 (``pyo3_runtime.PanicException``, a BaseException)."""
    return type(error).__name__ == "PanicException" and not isinstance(error, _PASS_THROUGH)


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null while native code runs. Python's own ``sys.stderr`` is
    flushed first, so nothing of ours is lost."""
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


def panic_problem(error: BaseException) -> str:
    """What a parser's panic means, in words a person can act on."""
    text = str(error)
    if "ParseIntError" in text or "too large" in text:
        return "a number in it is too large for Qiskit's parser"
    if "null" in text or "alloc" in text:
        return "Qiskit's parser ran out of memory on it"
    return "Qiskit's parser failed on it (an internal error)"


def panicked(field: str, error: BaseException, version: int | str) -> InvalidCircuitError:
    """The error for a panic while reading ``field`` (``version``: 2, 3 or ``"QPY"``)."""
    what = f"OpenQASM {version}" if isinstance(version, int) else version
    return invalid(f"{field}: {panic_problem(error)}; check register sizes, indices and numbers in the {what} source")
