"""Text from files shown to a person: no terminal control, no spreadsheet formula (issue 26, defects 5–6)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ctseg_core.batch import write_summary
from ctseg_core.shown_text import csv_row, for_csv, for_terminal


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain Ärzte 肝", "plain Ärzte 肝"),
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
        ("clear\x1b[2J", "clear\\x1b[2J"),
        ("two\nlines\ttab", "two\\x0alines\\x09tab"),
        ("C1 \x9b31m", "C1 \\x9b31m"),
        ("bidi \u202egnp.exe", "bidi \\u202egnp.exe"),
    ],
)
def test_for_terminal_writes_control_characters_out(text: str, shown: str) -> None:
    assert for_terminal(text) == shown


def test_for_csv_keeps_numbers_and_defuses_formulas() -> None:
    assert [for_csv(v) for v in ("=1+1", "+cmd", "-2+3", "@SUM(A1)", "\t=x", "ok", -0.5, 3, None)] == [
        "'=1+1",
        "'+cmd",
        "'-2+3",
        "'@SUM(A1)",
        "'\t=x",
        "ok",
        -0.5,
        3,
        None,
    ]
    assert csv_row({"patient": "=HYPERLINK(1)", "dice": 0.9}) == {"patient": "'=HYPERLINK(1)", "dice": 0.9}


def test_the_batch_summary_csv_holds_no_formula(tmp_path: Path) -> None:
    rows = [{"patient": "=cmd|' /C calc'!A0", "source": "/data/=x", "dice": -0.0, "error": "@bad"}]
    path = write_summary(rows, tmp_path / "summary.csv")
    with open(path, newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["patient"] == "'=cmd|' /C calc'!A0" and row["error"] == "'@bad" and row["dice"] == "-0.0"
