"""Archive retrieve benchmark: a 130-slice CT series from Orthanc on loopback, by WADO-RS and by C-GET.

Run: ``python benchmarks/bench_pacs.py [--slices 130] [--size 512] [--repeats 3]`` (needs Orthanc and its
DICOMweb plugin: ``apt-get install orthanc orthanc-dicomweb``). Starts Orthanc on free loopback ports
(the tests' launcher, ``tests/pacs/orthanc_peer.py``), uploads one phantom series, then times, each
into a fresh folder:

- **ctseg WADO-RS** / **ctseg C-GET**: ``ctseg_core.pacs.retrieve`` into the managed folder (instance
  listing, partial folder, one file per instance written whole, the final rename), without indexing;
- **library floor**: the plainest loop that does the same transfer with the library alone —
  ``DICOMwebClient.iter_series`` saving each data set, and a pynetdicom C-GET whose C-STORE handler
  writes ``event.encoded_dataset()``;
- **index**: indexing the retrieved series into a new cohort database.

Each number is the median of the repeats, the four runs taking turns within each repeat; MB/s is the size
of the files written over the seconds.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "pacs"))

from orthanc_peer import phantom_study, running_orthanc  # noqa: E402

from ctseg_core.pacs.connect import open_archive  # noqa: E402
from ctseg_core.pacs.retrieve import index_complete, retrieve  # noqa: E402
from ctseg_core.pacs.servers import parse_server  # noqa: E402
from ctseg_core.pacs.store import ManagedStore  # noqa: E402


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def plain_wado(url: str, study: str, series: str, out: Path) -> None:
    from dicomweb_client.api import DICOMwebClient

    out.mkdir(parents=True)
    for dataset in DICOMwebClient(url).iter_series(study, series):
        dataset.save_as(out / f"{dataset.SOPInstanceUID}.dcm", enforce_file_format=True)


def plain_cget(host: str, port: int, aet: str, study: str, series: str, out: Path) -> None:
    from pydicom.dataset import Dataset
    from pynetdicom import AE, build_role, evt

    from ctseg_core.pacs.dimse import StudyRootQueryRetrieveInformationModelGet
    from ctseg_core.pacs.dimse_storage import RETRIEVED_CLASSES, retrieved_contexts

    out.mkdir(parents=True)

    def store(event: object) -> int:
        uid = event.request.AffectedSOPInstanceUID  # type: ignore[attr-defined]
        (out / f"{uid}.dcm").write_bytes(event.encoded_dataset())  # type: ignore[attr-defined]
        return 0

    ae = AE(ae_title="PLAIN")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    for context in retrieved_contexts():
        ae.add_requested_context(str(context.abstract_syntax), context.transfer_syntax)
    roles = [build_role(uid, scp_role=True) for uid in RETRIEVED_CLASSES]
    assoc = ae.associate(host, port, ae_title=aet, ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, store)])
    identifier = Dataset()
    identifier.QueryRetrieveLevel, identifier.StudyInstanceUID, identifier.SeriesInstanceUID = "SERIES", study, series
    for _status, _ in assoc.send_c_get(identifier, StudyRootQueryRetrieveInformationModelGet):
        pass
    assoc.release()


def timed(runs: dict[str, Callable[[Path], object]], scratch: Path, repeats: int) -> dict[str, tuple[float, int]]:
    """Each run's median seconds (into a fresh folder each time) and the bytes it wrote. The runs take turns
    within each repeat, so a machine whose load changes slows them alike."""
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    written: dict[str, int] = {}
    for attempt in range(repeats):
        for name, run in runs.items():
            folder = scratch / f"run-{attempt}-{len(seconds[name])}-{abs(hash(name))}"
            started = time.perf_counter()
            run(folder)
            seconds[name].append(time.perf_counter() - started)
            written[name] = folder_bytes(folder)
    return {name: (statistics.median(seconds[name]), written[name]) for name in runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=130)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as temporary, running_orthanc(Path(temporary) / "orthanc") as orthanc:
        scratch = Path(temporary)
        study = phantom_study(scratch / "phantom", seed=0, slices=args.slices, size=args.size)
        orthanc.upload(study.files)
        web, dimse = open_archive(parse_server(orthanc.dicomweb)), open_archive(parse_server(orthanc.dimse))
        uids = (study.study_uid, study.series_uid)
        runs: dict[str, Callable[[Path], object]] = {
            "ctseg WADO-RS": lambda out: retrieve(web, *uids, store=ManagedStore(out), index=False),
            "dicomweb-client loop": lambda out: plain_wado(orthanc.dicomweb, *uids, out),
            "ctseg C-GET": lambda out: retrieve(dimse, *uids, store=ManagedStore(out), index=False),
            "pynetdicom C-GET loop": lambda out: plain_cget("127.0.0.1", orthanc.dicom_port, "ORTHANC", *uids, out),
        }
        print(f"series: {args.slices} slices of {args.size}×{args.size}, Orthanc {orthanc.url} on loopback")
        for name, (seconds, written) in timed(runs, scratch, args.repeats).items():
            print(f"{name:24s} {seconds:6.2f} s  {written / 1e6 / seconds:6.1f} MB/s  ({written / 1e6:.1f} MB)")
        store = ManagedStore(scratch / "indexed")
        retrieve(web, *uids, store=store, index=False)
        started = time.perf_counter()
        index_complete(store, scratch / "bench.sqlite")
        print(f"{'index into the cohort DB':24s} {time.perf_counter() - started:6.2f} s")


if __name__ == "__main__":
    main()
