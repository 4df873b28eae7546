"""The one error of talking to an archive: which server, which operation, what went wrong.

A user reads ``ctseg: error: http://pacs:8042/dicom-web: retrieve (WADO-RS): HTTP 401 …`` and knows
where to look. The server is always shown by :meth:`ServerConfig.display` (never a password or token).
"""

from __future__ import annotations

from ctseg_core.errors import CtsegError


class PacsError(CtsegError):
    """An archive refused, failed or misbehaved during one operation (search, retrieve, send, listen…)."""

    def __init__(self, server: str, operation: str, problem: str) -> None:
        self.server, self.operation = server, operation
        super().__init__(server, f"{operation}: {problem}")
