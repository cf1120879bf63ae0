"""Run the hostile corpus through worker processes under a watchdog, and judge every outcome.

``run_corpus(cases)`` writes the corpus to a temporary folder, starts ``workers`` (default 2, the
CI machine's cores) ``python -m tests.hostile.worker`` processes and hands each the next case as
soon as it has answered the last one. It is a watchdog: a worker that gives no answer for
``hang_seconds`` (60) is killed and its case recorded as ``hang``; a worker that dies records its
case as ``signal`` (negative return code: -11 a segfault, -6 an abort, -9 the OOM killer) or
``died``; either way a fresh worker takes over and the run continues with the remaining cases.

The workers' temporary directory (``TMPDIR``) is a deep folder of a sandbox, and ``ESCAPE_DIR``
is watched: a file that appears outside the command's own temporary directories, or a file in
``ESCAPE_DIR``, is a write outside the job's work directory and is recorded on the case whose
ConfigMap key named it.

``problems(outcome)`` lists what is wrong with one outcome under the CLI's contract for bad input:
no traceback, no signal, no hang; a ``reject`` case exits 2 with exactly one non-empty stderr
line of at most 300 characters, free of raw control characters, naming a field, a source line
or the file; an ``accept`` case exits 0.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qiskit_argo.steps import STEPS
from tests.hostile.corpus import ESCAPE_DIR, Case

__all__ = [
    "HANG_SECONDS",
    "WORKERS",
    "MAX_LINE",
    "Outcome",
    "run_corpus",
    "write_corpus",
    "problems",
    "forbidden_characters",
    "report",
    "summary",
    "sandbox_tmpdir",
    "prepare_escape_dir",
    "attribute_escapes",
]

REPO = Path(__file__).resolve().parents[2]
HANG_SECONDS = 60.0
WORKERS = 2
MAX_LINE = 300
#: How long a worker may take to import the CLI and Qiskit before it says it is ready.
STARTUP_SECONDS = 120.0
#: How deep the workers' TMPDIR sits in the sandbox, so that ``../`` keys still land in it.
SANDBOX_DEPTH = 10

#: A line the field, source line or file is named by.
_NAMES = re.compile(r"\b(?:spec|metadata|status|data|binaryData)[.\[]|\b(?:apiVersion|kind|spec|metadata)\b|\bline \d+")
#: A row of ``qiskit-argo run``'s progress display (mark, step name, state).
_PROGRESS = re.compile(r"^\S{1,2}\s+(?:" + "|".join(map(re.escape, STEPS)) + r")\b")
_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass
class Outcome:
    """What one case did."""

    case: Case
    path: Path
    status: str  # "done" | "hang" | "signal" | "died"
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    leaked_stdout: str = ""
    leaked_stderr: str = ""
    escaped: bool = False
    exception: str = ""
    elapsed: float = 0.0
    returncode: int | None = None
    worker_log: str = ""
    escapes: list[str] = field(default_factory=list)


def write_corpus(cases: Iterable[Case], folder: Path) -> dict[str, Path]:
    """Write every case into ``folder``, beside the examples' artifact files (``examples/sweeps``:
    the keys a control names are read under the job file's directory, as ``--artifacts`` defaults)."""
    folder.mkdir(parents=True, exist_ok=True)
    sweeps = Path(__file__).resolve().parents[2] / "examples" / "sweeps"
    if sweeps.is_dir() and not (folder / "sweeps").exists():
        shutil.copytree(sweeps, folder / "sweeps")
    paths: dict[str, Path] = {}
    for case in cases:
        path = folder / case.filename
        path.write_bytes(case.data)
        paths[case.id] = path
    return paths


def sandbox_tmpdir(root: Path) -> Path:
    """A TMPDIR ``SANDBOX_DEPTH`` folders below ``root``."""
    path = root.joinpath(*["t"] * SANDBOX_DEPTH)
    path.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------- the workers


