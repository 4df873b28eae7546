"""``python -m ctseg_core.cli``: the headless commands without the console script."""

from __future__ import annotations

import sys

from ctseg_core.cli.entry import main

if __name__ == "__main__":
    sys.exit(main())
