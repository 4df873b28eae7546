"""``ctseg segment --scheduler``: one task per patient on a Dask cluster; the client alone writes the
rows and the CSV; a failing patient, or workers that die, give error rows, never a lost batch."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ctseg_core.batch import segment_patients
from ctseg_core.model.inference import Segmentation
from ctseg_core.synth.phantom import write_phantom

#: Slice counts the stand-in treats specially: a bug in it, a crash that kills its worker.
BUG_SLICES, KILLER_SLICES = 7, 5


class Thresholder:
    """A model stand-in on the workers: HU > 0 is liver, ``delay`` seconds a scan."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def predict(self, hu: np.ndarray, spacing_mm: Any = None, *args: Any, **kwargs: Any) -> Segmentation:
        time.sleep(self.delay)
        if hu.shape[0] == BUG_SLICES:
            raise ZeroDivisionError("a bug in the model")
        if hu.shape[0] == KILLER_SLICES:
            os.kill(os.getpid(), signal.SIGKILL)  # a crash inside the runtime takes the worker down
        return Segmentation(mask=hu > 0, timings={"network": self.delay})


class LoadThresholder:
    """What each worker's plugin loads (picklable: the workers import this module by name)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def __call__(self) -> Thresholder:
        return Thresholder(self.delay)


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("phantoms")
    for name, seed, slices in (("ok", 1, 6), ("bug", 2, BUG_SLICES), ("killer", 3, KILLER_SLICES)):
        write_phantom(root / name, seed=seed, slices=slices, size=64)
    return root


def batch(phantoms: Path, root: Path, names: list[str]) -> Path:
    """A parent folder of patients named ``names`` (in that order), copies of the phantoms."""
    for index, name in enumerate(names):
        kind = name.split("_")[0]
        if kind == "broken":
            (root / f"{index}_{name}" / "PATIENT_DICOM").mkdir(parents=True)
            (root / f"{index}_{name}" / "PATIENT_DICOM" / "image_0").write_bytes(b"\0" * 128 + b"DICM" + b"garbage")
        else:
            shutil.copytree(phantoms / kind, root / f"{index}_{name}")
    return root


def test_a_failing_patient_is_its_error_row_and_the_client_writes_the_csv(
    cluster: Any, phantoms: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = batch(phantoms, tmp_path / "in", ["ok_a", "broken", "bug", "ok_b"])
    seen: list[str] = []
    rows = segment_patients(
        [root],
        tmp_path / "out",
        "nifti",
        scheduler=cluster.scheduler_address,
        worker_segmenter=LoadThresholder(),
        on_row=lambda row: seen.append(row["patient"]),
    )
    assert seen == ["0_ok_a", "1_broken", "2_bug", "3_ok_b"] == [r["patient"] for r in rows]
    assert rows[0]["dice"] is not None and rows[3]["dice"] is not None and Path(rows[3]["output"]).is_file()
    assert rows[1]["error"] and rows[1]["error_type"] != "WorkerLostError"
    assert rows[2]["error"].startswith("internal error: ZeroDivisionError: a bug in the model (traceback written to")
    with open(tmp_path / "out" / "ctseg_summary.csv", newline="") as handle:
        assert [r["patient"] for r in csv.DictReader(handle)] == seen


def test_a_worker_killed_mid_batch_loses_no_patient(client: Any, phantoms: Path, tmp_path: Path) -> None:
    """The killed worker's tasks (the running one, and any the scheduler had queued there) run again on
    the other worker: every patient has its row, with its results."""
    root = batch(phantoms, tmp_path / "in", [f"ok_{k}" for k in range(6)])
    killed: list[int] = []

    def kill_a_busy_worker(row: dict[str, Any]) -> None:
        if killed:
            return
        busy = [address for address, tasks in client.processing().items() if tasks]
        pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    rows = segment_patients(
        [root], tmp_path / "out", scheduler=client, worker_segmenter=LoadThresholder(0.4), on_row=kill_a_busy_worker
    )
    assert killed and [r["patient"] for r in rows] == [f"{k}_ok_{k}" for k in range(6)]
    assert all(r.get("dice") is not None for r in rows), [r.get("error") for r in rows]


def test_a_patient_that_kills_its_workers_is_an_error_row(client: Any, phantoms: Path, tmp_path: Path) -> None:
    root = batch(phantoms, tmp_path / "in", ["ok_a", "killer", "ok_b"])
    rows = segment_patients([root], tmp_path / "out", scheduler=client, worker_segmenter=LoadThresholder())
    assert [r["patient"] for r in rows] == ["0_ok_a", "1_killer", "2_ok_b"]
    assert (
        rows[1]["error_type"] == "WorkerLostError"
        and "the Dask workers segmenting this patient died" in (rows[1]["error"])
    )
    assert rows[0]["dice"] is not None and rows[2]["dice"] is not None


def test_an_unreachable_scheduler_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctseg_core.cli import main

    monkeypatch.setattr("ctseg_core.batch.cluster.CONNECT_TIMEOUT_S", 1)
    write_phantom(tmp_path / "p", seed=1, slices=3, size=64)
    code = main(["segment", str(tmp_path / "p"), "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err


@pytest.mark.slow
def test_the_bundled_model_on_the_cluster_gives_the_in_process_rows(
    cluster: Any, phantoms: Path, tmp_path: Path
) -> None:
    """Each worker loads the real model once (ONNX Runtime by default); the masks are this process's."""
    root = batch(phantoms, tmp_path / "in", ["ok_a", "ok_b"])
    local = segment_patients([root], tmp_path / "here", prefetch=0, threads=1)
    remote = segment_patients([root], tmp_path / "there", scheduler=cluster.scheduler_address, threads=1)
    assert [(r["patient"], r["dice"], r["volume_ml_pred"]) for r in remote] == [
        (r["patient"], r["dice"], r["volume_ml_pred"]) for r in local
    ]
    assert all("error" not in r for r in remote)
