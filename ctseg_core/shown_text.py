"""Text that came from files (DICOM tags, folder and file names), made safe to show a person.

A file may carry anything: a PatientName holding ``ESC]0;…`` sets the terminal's title, ``ESC[2J``
clears the screen, and a folder named ``=HYPERLINK(…)`` becomes a live formula when the CSV it lands
in is opened in a spreadsheet. Every place that prints such text on a terminal passes it through
:func:`for_terminal`; every CSV cell passes through :func:`for_csv`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: C0 and C1 control characters (tab and newline too: one value is one line), DEL, and the
#: bidirectional overrides and isolates that reorder what the reader sees (Trojan Source).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: A spreadsheet reads a cell starting with one of these as a formula (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def for_terminal(text: object) -> str:
    """``text`` with control characters written out (``\\x1b``), so the terminal shows them and obeys none."""
    return _UNSAFE.sub(_escape, str(text))


def for_csv(value: Any) -> Any:
    """A CSV cell that stays text: a string starting like a formula gets a leading ``'``.

    Numbers are left alone (``-0.5`` stays a number); only strings can be formulas.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """Every cell of a row through :func:`for_csv`."""
    return {key: for_csv(value) for key, value in row.items()}
