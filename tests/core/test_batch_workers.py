"""``--workers N``: the batch's network in N model processes; one that dies costs its patient's row."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from ctseg_core.batch.models import model_processes
from ctseg_core.batch.pipeline import BatchOptions, run_pipelined
from ctseg_core.batch.planning import plan_outputs
from ctseg_core.model.inference import Segmentation
from ctseg_core.synth.phantom import write_phantom

#: The model process imports this module by name (spawn hands the test's sys.path to the child).
DYING = f"{__name__}:load_dying"
DIES_SLICES = 5


class DiesOnFiveSlices:
    """A stand-in model that kills its own process on a 5-slice scan (a crash inside the runtime)."""

    path, backend, backend_reason, card, load_seconds, import_seconds = None, "stand-in", "", None, 0.0, 0.0

    def predict(self, hu: np.ndarray, spacing_mm: Any = None, *args: Any, **kwargs: Any) -> Segmentation:
        if hu.shape[0] == DIES_SLICES:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.1)
        return Segmentation(mask=hu > 0, timings={"network": 0.1})


def load_dying(model_path: Path | None, threads: int | None) -> DiesOnFiveSlices:
    return DiesOnFiveSlices()


def model_children() -> list[psutil.Process]:
    """This process's spawned children still alive, the multiprocessing resource tracker left out."""
    return [
        child
        for child in psutil.Process().children()
        if child.is_running() and "resource_tracker" not in " ".join(child.cmdline())
    ]


@pytest.fixture
def patients(tmp_path: Path) -> list[Path]:
    """Five small patients; the second has 5 slices (the stand-in dies on it)."""
    slices = [6, DIES_SLICES, 6, 6, 6]
    return [write_phantom(tmp_path / "in" / f"p{i}", seed=30 + i, slices=n, size=64) for i, n in enumerate(slices)]


@pytest.mark.slow  # spawns model processes: about 10 s on 2 busy cores
def test_a_dead_model_process_is_its_patients_error_row_and_the_batch_goes_on(
    patients: list[Path], tmp_path: Path
) -> None:
    items = plan_outputs(patients, tmp_path / "out")
    seen: list[str] = []
    source = model_processes(None, 1, workers=2, loader=DYING)
    rows = run_pipelined(items, source, BatchOptions(on_row=lambda r: seen.append(r["patient"])), workers=2)
    assert seen == [f"p{i}" for i in range(5)]
    assert rows[1]["error_type"] == "WorkerLostError" and "killed by signal 9" in rows[1]["error"]
    assert all(rows[k]["dice"] is not None for k in (0, 2, 3, 4))
    assert model_children() == []  # every model process closed and reaped


@pytest.mark.slow
def test_workers_give_the_in_process_rows_with_the_real_model(
    tiny_model: Path, tiny_patients: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ctseg_core.cli import main

    results = []
    for extra in ([], ["--workers", "2"]):
        out = tmp_path / f"out{len(extra)}"
        code = main(["segment", str(tiny_patients), "--model", str(tiny_model), "--out", str(out), "--json", *extra])
        assert code == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        results.append([(r["patient"], r["dice"], r["volume_ml_pred"]) for r in lines])
    assert results[0] == results[1] and len(results[0]) == 3
    assert model_children() == []
