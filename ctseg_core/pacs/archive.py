"""One interface to an archive, whatever it speaks: DICOMweb (:mod:`~.dicomweb`) or DIMSE (:mod:`~.dimse`).

The retrieve, the send and the command line only use :class:`Archive`;
:func:`ctseg_core.pacs.connect.open_archive` picks the transport from the server's settings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pydicom.dataset import Dataset

from ctseg_core.pacs.query import Query, SeriesMatch, StudyMatch
from ctseg_core.pacs.servers import ServerConfig
from ctseg_core.progress import CancelCheck, ProgressCallback


@dataclass(frozen=True)
class Instance:
    """One instance as it arrived: its UIDs (as the sender declared them) and its content."""

    sop_uid: str
    study_uid: str
    series_uid: str
    content: Dataset | bytes


#: Where a transport hands each instance it receives.
Sink = Callable[[Instance], None]


@dataclass
class SendReport:
    """What a send did: instances the archive took, and those it refused with why."""

    server: str
    sent: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    bytes: int = 0
    seconds: float = 0.0


class Archive(Protocol):
    """What ctseg asks of an archive. Every method raises :class:`~ctseg_core.pacs.errors.PacsError`."""

    server: ServerConfig

    def echo(self) -> float:
        """Test the connection; the round trip in seconds."""

    def find_studies(self, query: Query) -> list[StudyMatch]: ...

    def find_series(self, study_uid: str, modality: str = "", series_uid: str = "") -> list[SeriesMatch]:
        """The study's series (of ``modality``; only ``series_uid``, when given)."""

    def instances(self, study_uid: str, series_uid: str) -> list[str]:
        """The SOP Instance UIDs of a series (empty: the archive has no such series)."""

    def fetch(
        self, study_uid: str, series_uid: str, wanted: set[str] | None, sink: Sink, should_cancel: CancelCheck | None
    ) -> None:
        """Retrieve the series' ``wanted`` instances (None: the whole series), each into ``sink``."""

    def send(
        self,
        datasets: Sequence[tuple[Path, Dataset]],
        progress: ProgressCallback | None,
        should_cancel: CancelCheck | None,
    ) -> SendReport: ...
