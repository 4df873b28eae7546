"""Test-wide settings: Qt runs offscreen, real-data tests find ../shared/data, and the marks that
select the fast suite (``-m "not slow and not real_data and not gl"``) are set here.

Marks (registered in pyproject.toml, ``--strict-markers``):
- ``gl``: every test under tests/gui3d (it needs an OpenGL platform);
- ``real_data``: every test that uses the ``ircad_root`` fixture, the one way to the real patients;
- ``slow``: every test that uses a fixture in :data:`SLOW_FIXTURES`; every case of a grid over the 48
  axis layouts except the named ones (the fast suite keeps those 9); and the tests marked by hand
  (TensorFlow in a subprocess, exhaustive layout grids, full-size phantoms: about a second or more on
  2 cores). A test that imports TensorFlow in this process without the mark fails, saying so: the
  fast suite never loads TensorFlow.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Generator, Sequence
from pathlib import Path
from types import ModuleType

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
IRCAD_ROOT = REPO.parent / "shared" / "data" / "3Dircadb1"
GL_TESTS = Path(__file__).resolve().parent / "gui3d"

#: Fixtures that make a test ``slow``: they build, train or load a Keras model, or are heavy.
SLOW_FIXTURES = (
    "tiny_model",  # trains a small U-Net (tests/core) or builds one (tests/gui)
    "base_model",  # builds a U-Net to fine-tune (tests/gui/test_improve_model.py)
    "opened",  # the viewer with a 12-slice 512×512 patient open: about 0.5 s a test, most of the GUI's time
    "phantom_dir",  # loads a 32-slice 512×512 phantom
)
#: The fixture that hands out the real patients: a test using it is ``real_data``.
REAL_DATA_FIXTURES = ("ircad_root",)
#: Packages only a ``slow`` test may import.
TENSORFLOW = ("tensorflow", "keras")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if GL_TESTS in item.path.parents:
            item.add_marker(pytest.mark.gl)
        if any(name in item.fixturenames for name in REAL_DATA_FIXTURES):
            item.add_marker(pytest.mark.real_data)
        if any(name in item.fixturenames for name in SLOW_FIXTURES) or _an_unnamed_layout(item):
            item.add_marker(pytest.mark.slow)


def _an_unnamed_layout(item: pytest.Item) -> bool:
    """A case of a layout grid whose layout is not one of the named ones (the fast suite keeps those)."""
    from ctseg_core.synth.variants import NAMED_LAYOUTS, Layout

    params = getattr(getattr(item, "callspec", None), "params", {})
    named = {layout.ornt for layout in NAMED_LAYOUTS.values()}  # the grids name their layouts otherwise
    return any(isinstance(value, Layout) and value.ornt not in named for value in params.values())


class TensorFlowWatch(importlib.abc.MetaPathFinder):
    """While a test without the ``slow`` mark runs, importing TensorFlow or Keras is refused and noted."""

    def __init__(self) -> None:
        self.active = False
        self.asked: set[str] = set()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if self.active and fullname.split(".")[0] in TENSORFLOW:
            self.asked.add(fullname)
            raise ImportError(f"{fullname}: a test that loads TensorFlow must be marked slow", name=fullname)
        return None

    def check(self, item: pytest.Item) -> None:
        """Fail ``item`` where it asked for TensorFlow (even where it caught the ImportError)."""
        asked, self.asked = sorted(self.asked), set()
        if asked:
            pytest.fail(
                f"{item.nodeid} imports {', '.join(asked)} but is not marked slow: add @pytest.mark.slow "
                "(the fast suite, -m 'not slow', never loads TensorFlow)",
                pytrace=False,
            )


WATCH = TensorFlowWatch()
sys.meta_path.insert(0, WATCH)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    WATCH.asked.clear()
    WATCH.active = item.get_closest_marker("slow") is None
    try:
        return (yield)
    finally:
        WATCH.check(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    try:
        return (yield)
    finally:
        WATCH.active = False
        WATCH.check(item)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    WATCH.active = False  # also where setup failed and the call never ran


@pytest.fixture(scope="session")
def ircad_root() -> Path:
    """The real 3D-IRCADb-01 patients, or a skip saying why."""
    if not IRCAD_ROOT.is_dir():
        pytest.skip(f"real data absent: {IRCAD_ROOT} not found (CI provides ../shared/data)")
    return IRCAD_ROOT


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 64-slice phantom patient in the IRCAD layout, shared by the session (read-only use)."""
    from ctseg_core.synth.phantom import write_phantom

    return write_phantom(tmp_path_factory.mktemp("phantom") / "patient", seed=3, slices=32)
