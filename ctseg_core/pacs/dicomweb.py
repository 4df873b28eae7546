"""An archive over DICOMweb (QIDO-RS, WADO-RS, STOW-RS), with ``dicomweb-client`` on a ``requests`` session.

The session carries the authentication (HTTP Basic, or a Bearer token in a header: neither ever in a
URL, a message or a log line), the TLS verification and the timeout. Every failure of the HTTP layer
becomes a :class:`~ctseg_core.pacs.errors.PacsError` naming the server and the operation in words.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from ctseg_core.errors import Cancelled, CtsegError
from ctseg_core.pacs.archive import Instance, SendReport, Sink
from ctseg_core.pacs.errors import PacsError
from ctseg_core.pacs.query import SERIES_FIELDS, STUDY_FIELDS, Query, SeriesMatch, StudyMatch, series_match, study_match
from ctseg_core.pacs.servers import ServerConfig
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled
from ctseg_core.shown_text import for_terminal

log = logging.getLogger(__name__)
#: Instances per STOW-RS request (progress and cancel between requests).
STOW_BATCH = 16
_HTTP_WORDS = {
    401: "authentication failed (HTTP 401): check the user name and password or token",
    403: "not allowed (HTTP 403): this account may not do that",
    404: "not found on the server (HTTP 404)",
}


def http_problem(error: BaseException, timeout_s: float) -> str:
    """What went wrong with an HTTP exchange, in words, without URLs' queries or headers."""
    if isinstance(error, requests.HTTPError) and error.response is not None:
        status = error.response.status_code
        if status in _HTTP_WORDS:
            return _HTTP_WORDS[status]
        reason = for_terminal(" ".join(str(error.response.reason or "").split())[:80])
        return f"the server answered HTTP {status} {reason}".rstrip()
    if isinstance(error, requests.Timeout):
        return f"no answer within {timeout_s:g} s"
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS certificate not trusted (turn verification off only for a server you trust)"
    if isinstance(error, requests.ConnectionError) and not isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "cannot connect: is the server running, and are the host and port right?"
    if isinstance(error, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
        return "the answer was cut off in the middle of the transfer"
    return f"malformed answer from the server ({type(error).__name__})"


class _Session(requests.Session):
    """A session that sends ``*`` in queries as itself: RFC 3986 allows it there, and some servers
    (Orthanc's DICOMweb plugin 1.x) read ``%2A`` literally, so ``Doe*`` would match nothing."""

    def send(self, request: requests.PreparedRequest, **options: Any) -> requests.Response:
        if request.url and "?" in request.url:
            path, _, query = request.url.partition("?")
            request.url = f"{path}?{query.replace('%2A', '*')}"
        return super().send(request, **options)


class DicomWebArchive:
    """A DICOMweb archive (see the module)."""

    def __init__(self, server: ServerConfig) -> None:
        from dicomweb_client.api import DICOMwebClient

        self.server = server.check()
        session = _Session()
        session.verify = server.verify_tls
        headers = None
        if server.auth == "basic":
            session.auth = (server.username, server.password)
        elif server.auth == "bearer":
            headers = {"Authorization": f"Bearer {server.token}"}
        self.client = DICOMwebClient(server.url, session=session, headers=headers, timeout=server.timeout_s)
        self.client.set_http_retry_params(retry=False)  # a failure is reported at once; the user retries

    @contextmanager
    def _errors(self, operation: str) -> Iterator[None]:
        """Every failure of ``operation`` as a PacsError naming the server (a cancel stays a cancel)."""
        try:
            yield
        except (Cancelled, PacsError):
            raise
        except CtsegError as error:  # a local file problem (disk full): the server is not to blame
            raise error from None
        except (requests.RequestException, ValueError, TypeError, KeyError, EOFError, InvalidDicomError) as error:
            log.debug("%s %s failed", self.server.display(), operation, exc_info=True)
            raise PacsError(self.server.display(), operation, http_problem(error, self.server.timeout_s)) from None

    def echo(self) -> float:
        started = time.perf_counter()
        with self._errors("echo (QIDO-RS)"):
            self.client.search_for_studies(limit=1)
        return time.perf_counter() - started

    def find_studies(self, query: Query) -> list[StudyMatch]:
        with self._errors("study search (QIDO-RS)"):
            found = self.client.search_for_studies(fields=list(STUDY_FIELDS), search_filters=query.study_keys())
            return [study_match(Dataset.from_json(item)) for item in found]

    def find_series(self, study_uid: str, modality: str = "", series_uid: str = "") -> list[SeriesMatch]:
        filters = {"Modality": modality} if modality else {}
        if series_uid:
            filters["SeriesInstanceUID"] = series_uid
        with self._errors("series search (QIDO-RS)"):
            found = self.client.search_for_series(study_uid, fields=list(SERIES_FIELDS), search_filters=filters)
            return [series_match(Dataset.from_json(item), study_uid) for item in found]

    def instances(self, study_uid: str, series_uid: str) -> list[str]:
        with self._errors("instance search (QIDO-RS)"):
            try:
                found = self.client.search_for_instances(study_uid, series_uid, fields=["SOPInstanceUID"])
            except requests.HTTPError as error:
                if error.response is not None and error.response.status_code == 404:
                    return []
                raise
            return [str(Dataset.from_json(item).get("SOPInstanceUID", "")) for item in found]

    def fetch(
        self, study_uid: str, series_uid: str, wanted: set[str] | None, sink: Sink, should_cancel: CancelCheck | None
    ) -> None:
        """The whole series in one multipart stream, or (resuming) the wanted instances one by one."""
        with self._errors("retrieve (WADO-RS)"):
            if wanted is None:
                for dataset in self.client.iter_series(study_uid, series_uid):
                    raise_if_cancelled(should_cancel)
                    sink(_instance(dataset, study_uid, series_uid))
                return
            for sop_uid in sorted(wanted):
                raise_if_cancelled(should_cancel)
                dataset = self.client.retrieve_instance(study_uid, series_uid, sop_uid)
                sink(_instance(dataset, study_uid, series_uid))

    def send(
        self,
        datasets: Sequence[tuple[Path, Dataset]],
        progress: ProgressCallback | None,
        should_cancel: CancelCheck | None,
    ) -> SendReport:
        report = SendReport(self.server.display())
        started = time.perf_counter()
        for first in range(0, len(datasets), STOW_BATCH):
            raise_if_cancelled(should_cancel)
            batch = datasets[first : first + STOW_BATCH]
            with self._errors("send (STOW-RS)"):
                answer = self.client.store_instances([dataset for _, dataset in batch])
            failed = _failures(answer, {str(ds.SOPInstanceUID): path for path, ds in batch})
            report.failed += failed
            report.sent += len(batch) - len(failed)
            if progress is not None:
                progress(first + len(batch), len(datasets), "sending")
        report.seconds = time.perf_counter() - started
        return report


def _instance(dataset: Dataset, study_uid: str, series_uid: str) -> Instance:
    return Instance(
        sop_uid=str(dataset.get("SOPInstanceUID", "")),
        study_uid=str(dataset.get("StudyInstanceUID", study_uid)),
        series_uid=str(dataset.get("SeriesInstanceUID", series_uid)),
        content=dataset,
    )


def _failures(answer: Any, paths: dict[str, Path]) -> list[tuple[str, str]]:
    """The instances a STOW-RS answer lists as failed: (file, reason)."""
    failed = []
    for item in getattr(answer, "FailedSOPSequence", None) or []:
        uid = str(item.get("ReferencedSOPInstanceUID", ""))
        reason = item.get("FailureReason", "")
        failed.append((str(paths.get(uid, uid)), f"refused by the archive (failure reason {reason})"))
    return failed
