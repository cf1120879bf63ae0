"""Print text that came from a user (a job file, a Workflow, an error about either) safely.

User text is never rich markup: it goes into ``rich.text.Text`` objects, so ``[/x]``, ``[bold]``
or a regex such as ``^([-a-z0-9]*)?$`` print as written. Every value is one line made by
``qiskit_argo.errors.one_line`` exactly as given: control characters, line breaks and tabs,
bidi controls and lone surrogates shown escaped (``\\x1b``, ``\\n``, ``\\u202e``), at most
``LIMIT`` characters, cut with ``ELLIPSIS`` (a message keeps its ``; what to do`` end).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qiskit_argo.errors import ELLIPSIS, MAX_MESSAGE, one_line

if TYPE_CHECKING:
    from rich.text import Text

__all__ = ["LIMIT", "ELLIPSIS", "clean", "plain", "error_line"]

#: The most characters one printed value (an error line, a table cell) may have.
LIMIT = MAX_MESSAGE


def clean(value: object, limit: int | None = LIMIT) -> str:
    """``value`` as one printable line of at most ``limit`` characters, every character shown as
    given (escaped where it is not printable); ``limit=None`` only escapes."""
    return one_line(value, limit, prose=False)


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
