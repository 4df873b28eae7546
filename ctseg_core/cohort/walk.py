"""Every file under a root with its size and modification time: what an unchanged re-index costs.

The walk skips what the discovery rule and the loader skip (hidden entries, ``DICOMDIR`` and
other known junk, ``__MACOSX``), never follows a link out of the root (it says which it skipped),
visits a folder reached twice through links once, and stops at the loader's depth limit.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ctseg_core.errors import PathMissingError, PermissionDeniedError
from ctseg_core.io.sources import MAX_FOLDER_DEPTH, SKIPPED_NAMES, leads_inside
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled


@dataclass(frozen=True)
class FileStat:
    """What tells a file changed without reading it."""

    size: int
    mtime_ns: int


@dataclass
class Listing:
    """The files under a root (by path) and what the walk left out, as warnings."""

    root: Path
    files: dict[str, FileStat] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def list_files(
    root: Path, progress: ProgressCallback | None = None, should_cancel: CancelCheck | None = None
) -> Listing:
    """Stat every file under ``root`` (or ``root`` itself when it is a file)."""
    listing = Listing(root)
    try:
        info = root.stat()
    except FileNotFoundError as error:
        raise PathMissingError(root, "path does not exist") from error
    except OSError as error:
        raise PathMissingError(root, f"cannot be opened ({error.strerror or error})") from error
    if stat.S_ISREG(info.st_mode):
        listing.files[str(root)] = FileStat(info.st_size, info.st_mtime_ns)
        return listing
    if not os.access(root, os.R_OK | os.X_OK):
        raise PermissionDeniedError(root, "permission denied: cannot list the folder")
    _walk(listing, os.path.realpath(root), progress, should_cancel)
    return listing


def _walk(
    listing: Listing, real_root: str, progress: ProgressCallback | None, should_cancel: CancelCheck | None
) -> None:
    seen: set[tuple[int, int]] = set()
    pending: list[tuple[str, int]] = [(str(listing.root), 0)]
    while pending:
        raise_if_cancelled(should_cancel)
        folder, depth = pending.pop()
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as error:
            listing.skipped.append(f"{folder}: cannot be listed ({error.strerror or error})")
            continue
        for entry in entries:
            _visit(listing, entry, depth, real_root, pending)
        if progress is not None:
            progress(len(listing.files), 0, "listing files")


def _visit(
    listing: Listing, entry: os.DirEntry[str], depth: int, real_root: str, pending: list[tuple[str, int]]
) -> None:
    """One folder entry: a file is listed, a folder queued, anything else left out."""
    if entry.name.startswith(".") or entry.name in SKIPPED_NAMES or entry.name == "__MACOSX":
        return
    if entry.is_symlink() and not leads_inside(entry.path, real_root):
        listing.skipped.append(f"{entry.path}: a link leading outside {listing.root}, not followed")
        return
    try:
        info = entry.stat()
    except OSError as error:
        listing.skipped.append(f"{entry.path}: cannot be read ({error.strerror or error})")
        return
    if stat.S_ISDIR(info.st_mode):
        if depth + 1 > MAX_FOLDER_DEPTH:
            listing.skipped.append(f"{entry.path}: deeper than {MAX_FOLDER_DEPTH} folder levels, not read")
        else:
            pending.append((entry.path, depth + 1))
    elif stat.S_ISREG(info.st_mode):  # pipes, sockets and devices are never opened
        listing.files[entry.path] = FileStat(info.st_size, info.st_mtime_ns)
