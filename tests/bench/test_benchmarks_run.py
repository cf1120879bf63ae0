"""The benchmarks still run against today's steps: each script in its quick form, as `make bench`
runs it (no figure is asserted: a timed assertion would test the machine, not the code)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

QUICK = [
    ("run.py", "--quick", "--only", "execute,render"),
    ("schedule_catalogue.py", "--backends", "10", "--repeats", "5", "--processes", "1"),
    ("ibm_fake.py", "--device", "fake_manila", "--shots", "100", "--repeats", "1"),
    ("shards.py", "--quick", "--only", "speedup,size"),
    ("gpu.py", "--qubits", "10", "--cpu-max", "10"),
]


@pytest.mark.parametrize("command", QUICK, ids=[command[0] for command in QUICK])
def test_the_benchmark_runs(command: tuple[str, ...]) -> None:
    script, *args = command
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert done.stdout.strip(), "a benchmark that prints nothing measured nothing"
