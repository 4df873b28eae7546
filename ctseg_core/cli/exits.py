"""What a command's failure becomes: an exit code and one line on stderr, never a traceback.

A problem the user can fix is a CtsegError, printed as ``ctseg: error: <path>: <problem>`` (exit 2);
a cancel or Ctrl+C exits 130; anything else is a bug: one line ``ctseg: internal error: …`` names
the log file holding the traceback (exit 3), and ``ctseg --debug …`` prints the traceback too.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from collections.abc import Sequence

from ctseg_core.errors import CtsegError, OutputError

#: Exit codes of :func:`ctseg_core.cli.main`.
EXIT_OK, EXIT_FAILED_PATIENTS, EXIT_ERROR, EXIT_INTERNAL, EXIT_CANCELLED = 0, 1, 2, 3, 130
#: OS errors that come from the user's environment (full disk, read-only folder), not from a bug.
_ENVIRONMENT_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EEXIST,
        errno.ENAMETOOLONG,
        errno.EIO,
    }
)


def report_failure(error: Exception, debug: bool) -> int:
    """Print one line for ``error`` (and, with --debug, its traceback); the exit code."""
    user_error = as_user_error(error)
    if debug:
        traceback.print_exception(error, file=sys.stderr)
    if user_error is not None:
        print(f"ctseg: error: {user_error}", file=sys.stderr)
        return EXIT_ERROR
    from ctseg_core.batch import write_error_log

    log_path = None if debug else write_error_log(error, "running the command")
    where = (
        "traceback above"
        if debug
        else (
            f"traceback written to {log_path}" if log_path else "the traceback could not be written: rerun with --debug"
        )
    )
    message = " ".join(str(error).split()) or "(no message)"
    print(f"ctseg: internal error: {type(error).__name__}: {message} ({where})", file=sys.stderr)
    return EXIT_INTERNAL


def as_user_error(error: BaseException) -> CtsegError | None:
    """The CtsegError a user should read for ``error``, or None when it is a bug.

    An OSError naming a file, with a cause from the environment (disk full, read-only, a file in
    the way, an I/O error), is the user's to fix, whoever raised it.
    """
    if isinstance(error, CtsegError):
        return error
    if isinstance(error, OSError) and error.filename and error.errno in _ENVIRONMENT_ERRNOS:
        return OutputError(error.filename, error.strerror or str(error), error.errno)
    return None


def raised_by(error: BaseException, modules: Sequence[str]) -> bool:
    """Whether ``error`` was raised by a ``raise`` statement in one of ``modules`` (its innermost frame)."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return False
    origin = os.path.normcase(os.path.abspath(frames[-1].filename))
    for module in modules:
        loaded = sys.modules.get(module)
        filename = getattr(loaded, "__file__", None)
        if filename and os.path.normcase(os.path.abspath(filename)) == origin:
            return True
    return False
