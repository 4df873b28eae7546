"""Where DICOM bytes come from: a folder tree or a zip archive read in place.

3D-IRCADb-01 ships each patient as ``PATIENT_DICOM.zip`` and ``MASKS_DICOM.zip``; users should not
have to unzip by hand, so both kinds of source offer the same small interface to the reader.
"""

from __future__ import annotations

import os
import threading
import zipfile
from pathlib import Path
from typing import BinaryIO, Protocol

from ctseg_core.errors import PathMissingError, PermissionDeniedError

#: Folder levels below a patient folder that are read; deeper ones are reported and skipped.
MAX_FOLDER_DEPTH = 64
#: A zip member is kept in memory between the header and the pixel pass up to this size.
KEEP_MEMBER_BYTES = 64 << 20
#: At most this many bytes of one archive's members are kept between the passes; the rest are inflated
#: again for the pixel pass. Without a cap an archive of several series kept every series' bytes (519 MB
#: to load one series of 223 MB); the members of series not loaded are let go once the series is chosen.
KEEP_TOTAL_BYTES = 256 << 20
#: A zip member declaring more than this (uncompressed) is refused: no CT slice or series file is
#: that large, and inflating one would exhaust memory (a zip bomb inflates 6.5 MB to 1.5 GB).
MAX_MEMBER_BYTES = 1 << 30

#: Names skipped without a word: they are never DICOM.
SKIPPED_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini", "DICOMDIR"})


class DicomSource(Protocol):
    """A flat list of entries (files or zip members) that may hold DICOM."""

    label: str
    #: entries left out while listing (too deep, too large, unreadable), for warnings
    skipped: list[str]

    def entries(self) -> list[str]: ...

    def display_name(self, entry: str) -> str: ...

    def open(self, entry: str) -> BinaryIO: ...

    def size(self, entry: str) -> int: ...

    def is_file_backed(self) -> bool: ...


def leads_inside(link: str | Path, real_root: str) -> bool:
    """Whether a link resolves to ``real_root`` (a ``os.path.realpath``) or below it.

    Nothing outside the folder the user opened is ever read: a link ``up -> ../..`` would load the
    neighbouring patient, one to ``/usr`` would walk all of it.
    """
    target = os.path.realpath(link)
    return target == real_root or target.startswith(real_root.rstrip(os.sep) + os.sep)


class FolderSource:
    """Every file below a folder (recursively), hidden files and known junk excluded; links that
    lead outside the folder are skipped (and listed in ``skipped``)."""

    def __init__(self, root: Path, exclude_dirs: frozenset[str] = frozenset()) -> None:
        self.root = Path(root)
        self._real_root = os.path.realpath(self.root)
        self.label = str(self.root)
        self._exclude_dirs = exclude_dirs
        self._entries: list[str] | None = None
        #: what the walk left out, for the loader's warnings
        self.skipped: list[str] = []

    def entries(self) -> list[str]:
        if self._entries is None:
            self._entries = sorted(self._walk(self.root))
        return self._entries

    def _walk(self, top: Path) -> list[str]:
        """Files below ``top``, iteratively: symlink loops are visited once, depth is capped."""
        found: list[str] = []
        seen: set[tuple[int, int]] = set()
        pending: list[tuple[Path, int]] = [(top, 0)]
        while pending:
            folder, depth = pending.pop()
            try:
                info = folder.stat()
            except OSError as exc:  # a dangling link or a loop (ELOOP)
                if folder == top:
                    raise PathMissingError(folder, f"folder cannot be opened ({exc.strerror or exc})") from exc
                self.skipped.append(f"{folder}: cannot be opened ({exc.strerror or exc})")
                continue
            if (info.st_dev, info.st_ino) in seen:
                continue  # reached again through a symlink: a loop, or the same folder twice
            seen.add((info.st_dev, info.st_ino))
            try:
                with os.scandir(folder) as it:
                    items = list(it)
            except PermissionError as exc:
                raise PermissionDeniedError(folder, "permission denied: cannot list the folder") from exc
            except FileNotFoundError as exc:
                raise PathMissingError(folder, "folder does not exist") from exc
            except OSError as exc:
                raise PathMissingError(folder, f"folder cannot be listed ({exc.strerror or exc})") from exc
            for item in items:
                if item.name.startswith(".") or item.name in SKIPPED_NAMES:
                    continue
                if item.is_symlink() and not leads_inside(item.path, self._real_root):
                    self.skipped.append(f"{item.path}: a link leading outside {self.root}, not followed")
                    continue
                try:
                    is_dir = item.is_dir(follow_symlinks=True)
                    is_file = not is_dir and item.is_file(follow_symlinks=True)
                except OSError:
                    continue
                if is_dir and item.name not in self._exclude_dirs:
                    if depth + 1 > MAX_FOLDER_DEPTH:
                        self.skipped.append(f"{item.path}: deeper than {MAX_FOLDER_DEPTH} folder levels, not read")
                    else:
                        pending.append((Path(item.path), depth + 1))
                elif is_file:  # pipes, sockets and devices are never opened
                    found.append(item.path)
        return found

    def display_name(self, entry: str) -> str:
        return entry

    def open(self, entry: str) -> BinaryIO:
        return open(entry, "rb")

    def size(self, entry: str) -> int:
        return os.path.getsize(entry)

    def is_file_backed(self) -> bool:
        return True


