"""DICOMweb against a real Orthanc: echo, QIDO search, WADO-RS retrieve into the managed folder and the
cohort database, resume, and a saved label sent back by STOW-RS as a DICOM SEG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from orthanc_peer import Orthanc, PhantomStudy

from ctseg_core.cohort import CohortDatabase, SeriesQuery
from ctseg_core.pacs.connect import open_archive
from ctseg_core.pacs.query import Query
from ctseg_core.pacs.retrieve import retrieve
from ctseg_core.pacs.servers import parse_server
from ctseg_core.pacs.store import ManagedStore


def web(orthanc: Orthanc):
    return open_archive(parse_server(orthanc.dicomweb))


def test_echo_and_search(orthanc: Orthanc, phantoms: list[PhantomStudy]) -> None:
    archive = web(orthanc)
    assert archive.echo() < 5
    found = archive.find_studies(Query(patient_id="PHANTOM-0"))
    assert [s.study_uid for s in found] == [phantoms[0].study_uid]
    assert found[0].patient_name == "Phantom^0" and found[0].study_date == "20000101"
    assert {
        s.study_uid for s in archive.find_studies(Query(modality="CT", date_from="19990101", date_to="20001231"))
    } >= {p.study_uid for p in phantoms}
    assert archive.find_studies(Query(date_from="20200101")) == []
    assert archive.find_studies(Query(patient_name="Phantom*1"))[0].study_uid == phantoms[1].study_uid
    series = archive.find_series(phantoms[0].study_uid)
    assert [(s.series_uid, s.modality) for s in series] == [(phantoms[0].series_uid, "CT")]
    assert len(archive.instances(phantoms[0].study_uid, phantoms[0].series_uid)) == 12


def test_retrieve_indexes_the_complete_series(tmp_path: Path, orthanc: Orthanc, phantoms: list[PhantomStudy]) -> None:
    store, db = ManagedStore(tmp_path / "store"), tmp_path / "db.sqlite"
    seen: list[tuple[int, int]] = []
    reports = retrieve(
        web(orthanc), phantoms[0].study_uid, store=store, db=db, progress=lambda d, t, s: seen.append((d, t))
    )
    (report,) = reports
    assert report.received == 12 and report.indexed and seen[-1] == (12, 12)
    folder = store.series_dir(phantoms[0].study_uid, phantoms[0].series_uid)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID}.dcm" for f in phantoms[0].files
    )
    assert not any(store.partial.iterdir())
    with CohortDatabase(db) as cohort:
        (row,) = cohort.list_series(SeriesQuery())
    assert row.series_uid == phantoms[0].series_uid and row.slices == 12
    again = retrieve(web(orthanc), phantoms[0].study_uid, phantoms[0].series_uid, store=store, db=db)
    assert again[0].received == 0 and again[0].skipped == 12


def test_a_saved_label_goes_back_as_seg_on_the_ct_grid(
    tmp_path: Path, orthanc: Orthanc, phantoms: list[PhantomStudy]
) -> None:
    from ctseg_core.io.loading import load_patient
    from ctseg_core.io.seg import read_dicom_seg
    from ctseg_core.pacs.send import send_label
    from ctseg_core.synth.phantom import make_phantom

    store = ManagedStore(tmp_path / "store")
    (report,) = retrieve(web(orthanc), phantoms[0].study_uid, store=store, db=tmp_path / "db.sqlite")
    patient = load_patient(report.folder)
    mask = make_phantom(seed=0, slices=12, size=64).masks["liver"]
    assert mask.shape == patient.shape and mask.any()
    sent = send_label(web(orthanc), mask, patient, name="liver")
    assert sent.sent == 1 and not sent.failed
    segs = orthanc.seg_series(phantoms[0].study_uid)
    assert len(segs) == 1
    (instance,) = segs[0]["Instances"]
    path = tmp_path / "seg.dcm"
    path.write_bytes(orthanc.rest("GET", f"/instances/{instance}/file").content)
    seg = pydicom.dcmread(path)
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == phantoms[0].series_uid
    assert seg.StudyInstanceUID == phantoms[0].study_uid
    read = read_dicom_seg(path, patient)
    assert np.array_equal(read["liver"], mask)
    orthanc.rest("DELETE", f"/series/{segs[0]['ID']}")


def test_cancel_keeps_what_came_and_indexes_nothing(
    tmp_path: Path, orthanc: Orthanc, phantoms: list[PhantomStudy]
) -> None:
    from ctseg_core.errors import Cancelled

    store, db = ManagedStore(tmp_path / "store"), tmp_path / "db.sqlite"
    done: list[int] = []
    with pytest.raises(Cancelled):
        retrieve(
            web(orthanc),
            phantoms[0].study_uid,
            store=store,
            db=db,
            progress=lambda d, t, s: done.append(d),
            should_cancel=lambda: len(done) >= 5,
        )
    kept = store.present(store.partial_dir(phantoms[0].series_uid))
    assert len(kept) == 5 and not store.series_dir(phantoms[0].study_uid, phantoms[0].series_uid).exists()
    with CohortDatabase(db) as cohort:
        assert cohort.list_series(SeriesQuery()) == []
    (report,) = retrieve(web(orthanc), phantoms[0].study_uid, store=store, db=db)
    assert report.skipped == 5 and report.received == 7
