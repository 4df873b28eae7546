"""Atomic writes: build the output under a hidden name beside the target, then rename it into place.

A crash, a kill or a full disk mid-write leaves the old output (or nothing), never half of one.
Files (:func:`atomic_path`) replace the target with one rename, the file and then its folder
fsynced so a power cut cannot leave a truncated "complete" file; temporaries a killed write left
are removed by the next file write to that folder (:func:`remove_stale_temporaries`). Folders (:func:`atomic_folder`)
need two (the old folder to a hidden backup, the new one into place); a failure between them is
rolled back, and the next write of that folder first restores a backup left by a killed process
and removes stale staging folders, so nothing hidden accumulates and no backup is ever deleted
while it is the only copy.

Every ``OSError`` on the way becomes an :class:`~ctseg_core.errors.OutputError` naming the path
and the problem in words ("disk full", "read-only", "is a file, not a folder").
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from ctseg_core.errors import (
    CtsegError,
    DiskFullError,
    IsAFolderError,
    NotAFolderError,
    OutputError,
    ReadOnlyError,
)

#: Seconds a folder write waits for another writer of the same parent folder before giving up.
LOCK_TIMEOUT_S = 60.0
#: What marks a file write's temporary (``.<name>.<random>.ctseg-tmp<suffix>``), so that the next write
#: to its folder can tell one a killed process left from anyone else's file.
TEMPORARY_MARK = ".ctseg-tmp"
#: A temporary this old was left by a killed write (no write of ctseg takes an hour), never one in progress.
STALE_TEMPORARY_S = 3600.0
_TEMPORARY = re.compile(rf"\..+\.[a-z0-9_]{{8}}{re.escape(TEMPORARY_MARK)}.*", re.DOTALL)
_HIDDEN_KINDS = ("staging", "backup")


def output_error(path: str | Path, error: OSError, previous_kept: bool = False) -> OutputError:
    """The ctseg error for an ``OSError`` met while writing ``path``, in words a user acts on."""
    if isinstance(error, OutputError):
        return error
    code = error.errno
    kept = "; the previous output is unchanged" if previous_kept else "; nothing was written"
    reason = error.strerror or str(error)
    if code == errno.ENOSPC:
        return DiskFullError(path, f"disk full (no space left on the device){kept}", code)
    if code == errno.EDQUOT:
        return DiskFullError(path, f"disk full (disk quota exceeded){kept}", code)
    if code == errno.EROFS:
        return ReadOnlyError(path, f"read-only file system{kept}", code)
    if code in (errno.EACCES, errno.EPERM):
        return ReadOnlyError(path, f"read-only: permission denied{kept}", code)
    if code == errno.ENOTDIR:
        return NotAFolderError(_first_file_ancestor(Path(path)) or path, f"is a file, not a folder{kept}", code)
    if code == errno.EISDIR:
        return IsAFolderError(path, f"is a folder, not a file{kept}", code)
    return OutputError(path, f"cannot write ({reason}){kept}", code)


def _first_file_ancestor(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` (or ``path`` itself) when it is not a folder."""
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return None if candidate.is_dir() else candidate
    return None


def prepare_output_folder(folder: str | Path) -> Path:
    """Create ``folder`` (and its parents) for writing; a clear error when a file is in the way."""
    folder = Path(folder)
    blocker = _first_file_ancestor(folder)
    if blocker is not None:
        raise NotAFolderError(blocker, "is a file, not a folder: cannot write outputs into it")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise output_error(error.filename or folder, error) from error
    return folder


def check_output_folder(folder: str | Path) -> None:
    """Refuse early (before any slow work) an output folder that is, or lies under, a file."""
    blocker = _first_file_ancestor(Path(folder))
    if blocker is not None:
        raise NotAFolderError(blocker, "is a file, not a folder: cannot write outputs into it")


