"""Run one ``ctseg`` command line: parse, run the command, turn any failure into an exit code."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO

from ctseg_core.cli.exits import EXIT_CANCELLED, EXIT_ERROR, report_failure
from ctseg_core.cli.parser import build_parser
from ctseg_core.errors import Cancelled


def main(argv: Sequence[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    """Run one command; ``parser`` is a front end's extended parser (default: the headless one).

    Exit codes: 0 done, 1 some patients of a batch failed, 2 a ctseg error (message on stderr),
    3 an internal error (traceback in a log file), 130 cancelled.
    """
    with _printable_streams():
        args = (parser or build_parser()[0]).parse_args(argv)
        debug = bool(getattr(args, "debug", False))
        try:
            return int(args.run(args))
        except (Cancelled, KeyboardInterrupt):
            print("ctseg: cancelled", file=sys.stderr)
            return EXIT_CANCELLED
        except BrokenPipeError:  # ``ctseg info --json | head``: the reader left, nothing to report
            _silence_stdout()
            return EXIT_ERROR
        except Exception as error:
            return report_failure(error, debug)


@contextmanager
def _printable_streams() -> Iterator[None]:
    """stdout and stderr that print any path: bytes that are not valid in the stream's encoding
    (a file name with byte 0xff) come out backslash-escaped instead of raising UnicodeEncodeError."""
    saved: list[tuple[TextIO, str | None]] = []
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:
            continue
        try:
            saved.append((stream, stream.errors))
            reconfigure(errors="backslashreplace")
        except (ValueError, OSError, AttributeError):
            saved.pop()
    try:
        yield
    finally:
        for stream, errors in saved:
            with contextlib.suppress(ValueError, OSError):
                stream.reconfigure(errors=errors)  # type: ignore[attr-defined]  # sys.stdout is typed TextIO; the real one is a TextIOWrapper


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
