"""The README's install and test commands are exactly what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_ci_runs_the_readme_install_and_test_commands() -> None:
    blocks = _bash_blocks((REPO / "README.md").read_text())
    install, test = blocks[0], blocks[2]
    assert "pip install" in install and "pytest" in test
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert install in ci and test in ci