@contextlib.contextmanager
def atomic_path(target: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it replaces ``target``.

    A device or pipe (``/dev/null``, ``/dev/full``) is written in place: renaming over it would
    replace the device node.
    """
    target = Path(target)
    if target.is_dir():
        raise IsAFolderError(target, "is a folder, not a file: give a file name")
    existed = os.path.lexists(target)
    try:
        special = not stat.S_ISREG(os.stat(target).st_mode)
    except OSError:  # missing, or a dangling link: an ordinary new file
        special = False
    if special:
        try:
            yield target
        except OSError as error:
            raise output_error(target, error) from error
        return
    prepare_output_folder(target.parent)
    remove_stale_temporaries(target.parent)
    try:
        handle, name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=TEMPORARY_MARK + (suffix or ".tmp"), dir=target.parent
        )
    except OSError as error:
        raise output_error(target.parent, error, existed) from error
    os.close(handle)
    temporary = Path(name)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes 0600; saved files should look like any other
        yield temporary
        fsync_path(temporary)  # the bytes are on disk before the name says the file is complete
        os.replace(temporary, target)
        fsync_path(target.parent, folder=True)  # and the rename itself survives a power cut
    except OSError as error:
        raise output_error(target, error, existed) from error
    finally:
        if temporary.exists():
            temporary.unlink()


def fsync_path(path: Path, folder: bool = False) -> None:
    """Flush a written file (or a folder's entries, after a rename) to the disk. A folder that cannot
    be opened or synced (not POSIX, some network file systems) is left to the OS; a file's error is not."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if folder:
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not folder:
            raise
    finally:
        os.close(fd)


def remove_stale_temporaries(folder: Path, older_than_s: float = STALE_TEMPORARY_S) -> list[Path]:
    """Delete the temporaries of file writes killed in ``folder`` (ctseg's own naming,
    :data:`TEMPORARY_MARK`, untouched for ``older_than_s``), as folder writes recover theirs; the
    files removed. A temporary being written now is younger and kept; errors are ignored."""
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not _TEMPORARY.fullmatch(entry.name):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and now - entry.stat(follow_symlinks=False).st_mtime > older_than_s:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


# ----------------------------------------------------------------------------- folders


def _hidden_name(name: str, kind: str) -> str:
    return f".{name}.{secrets.token_hex(6)}.{kind}"


def hidden_leftovers(target: str | Path) -> dict[str, list[Path]]:
    """Hidden staging and backup folders of ``target`` in its parent, by kind.

    Also recognises what earlier ctseg versions left: ``.<name>.old`` (a backup) and
    ``.<name>.XXXXXXXX`` (a staging folder from ``tempfile.mkdtemp``).
    """
    target = Path(target)
    name = re.escape(target.name)
    current = re.compile(rf"\.{name}\.[0-9a-f]{{12}}\.(staging|backup)")
    legacy_staging = re.compile(rf"\.{name}\.[a-z0-9_]{{8}}")
    found: dict[str, list[Path]] = {kind: [] for kind in _HIDDEN_KINDS}
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return found
    for entry in entries:
        if not entry.is_dir() or entry.is_symlink():
            continue
        match = current.fullmatch(entry.name)
        if match:
            found[match.group(1)].append(entry)
        elif entry.name == f".{target.name}.old":
            found["backup"].append(entry)
        elif legacy_staging.fullmatch(entry.name):
            found["staging"].append(entry)
    return found


def recover_folder(target: str | Path) -> Path | None:
    """Undo what an interrupted :func:`atomic_folder` left: restore a backup, remove staging.

    When ``target`` is missing but a backup of it exists (a process killed between the two
    renames), the newest backup is renamed back first; only then are other backups (older copies
    of a target that exists) and staging folders (half-written, never renamed) deleted.
    Returns the restored folder, or None when nothing had to be restored.
    """
    target = Path(target)
    leftovers = hidden_leftovers(target)
    backups = sorted(leftovers["backup"], key=_mtime, reverse=True)
    restored = None
    if backups and not os.path.lexists(target):
        os.replace(backups.pop(0), target)
        restored = target
    for stale in backups + leftovers["staging"]:
        shutil.rmtree(stale, ignore_errors=True)
    return restored


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (flock on the folder itself; no lock file is left)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock; staging names are unique anyway
        yield
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise OutputError(folder, "another program is writing here; try again when it is done") from None
                time.sleep(0.05)
            except OSError:
                break  # a file system without locks: go on unlocked
        yield
    finally:
        os.close(fd)


def swap_folder(staging: Path, target: Path) -> None:
    """Put the finished ``staging`` folder at ``target``; the old ``target`` survives any failure.

    Two renames (old → hidden backup, new → target); if the second fails the backup is renamed
    back at once, and if even that fails (or the process dies) :func:`recover_folder` restores it.
    """
    backup = None
    if os.path.lexists(target):
        backup = target.with_name(_hidden_name(target.name, "backup"))
        os.replace(target, backup)
    try:
        os.replace(staging, target)
    except BaseException:
        if backup is not None:
            os.replace(backup, target)
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


@contextlib.contextmanager
def atomic_folder(target: str | Path) -> Iterator[Path]:
    """Yield an empty hidden staging folder beside ``target``; on success it becomes ``target``.

    On entry the parent folder is created and locked, and leftovers of an interrupted write of
    ``target`` are recovered (:func:`recover_folder`), so the body sees ``target`` as it really is.
    On any failure or cancel the staging folder is removed and ``target`` is as it was.
    """
    target = Path(target)
    parent = prepare_output_folder(target.parent)
    if os.path.lexists(target) and not target.is_dir():
        raise NotAFolderError(target, "is a file, not a folder: remove it or choose another name")
    with _locked(parent):
        try:
            recover_folder(target)
            existed = target.is_dir()
            staging = target.with_name(_hidden_name(target.name, "staging"))
            staging.mkdir()
        except OSError as error:
            raise output_error(error.filename or parent, error, os.path.lexists(target)) from error
        try:
            yield staging
            swap_folder(staging, target)
        except OSError as error:
            if isinstance(error, CtsegError):
                raise
            raise output_error(target, error, existed) from error
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
