"""The log file of an unexpected error: its full traceback, where a user can send it."""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time
import traceback
from pathlib import Path

from ctseg_core.cache import default_cache_dir


def write_error_log(error: BaseException, context: str = "") -> Path | None:
    """Write an unexpected error's full traceback to ``<cache>/logs/ctseg-<time>-<pid>-<id>.log``.

    Falls back to the temporary folder when the cache is not writable; None when neither is.
    """
    from ctseg_core._version import __version__

    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"ctseg-{stamp}-{os.getpid()}-{secrets.token_hex(3)}.log"
    text = (
        f"ctseg {__version__}, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d %H:%M:%S %z')}\n"
        f"command: {' '.join(sys.argv)}\n"
        + (f"while {context}\n" if context else "")
        + "\n"
        + "".join(traceback.format_exception(error))
    )
    for folder in (default_cache_dir() / "logs", Path(tempfile.gettempdir()) / "ctseg-logs"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_text(text, encoding="utf-8", errors="backslashreplace")
        except OSError:
            continue
        return path
    return None
