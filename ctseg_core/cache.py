"""Where ctseg keeps files it can rebuild or recover: preprocessed slices, phantoms, autosaves."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$CTSEG_CACHE``, else ``~/.cache/ctseg``."""
    return Path(os.environ.get("CTSEG_CACHE", Path.home() / ".cache" / "ctseg"))
