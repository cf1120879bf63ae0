"""Bad input: one line naming the file, field or source line and what to do; exit 2; no traceback."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qiskit_argo.cli import app

BELL_QASM = """
OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0], q[1];
measure q -> c;
"""


def _job(spec: str, *, head: str = "apiVersion: qiskit-argo.io/v1alpha1\nkind: QiskitJob") -> str:
    return f"{head}\nmetadata:\n  name: bad\nspec:\n{textwrap.indent(textwrap.dedent(spec), '  ')}"


def _qasm(source: str) -> str:
    return "circuit:\n  openqasm: |\n" + textwrap.indent(textwrap.dedent(source).strip() + "\n", "    ")


CASES = {
    "malformed-yaml": ("apiVersion: qiskit-argo.io/v1alpha1\nkind: QiskitJob\nmetadata:\n  name: [bad\n", "line"),
    "wrong-api-version": (_job(_qasm(BELL_QASM), head="apiVersion: v1\nkind: QiskitJob"), "apiVersion"),
    "wrong-kind": (_job(_qasm(BELL_QASM), head="apiVersion: qiskit-argo.io/v1alpha1\nkind: Job"), "kind"),
    "unknown-field": (_job(_qasm(BELL_QASM) + "shotz: 100\n"), "spec.shotz: unknown field"),
    "misspelled-nested-field": (_job(_qasm(BELL_QASM) + "backend:\n  aer:\n    sed: 1\n"), "spec.backend.aer.sed"),
    "zero-shots": (_job(_qasm(BELL_QASM) + "shots: 0\n"), "spec.shots"),
    "negative-shots": (_job(_qasm(BELL_QASM) + "shots: -5\n"), "spec.shots"),
    "estimator-without-observables": (_job(_qasm(BELL_QASM) + "primitive: estimator\n"), "observables"),
    "no-circuit-source": (_job("circuit: {}\n"), "exactly one of"),
    "two-circuit-sources": (_job(_qasm(BELL_QASM) + "  qpy: AAAA\n"), "exactly one of"),
    "no-job-in-file": ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n", "no QiskitJob"),
}

CIRCUIT_CASES = {
    "invalid-openqasm": (_job(_qasm('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nhh q[0];\n')), "line 4"),
    "invalid-openqasm3": (_job(_qasm("OPENQASM 3.0;\nqubit[2] q;\nfoo q[0];\n")), "line 3"),
    "too-many-qubits": (
        _job(_qasm('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[40];\ncreg c[40];\nmeasure q -> c;\n')),
        "qubits",
    ),
    "binding-mismatch": (
        _job(
            _qasm(
                'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] a;\nqubit[1] q;\nbit[1] c;\n'
                "rx(a) q[0];\nc[0] = measure q[0];\n"
            )
            + "parameterValues:\n  - [0.1, 0.2]\n"
        ),
        "spec.parameterValues[0]",
    ),
}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(text)
    return path


def _assert_one_line(output: str, needle: str) -> None:
    assert "Traceback" not in output
    lines = [line for line in output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert needle in lines[0], output


@pytest.mark.parametrize("command", ["validate", "render", "run"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_manifest(tmp_path: Path, case: str, command: str) -> None:
    text, needle = CASES[case]
    args = [command, str(_write(tmp_path, text))] + (["--out", str(tmp_path / "out")] if command == "run" else [])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    _assert_one_line(result.stderr, needle)


@pytest.mark.parametrize("case", sorted(CIRCUIT_CASES))
def test_bad_circuit_validate(tmp_path: Path, case: str) -> None:
    text, needle = CIRCUIT_CASES[case]
    result = CliRunner().invoke(app, ["validate", str(_write(tmp_path, text))])
    assert result.exit_code == 2, result.output
    _assert_one_line(result.stderr, needle)


@pytest.mark.parametrize("case", ["invalid-openqasm", "too-many-qubits"])
def test_bad_circuit_run_names_the_step_and_keeps_partial_results(tmp_path: Path, case: str) -> None:
    text, needle = CIRCUIT_CASES[case]
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(_write(tmp_path, text)), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "step validate failed" in result.stderr and needle in result.stderr
    assert (out / "workflow.yaml").is_file()
    assert (out / "steps" / "validate" / "stderr.log").is_file()


def test_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    _assert_one_line(result.stderr, "cannot read the file")


def test_missing_config_map_in_run(tmp_path: Path) -> None:
    text = _job("circuit:\n  configMapKeyRef: {name: circuits, key: bell.qasm}\n")
    result = CliRunner().invoke(app, ["run", str(_write(tmp_path, text)), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert "step validate failed" in result.stderr and "ConfigMap 'circuits'" in result.stderr


def test_real_entry_point_prints_no_traceback(tmp_path: Path) -> None:
    """The installed console script, in a new process, as a user runs it."""
    path = _write(tmp_path, _job(_qasm(BELL_QASM) + "shots: 0\n"))
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("qiskit-argo")), "validate", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    _assert_one_line(proc.stderr, "spec.shots")
    assert proc.stdout == ""


SWEEP_QASM = """
OPENQASM 3.0;
include "stdgates.inc";
input float[64] a;
qubit[1] q;
bit[1] c;
rx(a) q[0];
c[0] = measure q[0];
"""
SOURCE_CASES = {
    "missing-artifact-key": ("parameterValuesFrom:\n  artifact: {key: sweeps/nowhere.npy}\n", "", "sweeps/nowhere.npy"),
    "missing-config-map-key": (
        "parameterValuesFrom:\n  configMapKeyRef: {name: sweeps, key: nope.json}\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sweeps\ndata:\n  rows.json: '[[0.1]]'\n---\n",
        "ConfigMap 'sweeps' has no key 'nope.json'",
    ),
}


@pytest.mark.parametrize("case", sorted(SOURCE_CASES))
def test_a_missing_source_is_one_line_exit_2(tmp_path: Path, case: str) -> None:
    """A sweep's values named by a key that is not there: validate says so in one line; run fails its
    validate step the same way (exit 2), having read --artifacts (here an empty directory)."""
    spec, before, needle = SOURCE_CASES[case]
    path = _write(tmp_path, before + _job(_qasm(SWEEP_QASM) + spec))
    (tmp_path / "files").mkdir()
    result = CliRunner().invoke(app, ["validate", str(path), "--artifacts", str(tmp_path / "files")])
    assert result.exit_code == 2, result.output
    _assert_one_line(result.stderr, needle)
    args = ["run", str(path), "--out", str(tmp_path / "out"), "--artifacts", str(tmp_path / "files")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "step validate failed" in line and needle.rsplit(" ", 1)[-1] in line