class ZipSource:
    """Members of a zip archive under a prefix, read without extracting.

    Each thread keeps its own ``ZipFile`` handle so members decompress in parallel
    (zlib releases the GIL).
    """

    def __init__(self, archive: Path, prefix: str = "") -> None:
        self.archive = Path(archive)
        self.prefix = prefix
        self.label = f"{self.archive}!{prefix}" if prefix else str(self.archive)
        self._local = threading.local()
        try:
            with zipfile.ZipFile(self.archive) as zf:
                infos = zf.infolist()
        except PermissionError as exc:
            raise PermissionDeniedError(self.archive, "permission denied") from exc
        except (zipfile.BadZipFile, OSError) as exc:
            from ctseg_core.errors import AllFilesCorruptError

            raise AllFilesCorruptError(self.archive, f"not a readable zip archive ({exc})") from exc
        self.skipped: list[str] = []
        self._sizes = {}
        for info in infos:
            if info.is_dir() or not info.filename.startswith(prefix) or _is_junk(info.filename):
                continue
            if info.file_size > MAX_MEMBER_BYTES:
                self.skipped.append(
                    f"{self.archive}!{info.filename}: {info.file_size / 2**30:.1f} GiB uncompressed, more than "
                    f"{MAX_MEMBER_BYTES >> 30} GiB: not read"
                )
                continue
            self._sizes[info.filename] = info.file_size
        self._kept = 0
        self._kept_lock = threading.Lock()

    def reserve(self, count: int) -> bool:
        """Whether ``count`` more bytes of members may be kept in memory (:data:`KEEP_TOTAL_BYTES`); counted if so."""
        with self._kept_lock:
            if self._kept + count > KEEP_TOTAL_BYTES:
                return False
            self._kept += count
            return True

    def release(self, count: int) -> None:
        """``count`` kept bytes were let go."""
        with self._kept_lock:
            self._kept = max(0, self._kept - count)

    def _zip(self) -> zipfile.ZipFile:
        handle = getattr(self._local, "zip", None)
        if handle is None:
            handle = zipfile.ZipFile(self.archive)
            self._local.zip = handle
        return handle

    def entries(self) -> list[str]:
        return sorted(self._sizes)

    def display_name(self, entry: str) -> str:
        return f"{self.archive}!{entry}"

    def open(self, entry: str) -> BinaryIO:
        """A stream of the member: headers are read without inflating the whole member."""
        return self._zip().open(entry)  # type: ignore[return-value]  # ZipExtFile is a binary stream

    def size(self, entry: str) -> int:
        return self._sizes[entry]

    def is_file_backed(self) -> bool:
        return False

    def subfolders(self) -> list[str]:
        """Names of the first-level folders below the prefix (organ names in MASKS_DICOM)."""
        names = {name[len(self.prefix) :].split("/", 1)[0] for name in self._sizes if "/" in name[len(self.prefix) :]}
        return sorted(names)


def _is_junk(member: str) -> bool:
    parts = member.split("/")
    return any(p.startswith(".") or p == "__MACOSX" for p in parts) or parts[-1] in SKIPPED_NAMES
