"""DIMSE against a real Orthanc: C-ECHO, C-FIND, C-GET and C-MOVE into the managed folder and the cohort
database, C-STORE of a SEG; a rejected and an aborted association, a server that is not there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from bad_peers import aborting_peer
from orthanc_peer import MOVE_AET, Orthanc, PhantomStudy, free_port

from ctseg_core.cohort import CohortDatabase, SeriesQuery
from ctseg_core.pacs.connect import open_archive
from ctseg_core.pacs.errors import PacsError
from ctseg_core.pacs.query import Query
from ctseg_core.pacs.retrieve import retrieve
from ctseg_core.pacs.servers import parse_server, with_overrides
from ctseg_core.pacs.store import ManagedStore


def test_echo_find(orthanc: Orthanc, phantoms: list[PhantomStudy]) -> None:
    archive = open_archive(parse_server(orthanc.dimse))
    assert archive.echo() < 5
    (study,) = archive.find_studies(Query(patient_id="PHANTOM-1"))
    assert study.study_uid == phantoms[1].study_uid and study.patient_name == "Phantom^1"
    assert study.study_date == "20000101"
    (series,) = archive.find_series(phantoms[1].study_uid, "CT")
    assert series.series_uid == phantoms[1].series_uid and series.instance_count == 8
    assert archive.find_studies(Query(date_from="20300101")) == []


@pytest.mark.parametrize("method", ["get", "move"])
def test_retrieve(tmp_path: Path, orthanc: Orthanc, phantoms: list[PhantomStudy], method: str) -> None:
    server = parse_server(orthanc.dimse)
    if method == "move":
        server = with_overrides(server, our_aet=MOVE_AET)
    archive = open_archive(server, method=method, move_port=orthanc.ports["move"])
    store, db = ManagedStore(tmp_path / "store"), tmp_path / "db.sqlite"
    (report,) = retrieve(archive, phantoms[1].study_uid, store=store, db=db)
    assert report.received == 8 and report.indexed
    folder = store.series_dir(phantoms[1].study_uid, phantoms[1].series_uid)
    original = {pydicom.dcmread(f).SOPInstanceUID: pydicom.dcmread(f).pixel_array for f in phantoms[1].files}
    for path in folder.iterdir():
        assert np.array_equal(pydicom.dcmread(path).pixel_array, original[path.stem])
    with CohortDatabase(db) as cohort:
        assert [row.series_uid for row in cohort.list_series(SeriesQuery())] == [phantoms[1].series_uid]
    # a resume asks only for what is missing (IMAGE level)
    missing = sorted(folder.iterdir())[:3]
    partial = store.partial_dir(phantoms[1].series_uid)
    partial.mkdir(parents=True)
    for path in sorted(folder.iterdir())[3:]:
        path.rename(partial / path.name)
    for path in missing:
        path.unlink()
    folder.rmdir()
    (again,) = retrieve(archive, phantoms[1].study_uid, phantoms[1].series_uid, store=store, db=db)
    assert again.skipped == 5 and again.received == 3 and len(list(folder.iterdir())) == 8


def test_send_seg_by_c_store(tmp_path: Path, orthanc: Orthanc, phantoms: list[PhantomStudy]) -> None:
    from ctseg_core.io.loading import load_patient
    from ctseg_core.pacs.send import send_label

    patient = load_patient(phantoms[0].folder)
    mask = np.zeros(patient.shape, bool)
    mask[4:8, 20:40, 20:40] = True
    report = send_label(open_archive(parse_server(orthanc.dimse)), mask, patient, name="liver")
    assert report.sent == 1 and not report.failed
    segs = orthanc.seg_series(phantoms[0].study_uid)
    assert len(segs) == 1
    orthanc.rest("DELETE", f"/series/{segs[0]['ID']}")


def test_rejected_aborted_down(orthanc: Orthanc) -> None:
    wrong_called = f"NOTORTHANC@127.0.0.1:{orthanc.dicom_port}"
    with pytest.raises(PacsError) as raised:
        open_archive(parse_server(wrong_called)).echo()
    assert str(raised.value).startswith(f"{wrong_called}: echo (C-ECHO): association rejected")
    with aborting_peer() as peer, pytest.raises(PacsError) as raised:
        open_archive(parse_server(peer)).find_studies(Query())
    assert str(raised.value).startswith(f"{peer}: study search (C-FIND): ")
    assert "aborted" in str(raised.value)
    down = f"X@127.0.0.1:{free_port()}"
    with pytest.raises(PacsError, match="cannot connect"):
        open_archive(with_overrides(parse_server(down), timeout_s=3)).echo()


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
def test_a_peer_sending_malformed_and_duplicate_instances(tmp_path: Path, phantoms: list[PhantomStudy]) -> None:
    from bad_peers import malformed_get_peer

    good = pydicom.dcmread(phantoms[1].files[0])
    store, db = ManagedStore(tmp_path / "store"), tmp_path / "db.sqlite"
    with malformed_get_peer(phantoms[1].study_uid, phantoms[1].series_uid, good) as peer:
        with pytest.raises(PacsError) as raised:
            retrieve(
                open_archive(parse_server(peer)), phantoms[1].study_uid, phantoms[1].series_uid, store=store, db=db
            )
    assert str(raised.value).startswith(f"{peer}: retrieve")
    assert "1 instances refused (malformed data set: Series UID is not a UID); 1 of 2 instances kept" in str(
        raised.value
    )
    assert store.present(store.partial_dir(phantoms[1].series_uid)) == {str(good.SOPInstanceUID)}
    assert not store.studies.exists() or not any(store.studies.iterdir())
    assert not list(tmp_path.rglob("escaped*"))
