"""The receiving node: a C-STORE SCP that files what archives and modalities send, and indexes it.

Safe by default: it binds to 127.0.0.1 unless given another address, accepts associations only from
calling AE titles on its allow-list, and refuses any instance that would take the managed folder past
its quota (status A700, out of resources). Each association's instances go to a partial folder of
their own; when the sender releases the association they move into the managed folder and are indexed
into the cohort database. An aborted association leaves nothing behind: half a transfer is never
indexed. Malformed data sets are refused (C210) and never written; an instance already held is
counted as a duplicate and not written twice.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pynetdicom import AE, AllStoragePresentationContexts, evt

from ctseg_core.errors import CtsegError, InvalidArgumentError
from ctseg_core.pacs.dimse import Verification
from ctseg_core.pacs.dimse_storage import OUT_OF_RESOURCES, SUCCESS, RefusedInstance, received_instance
from ctseg_core.pacs.errors import PacsError
from ctseg_core.pacs.retrieve import index_complete
from ctseg_core.pacs.servers import DEFAULT_AET, ServerConfig
from ctseg_core.pacs.store import ManagedStore

log = logging.getLogger(__name__)
DEFAULT_PORT = 11112
DEFAULT_QUOTA_BYTES = 50 * 1024**3


@dataclass(frozen=True)
class NodeSettings:
    """How the node listens and what it accepts."""

    aet: str = DEFAULT_AET
    port: int = DEFAULT_PORT
    bind: str = "127.0.0.1"
    #: calling AE titles allowed to send (required: an empty list accepts nobody)
    allowed: tuple[str, ...] = ()
    quota_bytes: int = DEFAULT_QUOTA_BYTES

    def check(self) -> NodeSettings:
        ServerConfig(aet="X", host="h", port=1, our_aet=self.aet).check()
        if not 0 <= self.port < 65536:
            raise InvalidArgumentError(str(self.port), "port must be 0-65535")
        if not self.allowed:
            raise InvalidArgumentError(self.aet, "give the calling AE titles allowed to send (--allow AET)")
        if self.quota_bytes <= 0:
            raise InvalidArgumentError(str(self.quota_bytes), "the quota must be more than 0 bytes")
        return self


@dataclass
class Received:
    """What one association brought (reported when it ends)."""

    calling_aet: str
    series: dict[str, int] = field(default_factory=dict)
    instances: int = 0
    duplicates: int = 0
    refused: list[str] = field(default_factory=list)
    bytes: int = 0
    #: False when the sender aborted: what it sent was discarded
    kept: bool = True
    error: str = ""


@dataclass
class _Association:
    received: Received
    folder: Path
    files: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    #: series of which an instance was refused (quota, disk): incomplete, so never filed
    incomplete: set[tuple[str, str]] = field(default_factory=set)


class ReceivingNode:
    """A C-STORE SCP over a :class:`ManagedStore`; ``on_received`` hears of each association that ends."""

    def __init__(
        self,
        settings: NodeSettings,
        store: ManagedStore | None = None,
        db: str | Path | None = None,
        on_received: Callable[[Received], object] | None = None,
    ) -> None:
        self.settings, self.store, self.db = settings.check(), store or ManagedStore(), db
        self.on_received = on_received
        self._lock = threading.Lock()
        self._open: dict[int, _Association] = {}
        self._index_lock = threading.Lock()
        self._filing: list[threading.Thread] = []
        self._usage = 0
        self._server: Any = None

    @property
    def address(self) -> str:
        return f"{self.settings.aet}@{self.settings.bind}:{self.port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1]) if self._server is not None else self.settings.port

    def start(self) -> None:
        ae = AE(ae_title=self.settings.aet)
        ae.supported_contexts = [*AllStoragePresentationContexts]
        ae.add_supported_context(Verification)
        ae.require_calling_aet = list(self.settings.allowed)
        self._usage = self.store.usage_bytes()
        handlers: list[Any] = [
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_RELEASED, self._on_released),
            (evt.EVT_ABORTED, self._on_aborted),
            (evt.EVT_CONN_CLOSE, self._on_closed),
        ]
        try:
            self._server = ae.start_server((self.settings.bind, self.settings.port), block=False, evt_handlers=handlers)
        except OSError as error:
            where = f"{self.settings.bind}:{self.settings.port}"
            raise PacsError(self.address, "listen", f"cannot listen on {where}: {error.strerror or error}") from None

    def stop(self) -> None:
        """Stop listening, after filing what associations already released."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        for thread in list(self._filing):
            thread.join()

    def wait_filed(self) -> None:
        """Wait until every released association's instances are filed and indexed."""
        for thread in list(self._filing):
            thread.join()

    def _state(self, assoc: Any) -> _Association:
        key = id(assoc)
        with self._lock:
            if key not in self._open:
                calling = str(assoc.requestor.ae_title).strip()
                self._open[key] = _Association(Received(calling), self.store.new_partial_dir("received"))
            return self._open[key]

    def _on_store(self, event: Any) -> int:
        state = self._state(event.assoc)
        received = state.received
        try:
            instance = received_instance(event)
        except RefusedInstance as refused:
            received.refused.append(str(refused))
            log.warning("refused an instance from %s: %s", received.calling_aet, refused)
            return refused.status
        key = (instance.study_uid, instance.series_uid)
        series = state.files[key]
        final = self.store.series_dir(instance.study_uid, instance.series_uid)
        if instance.sop_uid in series or (final / f"{instance.sop_uid}.dcm").exists():
            received.duplicates += 1
            return SUCCESS
        size = len(instance.content) if isinstance(instance.content, bytes) else 0
        with self._lock:
            if self._usage + size > self.settings.quota_bytes:
                received.refused.append("over the disk quota")
                state.incomplete.add(key)
                return OUT_OF_RESOURCES
            self._usage += size
        try:
            written = self.store.write(
                state.folder / instance.study_uid / instance.series_uid, instance.sop_uid, instance.content
            )
        except (OSError, CtsegError) as error:
            received.refused.append(str(error))
            state.incomplete.add(key)
            return OUT_OF_RESOURCES
        series.add(instance.sop_uid)
        received.instances += 1
        received.bytes += written
        return SUCCESS

    def _on_released(self, event: Any) -> None:
        """File on a thread of its own: the sender gets its release answer without waiting for the index."""
        state = self._pop(event.assoc)
        if state is None:
            return
        thread = threading.Thread(target=self._file_and_report, args=(state,), name="ctseg-file-received")
        with self._lock:
            self._filing = [t for t in self._filing if t.is_alive()] + [thread]
        thread.start()

    def _file_and_report(self, state: _Association) -> None:
        try:
            with self._index_lock:  # one filing at a time: two associations may carry one series
                self._file(state)
        except Exception as error:  # reported to the listener, never lost in the server's thread
            state.received.error = str(error)
            log.warning("could not file what %s sent: %s", state.received.calling_aet, error)
        self._report(state.received)

    def _on_aborted(self, event: Any) -> None:
        state = self._pop(event.assoc)
        if state is not None:
            self._drop(state, "the sender aborted the association: what it sent was discarded")

    def _on_closed(self, event: Any) -> None:
        state = self._pop(event.assoc)
        if state is not None:  # closed without a release: the transfer did not finish
            self._drop(state, "the connection closed before the association was released: what came was discarded")

    def _pop(self, assoc: Any) -> _Association | None:
        with self._lock:
            return self._open.pop(id(assoc), None)

    def _drop(self, state: _Association, why: str) -> None:
        self.store.discard(state.folder)
        with self._lock:
            self._usage -= state.received.bytes
        state.received.kept, state.received.error = False, why
        self._report(state.received)

    def _file(self, state: _Association) -> None:
        """Move each series into the managed folder, then index it."""
        for (study_uid, series_uid), sops in state.files.items():
            if (study_uid, series_uid) in state.incomplete:
                state.received.error = f"series {series_uid} arrived incomplete (instances refused): discarded"
                with self._lock:
                    self._usage -= sum(_sizes(state.folder / study_uid / series_uid))
                continue
            if sops:
                self.store.finish(state.folder / study_uid / series_uid, study_uid, series_uid)
                state.received.series[series_uid] = len(sops)
        self.store.discard(state.folder)
        if state.received.series:
            index_complete(self.store, self.db)

    def _report(self, received: Received) -> None:
        if self.on_received is not None:
            self.on_received(received)


def _sizes(folder: Path) -> list[int]:
    try:
        return [entry.stat().st_size for entry in os.scandir(folder)]
    except OSError:
        return []
