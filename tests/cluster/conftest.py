"""A Dask cluster of two worker processes on loopback, started once for these tests and always closed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")  # closed when its module ends: no worker outlives these tests
def cluster() -> Iterator[Any]:
    """``LocalCluster`` of 2 single-threaded worker processes; a task whose worker dies is retried once
    (``allowed-failures``: 1, 3 by default), so a patient that kills every worker it meets fails after two."""
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        local = LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        )
    try:
        yield local
    finally:
        local.close()


@pytest.fixture
def client(cluster: Any) -> Iterator[Any]:
    """A client of the cluster, its two workers up (a test may have killed one)."""
    from distributed import Client

    with Client(cluster, set_as_default=False) as connected:
        connected.wait_for_workers(2, timeout=60)
        yield connected
