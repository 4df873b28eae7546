"""The model process on a stand-in model: results through shared memory, progress, errors, cancel
within 0.5 s, and a child killed mid-request (reaped, restarted, nothing leaked)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import numpy as np
import pytest

from ctseg_core.engine import ModelProcess, ModelProcessDied
from ctseg_core.engine.stand_in import SECONDS_ENV
from ctseg_core.errors import Cancelled, CtsegError, ModelError

#: The issue's bound: cancel takes effect within this long.
CANCEL_BOUND_S = 0.5


def volume(slices: int = 40) -> np.ndarray:
    return np.random.default_rng(0).integers(-500, 500, (slices, 32, 32)).astype(np.int16)


def is_reaped(pid: int) -> bool:
    """True once ``pid`` is no child of this process any more (neither running nor a zombie)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_predict_crosses_through_shared_memory(stand_in: ModelProcess) -> None:
    hu = volume()
    reports: list[tuple[int, int, str]] = []
    result = stand_in.segmenter().predict(
        hu, (2.0, 0.7, 0.7), progress=lambda *r: reports.append(r), return_uncertainty=True, return_probability=True
    )
    expected = (hu > 0) & (hu < 200)
    np.testing.assert_array_equal(result.mask, expected)
    assert result.mask.dtype == bool
    np.testing.assert_array_equal(result.probability, expected.astype(np.float32))
    assert result.uncertainty is not None and result.uncertainty.dtype == np.uint8
    assert reports == [(16, 40, "segmenting"), (32, 40, "segmenting"), (40, 40, "segmenting")]
    assert stand_in.segmenter().predict(hu).uncertainty is None  # nothing made unless asked for


def test_errors_come_back_as_themselves(stand_in: ModelProcess) -> None:
    with pytest.raises(ModelError, match="model file not found") as raised:
        stand_in.segmenter("/no/such/model.keras")
    assert str(raised.value.path) == "/no/such/model.keras"
    assert stand_in.segmenter().backend == "stand-in"  # the process serves on


def test_cancel_takes_effect_within_half_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch that takes 1.6 s in the network: the call still ends within the bound."""
    monkeypatch.setenv(SECONDS_ENV, "0.1")
    with ModelProcess(loader="ctseg_core.engine.stand_in:load_stand_in") as process:
        segmenter = process.segmenter()
        asked: list[float] = []

        def cancel_after_first_report() -> bool:
            return bool(asked)

        def progress(done: int, total: int, stage: str) -> None:
            asked.append(time.monotonic())

        with pytest.raises(Cancelled):
            segmenter.predict(volume(64), progress=progress, should_cancel=cancel_after_first_report)
        assert time.monotonic() - asked[0] < CANCEL_BOUND_S
        started = time.monotonic()
        assert segmenter.predict(volume(4)).mask.shape == (
            4,
            32,
            32,
        )  # the late reply is dropped, not read as this one's
        assert time.monotonic() - started < 3.0


def test_a_killed_child_is_reaped_restarted_and_leaves_no_segment(
    stand_in: ModelProcess, leaked_segments: Callable[[], list[str]]
) -> None:
    segmenter = stand_in.segmenter()
    first = stand_in.pid
    assert first is not None

    def kill_on_first_report(done: int, total: int, stage: str) -> None:
        os.kill(first, signal.SIGKILL)

    with pytest.raises(ModelProcessDied) as raised:
        segmenter.predict(volume(64), progress=kill_on_first_report)
    assert isinstance(raised.value, CtsegError)
    assert "the model process stopped" in str(raised.value) and "restarted" in str(raised.value)
    assert is_reaped(first)
    assert leaked_segments() == []
    assert stand_in.pid not in (None, first) and stand_in.restarts == 1
    assert segmenter.predict(volume(8)).mask.shape == (8, 32, 32)  # the same segmenter works again


def test_a_child_dead_while_idle_is_replaced_silently(stand_in: ModelProcess) -> None:
    first = stand_in.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    time.sleep(0.1)
    assert stand_in.segmenter().predict(volume(4)).mask.any()
    assert is_reaped(first)


def test_close_reaps_the_child_and_is_idempotent() -> None:
    process = ModelProcess(loader="ctseg_core.engine.stand_in:load_stand_in").start()
    pid = process.pid
    assert pid is not None and process.is_alive()
    process.close()
    process.close()
    assert not process.is_alive() and is_reaped(pid)


def test_nothing_starts_until_asked() -> None:
    process = ModelProcess(loader="ctseg_core.engine.stand_in:load_stand_in")
    assert process.pid is None and not process.is_alive()
    process.close()


def test_the_child_runs_at_the_niceness_asked_for() -> None:
    """The viewer lowers its model process's priority, so the GUI thread wins the CPU when it needs it."""
    with ModelProcess(loader="ctseg_core.engine.stand_in:load_stand_in", nice=3) as process:
        process.segmenter()  # the child has started and set its niceness
        assert process.pid is not None
        assert os.getpriority(os.PRIO_PROCESS, process.pid) == min(os.getpriority(os.PRIO_PROCESS, 0) + 3, 19)
