"""Label descriptions: what names and colours the values of a label file stand for.

A NIfTI (or NRRD, MetaImage) label map holds numbers only; each tool keeps what they mean elsewhere:

- ITK-SNAP in a label description file, one line per value: ``IDX R G B A VIS MSH "LABEL"``. ctseg
  writes it beside each label map it saves (``label.nii.gz`` → ``label.txt``) in ITK-SNAP's own layout
  (its ``ColorLabelTable::SaveToFile``) and reads it back, or a ``<stem>_labels.txt`` / ``labels.txt``;
- 3D Slicer in a colour table (``<stem>.ctbl``, or a ``.txt`` in that layout): ``IDX NAME R G B A``;
- TotalSegmentator in the NIfTI header of its multi-label output: an extension holding a Caret
  ``LabelTable`` (``<Label Key="1" Red="1" Green="0" Blue="0">spleen</Label>``, colours 0–1).

A file beside the label wins over the header's table. A multi-label file with none of these still
opens, each value named ``label N``, with a note saying so.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

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
    """The segments an ITK-SNAP label description or a 3D Slicer colour table names (value 0, the
    clear label or background, left out)."""
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
            value, name, rgb = _table_line(line)
        except (ValueError, IndexError) as exc:
            raise CtsegError(
                path,
                f"line {number} is not an ITK-SNAP label description line (nor a 3D Slicer colour table "
                f"line): {line.strip()!r}",
            ) from exc
        if value > 0:
            segments.append(default_segment(name, value, rgb))
    return segments


def _table_line(line: str) -> tuple[int, str, tuple[int, int, int]]:
    """(value, name, RGB) of an ITK-SNAP line (``IDX R G B A VIS MSH "LABEL"``) or a Slicer colour
    table line (``IDX NAME R G B A``, the name one word)."""
    fields = shlex.split(line)
    if len(fields) == 6 and '"' not in line:  # Slicer: the second field is the name
        value, red, green, blue = (int(v) for v in (fields[0], *fields[2:5]))
        return value, fields[1], (red, green, blue)
    value, red, green, blue = (int(v) for v in fields[:4])
    return value, fields[7] if len(fields) > 7 else f"label {value}", (red, green, blue)


#: The largest NIfTI header extension read as a label table (TotalSegmentator's are a few kB).
_EXTENSION_LIMIT = 1 << 20


def read_extension_table(extensions: Iterable[Any]) -> list[Segment] | None:
    """The segments of a Caret ``LabelTable`` in NIfTI header extensions (TotalSegmentator's
    multi-label output), or None when there is none. ``extensions``: nibabel's ``header.extensions``."""
    for extension in extensions:
        content = extension.get_content()
        if isinstance(content, str):
            content = content.encode("utf-8", "replace")
        if isinstance(content, bytes) and len(content) <= _EXTENSION_LIMIT and b"LabelTable" in content:
            segments = _caret_labels(content.strip(b" \x00\r\n\t"))
            if segments is not None:
                return segments
    return None


def _caret_labels(content: bytes) -> list[Segment] | None:
    """The ``<Label Key= Red= Green= Blue=>name</Label>`` entries of a Caret extension; None if unreadable."""
    import xml.etree.ElementTree as ElementTree

    try:
        labels = ElementTree.fromstring(content).findall(".//LabelTable/Label")
        entries = [(int(label.get("Key", "")), label) for label in labels]
        return [
            default_segment(
                (label.text or "").strip() or f"label {key}",
                key,
                (_channel(label, "Red"), _channel(label, "Green"), _channel(label, "Blue")),
            )
            for key, label in entries
            if key > 0
        ]
    except (ElementTree.ParseError, ValueError):
        return None


def _channel(label: Any, name: str) -> int:
    """A 0–1 colour attribute as 0–255."""
    return round(min(max(float(label.get(name, "0")), 0.0), 1.0) * 255)


def label_table_path(label_path: str | Path) -> Path:
    """Where ctseg writes the description of a label file: the same stem with ``.txt``."""
    label_path = Path(label_path)
    name = label_path.name
    for suffix in _LABEL_SUFFIXES:
        if name.lower().endswith(suffix):
            return label_path.with_name(name[: -len(suffix)] + ".txt")
    return label_path.with_suffix(".txt")


def find_label_table(label_path: str | Path) -> Path | None:
    """The label description beside a label file: ``<stem>.txt``, ``<stem>_labels.txt``, ``labels.txt``
    or Slicer's ``<stem>.ctbl``."""
    own = label_table_path(label_path)
    candidates = (own, own.with_name(own.stem + "_labels.txt"), own.with_name("labels.txt"), own.with_suffix(".ctbl"))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def label_table_beside(label_path: str | Path, extensions: Iterable[Any] = ()) -> list[Segment] | None:
    """What names a label file's values: its description file (:func:`find_label_table`), else the
    label table in its NIfTI header ``extensions`` (:func:`read_extension_table`); None when neither."""
    path = find_label_table(label_path)
    if path is not None:
        return read_label_table(path)
    return read_extension_table(extensions)


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
