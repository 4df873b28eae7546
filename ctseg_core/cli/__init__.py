"""The headless ``ctseg`` commands (info, phantom, segment, export, train, models); no Qt is ever imported here.

``ctseg_gui.cli`` adds ``view`` and ``demo`` to this parser and is the console script, so the core
never imports the GUI, while ``ctseg info`` and ``ctseg segment`` still run without a display.

Where things are: :mod:`~ctseg_core.cli.parser` holds every command's arguments,
one module per command runs it (:mod:`~ctseg_core.cli.info`, :mod:`~ctseg_core.cli.segment`, …),
:mod:`~ctseg_core.cli.entry` runs one command line and :mod:`~ctseg_core.cli.exits` maps what
went wrong to an exit code and one line on stderr.
"""

from __future__ import annotations

from ctseg_core.cli.entry import main
from ctseg_core.cli.exits import (
    EXIT_CANCELLED,
    EXIT_ERROR,
    EXIT_FAILED_PATIENTS,
    EXIT_INTERNAL,
    EXIT_OK,
    as_user_error,
)
from ctseg_core.cli.parser import build_parser, positive_int

__all__ = [
    "EXIT_CANCELLED",
    "EXIT_ERROR",
    "EXIT_FAILED_PATIENTS",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "as_user_error",
    "build_parser",
    "main",
    "positive_int",
]
