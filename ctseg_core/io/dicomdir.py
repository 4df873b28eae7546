"""DICOMDIR, the index of a CD or DVD export: which image files it lists, and which of them are there.

The folder walk reads the images themselves (a DICOMDIR adds nothing a header does not say), so the
index matters where the images are not where it says: a folder holding only the DICOMDIR (copied from
the disc without its ``DICOM/`` folders) is not "empty", it is an index whose files are missing, and
the user is told which. The references are the index's directory records' ReferencedFileID, read
with pydicom (its :class:`~pydicom.fileset.FileSet` leaves out the files that are missing, which are
the point here).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ctseg_core.io.sources import leads_inside

DICOMDIR_NAME = "DICOMDIR"


@dataclass(frozen=True)
class DicomdirIndex:
    """The image files a DICOMDIR lists (inside its folder), found or missing, and why it could not be read."""

    path: Path
    present: tuple[Path, ...] = ()
    missing: tuple[Path, ...] = ()
    problem: str = ""

    def describe(self) -> str:
        """What the index says about the folder, for a message."""
        if self.problem:
            return f"{self.path} cannot be read as a DICOMDIR ({self.problem})"
        listed = len(self.present) + len(self.missing)
        if not self.missing:
            return f"{self.path} lists {listed} files, all present"
        first = self.missing[0].relative_to(self.path.parent)
        return (
            f"{self.path} (a CD/DVD index) lists {listed} files and {len(self.missing)} of them are not there "
            f"(first: {first}): copy the whole disc, its folders as well as the DICOMDIR"
        )


def _referenced_path(folder: Path, file_id: object) -> Path:
    """A record's ReferencedFileID (components, upper case on the disc) as a path below ``folder``; the
    lower-case spelling a copy to a case-sensitive disk may have made, where only that exists."""
    parts = [file_id] if isinstance(file_id, str) else [str(part) for part in file_id]  # type: ignore[attr-defined]  # a multi-valued tag
    path = folder.joinpath(*parts)
    lower = folder.joinpath(*(part.lower() for part in parts))
    return lower if not path.exists() and lower.exists() else path


def read_dicomdir(folder: Path) -> DicomdirIndex | None:
    """The index of the DICOMDIR directly in ``folder``, or None when there is none. References that
    lead outside the folder are left out (nothing outside the folder opened is ever read)."""
    path = folder / DICOMDIR_NAME
    if not path.is_file():
        return None
    import pydicom

    try:
        records = pydicom.dcmread(str(path)).get("DirectoryRecordSequence") or []
        referenced = [
            _referenced_path(folder, record.ReferencedFileID) for record in records if "ReferencedFileID" in record
        ]
    except Exception as exc:  # pydicom raises many kinds on a damaged index
        return DicomdirIndex(path, problem=f"{exc.__class__.__name__}: {exc}")
    real_root = os.path.realpath(folder)
    inside = [p for p in referenced if leads_inside(p, real_root)]
    return DicomdirIndex(
        path,
        tuple(p for p in inside if p.is_file()),
        tuple(p for p in inside if not p.is_file()),
    )
