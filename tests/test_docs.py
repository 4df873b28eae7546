"""What the README and the documentation name exists: paths, commands and flags, images, modules, pages.

Fast and without building the site (CI builds it with ``mkdocs build --strict`` too). Each failure
names the file and the missing item. CHANGELOG.md is history: it may name what no longer exists.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from ctseg_core._version import __version__

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = REPO / "docs"
PAGES = [README, *sorted(DOCS.rglob("*.md"))]
#: A repository path starts with one of these folders (or is one of ROOT_FILES).
TOP_FOLDERS = (".ci", "benchmarks", "ctseg_core", "ctseg_gui", "docs", "resources", "tests")
ROOT_FILES = ("pyproject.toml", "README.md", "CHANGELOG.md", "mkdocs.yml")
REPO_PATH = re.compile(
    rf"^(?:(?:{'|'.join(re.escape(f) for f in TOP_FOLDERS)})(?:/[\w.\-]+)*/?|{'|'.join(ROOT_FILES)})$"
)
MODULE = re.compile(r"\b(?:ctseg_core|ctseg_gui|ctseg_resources)(?:\.[A-Za-z_]\w*)+")
#: ``ctseg`` followed by its arguments, not ``ctseg_core``, ``~/.cache/ctseg/`` or ``ctseg: error``.
COMMAND = re.compile(r"(?<![\w./$-])ctseg[ \t]+([^\n]*)")
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"(`+)(.+?)\1", re.S)
LINK = re.compile(r"(!?)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


@dataclass(frozen=True)
class Code:
    """One piece of code in a page: a fenced block (with its language) or an inline span."""

    page: Path
    text: str
    language: str | None  # None for inline code


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


@cache
def _code(page: Path) -> tuple[Code, ...]:
    text = page.read_text(encoding="utf-8")
    blocks = [Code(page, match.group(2), match.group(1)) for match in FENCE.finditer(text)]
    prose = FENCE.sub("", text)
    spans = [Code(page, match.group(2).strip(), None) for match in INLINE.finditer(prose)]
    return (*blocks, *spans)


def _all_code() -> Iterator[Code]:
    for page in PAGES:
        yield from _code(page)


def _tokens(text: str) -> list[str]:
    return [token.strip("\"'()[],;") for token in text.split()]


@cache
def _hooks() -> ModuleType:
    """docs/hooks.py, which walks the parser for the CLI reference: the same walk checks the pages."""
    spec = importlib.util.spec_from_file_location("ctseg_docs_hooks", DOCS / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- paths, links and images ---------------------------------------------------------------------


def test_every_repository_path_named_exists() -> None:
    missing = set()
    for code in _all_code():
        for token in _tokens(code.text):
            if REPO_PATH.match(token) and not (REPO / token).exists():
                missing.add(f"{_rel(code.page)}: {token}")
    assert not missing, "paths named in the docs that are not in the checkout:\n" + "\n".join(sorted(missing))


def _links(page: Path) -> Iterator[tuple[bool, str]]:
    prose = FENCE.sub("", page.read_text(encoding="utf-8"))
    for match in LINK.finditer(prose):
        yield match.group(1) == "!", match.group(2)


def test_every_relative_link_and_image_resolves() -> None:
    broken = []
    for page in PAGES:
        for is_image, target in _links(page):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # a web address or an anchor on the same page
            resolved = (page.parent / target.split("#")[0]).resolve()
            if not resolved.exists() or REPO not in resolved.parents:
                broken.append(f"{_rel(page)}: {'image' if is_image else 'link'} {target}")
            elif is_image and not resolved.is_file():
                broken.append(f"{_rel(page)}: image {target} is not a file")
    assert not broken, "links and images that resolve to nothing in the checkout:\n" + "\n".join(broken)


def test_images_are_the_committed_screenshots_of_phantoms() -> None:
    """Pictures come from docs/ only (made from synthetic phantoms; the IRCAD data's licence forbids them)."""
    outside = [
        f"{_rel(page)}: {target}"
        for page in PAGES
        for is_image, target in _links(page)
        if is_image and (page.parent / target).resolve().parent != DOCS
    ]
    assert not outside, "images from outside docs/:\n" + "\n".join(outside)


def test_every_page_is_in_the_site_navigation() -> None:
    config = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    nav = set(re.findall(r"[\w\-/]+\.md", config.split("\nnav:", 1)[1]))
    pages = {str(page.relative_to(DOCS)) for page in DOCS.rglob("*.md")}
    assert not nav - pages, f"mkdocs.yml's nav names pages that do not exist: {sorted(nav - pages)}"
    assert not pages - nav, f"pages missing from mkdocs.yml's nav: {sorted(pages - nav)}"


# --- commands and flags --------------------------------------------------------------------------


def _command_problems(arguments: str, where: str) -> list[str]:
    """What in ``ctseg <arguments>`` the real parser does not know: the sub-command, a flag, a choice."""
    hooks = _hooks()
    parser = hooks.ctseg_parser()
    commands = hooks.subcommands(parser)
    arguments = re.split(r"&&|;|\s\|\s|\s>", arguments)[0]
    tokens = [t.rstrip("…") for t in _tokens(arguments)]
    current, options, problems = parser, hooks.option_strings(parser), []
    for index, token in enumerate(tokens):
        if not token:
            continue
        if token.startswith("-"):
            flag = token.split("=")[0]
            if flag not in options:
                problems.append(f"{where}: `ctseg … {flag}`: no such flag of `{current.prog}`")
                continue
            choices = next((a.choices for a in current._actions if flag in a.option_strings and a.choices), None)
            value = tokens[index + 1] if index + 1 < len(tokens) else ""
            placeholder = not value or value.startswith("-") or value.isupper() or "\\|" in value
            if choices and not placeholder and value not in choices:
                problems.append(f"{where}: `{current.prog} {flag} {value}`: not one of {list(choices)}")
        elif commands:  # the sub-command at this level (``ctseg pacs`` has its own: ``ctseg pacs find``)
            if token not in commands:
                problems.append(f"{where}: `{current.prog} {token}`: no such sub-command (known: {sorted(commands)})")
                break
            current = commands[token]
            commands, options = hooks.subcommands(current), hooks.option_strings(current)
    return problems


def test_every_ctseg_command_and_flag_named_exists() -> None:
    problems, seen = [], 0
    for code in _all_code():
        for line in code.text.splitlines():
            for match in COMMAND.finditer(line):
                seen += 1
                problems += _command_problems(match.group(1), _rel(code.page))
    assert seen > 50, f"only {seen} ctseg commands found in the docs: is the pattern still right?"
    assert not problems, "commands in the docs that the parser rejects:\n" + "\n".join(sorted(set(problems)))


def test_the_command_check_catches_what_is_wrong() -> None:
    assert _command_problems("segment PATH --format nifti --report", "x") == []
    assert _command_problems("--debug segment PATH", "x") == []
    assert _command_problems("view --layout 2x2", "x") == []
    assert _command_problems("segmnt PATH", "x")
    assert _command_problems("segment PATH --no-such-flag", "x")
    assert _command_problems("view --layout 3x3", "x")


# --- modules -------------------------------------------------------------------------------------


def _resolves(dotted: str) -> bool:
    """Whether ``a.b.c`` is a module, or an attribute of the longest importable module prefix."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


def _python_imports(source: str) -> Iterator[str]:
    """``module`` and ``module.name`` for each import statement of a Python block."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_every_python_module_named_imports() -> None:
    named: dict[str, str] = {}
    for page in PAGES:
        for match in re.finditer(r"^::: *([\w.]+)", page.read_text(encoding="utf-8"), flags=re.M):
            named.setdefault(match.group(1), _rel(page))  # mkdocstrings API directives
    for code in _all_code():
        for match in MODULE.finditer(code.text):
            named.setdefault(match.group(0), _rel(code.page))
        if code.language == "python":
            for name in _python_imports(code.text):
                named.setdefault(name, _rel(code.page))
    missing = [f"{page}: {name}" for name, page in sorted(named.items()) if not _resolves(name)]
    assert len(named) > 10, f"only {len(named)} modules found in the docs: is the pattern still right?"
    assert not missing, "modules and names in the docs that do not import:\n" + "\n".join(missing)


# --- the generated pages -------------------------------------------------------------------------


def test_the_cli_reference_lists_every_command_and_visible_flag() -> None:
    hooks = _hooks()
    parser = hooks.ctseg_parser()
    page = hooks.cli_reference_markdown(parser)
    for name, command in hooks.subcommands(parser).items():
        assert f"## ctseg {name}" in page
        for action in command._actions:
            if action.help != argparse.SUPPRESS and not isinstance(action, argparse._HelpAction):
                assert all(f"`{option}`" in page for option in action.option_strings), action.option_strings


def test_the_model_card_page_renders_the_shipped_card() -> None:
    hooks = _hooks()
    card = json.loads(hooks.CARD_PATH.read_text(encoding="utf-8"))
    page = hooks.model_card_markdown(card)
    assert f"**{card['validation']['mean_dice']:.3f}**" in page
    assert all(patient in page for patient in card["training"]["patients"])
    assert card["licence"] in page


@pytest.mark.parametrize("marker", ["CLI_MARKER", "CARD_MARKER", "TREE_MARKER", "CONTRACTS_MARKER"])
def test_every_generation_marker_is_used_once_and_replaced(marker: str) -> None:
    hooks = _hooks()
    text = getattr(hooks, marker)
    pages = [page for page in DOCS.rglob("*.md") if text in page.read_text(encoding="utf-8")]
    assert len(pages) == 1, f"{text} is in {len(pages)} pages"
    rendered = hooks.on_page_markdown(pages[0].read_text(encoding="utf-8"), None, None, None)
    assert text not in rendered and len(rendered) > 500


# --- the README ----------------------------------------------------------------------------------


def _bash_blocks(page: Path) -> list[str]:
    return [code.text.strip() for code in _code(page) if code.language == "bash"]


def test_readme_is_a_front_door_with_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 120
    demo, test = _bash_blocks(README)  # exactly two commands
    assert "pip install" in demo and demo.endswith("ctseg demo")
    assert "pip install" in test and "pytest" in test


def test_ci_runs_the_readme_install_and_test_commands() -> None:
    demo, test = _bash_blocks(README)
    install = demo.split("&&")[0].strip()
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert install in ci, f".ci/run does not run the README's install command: {install}"
    assert test in ci, f".ci/run does not run the README's test command: {test}"
    assert shlex.split(test)[:3] == ["python3", "-m", "pip"]


def test_no_lab_notebook_in_the_readme_or_the_docs() -> None:
    notebook = re.compile(r"\bsession \d+|\bthis machine\b|\bthis session\b", re.I)
    found = [f"{_rel(page)}: {m.group(0)!r}" for page in PAGES for m in notebook.finditer(page.read_text("utf-8"))]
    assert not found, "history belongs in CHANGELOG.md:\n" + "\n".join(found)


def test_changelog_has_a_section_for_the_current_version() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(__version__)}\]", changelog, flags=re.M), __version__
