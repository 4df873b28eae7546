"""The ``ctseg`` console script: the core's headless commands plus ``view`` and ``demo``.

Qt is imported only when ``view`` or ``demo`` runs, so ``ctseg info`` and ``ctseg segment`` stay headless,
also in an install without the ``gui`` extra (batch and cluster workers), where ``view`` and ``demo`` say
which extra to install instead of failing with a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import sys
from collections.abc import Iterator, Sequence

from ctseg_core.cli import build_parser
from ctseg_core.cli import main as core_main
from ctseg_core.errors import CtsegError

#: ``--layout`` choices (the values of ``ctseg_gui.plane_view.layout.Layout``; listed here to keep Qt unimported).
LAYOUTS = ("axial", "coronal", "sagittal", "1x3", "2x2")

#: What the ``gui`` extra installs and the viewer cannot start without (PyOpenGL only turns the 3D view on).
GUI_PACKAGES = ("PySide6", "pyqtgraph")


def _absent(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is None
    except (ImportError, ValueError):
        return True


@contextlib.contextmanager
def _gui_installed(command: str) -> Iterator[None]:
    """Turn the viewer's failed import into one line naming the extra to install, where the extra is missing."""
    try:
        yield
    except ImportError as error:
        missing = [package for package in GUI_PACKAGES if _absent(package)]
        if not missing:
            raise
        raise CtsegError(
            None,
            f"`ctseg {command}` needs the viewer's packages, which this install lacks ({', '.join(missing)}): "
            "install ctseg[gui] (python3 -m pip install 'ctseg[gui]', or '.[gui]' in a checkout)",
        ) from error


def _cmd_view(args: argparse.Namespace) -> int:
    from ctseg_core.model.registry import resolve_model

    model = str(resolve_model(args.model)) if args.model else None  # an unknown name fails before Qt starts
    with _gui_installed("view"):
        from ctseg_gui.app import run_viewer

    if args.db and not args.cohort:
        raise CtsegError(None, "--db goes with --cohort (ctseg view --cohort --db FILE)")
    return run_viewer(
        args.path,
        segment=args.segment,
        screenshot=args.screenshot,
        model=model,
        layout=args.layout,
        cohort=args.cohort,
        db=args.db,
    )


def _cmd_demo(args: argparse.Namespace) -> int:
    with _gui_installed("demo"):
        from ctseg_gui.app import run_demo

    return run_demo()


def full_parser() -> argparse.ArgumentParser:
    """The core parser with the viewer's commands added."""
    parser, commands = build_parser()
    view = commands.add_parser("view", help="open the viewer (optionally on PATH)")
    view.add_argument("path", nargs="?")
    view.add_argument("--segment", action="store_true", help="segment once the patient is open")
    view.add_argument("--screenshot", help="save a grab of the window to FILE and exit")
    view.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="axial",
        help="views shown: one plane, the three planes (1x3) or the planes and 3D (2x2); default axial",
    )
    view.add_argument("--model", help="model file or registered name (see ctseg models; default: bundled)")
    view.add_argument("--cohort", action="store_true", help="show the cohort browser (the series ctseg index found)")
    view.add_argument("--db", help="the cohort database (default: $CTSEG_DB, else the user data folder's)")
    view.set_defaults(run=_cmd_view)

    demo = commands.add_parser("demo", help="open the viewer on a synthetic phantom patient")
    demo.set_defaults(run=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ctseg`` console script."""
    return core_main(argv, parser=full_parser())


if __name__ == "__main__":
    sys.exit(main())
