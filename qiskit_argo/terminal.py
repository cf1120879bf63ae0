"""Print text that came from a user (a job file, a Workflow, an error about either) safely.

User text is never rich markup: it goes into ``rich.text.Text`` objects, so ``[/x]``, ``[bold]``
or a regex such as ``^([-a-z0-9]*)?$`` print as written. Control characters (C0, DEL, C1),
line and paragraph separators, bidi overrides and lone surrogates are shown escaped
(``\\x1b``, ``\\n``, ``\\u202e``), so nothing in a job file can move the cursor, recolour the
terminal, reorder what a person reads or break an error into several lines. Text is bounded:
one printed value is at most ``LIMIT`` characters, cut with an ellipsis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

__all__ = ["LIMIT", "ELLIPSIS", "clean", "plain", "error_line"]

#: The most characters one printed value (an error line, a table cell) may have.
LIMIT = 300
ELLIPSIS = "…"

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
#: Bidi embeddings, overrides and isolates, and the marks that steer them (Trojan Source, CVE-2021-42574).
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


#: Every character that is shown escaped: C0, DEL, C1, line/paragraph separators, bidi controls,
#: surrogates (an undecodable byte in a file name arrives as one, and cannot be encoded to print).
_ESCAPES: dict[int, str] = {
    code: _escape(chr(code))
    for code in (
        *range(0x00, 0x20),
        *range(0x7F, 0xA0),
        0x2028,
        0x2029,
        *(ord(c) for c in _BIDI),
        *range(0xD800, 0xE000),
    )
}


def clean(value: object, limit: int | None = LIMIT) -> str:
    """``value`` as one printable line: control characters escaped, at most ``limit`` characters
    (cut with an ellipsis; never in the middle of an escape). ``limit=None`` only escapes."""
    text = str(value)
    if limit is None:
        return text.translate(_ESCAPES)
    pieces: list[str] = []
    size = 0
    # Every character becomes at least one, so limit + 1 of them tell whether the text is too long.
    for char in text[: limit + 1]:
        piece = _ESCAPES.get(ord(char), char)
        pieces.append(piece)
        size += len(piece)
        if size > limit:
            break
    if size <= limit:
        return "".join(pieces)
    while pieces and size > limit - len(ELLIPSIS):
        size -= len(pieces.pop())
    return "".join(pieces) + ELLIPSIS


def plain(value: object, style: str = "", limit: int | None = LIMIT) -> Text:
    """User text as a rich ``Text`` (never parsed as markup), cleaned and bounded."""
    from rich.text import Text

    return Text(clean(value, limit), style=style)


def error_line(message: object, limit: int = LIMIT) -> Text:
    """``error: <message>`` as one line of at most ``limit`` characters, the prefix included."""
    from rich.text import Text

    prefix = "error: "
    line = Text()
    line.append(prefix, style="bold red")
    line.append(clean(message, limit - len(prefix)))
    return line
