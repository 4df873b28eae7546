"""ITK-SNAP label descriptions: the ``.txt`` that names and colours the values of a label file.

A NIfTI (or NRRD, MetaImage) label map holds numbers only; ITK-SNAP keeps what they mean in a label
description file, one line per value: ``IDX R G B A VIS MSH "LABEL"``. ctseg writes it beside each
label map it saves (``label.nii.gz`` → ``label.txt``) in ITK-SNAP's own layout (its
``ColorLabelTable::SaveToFile``), and reads it back — or a ``<stem>_labels.txt`` / ``labels.txt``
beside the file — so a multi-label file opens with its names. A multi-label file with no description
still opens, each value named ``label N``, with a note saying so.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ctseg_core.errors import CtsegError
from ctseg_core.io.atomic import atomic_path
from ctseg_core.io.segments import LabelMap, Segment, default_segment, label_dtype, present_values

#: ITK-SNAP's header, line for line (trailing spaces included, as ColorLabelTable::SaveToFile writes it).
_HEADER = "".join(
    line + "\n"
    for line in (
        "################################################",
        "# ITK-SnAP Label Description File",
        "# File format: ",
        "# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL",
        "# Fields: ",
        "#    IDX:   Zero-based index ",
        "#    -R-:   Red color component (0..255)",
        "#    -G-:   Green color component (0..255)",
        "#    -B-:   Blue color component (0..255)",
        "#    -A-:   Label transparency (0.00 .. 1.00)",
        "#    VIS:   Label visibility (0 or 1)",
        "#    IDX:   Label mesh visibility (0 or 1)",
        "#  LABEL:   Label description ",
        "################################################",
    )
)
#: Suffixes of label files whose description sits beside them under the same stem.
_LABEL_SUFFIXES = (".nii.gz", ".nii", ".seg.nrrd", ".nrrd", ".nhdr", ".mha", ".mhd")


def _row(value: int, rgb: tuple[int, int, int], alpha: float, visible: int, name: str) -> str:
    """One line as ITK-SNAP writes it (setw widths of ColorLabelTable::SaveToFile)."""
    text = name.replace('"', "'")
    return f'  {value:>3}   {rgb[0]:>3}  {rgb[1]:>3}  {rgb[2]:>3}  {alpha:>7.2g}  {visible}  {visible}    "{text}"\n'


def format_label_table(segments: Sequence[Segment]) -> str:
    """The description file text: ITK-SNAP's header, its clear label 0, then one line per segment."""
    lines = [_HEADER, _row(0, (0, 0, 0), 0.0, 0, "Clear Label")]
    lines += [_row(s.value, s.color, 1.0, 1, s.name) for s in sorted(segments, key=lambda s: s.value)]
    return "".join(lines)


def write_label_table(segments: Sequence[Segment], path: str | Path) -> Path:
    """Write an ITK-SNAP label description of ``segments`` to ``path``, atomically."""
    path = Path(path)
    with atomic_path(path, suffix=".txt") as temporary:
        Path(temporary).write_text(format_label_table(segments), encoding="utf-8")
    return path


def read_label_table(path: str | Path) -> list[Segment]:
    """The segments an ITK-SNAP label description names (value 0, the clear label, left out)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise CtsegError(path, f"label description cannot be read ({exc})") from exc
    segments = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            fields = shlex.split(line)
            value, red, green, blue = (int(v) for v in fields[:4])
            name = fields[7] if len(fields) > 7 else f"label {value}"
        except (ValueError, IndexError) as exc:
            raise CtsegError(
                path, f"line {number} is not an ITK-SNAP label description line: {line.strip()!r}"
            ) from exc
        if value > 0:
            segments.append(default_segment(name, value, (red, green, blue)))
    return segments


def label_table_path(label_path: str | Path) -> Path:
    """Where ctseg writes the description of a label file: the same stem with ``.txt``."""
    label_path = Path(label_path)
    name = label_path.name
    for suffix in _LABEL_SUFFIXES:
        if name.lower().endswith(suffix):
            return label_path.with_name(name[: -len(suffix)] + ".txt")
    return label_path.with_suffix(".txt")


def find_label_table(label_path: str | Path) -> Path | None:
    """The label description beside a label file: ``<stem>.txt``, ``<stem>_labels.txt`` or ``labels.txt``."""
    own = label_table_path(label_path)
    for candidate in (own, own.with_name(own.stem + "_labels.txt"), own.with_name("labels.txt")):
        if candidate.is_file():
            return candidate
    return None


def label_map_from_values(
    values: np.ndarray, label_path: str | Path, table: Sequence[Segment] | None = None
) -> LabelMap:
    """A label map of integer ``values`` on the canonical grid, its segments named by ``table``.

    Without a table, one value is named after the file (``liver.nii.gz`` → "liver"); several are
    named ``label N`` and a note says the file holds several labels and no description. Values the
    table lacks are named ``label N`` too, with a note.
    """
    label_path = Path(label_path)
    present = [v for v in present_values(values) if v != 0]
    if present and present[0] < 0:
        raise CtsegError(label_path, f"label values must not be negative (found {present[0]})")
    notes: list[str] = []
    if table is None:
        if len(present) == 1:
            stem = label_table_path(label_path).stem
            segments = [default_segment(stem, present[0])]
        else:
            segments = [default_segment(f"label {v}", v) for v in present]
            if len(present) > 1:
                listed = ", ".join(map(str, present))
                notes.append(
                    f"{label_path.name} holds {len(present)} labels (values {listed}) and no label description "
                    f"({label_table_path(label_path).name}): the segments are named by value"
                )
    else:
        segments = list(table)
        missing = sorted(set(present) - {s.value for s in segments})
        segments += [default_segment(f"label {v}", v) for v in missing]
        if missing:
            notes.append(f"values {missing} of {label_path.name} are not in its label description")
    top = max([s.value for s in segments], default=1)
    labels = np.asarray(values).astype(label_dtype(top), copy=False)
    return LabelMap(labels, tuple(segments), tuple(notes))


def integer_values(data: np.ndarray, path: str | Path) -> np.ndarray:
    """Label voxel values as integers; refuses fractional values (a probability map is not a label)."""
    data = np.asarray(data)
    if data.dtype.kind in "ui":
        return data
    if data.dtype.kind == "b":
        return data.astype(np.uint8)
    rounded = np.rint(data)
    if not np.all(np.isfinite(data)) or np.any(np.abs(data - rounded) > 1e-3):
        raise CtsegError(path, "label values are not whole numbers: not a label map (a probability map?)")
    return rounded.astype(np.int64)
