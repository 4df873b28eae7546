"""Opening an archive: the transport a server's settings call for (DICOMweb or DIMSE)."""

from __future__ import annotations

from ctseg_core.pacs.archive import Archive
from ctseg_core.pacs.servers import ServerConfig


def open_archive(server: ServerConfig, method: str = "get", move_port: int = 0, bind: str = "127.0.0.1") -> Archive:
    """The archive behind ``server``; a DIMSE retrieve by C-GET (``method="get"``) or by C-MOVE to ctseg's
    storage SCP on ``bind``:``move_port``."""
    if server.is_dicomweb:
        from ctseg_core.pacs.dicomweb import DicomWebArchive

        return DicomWebArchive(server)
    from ctseg_core.pacs.dimse import DimseArchive

    return DimseArchive(server, method=method, move_port=move_port, bind=bind)
