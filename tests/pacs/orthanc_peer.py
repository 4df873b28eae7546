"""A real Orthanc for the archive tests, on loopback: started, filled with phantoms, always stopped.

Orthanc (Debian packages ``orthanc`` and ``orthanc-dicomweb``; ``.ci/run`` installs them) runs with a
temporary configuration and storage folder on free ports, with the DICOMweb plugin, ctseg's AE titles
registered as modalities (for C-MOVE and for sending to ctseg's receiving node), and filled with
phantom studies. A second instance requires HTTP Basic authentication. Without Orthanc the tests
skip, saying why.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
import pytest
import requests

ORTHANC = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
USER, PASSWORD = "alice", "s3cret-pw-for-tests"
MOVE_AET, NODE_AET = "CTSEGMOVE", "CTSEGNODE"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Orthanc:
    """One running Orthanc: its addresses and its REST API."""

    root: Path
    http_port: int
    dicom_port: int
    process: subprocess.Popen
    auth: tuple[str, str] | None = None
    aet: str = "ORTHANC"
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicom-web"

    @property
    def dimse(self) -> str:
        return f"{self.aet}@127.0.0.1:{self.dicom_port}"

    def rest(self, method: str, path: str, **options: object) -> requests.Response:
        response = requests.request(method, self.url + path, auth=self.auth, timeout=30, **options)  # type: ignore[arg-type]
        response.raise_for_status()
        return response

    def upload(self, files: list[Path]) -> None:
        for path in files:
            self.rest("POST", "/instances", data=path.read_bytes())

    def series_id(self, series_uid: str) -> str | None:
        found = self.rest("POST", "/tools/lookup", data=series_uid).json()
        return next((item["ID"] for item in found if item["Type"] == "Series"), None)

    def seg_series(self, study_uid: str) -> list[dict]:
        """The SEG series of a study, as Orthanc's REST API describes them."""
        study = self.rest("POST", "/tools/lookup", data=study_uid).json()[0]["ID"]
        return [
            s for s in self.rest("GET", f"/studies/{study}/series").json() if s["MainDicomTags"]["Modality"] == "SEG"
        ]

    def delete_series(self, series_uid: str) -> None:
        orthanc_id = self.series_id(series_uid)
        if orthanc_id is not None:
            self.rest("DELETE", f"/series/{orthanc_id}")


def _die_with_parent() -> None:
    """Orthanc goes when pytest goes, even killed (Linux: PR_SET_PDEATHSIG)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)


@contextlib.contextmanager
def running_orthanc(root: Path, users: dict[str, str] | None = None) -> Iterator[Orthanc]:
    """Start Orthanc in ``root``; stop it (and wait) whatever happens."""
    if not (os.path.exists(ORTHANC) and PLUGIN.exists()):
        pytest.skip("Orthanc with its DICOMweb plugin is not installed (apt-get install orthanc orthanc-dicomweb)")
    http_port, dicom_port = free_port(), free_port()
    ports = {"move": free_port(), "node": free_port()}
    config = {
        "Name": "ctseg-tests",
        "StorageDirectory": str(root / "storage"),
        "IndexDirectory": str(root / "storage"),
        "HttpPort": http_port,
        "HttpBindAddress": "127.0.0.1",
        "DicomPort": dicom_port,
        "DicomAet": "ORTHANC",
        "DicomCheckCalledAet": True,
        "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": True,
        "DicomAlwaysAllowFind": True,
        "DicomAlwaysAllowGet": True,
        "DicomAlwaysAllowMove": True,
        "DicomCheckModalityHost": False,
        "DicomModalities": {
            "ctseg": ["CTSEG", "127.0.0.1", free_port()],
            "mover": [MOVE_AET, "127.0.0.1", ports["move"]],
            "node": [NODE_AET, "127.0.0.1", ports["node"]],
        },
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": bool(users),
        "RegisteredUsers": users or {},
        "Plugins": [str(PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "StudiesMetadata": "Full"},
        "StableAge": 1,
        "ConcurrentJobs": 1,
    }
    (root / "storage").mkdir(parents=True, exist_ok=True)
    (root / "orthanc.json").write_text(json.dumps(config))
    log = (root / "orthanc.log").open("wb")
    process = subprocess.Popen(
        [ORTHANC, str(root / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
    )
    server = Orthanc(root, http_port, dicom_port, process, (next(iter(users.items())) if users else None), ports=ports)
    try:
        _wait_ready(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


def _wait_ready(server: Orthanc) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log = (server.root / "orthanc.log").read_text(errors="replace")[-2000:]
            pytest.fail(f"Orthanc exited at start (code {server.process.returncode}):\n{log}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(server.url + "/system", auth=server.auth, timeout=1).ok:
                return
        time.sleep(0.1)
    pytest.fail("Orthanc did not answer within 30 s")


@dataclass(frozen=True)
class PhantomStudy:
    seed: int
    study_uid: str
    series_uid: str
    folder: Path
    files: list[Path]


def phantom_study(folder: Path, seed: int, slices: int = 12, size: int = 64) -> PhantomStudy:
    """A phantom CT (its PATIENT_DICOM series only) written under ``folder``."""
    from ctseg_core.synth.phantom import write_phantom

    write_phantom(folder, seed=seed, slices=slices, size=size)
    files = sorted((folder / "PATIENT_DICOM").iterdir())
    first = pydicom.dcmread(files[0], stop_before_pixels=True)
    return PhantomStudy(seed, first.StudyInstanceUID, first.SeriesInstanceUID, folder / "PATIENT_DICOM", files)
