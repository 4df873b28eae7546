"""An archive over DIMSE with ``pynetdicom``: C-ECHO, C-FIND, C-GET or C-MOVE, C-STORE.

Each operation opens one association and releases it. A refused, aborted or silent association, and
every failure status, becomes a :class:`~ctseg_core.pacs.errors.PacsError` naming the server and the
operation. A C-MOVE needs ctseg's AE title registered at the archive with the address of the
short-lived storage SCP this module starts (``move_port``, bound to 127.0.0.1 unless told otherwise).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, build_role, evt
from pynetdicom.association import Association

from ctseg_core.errors import Cancelled, CtsegError
from ctseg_core.pacs.archive import SendReport, Sink
from ctseg_core.pacs.dimse_storage import (
    OUT_OF_RESOURCES,
    RETRIEVED_CLASSES,
    SUCCESS,
    RefusedInstance,
    received_instance,
    retrieved_contexts,
)
from ctseg_core.pacs.errors import PacsError
from ctseg_core.pacs.query import SERIES_FIELDS, STUDY_FIELDS, Query, SeriesMatch, StudyMatch, series_match, study_match
from ctseg_core.pacs.servers import ServerConfig
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled
from ctseg_core.shown_text import for_terminal

PENDING = (0xFF00, 0xFF01)
WARNING = 0xB000
#: The SOP classes of the services used (pynetdicom defines them at run time, invisibly to type checkers).
Verification = "1.2.840.10008.1.1"
StudyRootQueryRetrieveInformationModelFind = "1.2.840.10008.5.1.4.1.2.2.1"
StudyRootQueryRetrieveInformationModelMove = "1.2.840.10008.5.1.4.1.2.2.2"
StudyRootQueryRetrieveInformationModelGet = "1.2.840.10008.5.1.4.1.2.2.3"


def status_words(status: Dataset | None) -> str:
    """A DIMSE status as words (an empty status: the association went away)."""
    code = getattr(status, "Status", None)
    if code is None:
        return "no answer: the association was aborted or timed out"
    comment = for_terminal(" ".join(str(getattr(status, "ErrorComment", "")).split())[:120])
    return f"failed with status 0x{int(code):04X}" + (f" ({comment})" if comment else "")


class DimseArchive:
    """A DIMSE archive (see the module)."""

    def __init__(self, server: ServerConfig, method: str = "get", move_port: int = 0, bind: str = "127.0.0.1") -> None:
        if method not in ("get", "move"):
            raise CtsegError(server.display(), f"retrieve method must be get or move, got {method!r}")
        self.server, self.method, self.move_port, self.bind = server.check(), method, move_port, bind

    def _ae(self) -> AE:
        ae = AE(ae_title=self.server.our_aet)
        for name in ("acse_timeout", "dimse_timeout", "network_timeout", "connection_timeout"):
            setattr(ae, name, self.server.timeout_s)
        return ae

    @contextmanager
    def _association(self, ae: AE, operation: str, **options: Any) -> Iterator[Association]:
        """An established association, released (or aborted, on error) at the end."""
        server = self.server
        assoc = ae.associate(server.host, server.port, ae_title=server.aet, **options)
        if not assoc.is_established:
            raise PacsError(server.display(), operation, _why_not_established(assoc, server))
        try:
            yield assoc
        except BaseException:
            assoc.abort()
            raise
        else:
            assoc.release()

    def _fail(self, operation: str, problem: str) -> PacsError:
        return PacsError(self.server.display(), operation, problem)

    def echo(self) -> float:
        started = time.perf_counter()
        ae = self._ae()
        ae.add_requested_context(Verification)
        with self._association(ae, "echo (C-ECHO)") as assoc:
            status = assoc.send_c_echo()
        if getattr(status, "Status", None) != SUCCESS:
            raise self._fail("echo (C-ECHO)", status_words(status))
        return time.perf_counter() - started

    def _find(self, identifier: Dataset, operation: str) -> list[Dataset]:
        ae = self._ae()
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
        found = []
        with self._association(ae, operation) as assoc:
            for status, answer in assoc.send_c_find(identifier, StudyRootQueryRetrieveInformationModelFind):
                code = getattr(status, "Status", None)
                if code in PENDING and answer is not None:
                    found.append(answer)
                elif code != SUCCESS:
                    raise self._fail(operation, status_words(status))
        return found

    def find_studies(self, query: Query) -> list[StudyMatch]:
        keys = query.study_keys()
        identifier = _identifier("STUDY", STUDY_FIELDS, keys)
        return [study_match(ds) for ds in self._find(identifier, "study search (C-FIND)")]

    def find_series(self, study_uid: str, modality: str = "", series_uid: str = "") -> list[SeriesMatch]:
        keys = {"StudyInstanceUID": study_uid} | ({"Modality": modality} if modality else {})
        if series_uid:
            keys["SeriesInstanceUID"] = series_uid
        identifier = _identifier("SERIES", SERIES_FIELDS, keys)
        return [series_match(ds, study_uid) for ds in self._find(identifier, "series search (C-FIND)")]

    def instances(self, study_uid: str, series_uid: str) -> list[str]:
        keys = {"StudyInstanceUID": study_uid, "SeriesInstanceUID": series_uid}
        identifier = _identifier("IMAGE", ("SOPInstanceUID",), keys)
        return [str(ds.get("SOPInstanceUID", "")) for ds in self._find(identifier, "instance search (C-FIND)")]

    def fetch(
        self, study_uid: str, series_uid: str, wanted: set[str] | None, sink: Sink, should_cancel: CancelCheck | None
    ) -> None:
        """The series by C-GET or C-MOVE; with ``wanted``, only those instances (IMAGE level)."""
        keys = {"StudyInstanceUID": study_uid, "SeriesInstanceUID": series_uid}
        level = "SERIES"
        if wanted is not None:
            if not wanted:
                return
            keys["SOPInstanceUID"] = "\\".join(sorted(wanted))
            level = "IMAGE"
        identifier = _identifier(level, (), keys)
        receiver = _Receiver(sink, series_uid)
        if self.method == "get":
            self._get(identifier, receiver, should_cancel)
        else:
            self._move(identifier, receiver, should_cancel)
        receiver.raise_error()
        if receiver.malformed:
            operation = f"retrieve (C-{self.method.upper()})"
            raise self._fail(operation, f"{len(receiver.malformed)} instances refused ({receiver.malformed[0]})")

    def _get(self, identifier: Dataset, receiver: _Receiver, should_cancel: CancelCheck | None) -> None:
        operation = "retrieve (C-GET)"
        ae = self._ae()
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
        for context in retrieved_contexts():
            ae.add_requested_context(str(context.abstract_syntax), context.transfer_syntax)
        roles = [build_role(uid, scp_role=True) for uid in RETRIEVED_CLASSES]
        handlers = [(evt.EVT_C_STORE, receiver.on_store)]
        with self._association(ae, operation, ext_neg=roles, evt_handlers=handlers) as assoc:
            responses = assoc.send_c_get(identifier, StudyRootQueryRetrieveInformationModelGet)
            self._follow(responses, operation, receiver, should_cancel)

    def _move(self, identifier: Dataset, receiver: _Receiver, should_cancel: CancelCheck | None) -> None:
        operation = "retrieve (C-MOVE)"
        if not self.move_port:
            raise self._fail(operation, "a C-MOVE needs the port of ctseg's storage SCP (--move-port)")
        scp = self._ae()
        scp.supported_contexts = retrieved_contexts()
        try:
            server: Any = scp.start_server(
                (self.bind, self.move_port), block=False, evt_handlers=[(evt.EVT_C_STORE, receiver.on_store)]
            )
        except OSError as error:
            raise self._fail(operation, f"cannot listen on {self.bind}:{self.move_port}: {error.strerror}") from None
        try:
            ae = self._ae()
            ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
            with self._association(ae, operation) as assoc:
                responses = assoc.send_c_move(
                    identifier, self.server.our_aet, StudyRootQueryRetrieveInformationModelMove
                )
                self._follow(responses, operation, receiver, should_cancel)
        finally:
            server.shutdown()

    def _follow(
        self,
        responses: Iterator[tuple[Dataset, Dataset | None]],
        operation: str,
        receiver: _Receiver,
        should_cancel: CancelCheck | None,
    ) -> None:
        """Read a C-GET/C-MOVE's answers to the end; a failure status (or a cancel) stops it."""
        for status, _ in responses:
            raise_if_cancelled(should_cancel)
            code = getattr(status, "Status", None)
            if code in PENDING:
                continue
            if code in (SUCCESS, WARNING):  # a warning: some sub-operations failed; what is missing is said after
                return
            receiver.raise_error()
            failed = int(getattr(status, "NumberOfFailedSuboperations", 0) or 0)
            extra = f"; {failed} instances failed" if failed else ""
            raise self._fail(operation, status_words(status) + extra)

    def send(
        self,
        datasets: Sequence[tuple[Path, Dataset]],
        progress: ProgressCallback | None,
        should_cancel: CancelCheck | None,
    ) -> SendReport:
        operation = "send (C-STORE)"
        report = SendReport(self.server.display())
        started = time.perf_counter()
        ae = self._ae()
        for uid, syntax in sorted({(str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)) for _, ds in datasets}):
            ae.add_requested_context(uid, list(dict.fromkeys([syntax, ExplicitVRLittleEndian, ImplicitVRLittleEndian])))
        with self._association(ae, operation) as assoc:
            for done, (path, dataset) in enumerate(datasets, start=1):
                raise_if_cancelled(should_cancel)
                try:
                    status = assoc.send_c_store(dataset)
                except (ValueError, RuntimeError) as error:
                    report.failed.append((str(path), f"not sent: {error}"))
                    continue
                code = getattr(status, "Status", None)
                if code is None:
                    raise self._fail(operation, f"{status_words(status)} after {report.sent} instances")
                if code in (SUCCESS, 0xB000, 0xB007, 0xB006):
                    report.sent += 1
                else:
                    report.failed.append((str(path), f"refused by the archive: {status_words(status)}"))
                if progress is not None:
                    progress(done, len(datasets), "sending")
        report.seconds = time.perf_counter() - started
        return report


