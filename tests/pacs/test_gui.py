"""The viewer's archive dialogs against Orthanc: search, retrieve on a worker into the cohort database,
cancel; the servers dialog writes an owner-only settings file; Send to archive's job sends a SEG."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from orthanc_peer import Orthanc, PhantomStudy

pytest.importorskip("PySide6")

from ctseg_core.cohort import CohortDatabase, SeriesQuery
from ctseg_core.pacs.servers import load_servers


def test_query_and_retrieve(qtbot, orthanc: Orthanc, phantoms: list[PhantomStudy]) -> None:
    from ctseg_gui.dialogs.pacs_query import QueryArchiveDialog
    from ctseg_gui.jobs.workers import JobRunner

    runner, heard = JobRunner(), []
    dialog = QueryArchiveDialog(runner, heard.append)
    qtbot.addWidget(dialog)
    dialog.server.setEditText(orthanc.dicomweb)
    dialog.patient_id.setText("PHANTOM-1")
    dialog.search()
    qtbot.waitUntil(lambda: dialog.results.topLevelItemCount() == 1, timeout=20_000)
    study = dialog.results.topLevelItem(0)
    assert study.text(0) == "Phantom^1 (PHANTOM-1)" and study.childCount() == 1
    study.child(0).setSelected(True)
    assert dialog.selected() == [(phantoms[1].study_uid, phantoms[1].series_uid)]
    dialog.retrieve_selected()
    qtbot.waitUntil(lambda: bool(heard), timeout=30_000)
    assert heard[0][0].received == 8
    with CohortDatabase(os.environ["CTSEG_DB"]) as cohort:
        assert [r.series_uid for r in cohort.list_series(SeriesQuery())] == [phantoms[1].series_uid]
    dialog.dates.setText("2020")
    dialog.search()
    assert "YYYYMMDD" in dialog.status.text()
    runner.shutdown()


def test_servers_dialog_saves_owner_only(qtbot) -> None:
    from ctseg_gui.dialogs.pacs_servers import ServersDialog

    dialog = ServersDialog()
    qtbot.addWidget(dialog)
    dialog.name.setText("hospital")
    dialog.address.setText("https://pacs.example/dicom-web")
    dialog.auth.setCurrentText("bearer")
    dialog.token.setText("tok-123")
    dialog.save()
    path = Path(os.environ["CTSEG_PACS_SETTINGS"])
    assert (path.stat().st_mode & 0o777) == 0o600
    assert load_servers()["hospital"].token == "tok-123"
    assert "tok-123" not in dialog.message.text()
    dialog.address.setText("not a server")
    dialog.save()
    assert dialog.message.text().startswith("Not saved:")


def test_send_job_sends_a_seg(orthanc: Orthanc, phantoms: list[PhantomStudy]) -> None:
    from ctseg_core.io.loading import load_patient
    from ctseg_gui.commands.pacs import send_job

    patient = load_patient(phantoms[1].folder)
    mask = np.zeros(patient.shape, bool)
    mask[2:5, 10:30, 10:30] = True
    report = send_job(orthanc.dicomweb, mask, patient, "liver")(lambda *a: None, lambda: False)
    assert report.sent == 1
    segs = orthanc.seg_series(phantoms[1].study_uid)
    assert len(segs) == 1
    orthanc.rest("DELETE", f"/series/{segs[0]['ID']}")


@pytest.mark.slow  # the viewer with a patient open
def test_the_window_sends_its_label_from_the_archive_menu(
    qtbot, tmp_path: Path, orthanc: Orthanc, phantoms: list[PhantomStudy], monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtCore import QSettings

    from ctseg_gui.commands.pacs import ArchiveCommands
    from ctseg_gui.dialogs import messages
    from ctseg_gui.main_window import MainWindow

    errors: list[str] = []
    monkeypatch.setattr(messages, "show_error", lambda parent, title, text: errors.append(text))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    viewer = MainWindow(settings=settings, preload_model=False)
    qtbot.addWidget(viewer)
    archive = viewer.menus.archive
    texts = [a.text() for a in (archive.query_action, archive.send_action)]
    assert texts == ["&Query archive…", "&Send label to archive…"]
    with qtbot.waitSignal(viewer.patientLoaded, timeout=20_000):
        viewer.open_path(phantoms[0].folder)
    mask = np.zeros(viewer.state.patient.shape, bool)
    mask[3:6, 20:30, 20:30] = True
    viewer.editor.start_label(mask, "liver", "test label")
    monkeypatch.setattr(ArchiveCommands, "ask_server", lambda self: orthanc.dimse)
    archive.send_action.trigger()
    qtbot.waitUntil(lambda: not viewer.runner.running("pacs:send"), timeout=30_000)
    assert not errors
    (seg,) = orthanc.seg_series(phantoms[0].study_uid)
    orthanc.rest("DELETE", f"/series/{seg['ID']}")
    monkeypatch.setattr(ArchiveCommands, "ask_server", lambda self: "NOBODY@127.0.0.1:1")
    archive.send_action.trigger()
    qtbot.waitUntil(lambda: bool(errors), timeout=30_000)
    assert errors[0].startswith("NOBODY@127.0.0.1:1: send (C-STORE): cannot connect")
    # Query archive: what it retrieves opens in the cohort browser
    archive.query()
    dialog = archive.dialog
    dialog.server.setEditText(orthanc.dicomweb)
    dialog.patient_id.setText("PHANTOM-1")
    dialog.search()
    qtbot.waitUntil(lambda: dialog.results.topLevelItemCount() == 1, timeout=20_000)
    dialog.results.topLevelItem(0).setSelected(True)
    dialog.retrieve_selected()
    qtbot.waitUntil(lambda: viewer.cohort.database is not None and viewer.cohort.model.rowCount() == 1, timeout=30_000)
    assert not viewer.cohort.dock.isHidden()  # shown (the window itself is not on screen)
    viewer.runner.shutdown()
