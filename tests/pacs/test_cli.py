"""``ctseg pacs`` end to end against Orthanc: echo, find, get (into the cohort database), send, listen;
errors are one ``ctseg: error:`` line naming the server and the operation, exit 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from orthanc_peer import NODE_AET, PASSWORD, USER, Orthanc, PhantomStudy

from ctseg_core.cli import main
from ctseg_core.cohort import CohortDatabase, SeriesQuery
from ctseg_core.pacs.servers import ServerConfig, save_servers


def test_echo_find_get_send(
    tmp_path: Path, orthanc: Orthanc, phantoms: list[PhantomStudy], capsys: pytest.CaptureFixture[str]
) -> None:
    for server in (orthanc.dicomweb, orthanc.dimse):
        assert main(["pacs", "echo", server]) == 0
        assert "answered in" in capsys.readouterr().out
        assert main(["pacs", "find", server, "--patient-id", "PHANTOM-0", "--series", "--json"]) == 0
        (study,) = json.loads(capsys.readouterr().out)
        assert (
            study["study_uid"] == phantoms[0].study_uid and study["series"][0]["series_uid"] == phantoms[0].series_uid
        )
    assert main(["pacs", "find", orthanc.dicomweb, "--date", "20000101-20000102", "--modality", "CT"]) == 0
    assert "Phantom^0" in capsys.readouterr().out
    db = tmp_path / "cli.sqlite"
    assert main(["pacs", "get", orthanc.dicomweb, "--study", phantoms[1].study_uid, "--db", str(db)]) == 0
    assert "8 instances" in capsys.readouterr().out
    with CohortDatabase(db) as cohort:
        assert [r.series_uid for r in cohort.list_series(SeriesQuery())] == [phantoms[1].series_uid]
    assert main(["pacs", "send", orthanc.dimse, str(phantoms[1].files[0])]) == 0
    assert "sent 1 of 1" in capsys.readouterr().out


def test_configured_server_with_password(
    tmp_path: Path, orthanc_auth: Orthanc, capsys: pytest.CaptureFixture[str]
) -> None:
    path = save_servers(
        {
            "hospital": ServerConfig(
                name="hospital", url=orthanc_auth.dicomweb, auth="basic", username=USER, password=PASSWORD
            )
        }
    )
    assert path == Path(os.environ["CTSEG_PACS_SETTINGS"]) and (path.stat().st_mode & 0o777) == 0o600
    assert main(["pacs", "echo", "hospital"]) == 0
    assert main(["pacs", "echo", orthanc_auth.dicomweb]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ctseg: error: {orthanc_auth.dicomweb}: echo (QIDO-RS): authentication failed (HTTP 401)")
    assert PASSWORD not in err


@pytest.mark.parametrize(
    ("argv", "start"),
    [
        (["pacs", "find", "nonsense"], "ctseg: error: nonsense: search: not a DICOMweb URL"),
        (
            ["pacs", "get", "X@127.0.0.1:1", "--study", "1.2"],
            "ctseg: error: X@127.0.0.1:1: series search (C-FIND): cannot connect",
        ),
        (
            ["pacs", "listen", "--port", "1"],
            "ctseg: error: CTSEG@127.0.0.1:1: listen: give the calling AE titles",
        ),
        (
            ["pacs", "get", "http://127.0.0.1:1/dicom-web", "--study", "../x"],
            "ctseg: error: ../x: not a DICOM study UID",
        ),
    ],
)
def test_errors_exit_2(argv: list[str], start: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith(start)


@pytest.mark.slow  # a fresh process
def test_listen_files_what_orthanc_sends(tmp_path: Path, orthanc: Orthanc, phantoms: list[PhantomStudy]) -> None:
    import requests

    db = tmp_path / "listen.sqlite"
    command = [sys.executable, "-m", "ctseg_core.cli", "pacs", "listen", "--port", str(orthanc.ports["node"])]
    command += ["--aet", NODE_AET, "--allow", "ORTHANC", "--db", str(db)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ | {"PYTHONPATH": str(Path.cwd())},
    )
    try:
        assert "listening as" in process.stdout.readline()  # type: ignore[union-attr]
        study = orthanc.rest("POST", "/tools/lookup", data=phantoms[0].study_uid).json()[0]["ID"]
        requests.post(
            f"{orthanc.url}/modalities/node/store", json={"Resources": [study], "Synchronous": True}, timeout=60
        ).raise_for_status()
        line = process.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("from ORTHANC: 12 instances")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(20)
    assert process.returncode == 0
    with CohortDatabase(db) as cohort:
        assert [r.series_uid for r in cohort.list_series(SeriesQuery())] == [phantoms[0].series_uid]
