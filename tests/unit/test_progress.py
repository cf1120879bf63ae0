"""``ProgressFile``: ``N/M`` for Argo's ``ARGO_PROGRESS_FILE``, written atomically, never failing a step."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qiskit_argo.progress import PROGRESS_ENV, ProgressFile, format_progress


@pytest.mark.parametrize(
    ("done", "total", "text"),
    [(0, 4, "0/4"), (3, 4, "3/4"), (9, 4, "4/4"), (-1, 4, "0/4"), (0, 0, "0/1"), (1000, 100_000, "1000/100000")],
)
def test_format_progress_is_argos_n_over_m(done: int, total: int, text: str) -> None:
    assert format_progress(done, total) == text


def test_start_update_finish_write_the_last_line_argo_reads(tmp_path: Path) -> None:
    path = tmp_path / "argo" / "progress"
    progress = ProgressFile(250, env={PROGRESS_ENV: str(path)})
    progress.start()
    assert path.read_text() == "0/250\n"
    progress.update(100)
    assert path.read_text() == "100/250\n"
    progress.finish()
    assert path.read_text() == "250/250\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["progress"]  # no temporary left behind


def test_the_file_is_replaced_not_rewritten_in_place(tmp_path: Path) -> None:
    """A reader holding the old file never sees a half-written line: each write is a new inode."""
    path = tmp_path / "progress"
    progress = ProgressFile(2, path)
    progress.start()
    before = os.stat(path).st_ino
    progress.finish()
    assert os.stat(path).st_ino != before and path.read_text() == "2/2\n"


def test_without_the_variable_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    progress = ProgressFile(3)
    progress.start()
    progress.finish()
    assert progress.path is None and progress.done == 3 and list(tmp_path.iterdir()) == []


def test_the_environment_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROGRESS_ENV, str(tmp_path / "p"))
    ProgressFile(5).update(2)
    assert (tmp_path / "p").read_text() == "2/5\n"


def test_a_file_that_cannot_be_written_does_not_fail_the_step(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    progress = ProgressFile(1, blocker / "progress")
    progress.finish()  # no exception
    assert progress.done == 1
