"""Where ctseg keeps its own files: the cache (what it can rebuild or recover: preprocessed slices,
phantoms, autosaves) and the user data folder (what it cannot: the user's models, the cohort database)."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$CTSEG_CACHE``, else ``~/.cache/ctseg``."""
    return Path(os.environ.get("CTSEG_CACHE", Path.home() / ".cache" / "ctseg"))


def user_data_dir() -> Path:
    """``$XDG_DATA_HOME/ctseg``, else ``~/.local/share/ctseg`` (it need not exist yet)."""
    data_home = os.environ.get("XDG_DATA_HOME")
    base = Path(data_home).expanduser() if data_home else Path.home() / ".local" / "share"
    return base / "ctseg"
