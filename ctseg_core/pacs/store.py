"""The managed folder: where retrieved and received series are kept, and when they count as complete.

``<root>/studies/<StudyUID>/<SeriesUID>/<SOPInstanceUID>.dcm`` holds complete series only; it is the
folder indexed into the cohort database. Everything still arriving goes to ``<root>/partial/<key>/``
first (each file written under a temporary name and renamed, so a file that is there is whole) and is
moved into ``studies`` by one rename once complete. A retrieve that was cut off leaves its partial
folder; the next one skips the instances already in it. ``<root>`` is ``$CTSEG_PACS_DIR``, else
``archive`` in the ctseg user data folder.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

from pydicom.dataset import Dataset

from ctseg_core.cache import user_data_dir
from ctseg_core.io.atomic import output_error

STORE_ENV = "CTSEG_PACS_DIR"
SUFFIX = ".dcm"
#: A UID as DICOM defines it (digits and dots, at most 64 characters): the only names used for folders.
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def default_store_dir() -> Path:
    override = os.environ.get(STORE_ENV)
    return Path(override).expanduser() if override else user_data_dir() / "archive"


def is_uid(text: object) -> bool:
    return isinstance(text, str) and len(text) <= 64 and bool(_UID.match(text))


class ManagedStore:
    """The managed folder at ``root`` (see the module)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_store_dir()
        self.studies = self.root / "studies"
        self.partial = self.root / "partial"

    def series_dir(self, study_uid: str, series_uid: str) -> Path:
        return self.studies / study_uid / series_uid

    def partial_dir(self, key: str) -> Path:
        return self.partial / key

    def new_partial_dir(self, prefix: str) -> Path:
        return self.partial / f"{prefix}-{uuid.uuid4().hex[:12]}"

    @staticmethod
    def present(folder: Path) -> set[str]:
        """The SOP Instance UIDs whose files are in ``folder``."""
        try:
            return {name[: -len(SUFFIX)] for name in os.listdir(folder) if name.endswith(SUFFIX)}
        except FileNotFoundError:
            return set()

    @staticmethod
    def write(folder: Path, sop_uid: str, content: Dataset | bytes) -> int:
        """Write one instance as ``<sop_uid>.dcm`` (whole or not at all); its size in bytes."""
        target = folder / f"{sop_uid}{SUFFIX}"
        temporary = folder / f".{sop_uid}.{uuid.uuid4().hex[:8]}.part"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                temporary.write_bytes(content)
            else:
                content.save_as(temporary, enforce_file_format=True)
            size = temporary.stat().st_size
            os.replace(temporary, target)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise output_error(target, error) from error
        return size

    def finish(self, partial: Path, study_uid: str, series_uid: str) -> Path:
        """Move a complete series from ``partial`` into ``studies`` (one rename when it is new there)."""
        final = self.series_dir(study_uid, series_uid)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            if not final.exists():
                os.rename(partial, final)
                return final
            for entry in os.scandir(partial):
                if entry.name.endswith(SUFFIX):
                    os.replace(entry.path, final / entry.name)
            shutil.rmtree(partial, ignore_errors=True)
        except OSError as error:
            raise output_error(final, error) from error
        return final

    def discard(self, partial: Path) -> None:
        shutil.rmtree(partial, ignore_errors=True)

    def usage_bytes(self) -> int:
        """Bytes held in the managed folder (complete and partial)."""
        total = 0
        for folder, _, files in os.walk(self.root):
            for name in files:
                try:
                    total += os.stat(os.path.join(folder, name)).st_size
                except OSError:
                    continue
        return total
