"""The CLI never breaks on hostile input: a generated corpus through validate, the real script and run.

* ``test_corpus_through_validate`` — every case of ``corpus.generate()`` through
  ``qiskit-argo validate`` in two watched worker processes (``harness.run_corpus``).
* ``test_nastiest_cases_through_the_real_console_script`` — about 30 of the nastiest cases through
  the installed ``qiskit-argo`` in fresh processes, as a person runs it.
* ``test_run_writes_only_into_its_results_directory`` — about 40 cases through ``qiskit-argo run``
  in-process, each in its own temporary folder: nothing may be written in that folder outside the
  results directory (``--out``) and the command's temporary files (``tempfile.tempdir``), nor in
  ``corpus.ESCAPE_DIR`` or at the absolute paths the corpus names; and the same one-line rules
  (``run``'s progress rows aside), with exit code 0 or 1 only for valid jobs.

Each failure message lists every offending case id with its output.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.hostile import corpus, harness, worker
from tests.hostile.corpus import ESCAPE_DIR, Case
from tests.hostile.harness import Outcome

CASES = corpus.generate()
#: Paths a ConfigMap key in the corpus names outside any work directory (``/abs/x.txt``,
#: ``../../../tmp/x/rel-key.txt``): watched by the run test too.
WATCHED_PATHS = [Path("/abs/x.txt"), Path("/tmp/x/rel-key.txt")]


def _fail_on(outcomes: list[Outcome], command: str = "validate") -> None:
    failures = [(outcome, found) for outcome in outcomes if (found := harness.problems(outcome, command))]
    if failures:
        by_class = Counter(outcome.case.cls for outcome, _ in failures)
        summary = ", ".join(f"{name}: {count}" for name, count in sorted(by_class.items()))
        pytest.fail(f"[{summary}]\n{harness.report(failures)}", pytrace=False)


def test_corpus_is_large_and_covers_every_class() -> None:
    counts = Counter(case.cls for case in CASES)
    assert len(CASES) >= 1200, counts
    assert set(counts) == set(corpus.CLASSES), counts
    assert len({case.id for case in CASES}) == len(CASES)
    accepted = [case for case in CASES if case.expect == "accept"]
    assert {f"controls-example-{path.stem}" for path in corpus.EXAMPLES.glob("*.yaml")} <= {c.id for c in accepted}
    assert corpus.generate() == CASES, "the corpus must be the same on every call"


def test_corpus_through_validate(tmp_path: Path) -> None:
    started = time.perf_counter()
    outcomes = harness.run_corpus(CASES, root=tmp_path)
    wall = time.perf_counter() - started
    assert [outcome.case.id for outcome in outcomes] == [case.id for case in CASES]
    print(f"\n{len(CASES)} cases through validate in {wall:.1f} s with {harness.WORKERS} workers")
    _fail_on(outcomes)


def test_corpus_as_a_catalogue(tmp_path: Path) -> None:
    """Every hostile file given as ``--catalogue`` beside a good job: the catalogue loader reads it
    with the same hardened YAML reader, and none of these files holds a usable QiskitBackend, so
    each is refused in one line naming the file or the field, exit 2, never a traceback or a hang."""
    cases = [dataclasses.replace(case, expect="reject") for case in CASES]
    # And each as a QiskitBackend (or QiskitSession), so that the hostile fields, types and strings
    # reach those models rather than being skipped as kinds the catalogue does not hold.
    for kind in (b"QiskitBackend", b"QiskitSession"):
        cases += [
            dataclasses.replace(case, id=f"{case.id}-as-{kind.decode().lower()}", expect="reject",
                                data=case.data.replace(b"QiskitJob", kind))
            for case in CASES
            if b"QiskitJob" in case.data
        ]  # fmt: skip
    started = time.perf_counter()
    outcomes = harness.run_corpus(cases, root=tmp_path, command="catalogue")
    print(f"\n{len(cases)} cases as --catalogue in {time.perf_counter() - started:.1f} s")
    _fail_on(outcomes, command="render")


# --------------------------------------------------------------------------- the real console script


def _nastiest() -> list[Case]:
    return [case for case in CASES if "nasty" in case.tags]


def _script() -> Path:
    return Path(sys.executable).with_name("qiskit-argo")


#: The real script's address space, in KiB: Qiskit maps about 1.3 GB; a bomb must not take the machine.
SCRIPT_MEMORY_KIB = 4 * 1024 * 1024


def _run_script(case: Case, path: Path, tmpdir: Path) -> Outcome:
    started = time.perf_counter()
    outcome = Outcome(case=case, path=path, status="done")
    try:
        proc = subprocess.run(
            # `ulimit` in a shell that then execs the script: preexec_fn is unsafe beside threads.
            [
                "/bin/sh",
                "-c",
                f'ulimit -v {SCRIPT_MEMORY_KIB} && exec "$0" "$@"',
                str(_script()),
                "validate",
                str(path),
            ],
            capture_output=True,
            timeout=harness.HANG_SECONDS,
            env={**os.environ, "TMPDIR": str(tmpdir)},
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        outcome.status = "hang"
        outcome.stderr = (expired.stderr or b"").decode("utf-8", "surrogateescape")
        outcome.elapsed = time.perf_counter() - started
        return outcome
    outcome.elapsed = time.perf_counter() - started
    outcome.returncode = proc.returncode
    if proc.returncode < 0:
        outcome.status = "signal"
    outcome.exit_code = proc.returncode
    outcome.stdout = proc.stdout.decode("utf-8", "surrogateescape")
    outcome.stderr = proc.stderr.decode("utf-8", "surrogateescape")
    outcome.escaped = "Traceback (most recent call last)" in outcome.stderr
    if outcome.escaped:
        outcome.exception = outcome.stderr
    return outcome


def test_nastiest_cases_through_the_real_console_script(tmp_path: Path) -> None:
    cases = _nastiest()
    assert 25 <= len(cases) <= 40, len(cases)
    assert _script().is_file(), f"{_script()} is not installed"
    paths = harness.write_corpus(cases, tmp_path / "cases")
    sandbox = tmp_path / "sandbox"
    tmpdir = harness.sandbox_tmpdir(sandbox)
    harness.prepare_escape_dir(case.id for case in cases)
    with ThreadPoolExecutor(max_workers=harness.WORKERS) as pool:
        outcomes = list(pool.map(lambda case: _run_script(case, paths[case.id], tmpdir), cases))
    harness.attribute_escapes({outcome.case.id: outcome for outcome in outcomes}, sandbox)
    _fail_on(outcomes)


# --------------------------------------------------------------------------- run


def _run_cases() -> list[Case]:
    return [case for case in CASES if "run" in case.tags]


def _snapshot(*roots: Path) -> dict[Path, tuple[int, int]]:
    files: dict[Path, tuple[int, int]] = {}
    for root in roots:
        if root.is_file():
            stat = root.stat()
            files[root] = (stat.st_size, stat.st_mtime_ns)
        elif root.is_dir():
            for path in root.rglob("*"):
                if path.is_file() and not path.is_symlink():
                    stat = path.stat()
                    files[path] = (stat.st_size, stat.st_mtime_ns)
    return files


def test_run_writes_only_into_its_results_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from qiskit_argo.cli import app

    cases = _run_cases()
    assert 30 <= len(cases) <= 50, len(cases)
    Path(ESCAPE_DIR).mkdir(parents=True, exist_ok=True)
    runner = CliRunner()
    capture = worker.FdCapture()
    outcomes: list[Outcome] = []
    for case in cases:
        work = tmp_path / case.id  # the case's own temporary folder; only `out` below it may change
        deep = work.joinpath(*"abcdefgh")  # deep enough that ../ keys stay inside `work`
        deep.mkdir(parents=True)
        job, out = deep / "job.yaml", deep / "out"
        job.write_bytes(case.data)
        scratch = work / "tmp"  # the command's own temporary files go here, inside the case's folder
        scratch.mkdir()
        watched = (work, Path(ESCAPE_DIR), *WATCHED_PATHS)
        before = _snapshot(*watched)
        monkeypatch.setattr(tempfile, "tempdir", str(scratch))
        record = worker.run_one(runner, app, ["run", str(job), "--out", str(out)], capture)
        monkeypatch.undo()
        after = _snapshot(*watched)
        outcome = Outcome(case=case, path=job, status="done")
        for name, value in record.items():
            if hasattr(outcome, name):
                setattr(outcome, name, value)
        outcome.escapes = [
            str(path)
            for path, stat in after.items()
            if before.get(path) != stat and not path.is_relative_to(out) and not path.is_relative_to(scratch)
        ]
        for target in outcome.escapes:  # our own canary files; anything else stays for a person to see
            if target.startswith(ESCAPE_DIR + "/"):
                Path(target).unlink(missing_ok=True)
        outcomes.append(outcome)
    _fail_on(outcomes, command="run")
