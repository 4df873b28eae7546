"""Jobs on worker threads: results reach the UI only from the current, uncancelled job."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from ctseg_core.errors import CtsegError
from ctseg_core.progress import CancelCheck, ProgressCallback
from ctseg_gui.jobs.workers import JobRunner


@pytest.fixture
def runner(qtbot: QtBot) -> Iterator[JobRunner]:
    """A runner whose threads are all joined before the test ends (as MainWindow does on close)."""
    jobs = JobRunner()
    yield jobs
    jobs.shutdown()


def test_result_and_progress_arrive_on_the_gui_thread(qtbot: QtBot, runner: JobRunner) -> None:
    results, threads, progress = [], [], []

    def work(report: ProgressCallback, cancelled: CancelCheck) -> object:
        report(3, 3, "counting")
        return threading.current_thread()

    def done(worker_thread: object) -> None:
        results.append(worker_thread)
        threads.append(threading.current_thread())

    with qtbot.waitSignal(runner.changed, check_params_cb=lambda: not runner.running("x")):
        runner.start("x", work, on_success=done, on_failure=pytest.fail, on_progress=lambda *a: progress.append(a))
    assert progress == [(3, 3, "counting")]
    assert results[0] is not threading.main_thread() and threads == [threading.main_thread()]


def test_cancelled_job_never_reports_even_if_it_finishes(qtbot: QtBot, runner: JobRunner) -> None:
    release = threading.Event()
    delivered = []

    def work(report: ProgressCallback, cancelled: CancelCheck) -> object:
        release.wait(5)
        report(1, 1, "done")
        return "stale"

    job = runner.start(
        "x", work, on_success=delivered.append, on_failure=delivered.append, on_progress=lambda *a: delivered.append(a)
    )
    runner.cancel("x")
    release.set()
    assert job.wait(5000)
    qtbot.wait(50)  # deliver whatever the finished thread queued
    assert delivered == [] and not runner.running("x")


def test_superseded_job_is_silent_and_the_new_one_reports(qtbot: QtBot, runner: JobRunner) -> None:
    release = threading.Event()
    delivered = []
    old = runner.start("x", lambda r, c: release.wait(5) and "old", on_success=delivered.append, on_failure=pytest.fail)
    with qtbot.waitSignal(runner.changed, check_params_cb=lambda: not runner.running("x"), timeout=5000):
        runner.start("x", lambda r, c: "new", on_success=delivered.append, on_failure=pytest.fail)
    release.set()
    assert old.wait(5000)
    qtbot.wait(50)
    assert delivered == ["new"]


def test_failure_reaches_the_failure_callback_as_the_exception(qtbot: QtBot, runner: JobRunner) -> None:
    errors = []

    def work(report: ProgressCallback, cancelled: CancelCheck) -> object:
        raise CtsegError("/nowhere", "path does not exist")

    with qtbot.waitSignal(runner.changed, check_params_cb=lambda: not runner.running("x")):
        runner.start("x", work, on_success=pytest.fail, on_failure=errors.append)
    assert [str(e) for e in errors] == ["/nowhere: path does not exist"]


def test_shutdown_cancels_and_waits_for_every_thread(qtbot: QtBot, runner: JobRunner) -> None:
    seen_cancel = threading.Event()

    def work(report: ProgressCallback, cancelled: CancelCheck) -> object:
        while not cancelled():
            threading.Event().wait(0.005)
        seen_cancel.set()

    job = runner.start("x", work, on_success=pytest.fail, on_failure=pytest.fail)
    runner.shutdown()
    assert seen_cancel.is_set() and job.isFinished()
