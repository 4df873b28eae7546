"""Servers as the user names them, the settings file (owner-only with a secret), dates, and the words for
HTTP failures (a mocked transport adds the cases a loopback Orthanc cannot produce: TLS, timeouts)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import requests

from ctseg_core.errors import CtsegError, InvalidArgumentError
from ctseg_core.pacs.dicomweb import http_problem
from ctseg_core.pacs.query import Query, parse_date_range
from ctseg_core.pacs.servers import ServerConfig, load_servers, parse_server, save_servers


def test_parse_server() -> None:
    web = parse_server("http://pacs.example:8042/dicom-web/")
    assert web.url == "http://pacs.example:8042/dicom-web" and web.auth == "none" and web.is_dicomweb
    dimse = parse_server("ORTHANC@10.0.0.2:4242", our_aet="ME")
    assert (dimse.aet, dimse.host, dimse.port, dimse.our_aet) == ("ORTHANC", "10.0.0.2", 4242, "ME")
    assert parse_server("PACS@[::1]:104").host == "::1"
    basic = parse_server("https://bob:p%40ss@pacs.example/dicom-web")
    assert (basic.username, basic.password, basic.url) == ("bob", "p@ss", "https://pacs.example/dicom-web")
    assert "p@ss" not in basic.display() and "p@ss" not in repr(basic)
    for bad in ("pacs.example", "ftp://x", "A@host:99999", "@host:1", "WAYTOOLONGAETITLE1@h:1"):
        with pytest.raises(InvalidArgumentError):
            parse_server(bad, servers={})
    assert parse_server("mine", servers={"mine": dimse}) is dimse


def test_settings_file(tmp_path: Path) -> None:
    plain = tmp_path / "plain.json"
    umask = os.umask(0o022)
    try:
        save_servers({"a": ServerConfig(name="a", url="http://x/dicom-web")}, plain)
    finally:
        os.umask(umask)
    assert (plain.stat().st_mode & 0o777) == 0o644  # nothing secret: the usual mode
    secret = tmp_path / "secret.json"
    servers = {"h": ServerConfig(name="h", url="https://h/dicom-web", auth="bearer", token="t0k")}
    save_servers(servers, secret)
    assert (secret.stat().st_mode & 0o777) == 0o600
    assert load_servers(secret) == servers
    assert load_servers(tmp_path / "missing.json") == {}
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CtsegError, match="cannot read the archive settings"):
        load_servers(tmp_path / "bad.json")
    (tmp_path / "wrong.json").write_text(json.dumps({"servers": {"x": {"url": "ftp://x"}}}))
    with pytest.raises(InvalidArgumentError):
        load_servers(tmp_path / "wrong.json")
    assert os.environ["CTSEG_PACS_SETTINGS"].startswith(str(tmp_path))


def test_dates() -> None:
    assert parse_date_range("20200101-20201231") == ("20200101", "20201231")
    assert parse_date_range("20200101-") == ("20200101", "")
    assert parse_date_range("-20200101") == ("", "20200101")
    assert parse_date_range("20200101") == ("20200101", "20200101")
    assert Query(date_from="20200101", date_to="20200101").date_range == "20200101"
    assert Query(date_to="20200101").study_keys() == {"StudyDate": "-20200101"}
    for bad in ("2020", "20201231-20200101", "-", "2020-01-01"):
        with pytest.raises(InvalidArgumentError):
            parse_date_range(bad)


def test_http_words() -> None:
    assert "certificate" in http_problem(requests.exceptions.SSLError("bad cert"), 30)
    assert http_problem(requests.exceptions.ReadTimeout("slow"), 12) == "no answer within 12 s"
    assert "cut off" in http_problem(requests.exceptions.ChunkedEncodingError("eof"), 30)
    assert "malformed answer" in http_problem(ValueError("Unexpected media type"), 30)
