"""Peers that misbehave, on real sockets: an HTTP proxy in front of Orthanc that injects faults (a status,
a cut-off or truncated multipart answer, a duplicated part, a required Bearer token), and a DIMSE peer
that aborts every association it accepts. What they pass on comes from the real Orthanc."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from orthanc_peer import free_port
from pynetdicom import AE, evt
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    Verification,
)


@dataclass
class Faults:
    """What the proxy does wrong. ``wado_500_after``: WADO requests after this many answer 500."""

    status: int | None = None
    reason: str | None = None
    wado_500_after: int | None = None
    #: a series' multipart answer: "short" (valid HTTP, the body cut mid-part), "drop" (connection closed early)
    truncate: str | None = None
    duplicate_first_part: bool = False
    bearer: str | None = None
    seen_headers: list[dict[str, str]] = field(default_factory=list)
    wado_requests: int = 0


class _Proxy(BaseHTTPRequestHandler):
    upstream = ""
    faults = Faults()

    def log_message(self, *args: object) -> None:
        return

    def do_GET(self) -> None:
        self._forward("GET")

    def do_POST(self) -> None:
        self._forward("POST")

    def _refuse(self, status: int) -> None:
        self.send_response(status, self.faults.reason)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _forward(self, method: str) -> None:
        faults = self.faults
        faults.seen_headers.append(dict(self.headers))
        if faults.bearer is not None and self.headers.get("Authorization") != f"Bearer {faults.bearer}":
            return self._refuse(401)
        if faults.status is not None:
            return self._refuse(faults.status)
        is_wado = method == "GET" and "/series/" in self.path and "/metadata" not in self.path and "?" not in self.path
        if is_wado:
            faults.wado_requests += 1
            if faults.wado_500_after is not None and faults.wado_requests > faults.wado_500_after:
                return self._refuse(500)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method == "POST" else None
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "content-type")}
        answer = requests.request(method, self.upstream + self.path, data=body, headers=headers, timeout=30)
        content = answer.content
        multipart = answer.headers.get("Content-Type", "").startswith("multipart/related")
        whole_series = is_wado and self.path.rstrip("/").split("/")[-2] == "series"
        if multipart and whole_series and faults.duplicate_first_part:
            content = _duplicate_first_part(content, answer.headers["Content-Type"])
        length = len(content)
        if multipart and whole_series and faults.truncate:
            content = content[: len(content) // 2]
            length = len(content) if faults.truncate == "short" else length
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("Content-Type", "application/octet-stream"))
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(content)
        if faults.truncate == "drop" and multipart and whole_series:
            self.close_connection = True
        return None


def _duplicate_first_part(content: bytes, content_type: str) -> bytes:
    boundary = content_type.split("boundary=")[1].split(";")[0].strip('"').encode()
    marker = b"--" + boundary
    parts = content.split(marker)
    # parts[0] is the preamble, parts[-1] the closing "--"; repeat the first real part
    return marker.join([parts[0], parts[1], *parts[1:]])


@contextmanager
def faulty_proxy(upstream: str, faults: Faults) -> Iterator[str]:
    """A proxy to ``upstream`` (Orthanc's base URL) with ``faults``; yields its DICOMweb URL."""
    handler = type("Handler", (_Proxy,), {"upstream": upstream, "faults": faults})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/dicom-web"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def aborting_peer(aet: str = "ABORTER") -> Iterator[str]:
    """A DIMSE peer that accepts associations and aborts at the first request; yields ``AET@host:port``."""
    ae = AE(ae_title=aet)
    for context in (
        Verification,
        StudyRootQueryRetrieveInformationModelFind,
        StudyRootQueryRetrieveInformationModelGet,
    ):
        ae.add_supported_context(context)

    def abort(event: object) -> None:
        event.assoc.abort()  # type: ignore[attr-defined]

    handlers = [(evt.EVT_C_ECHO, abort), (evt.EVT_C_FIND, abort), (evt.EVT_C_GET, abort)]
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=handlers)
    try:
        yield f"{aet}@127.0.0.1:{port}"
    finally:
        server.shutdown()


@contextmanager
def malformed_get_peer(study_uid: str, series_uid: str, good: object, aet: str = "MALFORMED") -> Iterator[str]:
    """A DIMSE archive whose series holds two instances, and whose C-GET sends one whose Series UID is not
    a UID and then the good one twice; yields ``AET@host:port``."""
    from pydicom.dataset import Dataset
    from pynetdicom import ALL_TRANSFER_SYNTAXES, StoragePresentationContexts

    from ctseg_core.pacs.dimse import StudyRootQueryRetrieveInformationModelFind as Find
    from ctseg_core.pacs.dimse import StudyRootQueryRetrieveInformationModelGet as Get

    ae = AE(ae_title=aet)
    ae.add_supported_context(Find)
    ae.add_supported_context(Get)
    for context in StoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES, scp_role=True, scu_role=True)

    def on_find(event: object) -> Iterator[tuple[int, Dataset | None]]:
        answer = Dataset()
        answer.QueryRetrieveLevel, answer.StudyInstanceUID = "SERIES", study_uid
        answer.SeriesInstanceUID, answer.NumberOfSeriesRelatedInstances, answer.Modality = series_uid, 2, "CT"
        yield 0xFF00, answer

    def on_get(event: object) -> Iterator[object]:
        evil = copy.deepcopy(good)
        evil.SeriesInstanceUID = "../../escaped"
        yield 3
        for dataset in (evil, good, good):
            yield 0xFF00, dataset

    handlers = [(evt.EVT_C_FIND, on_find), (evt.EVT_C_GET, on_get)]
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=handlers)
    try:
        yield f"{aet}@127.0.0.1:{port}"
    finally:
        server.shutdown()
