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


class UnknownSeriesError(CtsegError):
    """The requested SeriesInstanceUID is not in the folder."""


class ModelError(CtsegError):
    """A model file or its model card is missing, corrupt or inconsistent."""


class Cancelled(Exception):
    """Raised inside long jobs when the caller's cancel flag turns true.

    Not a CtsegError: cancelling is the user's choice, not a problem to report.
    """
