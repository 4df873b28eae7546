"""The project's own exception types.

Every message names the path and the problem, so the CLI and the GUI can show it as-is
(no traceback) and the user knows which file to look at.
"""

from __future__ import annotations

from pathlib import Path


class CtsegError(Exception):
    """Base class of every error ctseg reports to a user."""

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = str(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class PathMissingError(CtsegError):
    """The path given does not exist."""


class PermissionDeniedError(CtsegError):
    """The path exists but cannot be read."""


class NotReadableError(CtsegError):
    """The path exists but is not something a patient can be read from (a device, a pipe)."""


class EmptyFolderError(CtsegError):
    """The folder holds no files at all."""


class NoDicomError(CtsegError):
    """The folder holds files, but none is DICOM."""


class AllFilesCorruptError(CtsegError):
    """Every DICOM-looking file failed to parse."""


class UnreadableSlice(CtsegError):
    """One file could not be parsed or decoded (corrupt, truncated, undecodable pixel data).

    While reading a series such files are skipped with a warning; where one is needed (a mask
    slice, a CT slice chosen for the volume) it is the error.
    """


class MissingPixelDataError(CtsegError):
    """An image slice has no pixel data."""


class InconsistentGeometryError(CtsegError):
    """Slices of one series disagree on rows, columns, spacing or orientation."""


class DuplicatePositionError(CtsegError):
    """Two different slices share one position along the slice normal."""


class MaskMismatchError(CtsegError):
    """A mask does not fit the CT: wrong slice count, grid or position."""


class SeveralPatientsError(CtsegError):
    """A path given as one patient holds several (a parent folder): the user picks one."""


class UnknownSeriesError(CtsegError):
    """The requested SeriesInstanceUID is not in the folder."""


class ModelError(CtsegError):
    """A model file or its model card is missing, corrupt or inconsistent."""


class CohortDatabaseError(CtsegError):
    """The cohort database cannot be used: not a ctseg database, corrupt, written by a newer ctseg,
    or locked too long by another program. The file is left exactly as it was."""


class Cancelled(Exception):
    """Raised inside long jobs when the caller's cancel flag turns true.

    Not a CtsegError: cancelling is the user's choice, not a problem to report.
    """


class InvalidLabelNameError(CtsegError):
    """A label name that cannot be a mask folder name: empty, ``.``/``..``, a path separator,
    surrounding spaces, a reserved name (``MASKS_DICOM``, Windows' ``CON``…) or too long."""


class GroundTruthProtectedError(CtsegError):
    """A write would replace a ground-truth mask (a folder ctseg did not write, or a mask inside
    ``MASKS_DICOM.zip``) without ``replace_ground_truth=True``."""


class OutputError(CtsegError, OSError):
    """An output file or folder cannot be written; the previous output is left as it was.

    Also an ``OSError`` (``errno`` set where the system gave one), so callers that catch file
    errors keep working; ``str()`` is the path and the problem, never ``[Errno …]``.
    """

    def __init__(self, path: str | Path | None, problem: str, code: int | None = None) -> None:
        super().__init__(path, problem)
        self.errno = code


class DiskFullError(OutputError):
    """No space left on the device (or the user's quota is used up)."""


class ReadOnlyError(OutputError):
    """The output's folder is on a read-only file system or not writable for this user."""


class NotAFolderError(OutputError):
    """A path that must be a folder (an output folder, a parent of the output) is a file."""


class IsAFolderError(OutputError):
    """A path that must be a file (a NIfTI, SEG or CSV output) is a folder."""


class OutputExistsError(OutputError):
    """The output is already there and the command does not replace it."""


class InvalidArgumentError(CtsegError):
    """A setting given on the command line or to the API is out of range (e.g. threads < 1)."""


class TrainingDataError(CtsegError):
    """The training data or split asked for does not exist (no patients, unknown ``--val`` name)."""


class NotACtError(CtsegError):
    """What was given to open as a CT is something else: a binary mask saved as images, a label volume."""


class VolumeTooLargeError(CtsegError):
    """A scan declares more voxels than this machine's memory holds; refused before allocating."""
