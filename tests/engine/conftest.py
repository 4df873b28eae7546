"""Model-process tests: a stand-in model (no runtime) unless a test is marked slow and loads the real one."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ctseg_core.engine import ModelProcess
from ctseg_core.engine.shared_array import NAME_PREFIX
from ctseg_core.engine.stand_in import SECONDS_ENV

STAND_IN = "ctseg_core.engine.stand_in:load_stand_in"


def own_segments() -> list[str]:
    """Shared-memory segments this test process created and did not unlink."""
    return sorted(p.name for p in Path("/dev/shm").glob(f"{NAME_PREFIX}{os.getpid()}_*"))


@pytest.fixture
def leaked_segments() -> Callable[[], list[str]]:
    return own_segments


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModelProcess]:
    """A started model process serving the stand-in model at 0.02 s a slice."""
    monkeypatch.setenv(SECONDS_ENV, "0.02")
    with ModelProcess(loader=STAND_IN) as process:
        yield process
    assert own_segments() == []
