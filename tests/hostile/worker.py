"""Run ``qiskit-argo validate FILE`` in-process for each file named on stdin; one JSON line per file.

Started by the harness as ``python -m tests.hostile.worker`` (cwd = the repository root). It reads
one case per line — a file path, or a case id with ``--dir DIR`` holding ``<id>.yaml`` — runs the
command through ``typer.testing.CliRunner`` (the CLI is imported once), and writes at once, flushed,
one JSON object per case to its stdout::

    {"id": ..., "exit_code": 2, "stdout": ..., "stderr": ..., "leaked_stdout": ..., "leaked_stderr": ...,
     "escaped": false, "exception": "", "elapsed": 0.004}

``stderr`` and ``stdout`` are what the command printed through Python, bounded; ``leaked_*`` is what
reached file descriptors 1 and 2 directly (a Rust panic message, a C library, a stray print
before the runner swapped the streams), which a person running the real command would see too.
``escaped`` says that an exception other than ``SystemExit`` left the command (click turns it into
``result.exception``; a ``BaseException`` such as pyo3's ``PanicException`` would leave the runner
itself). The JSON protocol uses a duplicate of the original stdout, so nothing the product prints
can corrupt it.

The worker caps its address space (``HOSTILE_WORKER_MEMORY_MB``, default 1536 beyond its size once
Qiskit is imported) so that a bomb fails in this process instead of exhausting the machine; after a
``MemoryError`` it answers with ``"recycle": true`` and exits, and the harness starts a fresh one.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import resource
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import IO, Any

__all__ = ["main", "run_one", "FdCapture", "LIMIT"]

#: Most characters of each captured stream sent back (a correct answer is one line of <= 300).
LIMIT = 20_000
#: The good job a hostile catalogue file is given beside (``--command catalogue``).
BELL = Path(__file__).resolve().parents[2] / "examples" / "bell.yaml"


def _bounded(text: str) -> str:
    if len(text) <= LIMIT:
        return text
    # Cut inside the text, never adding a line: the judge counts lines.
    return text[: LIMIT - 2000] + f" [... {len(text) - LIMIT} characters cut ...] " + text[-2000:]


def _warm_up() -> None:
    """Import what the validate step imports on first use, so the memory cap is measured after it."""
    import importlib

    for module in ("qiskit_argo.validation", "qiskit.qasm2", "qiskit.qasm3", "qiskit.qpy"):
        try:
            importlib.import_module(module)
        except ImportError:
            pass


def _cap_memory() -> None:
    """Cap the address space at its size now plus ``HOSTILE_WORKER_MEMORY_MB`` (0: no cap)."""
    extra = int(os.environ.get("HOSTILE_WORKER_MEMORY_MB", "1536")) * 1024 * 1024
    if extra <= 0:
        return
    with open("/proc/self/statm") as stream:
        size = int(stream.read().split()[0]) * resource.getpagesize()
    limit = size + extra
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or limit < hard:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


class FdCapture:
    """Redirect file descriptors 1 and 2 into temporary files around each case."""

    def __init__(self) -> None:
        self.files = {fd: tempfile.TemporaryFile() for fd in (1, 2)}
        self.saved = {fd: os.dup(fd) for fd in (1, 2)}

    def __enter__(self) -> FdCapture:
        for fd, stream in self.files.items():
            stream.seek(0)
            stream.truncate()
            os.dup2(stream.fileno(), fd)
        return self

    def __exit__(self, *exc: object) -> None:
        for fd, saved in self.saved.items():
            os.dup2(saved, fd)

    def read(self, fd: int) -> str:
        stream = self.files[fd]
        stream.seek(0)
        return stream.read(LIMIT * 4).decode("utf-8", "surrogateescape")


def run_one(runner: Any, app: Any, command: list[str], capture: FdCapture) -> dict[str, Any]:
    started = time.perf_counter()
    escaped = False
    exception = ""
    exit_code: int | None = None
    stdout = stderr = ""
    with capture:
        try:
            result = runner.invoke(app, command)
        except BaseException as error:  # noqa: BLE001 - whatever leaves the runner is the finding
            escaped = True
            exception = "".join(traceback.format_exception(error))
        else:
            exit_code = result.exit_code
            stdout, stderr = result.stdout, result.stderr
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                escaped = True
                exception = "".join(traceback.format_exception(*result.exc_info))
    elapsed = time.perf_counter() - started
    return {
        "exit_code": exit_code,
        "stdout": _bounded(stdout),
        "stderr": _bounded(stderr),
        "stdout_chars": len(stdout),
        "stderr_chars": len(stderr),
        "leaked_stdout": _bounded(capture.read(1)),
        "leaked_stderr": _bounded(capture.read(2)),
        "escaped": escaped,
        "exception": _bounded(exception),
        "elapsed": round(elapsed, 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="folder holding <case id>.yaml, for lines that are ids")
    parser.add_argument("--command", default="validate", choices=["validate", "render", "catalogue"])
    args = parser.parse_args(argv)

    channel: IO[str] = os.fdopen(os.dup(1), "w", encoding="utf-8", errors="backslashreplace")
    # A crash report must reach the worker's log, not the per-case capture of fd 2.
    crash_log = os.fdopen(os.dup(2), "w")
    faulthandler.enable(file=crash_log, all_threads=True)

    from typer.testing import CliRunner

    from qiskit_argo.cli import app

    _warm_up()
    _cap_memory()
    runner = CliRunner()
    capture = FdCapture()
    channel.write(json.dumps({"ready": True}) + "\n")
    channel.flush()
    for line in sys.stdin:
        name = line.rstrip("\n")
        if not name:
            continue
        path = Path(name)
        if args.dir is not None and not path.is_absolute() and not path.exists():
            path = args.dir / f"{name}.yaml"
        case_id = path.name.removesuffix(".yaml")
        try:
            command = [args.command, str(path)]
            if args.command == "catalogue":  # the file as a catalogue beside a good job
                command = ["render", str(BELL), "--catalogue", str(path)]
            record = {"id": case_id, **run_one(runner, app, command, capture)}
        except MemoryError:  # the command left too little memory for the bookkeeping
            record = {"id": case_id, "exit_code": None, "escaped": True, "exception": "MemoryError (after the command)"}
        recycle = bool(record["escaped"]) and "MemoryError" in str(record["exception"])
        record["recycle"] = recycle  # this process may be in a poor state: the harness starts a fresh one
        channel.write(json.dumps(record) + "\n")
        channel.flush()
        if recycle:
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
