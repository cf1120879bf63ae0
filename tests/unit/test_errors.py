"""The exception tree and the one-line formatter every message goes through."""

from __future__ import annotations

import time

import pytest

from qiskit_argo import errors
from qiskit_argo.errors import ELLIPSIS, MAX_MESSAGE, one_line, quote


def test_the_tree_in_the_docstring_is_the_tree() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, errors.QiskitArgoError):
            assert name in doc, name
            assert f"reason {value.reason}" in doc or value is errors.QiskitArgoError, name
    assert issubclass(errors.ExecutionError, errors.TransientError)
    assert all(
        issubclass(cls, errors.PermanentError) and cls.permanent and cls("x").exit_code == errors.EXIT_PERMANENT
        for cls in (errors.InvalidJobError, errors.InvalidCircuitError, errors.LimitExceededError)
    )
    assert errors.ExecutionError("x").exit_code == errors.EXIT_TRANSIENT


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("plain", 60, "plain"),
        ("esc \x1b[31mred\x1b[0m", 60, "esc \\x1b[31mred\\x1b[0m"),
        ("two\nlines\t tabs", 60, "two lines tabs"),
        ("  padded \r\n", 60, "padded"),
        ("two  spaces stay", 60, "two  spaces stay"),
        ("bidi \u202eevil", 60, "bidi \\u202eevil"),
        ("zero\u200bwidth\ufeff", 60, "zero\\u200bwidth\\ufeff"),
        ("no-break\xa0space", 60, "no-break space"),
        ("lone \ud800 surrogate", 60, "lone \\ud800 surrogate"),
        ("astral \U000e0001 tag", 60, "astral \\U000e0001 tag"),
        ("café ✓ 量子", 60, "café ✓ 量子"),
        ("x" * 5_000_000, 10, "xxxxxxx..."),
        ("\x1b" * 20, 10, "\\x1b..."),  # never half an escape
    ],
)
def test_one_line_of_prose(text: str, limit: int, expected: str) -> None:
    assert one_line(text, limit, keep="start") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tab\there\r\n", "tab\\there\\r\\n"),
        ("  leading and trailing  ", "  leading and trailing  "),
        ("\x00\x07\x7f\x85\x9f", "\\x00\\x07\\x7f\\x85\\x9f"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("bad-byte-\udcff.yaml", "bad-byte-\\udcff.yaml"),
    ],
)
def test_one_line_exactly_as_given(text: str, expected: str) -> None:
    assert one_line(text, prose=False) == expected
    assert one_line(text, None, prose=False) == expected


def test_one_line_keeps_the_end_that_says_what_to_do() -> None:
    message = one_line("spec.circuit: " + "y" * 10_000 + "; fix it")
    assert len(message) <= MAX_MESSAGE and message.endswith(" ...; fix it"), message
    assert message.startswith("spec.circuit: yyy")
    long_todo = one_line("spec.circuit: " + "y" * 10_000 + "; " + "z" * 200)
    assert len(long_todo) == MAX_MESSAGE and long_todo.endswith("y" + ELLIPSIS)  # a clause too long to keep


@pytest.mark.parametrize("size", [299, 300, 301, 302, 1_000, 2_500, 10_000, 5_000_000])
@pytest.mark.parametrize("filler", ["y", "\x1b", "\U0001f600", " \n", "é\u202e"])
@pytest.mark.parametrize("keep", ["both", "start", "end"])
def test_one_line_is_always_one_bounded_printable_line(size: int, filler: str, keep: errors.Keep) -> None:
    text = "spec.x: " + filler * (size // len(filler)) + "; do this"
    started = time.perf_counter()
    for prose in (True, False):
        line = one_line(text, keep=keep, prose=prose)
        assert len(line) <= MAX_MESSAGE and line.isprintable(), (len(line), line)
        assert not any(line.endswith(part) for part in ("\\", "\\x", "\\x1", "\\u", "\\U000"))
    assert time.perf_counter() - started < 0.5


def test_one_line_keeps_the_end_of_a_path() -> None:
    path = "/very/long/directory/" * 20 + "job.yaml"
    shown = one_line(path, 50, prose=False, keep="end")
    assert len(shown) <= 50 and shown.startswith(ELLIPSIS) and shown.endswith("/job.yaml")


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("bell", 40, "'bell'"),
        ("it's", 40, '"it\'s"'),
        ("'\"\\", 40, "'\\'\"\\\\'"),  # as repr writes it: a backslash is never read as an escape
        ("\\" * 30, 10, "'" + "\\\\" * 3 + "...'"),  # never half an escaped backslash
        ("a\tb\x1b[31m", 40, "'a\\tb\\x1b[31m'"),
        ("two  spaces\n", 40, "'two  spaces\\n'"),
        ("k" * 100, 10, "'kkkkkkk...'"),
        (7, 40, "7"),
        (None, 40, "None"),
        ([1, 2], 40, "[1, 2]"),
    ],
)
def test_quote(value: object, limit: int, expected: str) -> None:
    assert quote(value, limit) == expected


def test_quote_is_repr_when_it_fits() -> None:
    for value in ("plain", "a\\b", "'\"", "tab\t", "\x1b[31m", "\u202e\ud800\U0001f600", "é ✓ 量子", "\xa0\u200b"):
        assert quote(value, 100) == repr(value)
