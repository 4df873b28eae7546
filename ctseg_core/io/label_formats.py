"""The formats a label can be written in: the one registry behind ``ctseg segment --format``, the
viewer's Save as and the writers' dispatch.

Each format has the name the command line takes, the title the viewer shows, the file ending it is
written with (none for IRCAD's mask folders) and whether it is DICOM (it then needs the CT's DICOM
headers). Nothing here imports a reader or writer, so the command-line parser can offer the choices
without loading them.
"""

from __future__ import annotations

import enum


class LabelFormat(enum.Enum):
    """Where a label can be saved; the value is shown to the user."""

    IRCAD = "IRCAD mask folders (MASKS_DICOM/<segment>/image_K)"
    NIFTI = "NIfTI + ITK-SNAP label description (.nii.gz, .txt)"
    DICOM_SEG = "DICOM SEG (.dcm)"
    RTSTRUCT = "DICOM RT Structure Set (.dcm)"
    SEG_NRRD = "3D Slicer segmentation (.seg.nrrd)"

    @classmethod
    def from_name(cls, name: str) -> LabelFormat:
        """The format for a command-line name (:func:`format_names`)."""
        for fmt in cls:
            if fmt.cli_name == name:
                return fmt
        raise ValueError(f"format must be one of {', '.join(format_names())}, got {name!r}")

    @property
    def cli_name(self) -> str:
        """The name ``--format`` takes."""
        return _CLI_NAMES[self]

    @property
    def is_folder(self) -> bool:
        return self is LabelFormat.IRCAD

    @property
    def is_dicom(self) -> bool:
        """Whether the file is a DICOM object referencing the CT series (it needs the CT's headers)."""
        return self in (LabelFormat.DICOM_SEG, LabelFormat.RTSTRUCT)

    @property
    def suffix(self) -> str:
        """The ending a file of this format has ("" for IRCAD's folders): what Save as adds."""
        return _SUFFIXES[self]

    def file_name(self, stem: str) -> str:
        """The file (or IRCAD mask folder) name ``ctseg segment`` writes a label called ``stem`` under:
        the two DICOM formats say which they are (``liver_pred.seg.dcm``, ``liver_pred.rtstruct.dcm``)."""
        return stem + _OUTPUT_SUFFIXES.get(self, self.suffix)


_CLI_NAMES = {
    LabelFormat.IRCAD: "ircad",
    LabelFormat.NIFTI: "nifti",
    LabelFormat.DICOM_SEG: "seg",
    LabelFormat.RTSTRUCT: "rtstruct",
    LabelFormat.SEG_NRRD: "seg.nrrd",
}
_SUFFIXES = {
    LabelFormat.IRCAD: "",
    LabelFormat.NIFTI: ".nii.gz",
    LabelFormat.DICOM_SEG: ".dcm",
    LabelFormat.RTSTRUCT: ".dcm",
    LabelFormat.SEG_NRRD: ".seg.nrrd",
}
_OUTPUT_SUFFIXES = {LabelFormat.DICOM_SEG: ".seg.dcm", LabelFormat.RTSTRUCT: ".rtstruct.dcm"}


def format_names() -> list[str]:
    """The ``--format`` choices, in the registry's order (IRCAD first, the default)."""
    return [fmt.cli_name for fmt in LabelFormat]


def format_help() -> str:
    """One line naming each ``--format`` choice, for the command line's help."""
    return "; ".join(f"{fmt.cli_name}: {fmt.value}" for fmt in LabelFormat)