class _Receiver:
    """A C-GET's or C-MOVE's incoming instances into the sink; the first local failure is kept."""

    def __init__(self, sink: Sink, series_uid: str) -> None:
        self.sink, self.series_uid = sink, series_uid
        self.error: BaseException | None = None
        #: why each malformed instance was refused
        self.malformed: list[str] = []

    def on_store(self, event: Any) -> int:
        if self.error is not None:
            return OUT_OF_RESOURCES
        try:
            instance = received_instance(event)
        except RefusedInstance as refused:
            self.malformed.append(str(refused))
            return refused.status
        if instance.series_uid != self.series_uid:
            return SUCCESS  # not ours: taken and dropped, so the archive does not retry it
        try:
            self.sink(instance)
        except (OSError, CtsegError, Cancelled) as error:
            self.error = error
            return OUT_OF_RESOURCES
        return SUCCESS

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error


def _identifier(level: str, fields: Sequence[str], keys: dict[str, str]) -> Dataset:
    identifier = Dataset()
    identifier.QueryRetrieveLevel = level
    for name in fields:
        setattr(identifier, name, "")
    for name, value in keys.items():
        setattr(identifier, name, value)
    return identifier


def _why_not_established(assoc: Association, server: ServerConfig) -> str:
    if assoc.is_rejected:
        return (
            f"association rejected: is ctseg's AE title {server.our_aet!r} allowed there, "
            f"and is {server.aet!r} the archive's AE title?"
        )
    if assoc.is_aborted and _reachable(server):
        return "association aborted by the server"
    return "cannot connect: is the server running, and are the host and port right?"


def _reachable(server: ServerConfig) -> bool:
    """Whether the server's port takes a TCP connection (pynetdicom reports a refused one as an abort)."""
    try:
        with socket.create_connection((server.host, server.port), timeout=min(server.timeout_s, 5.0)):
            return True
    except OSError:
        return False
