"""The receiving node (C-STORE SCP): what Orthanc sends is filed and indexed; strangers are rejected;
malformed data sets, instances past the quota and aborted transfers leave nothing indexed; duplicates
are written once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
import requests
from orthanc_peer import NODE_AET, Orthanc, PhantomStudy, free_port
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage

from ctseg_core.cohort import CohortDatabase, SeriesQuery
from ctseg_core.pacs.receiver import NodeSettings, Received, ReceivingNode
from ctseg_core.pacs.store import ManagedStore


@pytest.fixture
def node(tmp_path: Path, orthanc: Orthanc) -> Iterator[tuple[ReceivingNode, list[Received]]]:
    heard: list[Received] = []
    settings = NodeSettings(NODE_AET, orthanc.ports["node"], allowed=("ORTHANC", "TESTSCU"))
    receiver = ReceivingNode(settings, ManagedStore(tmp_path / "store"), tmp_path / "db.sqlite", heard.append)
    receiver.start()
    try:
        yield receiver, heard
    finally:
        receiver.stop()


def wait_heard(heard: list[Received], count: int = 1) -> None:
    """The node reports an association once it is filed (or dropped): wait for that."""
    deadline = time.monotonic() + 20
    while len(heard) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(heard) >= count


def indexed(node: ReceivingNode) -> list[str]:
    node.wait_filed()
    if not Path(node.db).exists():  # type: ignore[arg-type]
        return []
    with CohortDatabase(node.db) as cohort:
        return [row.series_uid for row in cohort.list_series(SeriesQuery(segmentable_only=False))]


def orthanc_sends(orthanc: Orthanc, study_uid: str) -> requests.Response:
    study = orthanc.rest("POST", "/tools/lookup", data=study_uid).json()[0]["ID"]
    return requests.post(
        f"{orthanc.url}/modalities/node/store", json={"Resources": [study], "Synchronous": True}, timeout=60
    )


def scu(port: int, aet: str = "TESTSCU") -> object:
    ae = AE(ae_title=aet)
    ae.add_requested_context(CTImageStorage)
    return ae.associate("127.0.0.1", port, ae_title=NODE_AET)


def test_orthanc_sends_a_study(
    node: tuple[ReceivingNode, list[Received]], orthanc: Orthanc, phantoms: list[PhantomStudy]
) -> None:
    receiver, heard = node
    assert orthanc_sends(orthanc, phantoms[1].study_uid).ok
    wait_heard(heard)
    assert indexed(receiver) == [phantoms[1].series_uid]
    (received,) = heard
    assert received.calling_aet == "ORTHANC" and received.instances == 8 and received.kept
    assert len(list(receiver.store.series_dir(phantoms[1].study_uid, phantoms[1].series_uid).iterdir())) == 8


def test_stranger_rejected_and_bound_to_loopback(node: tuple[ReceivingNode, list[Received]]) -> None:
    receiver, _ = node
    assoc = scu(receiver.port, aet="STRANGER")
    assert assoc.is_rejected  # type: ignore[attr-defined]
    assert receiver.settings.bind == "127.0.0.1"


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
def test_malformed_and_duplicates(
    node: tuple[ReceivingNode, list[Received]], phantoms: list[PhantomStudy], tmp_path: Path
) -> None:
    receiver, heard = node
    good = pydicom.dcmread(phantoms[1].files[0])
    evil = pydicom.dcmread(phantoms[1].files[1])
    evil.StudyInstanceUID = "../../escaped"
    assoc = scu(receiver.port)
    assert assoc.send_c_store(good).Status == 0  # type: ignore[attr-defined]
    assert assoc.send_c_store(good).Status == 0  # type: ignore[attr-defined]
    assert assoc.send_c_store(evil).Status == 0xC210  # type: ignore[attr-defined]
    assoc.release()  # type: ignore[attr-defined]
    wait_heard(heard)
    assert indexed(receiver) == [phantoms[1].series_uid]
    (received,) = heard
    assert received.instances == 1 and received.duplicates == 1 and "not a UID" in received.refused[0]
    assert not list(tmp_path.rglob("escaped*"))


def test_aborted_transfer_leaves_nothing(
    node: tuple[ReceivingNode, list[Received]], phantoms: list[PhantomStudy]
) -> None:
    receiver, heard = node
    assoc = scu(receiver.port)
    for path in phantoms[1].files[:3]:
        assert assoc.send_c_store(pydicom.dcmread(path)).Status == 0  # type: ignore[attr-defined]
    assoc.abort()  # type: ignore[attr-defined]
    wait_heard(heard)
    assert not heard[0].kept and indexed(receiver) == []
    assert not list(receiver.store.root.rglob("*.dcm"))


def test_quota(tmp_path: Path, orthanc: Orthanc, phantoms: list[PhantomStudy]) -> None:
    heard: list[Received] = []
    size = phantoms[1].files[0].stat().st_size
    settings = NodeSettings(NODE_AET, orthanc.ports["node"], allowed=("ORTHANC",), quota_bytes=int(size * 3.5))
    receiver = ReceivingNode(settings, ManagedStore(tmp_path / "store"), tmp_path / "db.sqlite", heard.append)
    receiver.start()
    try:
        assert not orthanc_sends(orthanc, phantoms[1].study_uid).ok
        wait_heard(heard)
        assert indexed(receiver) == []
        assert any("quota" in why for why in heard[0].refused)
        assert not list(receiver.store.root.rglob("*.dcm"))
    finally:
        receiver.stop()


def test_refuses_to_start_without_an_allow_list(tmp_path: Path) -> None:
    from ctseg_core.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="--allow"):
        ReceivingNode(NodeSettings(port=free_port()), ManagedStore(tmp_path))
