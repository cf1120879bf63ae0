"""`run --out`: never delete or overwrite what the user did not create; refuse in one line, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qiskit_argo.cli import app
from qiskit_argo.safeio import MARKER, RUN_ENTRIES, ResultsDirError, prepare_results_dir
from qiskit_argo.terminal import LIMIT

BELL = Path(__file__).resolve().parents[2] / "examples" / "bell.yaml"
REMEDY = "choose a new or empty directory"


def _snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under root (links not followed) with its bytes; None for a directory or a link."""
    found: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        plain_file = path.is_file() and not path.is_symlink()
        found[str(path.relative_to(root))] = path.read_bytes() if plain_file else None
    return found


def _job(folder: Path) -> Path:
    job = folder / "job.yaml"
    job.write_text(BELL.read_text())
    return job


def _refused(args: list[str], *needles: str) -> str:
    result = CliRunner().invoke(app, ["run", *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert len(lines[0]) <= LIMIT
    for needle in (REMEDY, *needles):
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _users_dir(root: Path) -> Path:
    root.mkdir()
    (root / "keep.txt").write_text("mine")
    (root / "sub").mkdir()
    (root / "sub" / "notes.md").write_text("also mine")
    return root


def test_a_users_non_empty_directory_is_refused_and_untouched(tmp_path: Path) -> None:
    job = _job(tmp_path)
    target = _users_dir(tmp_path / "mine")
    before = _snapshot(tmp_path)
    _refused([str(job), "--out", str(target)], "is not empty", "not made by qiskit-argo run", "nothing was deleted")
    assert _snapshot(tmp_path) == before


def test_out_dot_refuses_and_deletes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _job(tmp_path)
    _users_dir(tmp_path / "project")
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)
    for out in (".", str(tmp_path), "./"):
        _refused(["job.yaml", "--out", out], "is not empty")
    assert _snapshot(tmp_path) == before


def test_default_results_dir_follows_the_same_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _job(tmp_path)
    _users_dir(tmp_path / "results")
    (tmp_path / "results" / "bell").mkdir()
    (tmp_path / "results" / "bell" / "thesis.tex").write_text("do not delete")
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)
    _refused(["job.yaml"], "results/bell", "is not empty")
    assert _snapshot(tmp_path) == before


def test_out_a_file_or_under_a_file_is_refused(tmp_path: Path) -> None:
    job = _job(tmp_path)
    before = _snapshot(tmp_path)
    _refused([str(job), "--out", str(job)], "is a file, not a directory")
    _refused([str(job), "--out", str(job / "deeper" / "out")], "is a file, so no directory can be made")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    _refused([str(job), "--out", str(tmp_path / "dangling")], "broken symbolic link")
    assert _snapshot(tmp_path) == {**before, "dangling": None}


def test_permission_denied_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job = _job(tmp_path)

    def denied(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", denied)
    _refused([str(job), "--out", str(tmp_path / "new")], "Permission denied")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_parent_is_one_line(tmp_path: Path) -> None:
    job = _job(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    try:
        _refused([str(job), "--out", str(locked / "out")], "Permission denied")
    finally:
        locked.chmod(0o755)


def test_an_earlier_results_dir_of_ours_is_reused_and_the_users_files_stay(tmp_path: Path) -> None:
    """The first run marks the directory; a second run replaces only what a run writes."""
    job = _job(tmp_path)
    target = tmp_path / "new" / "nested"
    first = CliRunner().invoke(app, ["run", str(job), "--out", str(target)])
    assert first.exit_code == 0, first.output
    assert (target / MARKER).is_file() and (target / "result.json").is_file()

    (target / "notes.txt").write_text("my analysis")
    (target / "plots").mkdir()
    (target / "plots" / "fig.pdf").write_bytes(b"%PDF")
    (target / "steps" / "stale-step").mkdir()
    (target / "result.json").write_text("stale")
    second = CliRunner().invoke(app, ["run", str(job), "--out", str(target)])
    assert second.exit_code == 0, second.output
    assert (target / "notes.txt").read_text() == "my analysis"
    assert (target / "plots" / "fig.pdf").read_bytes() == b"%PDF"
    assert not (target / "steps" / "stale-step").exists()
    assert (target / "result.json").read_text() != "stale"
    assert {p.name for p in target.iterdir()} == {MARKER, "notes.txt", "plots", *RUN_ENTRIES}


def test_an_empty_directory_is_used_and_marked(tmp_path: Path) -> None:
    target = tmp_path / "empty"
    target.mkdir()
    prepare_results_dir(target)
    assert [p.name for p in target.iterdir()] == [MARKER]


def test_rerun_removes_links_not_what_they_point_at(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep")
    target = tmp_path / "ours"
    prepare_results_dir(target)
    (target / "steps").symlink_to(outside, target_is_directory=True)
    (target / "metrics.json").symlink_to(outside / "precious.txt")
    (target / "mine.txt").write_text("mine")
    prepare_results_dir(target)
    assert (outside / "precious.txt").read_text() == "keep"
    assert sorted(p.name for p in target.iterdir()) == [MARKER, "mine.txt"]


def test_a_job_file_inside_a_run_entry_is_never_removed(tmp_path: Path) -> None:
    target = tmp_path / "ours"
    prepare_results_dir(target)
    (target / "steps").mkdir()
    job = _job(target / "steps")
    before = _snapshot(tmp_path)
    with pytest.raises(ResultsDirError, match="move that file first"):
        prepare_results_dir(target, protect=[job])
    assert _snapshot(tmp_path) == before


def test_a_marker_that_is_a_link_does_not_make_a_directory_ours(tmp_path: Path) -> None:
    elsewhere = tmp_path / "marker"
    elsewhere.write_text("")
    target = _users_dir(tmp_path / "theirs")
    (target / MARKER).symlink_to(elsewhere)
    (target / "result.json").write_text("theirs")
    with pytest.raises(ResultsDirError, match="is not empty"):
        prepare_results_dir(target)
    assert (target / "result.json").read_text() == "theirs"


def test_real_console_script_refuses_a_users_directory(tmp_path: Path) -> None:
    """The installed script in its own process: exit 2, one short stderr line, no traceback."""
    job = _job(tmp_path)
    target = _users_dir(tmp_path / "mine")
    before = _snapshot(tmp_path)
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("qiskit-argo")), "run", str(job), "--out", str(target)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and len(lines[0]) <= LIMIT, proc.stderr
    assert "is not empty" in lines[0] and REMEDY in lines[0]
    assert _snapshot(tmp_path) == before
