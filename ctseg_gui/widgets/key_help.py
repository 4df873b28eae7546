"""The F1 help: the active mouse and key profile's table, then the keys every profile shares.

The profile's rows come from :mod:`ctseg_core.display.bindings` (the table the pointer code follows),
each with where it comes from; the shared rows are the menu items' own keys.
"""

from __future__ import annotations

from html import escape

from ctseg_core.display.bindings import help_rows

#: Keys of menu items, the same in every profile (a profile's own key wins where they meet).
SHARED_ROWS = (
    ("↑ ↓ &nbsp; PgUp PgDn &nbsp; Home End", "slice ±1, ±10, first, last (unless the profile binds them)"),
    ("1 – 5", "window presets (unless the profile binds them)"),
    ("G &nbsp; P &nbsp; E &nbsp; O", "ground truth, prediction, edited label, overlay style"),
    ("F", "fit the slice to the window"),
    ("Ctrl+1 – Ctrl+5", "layout: axial, coronal, sagittal, 1×3, 2×2"),
    ("F11 &nbsp; double click", "show the view alone, and back"),
    ("Ctrl+R &nbsp; Esc &nbsp; W", "segment, cancel, worst slice"),
    ("U &nbsp; Shift+U", "next most uncertain slice (the model's), uncertainty overlay"),
    ("N &nbsp; B &nbsp; X or Shift+B &nbsp; L", "navigate, brush, eraser, flood fill"),
    ("[ &nbsp; ]", "smaller, larger brush"),
    ("H &nbsp; I", "fill holes on the slice, interpolate between slices"),
    ("Ctrl+Z &nbsp; Ctrl+Shift+Z or Ctrl+Y", "undo, redo"),
    ("Ctrl+S &nbsp; Ctrl+Shift+S &nbsp; Ctrl+L", "save label, save as, load label"),
    ("F9", "show or hide the Cohort browser (the indexed series)"),
    ("Alt+→ &nbsp; Alt+← &nbsp; Alt+↓", "next, previous patient (the cohort table's order), next to review"),
    ("Ctrl+Alt+A &nbsp; Ctrl+Alt+C &nbsp; Ctrl+Alt+X", "review: accept, corrected, reject (with a note)"),
)


def help_html(profile: str) -> str:
    """The help for ``profile`` as a rich-text table: its rows with their sources, then the shared keys."""
    rows = [f"<tr><td colspan=3><b>Mouse and keys: {escape(profile)} profile</b> (View ▸ Mouse and keys)</td></tr>"]
    for gesture, what, source in help_rows(profile):
        rows.append(
            f"<tr><td><b>{escape(gesture)}</b></td><td>{escape(what)}</td><td><i>{escape(source)}</i></td></tr>"
        )
    rows.append(
        "<tr><td colspan=3><br><b>Every profile</b> (the brush and eraser paint with the left button)</td></tr>"
    )
    rows += [f"<tr><td><b>{keys}</b></td><td colspan=2>{what}</td></tr>" for keys, what in SHARED_ROWS]
    return "<table cellspacing=4>" + "".join(rows) + "</table>"