class _Worker:
    def __init__(self, index: int, folder: Path, tmpdir: Path, logs: Path, command: str = "validate") -> None:
        self.index = index
        self.log_path = logs / f"worker-{index}-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in close()
        env = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONFAULTHANDLER": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.hostile.worker", "--dir", str(folder), "--command", command],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
            start_new_session=True,
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.fd = self.proc.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.buffer = b""
        self.ready = False
        self.spawned = time.monotonic()
        self.current: Case | None = None
        self.retiring = False  # answered its last case and is exiting (a fresh worker replaces it)
        self.sent_at = 0.0

    def send(self, case: Case, path: Path) -> None:
        assert self.proc.stdin is not None
        self.current = case
        self.sent_at = time.monotonic()
        self.proc.stdin.write(str(path).encode() + b"\n")
        self.proc.stdin.flush()

    def read_lines(self) -> tuple[list[dict[str, Any]], bool]:
        """Complete JSON lines available now, and whether the stream ended."""
        ended = False
        while True:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                ended = True
                break
            self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()], ended

    def log_tail(self, size: int = 4000) -> str:
        self.log.flush()
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-size:].decode("utf-8", "replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()

    def close(self, timeout: float = 10.0) -> None:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()


def _escape_files() -> set[str]:
    folder = Path(ESCAPE_DIR)
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def _stray_files(sandbox: Path) -> list[Path]:
    """Files in the sandbox outside the temporary directories the command makes for itself."""
    stray = []
    for path in sandbox.rglob("*"):
        if path.is_dir():
            continue
        parts = path.relative_to(sandbox).parts
        if any(part.startswith(("qiskit-argo-", "tmp")) for part in parts[:-1]):
            continue
        stray.append(path)
    return stray


def run_corpus(
    cases: Sequence[Case],
    *,
    workers: int = WORKERS,
    hang_seconds: float = HANG_SECONDS,
    root: Path | None = None,
    command: str = "validate",
) -> list[Outcome]:
    """Every case through ``qiskit-argo validate`` (or ``command``: ``render``, or ``catalogue``:
    the case as ``--catalogue`` of a good job) in worker processes; one outcome per case, in order."""
    own_root = root is None
    root = Path(tempfile.mkdtemp(prefix="hostile-")) if root is None else root
    try:
        return _run(cases, workers, hang_seconds, root, command)
    finally:
        if own_root:
            shutil.rmtree(root, ignore_errors=True)


def _run(cases: Sequence[Case], workers: int, hang_seconds: float, root: Path, command: str) -> list[Outcome]:
    folder, logs, sandbox = root / "cases", root / "logs", root / "sandbox"
    logs.mkdir(parents=True, exist_ok=True)
    tmpdir = sandbox_tmpdir(sandbox)
    paths = write_corpus(cases, folder)
    prepare_escape_dir(case.id for case in cases)

    outcomes: dict[str, Outcome] = {}
    pending = deque(cases)
    selector = selectors.DefaultSelector()
    slots: list[_Worker] = []

    def start(index: int) -> _Worker:
        worker = _Worker(index, folder, tmpdir, logs, command)
        selector.register(worker.fd, selectors.EVENT_READ, worker)
        return worker

    def replace(worker: _Worker) -> None:
        selector.unregister(worker.fd)
        worker.kill()
        worker.close(timeout=1)
        slots[worker.index] = start(worker.index)

    def finish(worker: _Worker, status: str, record: dict[str, Any] | None = None) -> None:
        case = worker.current
        assert case is not None
        outcome = Outcome(case=case, path=paths[case.id], status=status)
        if record is not None:
            assert record.get("id") == case.id, (record.get("id"), case.id)
            for name in (
                "exit_code",
                "stdout",
                "stderr",
                "leaked_stdout",
                "leaked_stderr",
                "escaped",
                "exception",
                "elapsed",
            ):
                setattr(outcome, name, record.get(name, getattr(outcome, name)))
        else:
            outcome.elapsed = round(time.monotonic() - worker.sent_at, 3)
            outcome.returncode = worker.proc.returncode
            outcome.worker_log = worker.log_tail()
        outcomes[case.id] = outcome
        worker.current = None

    slots.extend(start(i) for i in range(max(1, min(workers, len(cases)))))
    try:
        while pending or any(worker.current is not None for worker in slots):
            for worker in slots:
                if worker.ready and not worker.retiring and worker.current is None and pending:
                    case = pending.popleft()
                    try:
                        worker.send(case, paths[case.id])
                    except BrokenPipeError:
                        pass  # found dead below
            for key, _ in selector.select(timeout=0.25):
                worker = key.data
                records, _ = worker.read_lines()
                for record in records:
                    if record.get("ready"):
                        worker.ready = True
                    elif worker.current is not None:
                        worker.retiring = bool(record.get("recycle"))
                        finish(worker, "done", record)
            now = time.monotonic()
            for worker in list(slots):
                if worker.proc.poll() is not None:
                    records, _ = worker.read_lines()
                    for record in records:
                        if not record.get("ready") and worker.current is not None:
                            finish(worker, "done", record)
                    if worker.current is not None:
                        finish(worker, "signal" if (worker.proc.returncode or 0) < 0 else "died")
                    elif not worker.ready:
                        raise RuntimeError(f"worker could not start:\n{worker.log_tail()}")
                    replace(worker)
                elif worker.current is not None and now - worker.sent_at > hang_seconds:
                    worker.kill()
                    finish(worker, "hang")
                    replace(worker)
                elif not worker.ready and now - worker.spawned > STARTUP_SECONDS:
                    raise RuntimeError(f"worker not ready after {STARTUP_SECONDS:.0f} s:\n{worker.log_tail()}")
    finally:
        for worker in slots:
            selector.unregister(worker.fd)
            worker.close()
        selector.close()

    attribute_escapes(outcomes, sandbox)
    return [outcomes[case.id] for case in cases]


def prepare_escape_dir(case_ids: Iterable[str]) -> None:
    """Create ``ESCAPE_DIR`` and remove what an earlier run of these cases left in it."""
    Path(ESCAPE_DIR).mkdir(parents=True, exist_ok=True)
    known = set(case_ids)
    for name in _escape_files():
        if name.removesuffix(".txt") in known:
            (Path(ESCAPE_DIR) / name).unlink(missing_ok=True)


def attribute_escapes(outcomes: dict[str, Outcome], sandbox: Path) -> None:
    """Record on its case every file written outside the work directory (then remove our canaries)."""
    for name in sorted(_escape_files()):
        case_id = name.removesuffix(".txt")
        target = Path(ESCAPE_DIR) / name
        if case_id in outcomes:
            outcomes[case_id].escapes.append(str(target))
            target.unlink(missing_ok=True)
    for path in _stray_files(sandbox):
        owners = [o for o in outcomes.values() if path.name.encode() in o.case.data]
        for owner in owners or list(outcomes.values())[:1]:
            owner.escapes.append(str(path) + ("" if owners else " (written by an unknown case)"))


# --------------------------------------------------------------------------- judging


def forbidden_characters(text: str) -> list[str]:
    """Raw control characters (C0, DEL, C1), surrogates, line separators and bidi controls."""
    found = []
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cs") or char in "\u2028\u2029" or char in _BIDI:
            found.append(f"U+{ord(char):04X}")
    return sorted(set(found))


def _names_something(line: str, path: Path) -> bool:
    return bool(_NAMES.search(line)) or str(path) in line or path.name in line


def problems(outcome: Outcome, command: str = "validate") -> list[str]:
    """Everything wrong with ``outcome``; empty when the CLI kept its contract."""
    case = outcome.case
    found: list[str] = []
    if outcome.status == "hang":
        return [f"hang: no answer within the watchdog's limit ({outcome.elapsed:.0f} s)"]
    if outcome.status in ("signal", "died"):
        code = outcome.returncode
        what = f"killed by signal {-code} ({signal.Signals(-code).name})" if code and code < 0 else f"exit {code}"
        return [f"{outcome.status}: the process ended ({what})"]
    if outcome.escaped:
        last = [line for line in outcome.exception.strip().splitlines() if line.strip()]
        found.append(f"exception escaped: {last[-1] if last else '?'}")
    streams = (outcome.stdout, outcome.stderr, outcome.leaked_stdout, outcome.leaked_stderr)
    if any("Traceback" in text for text in streams):
        found.append("a traceback was printed")
    for target in outcome.escapes:
        found.append(f"wrote outside its directory: {target}")
    error_text = outcome.stderr + outcome.leaked_stderr
    lines = [line for line in error_text.splitlines() if line.strip()]
    if command == "run":
        lines = [line for line in lines if not _PROGRESS.match(line)]
    if case.expect == "reject":
        if outcome.exit_code != 2:
            found.append(f"exit code {outcome.exit_code}, expected 2")
        if len(lines) != 1:
            found.append(f"{len(lines)} stderr lines, expected exactly 1")
        if command == "validate" and (outcome.stdout.strip() or outcome.leaked_stdout.strip()):
            found.append("printed to stdout")
        for line in lines[:1]:
            if len(line) > MAX_LINE:
                found.append(f"stderr line of {len(line)} characters (at most {MAX_LINE})")
            bad = forbidden_characters(line)
            if bad:
                found.append(f"raw control characters in stderr: {', '.join(bad[:6])}")
            if not _names_something(line, outcome.path):
                found.append("the line names no field, source line or file")
    else:
        allowed = (0,) if command == "validate" else (0, 1)
        if outcome.exit_code not in allowed:
            found.append(f"exit code {outcome.exit_code}, expected {' or '.join(map(str, allowed))} (valid input)")
        if command == "validate" and lines:
            found.append(f"{len(lines)} stderr lines for valid input")
        bad = forbidden_characters("".join(lines))
        if bad:
            found.append(f"raw control characters in stderr: {', '.join(bad[:6])}")
    return found


def report(failures: Sequence[tuple[Outcome, list[str]]], detailed: int = 200) -> str:
    """A failure message: every offending case id with its problems, the first ``detailed`` with output."""
    out = [f"{len(failures)} case(s) broke the CLI's contract:"]
    for outcome, found in failures[:detailed]:
        case = outcome.case
        out.append(f"- {case.id} [{case.cls}, expect {case.expect}] {case.note[:100]}")
        out.append(f"    problems: {'; '.join(found)}")
        out.append(f"    exit={outcome.exit_code} status={outcome.status} elapsed={outcome.elapsed:.2f}s")
        if outcome.stderr.strip():
            out.append(f"    stderr: {outcome.stderr.strip()[:600]!r}")
        if outcome.leaked_stderr.strip():
            out.append(f"    fd2: {outcome.leaked_stderr.strip()[:600]!r}")
        if outcome.stdout.strip() and case.expect == "reject":
            out.append(f"    stdout: {outcome.stdout.strip()[:300]!r}")
        if outcome.exception:
            tail = outcome.exception.strip().splitlines()[-6:]
            out.append("    exception: " + " | ".join(line.strip() for line in tail)[:800])
        if outcome.worker_log.strip():
            tail = outcome.worker_log.strip().splitlines()[-8:]
            out.append("    worker log: " + " | ".join(line.strip() for line in tail)[:800])
    if len(failures) > detailed:
        out.append(f"and {len(failures) - detailed} more (id: first problem; stderr):")
        for outcome, found in failures[detailed:]:
            out.append(f"- {outcome.case.id}: {found[0]}; {outcome.stderr.strip()[:200]!r}")
    return "\n".join(out)


def summary(outcomes: Sequence[Outcome], command: str = "validate") -> str:
    """Cases per class, then the failures grouped by class and problem, with one example message each."""
    from collections import Counter, defaultdict

    counts = Counter(outcome.case.cls for outcome in outcomes)
    lines = ["cases per class: " + ", ".join(f"{name} {count}" for name, count in counts.items())]
    groups: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        found = problems(outcome, command)
        if found:
            groups[(outcome.case.cls, found[0].split(":")[0][:60])].append(outcome)
    total = sum(len(group) for group in groups.values())
    lines.append(f"failures: {total}")
    for (cls, problem), group in sorted(groups.items()):
        example = group[0]
        exception = example.exception.strip().splitlines()
        text = example.stderr.strip() or (exception[-1] if exception else f"(nothing on stderr; {example.case.note})")
        lines.append(f"  {cls}: {problem} x{len(group)} — e.g. {example.case.id}: {text[:240]!r}")
        lines.append(f"      ids: {', '.join(o.case.id for o in group[:12])}{' ...' if len(group) > 12 else ''}")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m tests.hostile.harness: the whole corpus, a summary
    from tests.hostile.corpus import generate

    started = time.perf_counter()
    everything = run_corpus(generate())
    print(summary(everything))
    print(f"{len(everything)} cases in {time.perf_counter() - started:.1f} s with {WORKERS} workers")
