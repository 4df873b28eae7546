"""Which archives the user talks to: a DICOMweb URL with its authentication, or a DIMSE address.

A server is named on the command line as a DICOMweb base URL (``http://host:8042/dicom-web``), a
DIMSE address (``AET@host:port``) or the name of a configured server. Configured servers live in
``pacs.json`` in the ctseg user data folder (``$CTSEG_PACS_SETTINGS`` overrides it); a file holding a
password or token is written atomically and readable by its owner only. Secrets never leave this
module in text meant for people: :meth:`ServerConfig.display` is what messages and logs show.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from ctseg_core.cache import user_data_dir
from ctseg_core.errors import CtsegError, InvalidArgumentError
from ctseg_core.io.atomic import atomic_path

SETTINGS_ENV = "CTSEG_PACS_SETTINGS"
SETTINGS_NAME = "pacs.json"
#: ctseg's own AE title when the user names none.
DEFAULT_AET = "CTSEG"
AUTH_KINDS = ("none", "basic", "bearer")
_DIMSE = re.compile(r"^(?P<aet>[^@]{1,16})@(?P<host>\[[^\]]+\]|[^:@]+):(?P<port>\d{1,5})$")
_AET = re.compile(r"^[\x20-\x7e]{1,16}$")


@dataclass(frozen=True)
class ServerConfig:
    """One archive: DICOMweb (``url`` set) or DIMSE (``aet``, ``host``, ``port``)."""

    name: str = ""
    url: str = ""
    auth: str = "none"
    username: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    #: verify the server's TLS certificate (False only for a test server one trusts)
    verify_tls: bool = True
    timeout_s: float = 30.0
    aet: str = ""
    host: str = ""
    port: int = 0
    #: the AE title ctseg calls with (DIMSE)
    our_aet: str = DEFAULT_AET

    @property
    def is_dicomweb(self) -> bool:
        return bool(self.url)

    @property
    def has_secret(self) -> bool:
        return bool(self.password or self.token)

    def display(self) -> str:
        """How messages name the server: its name and address, never a secret."""
        where = self.url if self.is_dicomweb else f"{self.aet}@{self.host}:{self.port}"
        return f"{self.name} ({where})" if self.name else where

    def check(self) -> ServerConfig:
        """This server, if complete and consistent; else an InvalidArgumentError naming what is wrong."""
        where = self.name or self.url or self.aet or "server"
        if self.is_dicomweb:
            if urlsplit(self.url).scheme not in ("http", "https"):
                raise InvalidArgumentError(where, f"DICOMweb URL must start with http:// or https://, got {self.url!r}")
            if self.auth not in AUTH_KINDS:
                raise InvalidArgumentError(where, f"authentication must be one of {', '.join(AUTH_KINDS)}")
            if self.timeout_s <= 0:
                raise InvalidArgumentError(where, "timeout must be more than 0 seconds")
            return self
        if not (self.aet and self.host and 0 < self.port < 65536):
            raise InvalidArgumentError(where, "a DIMSE server needs an AE title, a host and a port (1-65535)")
        for title in (self.aet, self.our_aet):
            if not _AET.match(title) or "\\" in title:
                raise InvalidArgumentError(where, f"AE title {title!r}: 1-16 printable characters, no backslash")
        return self


def settings_path() -> Path:
    override = os.environ.get(SETTINGS_ENV)
    return Path(override).expanduser() if override else user_data_dir() / SETTINGS_NAME


def load_servers(path: Path | None = None) -> dict[str, ServerConfig]:
    """The configured servers by name (none when the file does not exist)."""
    path = path or settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise CtsegError(path, f"cannot read the archive settings: {error}") from None
    known = {f.name for f in fields(ServerConfig)}
    servers = {}
    for name, entry in dict(data.get("servers", {})).items():
        if not isinstance(entry, dict):
            raise CtsegError(path, f"server {name!r}: not a JSON object")
        values = {key: value for key, value in entry.items() if key in known}
        servers[name] = ServerConfig(**(values | {"name": name})).check()
    return servers


def save_servers(servers: dict[str, ServerConfig], path: Path | None = None) -> Path:
    """Write the servers atomically; owner-only (0600) when any holds a password or token."""
    path = path or settings_path()
    entries = {name: {k: v for k, v in asdict(s).items() if k != "name"} for name, s in servers.items()}
    text = json.dumps({"servers": entries}, indent=2, sort_keys=True)
    with atomic_path(path, suffix=".json") as temporary:
        if any(s.has_secret for s in servers.values()):
            os.chmod(temporary, 0o600)
        temporary.write_text(text + "\n", encoding="utf-8")
    return path


def parse_server(text: str, our_aet: str = DEFAULT_AET, servers: dict[str, ServerConfig] | None = None) -> ServerConfig:
    """SERVER as the user wrote it: a configured name, a DICOMweb URL, or ``AET@host:port``."""
    configured = load_servers() if servers is None else servers
    if text in configured:
        return configured[text]
    if text.lower().startswith(("http://", "https://")):
        return _from_url(text)
    match = _DIMSE.match(text)
    if match is not None:
        host = match["host"].strip("[]")
        return ServerConfig(aet=match["aet"], host=host, port=int(match["port"]), our_aet=our_aet).check()
    known = ", ".join(sorted(configured)) or "none configured"
    raise InvalidArgumentError(
        text, f"not a DICOMweb URL (http://…), a DIMSE address (AET@host:port) or a configured server ({known})"
    )


def _from_url(text: str) -> ServerConfig:
    """A URL; ``user:password@`` in it becomes Basic authentication and leaves the URL."""
    parts = urlsplit(text)
    url = urlunsplit(parts._replace(netloc=_netloc(parts))).rstrip("/")
    if parts.username is None:
        return ServerConfig(url=url).check()
    return ServerConfig(
        url=url, auth="basic", username=unquote(parts.username), password=unquote(parts.password or "")
    ).check()


def _netloc(parts: Any) -> str:
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


def with_overrides(server: ServerConfig, **changes: Any) -> ServerConfig:
    """The server with some settings changed (the command line's ``--aet``, a dialog's fields)."""
    return replace(server, **{k: v for k, v in changes.items() if v is not None}).check()
