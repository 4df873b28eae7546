"""DICOMweb peers that fail: down, wrong port, 401, 403, a 500 mid-retrieve, cut-off and truncated
multipart answers, a series deleted between search and retrieve, duplicated instances. Each is one
message naming the server and the operation; nothing half-received is indexed; a resumed retrieve
finishes; no password or token appears in messages, logs or the database."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from bad_peers import Faults, faulty_proxy
from orthanc_peer import PASSWORD, USER, Orthanc, PhantomStudy, free_port, phantom_study

from ctseg_core.cohort import CohortDatabase, SeriesQuery
from ctseg_core.pacs.connect import open_archive
from ctseg_core.pacs.errors import PacsError
from ctseg_core.pacs.query import Query
from ctseg_core.pacs.retrieve import retrieve
from ctseg_core.pacs.servers import ServerConfig, parse_server
from ctseg_core.pacs.store import ManagedStore

TOKEN = "tok-9f8e7d6c5b4a-secret"


def indexed(db: Path) -> list[str]:
    if not db.exists():
        return []
    with CohortDatabase(db) as cohort:
        return [row.series_uid for row in cohort.list_series(SeriesQuery())]


def test_server_down_and_wrong_port() -> None:
    url = f"http://127.0.0.1:{free_port()}/dicom-web"
    with pytest.raises(PacsError) as raised:
        open_archive(parse_server(url)).find_studies(Query())
    assert (
        str(raised.value)
        == f"{url}: study search (QIDO-RS): cannot connect: is the server running, and are the host and port right?"
    )


def test_401_names_server_and_operation_never_the_password(
    orthanc_auth: Orthanc, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = ServerConfig(url=orthanc_auth.dicomweb, auth="basic", username=USER, password="wrong-" + PASSWORD)
    with pytest.raises(PacsError) as raised:
        open_archive(wrong).echo()
    assert "echo (QIDO-RS): authentication failed (HTTP 401)" in str(raised.value)
    assert orthanc_auth.dicomweb in str(raised.value)
    right = ServerConfig(url=orthanc_auth.dicomweb, auth="basic", username=USER, password=PASSWORD)
    assert open_archive(right).find_studies(Query()) == []
    with_url = parse_server(f"http://{USER}:{PASSWORD}@127.0.0.1:{orthanc_auth.http_port}/dicom-web")
    assert with_url.auth == "basic" and PASSWORD not in with_url.url and PASSWORD not in with_url.display()
    open_archive(with_url).echo()
    assert PASSWORD not in caplog.text and PASSWORD not in repr(right)


def test_a_retrieve_with_a_password_leaves_it_nowhere(
    tmp_path: Path, orthanc_auth: Orthanc, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    study = phantom_study(tmp_path / "p", seed=5, slices=3)
    orthanc_auth.upload(study.files)
    store, db = ManagedStore(tmp_path / "store"), tmp_path / "db.sqlite"
    server = ServerConfig(name="secured", url=orthanc_auth.dicomweb, auth="basic", username=USER, password=PASSWORD)
    (report,) = retrieve(open_archive(server), study.study_uid, store=store, db=db)
    assert report.received == 3 and indexed(db) == [study.series_uid]
    assert PASSWORD not in caplog.text
    for path in [db, *db.parent.glob("db.sqlite*"), *store.root.rglob("*")]:
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_bearer_token_and_403(orthanc: Orthanc, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    faults = Faults(bearer=TOKEN)
    with faulty_proxy(orthanc.url, faults) as url:
        good = ServerConfig(url=url, auth="bearer", token=TOKEN)
        open_archive(good).echo()
        with pytest.raises(PacsError, match="authentication failed") as raised:
            open_archive(ServerConfig(url=url, auth="bearer", token="other")).echo()
        assert TOKEN not in str(raised.value)
        faults.bearer, faults.status = None, 403
        with pytest.raises(PacsError, match=r"series search \(QIDO-RS\): not allowed \(HTTP 403\)"):
            open_archive(good).find_series("1.2.3")
    assert TOKEN not in caplog.text


def test_truncated_then_500_then_resumed(tmp_path: Path, orthanc: Orthanc) -> None:
    """A truncated answer keeps what came; a resume that meets a 500 keeps more; the last one finishes."""
    study = phantom_study(tmp_path / "p", seed=3, slices=10)
    orthanc.upload(study.files)
    db = tmp_path / "db.sqlite"
    try:
        for mode in ("drop", "short"):  # each from scratch: a resume asks instance by instance
            store = ManagedStore(tmp_path / mode)
            partial = store.partial_dir(study.series_uid)
            with faulty_proxy(orthanc.url, Faults(truncate=mode)) as url, pytest.raises(PacsError) as raised:
                retrieve(open_archive(parse_server(url)), study.study_uid, study.series_uid, store=store, db=db)
            assert url in str(raised.value) and "run again to resume" in str(raised.value)
            assert indexed(db) == [] and not store.series_dir(study.study_uid, study.series_uid).exists()
        kept = len(store.present(partial))
        assert 0 < kept < 10
        faults = Faults(wado_500_after=2)
        with faulty_proxy(orthanc.url, faults) as url, pytest.raises(PacsError) as raised:
            retrieve(open_archive(parse_server(url)), study.study_uid, study.series_uid, store=store, db=db)
        assert "retrieve (WADO-RS): the server answered HTTP 500" in str(raised.value)
        assert len(store.present(partial)) == kept + 2 and indexed(db) == []
        (report,) = retrieve(
            open_archive(parse_server(orthanc.dicomweb)), study.study_uid, study.series_uid, store=store, db=db
        )
        assert report.skipped == kept + 2 and report.received == 10 - kept - 2
        assert indexed(db) == [study.series_uid] and not partial.exists()
    finally:
        orthanc.delete_series(study.series_uid)


def test_duplicated_instances_are_written_once(tmp_path: Path, orthanc: Orthanc, phantoms: list[PhantomStudy]) -> None:
    with faulty_proxy(orthanc.url, Faults(duplicate_first_part=True)) as url:
        (report,) = retrieve(
            open_archive(parse_server(url)),
            phantoms[1].study_uid,
            store=ManagedStore(tmp_path / "s"),
            db=tmp_path / "db",
        )
    assert report.duplicates == 1 and report.received == 8


def test_series_deleted_between_search_and_retrieve(tmp_path: Path, orthanc: Orthanc) -> None:
    study = phantom_study(tmp_path / "p", seed=4, slices=4)
    orthanc.upload(study.files)
    archive = open_archive(parse_server(orthanc.dicomweb))
    (found,) = archive.find_series(study.study_uid)
    orthanc.delete_series(found.series_uid)
    with pytest.raises(PacsError) as raised:
        retrieve(archive, study.study_uid, found.series_uid, store=ManagedStore(tmp_path / "s"), db=tmp_path / "db")
    assert str(raised.value).startswith(f"{orthanc.dicomweb}: retrieve: series {found.series_uid} is not on the server")
    assert indexed(tmp_path / "db") == []


def test_text_from_the_server_cannot_drive_the_terminal(orthanc: Orthanc, capsys: pytest.CaptureFixture[str]) -> None:
    from ctseg_core.cli import main

    with faulty_proxy(orthanc.url, Faults(status=500, reason="Oops \x1b]0;owned\x07")) as url:
        assert main(["pacs", "find", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"ctseg: error: {url}: study search (QIDO-RS): the server answered HTTP 500 Oops \\x1b]0;owned"
    )
    assert "\x1b" not in err and "\x07" not in err
