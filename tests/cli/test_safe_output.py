"""User text on the terminal: never rich markup, control characters escaped, one bounded line."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from qiskit_argo import cli, manifests
from qiskit_argo.cli import app
from qiskit_argo.errors import InvalidJobError
from qiskit_argo.local import TaskRun, WorkflowRun
from qiskit_argo.terminal import ELLIPSIS, LIMIT, clean, error_line

#: What an attacker's corpus put in job files: markup tags, a regex rich would eat, a colour
#: escape, a screen clear, a bidi override, a line break.
HOSTILE = "[/x] [bold]b[/bold] ^([-a-z0-9]*)?$ \x1b[31mred \x1b[2J \u202egnp.exe \x9b1m\nnext"
SHOWN = (
    "[/x]",
    "[bold]b[/bold]",
    "^([-a-z0-9]*)?$",
    "\\x1b[31mred",
    "\\x1b[2J",
    "\\u202egnp.exe",
    "\\x9b1m",
    "\\nnext",
)
RAW = ("\x1b", "\u202e", "\x9b", "\n")
BELL = Path(__file__).resolve().parents[2] / "examples" / "bell.yaml"
CONFIGMAP = Path(__file__).resolve().parents[2] / "examples" / "configmap.yaml"


def _assert_one_safe_line(stderr: str, *needles: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    line = lines[0]
    assert len(line) <= LIMIT, len(line)
    assert not any(char in line for char in RAW), repr(line)
    for needle in needles:
        assert needle in line, (needle, line)
    return line


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("[/x]", "[/x]"),
        ("^([-a-z0-9]*)?$", "^([-a-z0-9]*)?$"),
        ("a\x1bb", "a\\x1bb"),
        ("\x00\x07\x7f\x85\x9f", "\\x00\\x07\\x7f\\x85\\x9f"),
        ("tab\there\r\n", "tab\\there\\r\\n"),
        ("\u202a\u202e\u2066\u2069\u200f\u061c", "\\u202a\\u202e\\u2066\\u2069\\u200f\\u061c"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("bad-byte-\udcff.yaml", "bad-byte-\\udcff.yaml"),
        ("café ✓ 量子", "café ✓ 量子"),
    ],
)
def test_clean_escapes_control_characters(text: str, shown: str) -> None:
    assert clean(text) == shown
    assert len(clean(text).splitlines()) <= 1


def test_clean_bounds_and_never_cuts_an_escape() -> None:
    assert clean("x" * LIMIT) == "x" * LIMIT
    long = clean("x" * 10_000)
    assert len(long) == LIMIT and long.endswith(ELLIPSIS)
    escapes = clean("\x1b" * 1000, 20)
    assert len(escapes) <= 20 and escapes == "\\x1b" * 4 + ELLIPSIS
    assert clean("y" * 10_000, None) == "y" * 10_000


def test_error_line_is_plain_text_with_a_styled_prefix() -> None:
    line = error_line(HOSTILE * 20)
    assert line.plain.startswith("error: [/x] [bold]")
    assert len(line.plain) <= LIMIT and line.plain.endswith(ELLIPSIS)
    assert [span.style for span in line.spans] == ["bold red"]


def test_fail_prints_hostile_text_literally(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error message with markup, a regex and escapes: one line, as written, escaped."""

    def load_job(path: Path) -> Any:
        raise InvalidJobError(f"{path}: metadata.namespace: {HOSTILE!r} must match {HOSTILE}")

    monkeypatch.setattr(manifests, "load_job", load_job)
    for command in (["validate", "job.yaml"], ["render", "job.yaml"], ["run", "job.yaml", "--out", "unused"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        _assert_one_safe_line(result.stderr, "error: job.yaml: metadata.namespace:", *SHOWN[:3])


def test_a_very_long_error_is_cut_to_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def load_job(path: Path) -> Any:
        raise InvalidJobError("spec.circuit: " + "[/x]\x1b" * 5000)

    monkeypatch.setattr(manifests, "load_job", load_job)
    result = CliRunner().invoke(app, ["validate", "job.yaml"])
    assert result.exit_code == 2
    assert _assert_one_safe_line(result.stderr, "spec.circuit: [/x]\\x1b").endswith(ELLIPSIS)


def test_invalid_namespace_in_a_real_file(tmp_path: Path) -> None:
    text = BELL.read_text().replace("name: bell", 'name: bell\n  namespace: "[/x]\\e[31m^([-a-z0-9]*)?$"', 1)
    path = tmp_path / "job.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    _assert_one_safe_line(result.stderr, "metadata.namespace", "[/x]", "^([-a-z0-9]*)?$")


def test_circuit_line_with_markup_in_the_error(tmp_path: Path) -> None:
    source = 'OPENQASM 2.0;\\ninclude \\"qelib1.inc\\";\\nqreg q[1];\\nhh q[0]; // [/x] [bold] \\e[2J\\n'
    path = tmp_path / "job.yaml"
    path.write_text(
        "apiVersion: qiskit-argo.io/v1alpha1\nkind: QiskitJob\nmetadata:\n  name: c\n"
        f'spec:\n  circuit:\n    openqasm: "{source}"\n'
    )
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    _assert_one_safe_line(result.stderr, "line 4", "[/x] [bold]", "\\x1b[2J")


def test_real_console_script_prints_one_escaped_line(tmp_path: Path) -> None:
    """The installed script, in its own process, on a hostile namespace: exit 2, one line, no ESC."""
    text = BELL.read_text().replace("name: bell", 'name: bell\n  namespace: "[/x]\\e[2J[bold]"', 1)
    path = tmp_path / "job.yaml"
    path.write_text(text)
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("qiskit-argo")), "validate", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    _assert_one_safe_line(proc.stderr, "metadata.namespace", "[/x]", "[bold]")


def test_validate_table_shows_hostile_metrics_literally(monkeypatch: pytest.MonkeyPatch) -> None:
    """The validate table's title (namespace/name) and rows (metrics) are text, not markup."""
    import json

    from qiskit_argo import validation

    job, maps = manifests.load_job(BELL)
    job.metadata.namespace = HOSTILE  # as if the loader had let it through
    monkeypatch.setattr(manifests, "load_job", lambda path: (job, maps))

    def run_step(*, out_dir: Path, **_: Any) -> None:
        out_dir.mkdir()
        (out_dir / "metrics.json").write_text(json.dumps({HOSTILE: HOSTILE, "gates": {HOSTILE: 1}}))

    monkeypatch.setattr(validation, "run_step", run_step)
    result = CliRunner().invoke(app, ["validate", "job.yaml"])
    assert result.exit_code == 0, result.output
    assert not any(char in result.stdout for char in RAW[:3])
    flat = re.sub(r"[\s│┃|]+", " ", result.stdout)
    for needle in ("[/x]", "[bold]b[/bold]", "^([-a-z0-9]*)?$", "is valid"):
        assert needle in flat, (needle, result.stdout)


def _task(name: str, phase: str, message: str = "", **parameters: str) -> TaskRun:
    return TaskRun(
        name=name, template=name, phase=phase, message=message, started_at=0.0, finished_at=0.5, parameters=parameters
    )


def test_run_summary_and_progress_show_hostile_text_literally(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    backend = json.dumps({"name": HOSTILE, "method": "[red]m", "reason": HOSTILE})
    summary = json.dumps({"shots": "[/x]", "topCounts": {HOSTILE: 7}, "expectationValues": ["[/x]", 0.5]})
    tasks = {
        "schedule": _task("schedule", "Succeeded", backend=backend),
        "execute": _task("execute", "Succeeded", summary=summary),
        "store": _task("store", "Failed", HOSTILE),
    }
    run = WorkflowRun(name="wf", workdir=Path("w"), tasks=tasks, phase="Failed")
    cli._print_summary(SimpleNamespace(name="[/x]job"), run, Path("out[/x]\x1b"), 1.0)  # type: ignore[arg-type]

    workflow = {"spec": {"entrypoint": "main", "templates": [{"name": "main", "dag": {"tasks": [{"name": "[/x]"}]}}]}}
    with cli._Progress(workflow) as progress:
        progress.update(_task("[/x]", "Running"))
        progress.update(_task("[/x]", "[/x]odd-phase\x1b"))
        assert progress.progress.tasks[0].fields["state"].plain == "[/x]odd-phase\\x1b"
        progress.update(_task("[/x]", "Failed"))
    captured = capsys.readouterr()
    for stream in (captured.out, captured.err):
        assert "Traceback" not in stream
        assert not any(char in stream for char in RAW[:3]), repr(stream)
    flat = re.sub(r"[\s│┃|]+", " ", captured.out)
    for needle in ("QiskitJob [/x]job", "[/x] [bold]b[/bold]", "[red]m", "^([-a-z0-9]*)?$", "store:", "\\nnext: 7"):
        assert needle in flat, (needle, captured.out)
    assert "results: out[/x]\\x1b" in captured.out
    assert "[/x]" in captured.err and "failed" in captured.err


def test_hostile_config_map_key_in_validate_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defence in depth: a key that climbs or is absolute never becomes a file, even past the loader."""
    job, maps = manifests.load_job(CONFIGMAP)
    climbing = f"../../qiskit-argo-escape-{uuid.uuid4().hex}"
    absolute = str(tmp_path / "absolute-escape")
    for key in (climbing, absolute, "..", "a/b"):
        hostile = {name: {**files, key: b"pwned"} for name, files in maps.items()}
        monkeypatch.setattr(manifests, "load_job", lambda path, hostile=hostile: (job, hostile))
        result = CliRunner().invoke(app, ["validate", "job.yaml"])
        assert result.exit_code == 2, result.output
        _assert_one_safe_line(result.stderr, "is not a single file name")
    assert not (Path("/tmp") / climbing.removeprefix("../../")).exists()
    assert not Path(absolute).exists()
    assert list(tmp_path.iterdir()) == []


class _Panic(BaseException):
    """What pyo3 raises when Rust code (Qiskit's OpenQASM 2 lexer, say) panics: not an Exception."""


@pytest.mark.parametrize("where", ["load", "validate"])
def test_a_crash_is_one_line_never_a_traceback(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    from qiskit_argo import validation

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise _Panic("called `Result::unwrap()` on an `Err` value: [/x] \x1b[2J")

    if where == "load":
        monkeypatch.setattr(manifests, "load_job", crash)
    else:
        job, maps = manifests.load_job(BELL)
        monkeypatch.setattr(manifests, "load_job", lambda path: (job, maps))
        monkeypatch.setattr(validation, "run_step", crash)
    result = CliRunner().invoke(app, ["validate", "job.yaml"])
    assert result.exit_code == 2, result.output
    _assert_one_safe_line(result.stderr, "job.yaml: the", "_Panic: called `Result::unwrap()`", "[/x] \\x1b[2J")
