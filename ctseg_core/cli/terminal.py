"""What the commands show on the terminal besides their results: a progress bar on stderr."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ctseg_core.progress import ProgressCallback


@contextmanager
def progress_bar(enabled: bool) -> Iterator[ProgressCallback | None]:
    """A tqdm bar on stderr (only when stderr is a terminal), as a core progress callback."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(total=1, file=sys.stderr, leave=False, unit="file")

    def update(done: int, total: int, stage: str) -> None:
        """``total`` 0: not known yet (a count without a bar)."""
        if bar.total != (total or None) or bar.desc != stage:
            bar.reset(total=total or None)
            bar.set_description(stage)
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()
