"""mkdocs hooks: pages generated at build time from the code and data they describe, never hand copies.

Two markers are replaced in a page's Markdown:

- ``<!-- generated: cli-reference -->``: every ``ctseg`` command and flag, from the real parser;
- ``<!-- generated: model-card -->``: the bundled model's card, from ``resources/models/liver_unet.card.json``;
- ``<!-- generated: package-tree -->``: the packages and top-level modules with their docstrings' first lines;
- ``<!-- generated: import-contracts -->``: the import-linter contracts of ``pyproject.toml``.

Docstrings on the API pages use Sphinx roles (``:class:`~x.Y```); :func:`on_page_content` shows them as code.

``tests/test_docs.py`` imports this file too (without mkdocs), so the docs' command check and the CLI
reference walk the parser the same way.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CARD_PATH = REPO / "resources" / "models" / "liver_unet.card.json"
CLI_MARKER = "<!-- generated: cli-reference -->"
CARD_MARKER = "<!-- generated: model-card -->"
TREE_MARKER = "<!-- generated: package-tree -->"
CONTRACTS_MARKER = "<!-- generated: import-contracts -->"
#: The packages whose layout the architecture page shows.
PACKAGES = ("ctseg_core", "ctseg_gui")
#: The help text's width, so the page does not depend on the terminal that built it.
HELP_COLUMNS = "100"


def ctseg_parser() -> argparse.ArgumentParser:
    """The ``ctseg`` console script's parser (headless commands plus view and demo); imports no Qt."""
    from ctseg_gui.cli import full_parser

    return full_parser()


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Each sub-command's parser by name, in the order ``ctseg --help`` lists them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def summaries(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each sub-command's one-line help, as ``ctseg --help`` lists it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {choice.dest: choice.help or "" for choice in action._choices_actions}
    return {}


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every flag a parser accepts (``--json``, ``-h`` …), hidden ones included."""
    return {option for action in parser._actions for option in action.option_strings}


# --- the CLI reference ---------------------------------------------------------------------------


def _help_text(parser: argparse.ArgumentParser) -> str:
    """``--help`` as a terminal HELP_COLUMNS wide prints it."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        return parser.format_help().rstrip()
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def _cell(text: str) -> str:
    """Text that is safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _argument_rows(parser: argparse.ArgumentParser) -> list[str]:
    """One table row per visible argument: name, value, default, help."""
    rows = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
            continue
        name = ", ".join(f"`{option}`" for option in action.option_strings) or f"`{action.dest}`"
        if action.choices:
            value = " \\| ".join(f"`{choice}`" for choice in action.choices)
        elif action.nargs == 0:
            value = ""
        else:
            metavar = action.metavar or action.dest.upper()
            value = f"`[{metavar}]`" if action.nargs == "?" and action.option_strings else f"`{metavar}`"
            if action.nargs in ("+", "*"):
                value += " …"
        unset = action.default is None or action.default is False or action.default == argparse.SUPPRESS
        default = "" if unset else f"`{action.default}`"  # not ``in (None, False)``: 0 == False
        if action.required:
            default = "required"
        rows.append(f"| {name} | {value} | {default} | {_cell(action.help or '')} |")
    return rows


def _commands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser, str]]:
    """Each sub-command (and each of its own, as ``pacs find``) with its one-line help, in ``--help`` order."""
    found = []
    helps = summaries(parser)
    for name, command in subcommands(parser).items():
        found.append((name, command, helps.get(name, "")))
        found += [(f"{name} {sub}", parser, text) for sub, parser, text in _commands(command)]
    return found


def cli_reference_markdown(parser: argparse.ArgumentParser) -> str:
    """The reference of ``ctseg`` and each sub-command: a table of arguments and the ``--help`` text."""
    parts = [f"## ctseg\n\n```text\n{_help_text(parser)}\n```\n"]
    for name, command, summary in _commands(parser):
        parts.append(f"## ctseg {name}\n\n{summary[:1].upper()}{summary[1:]}.\n")
        parts.append(f"```text\n{command.format_usage().strip()}\n```\n")
        parts.append("| argument | value | default | meaning |\n|---|---|---|---|")
        parts.append("\n".join(_argument_rows(command)) + "\n")
        parts.append(f'??? note "`ctseg {name} --help`"\n\n    ```text\n')
        parts.append("\n".join(f"    {line}" if line else "" for line in _help_text(command).splitlines()))
        parts.append("    ```\n")
    return "\n".join(parts)


# --- the model card ------------------------------------------------------------------------------


def _number(value: Any, digits: int = 3, *, trim: bool = False) -> str:
    """A card value for a table: floats rounded (``trim``: without trailing zeros), lists joined, None a dash."""
    if value is None:
        return "—"
    if isinstance(value, float):
        text = f"{value:.{digits}f}" if abs(value) < 1e4 else f"{value:.0f}"
        return text.rstrip("0").rstrip(".") if trim and "." in text else text
    if isinstance(value, list):
        return ", ".join(_number(item, digits, trim=trim) for item in value)
    return str(value)


def _table(mapping: dict[str, Any], header: tuple[str, str] = ("field", "value")) -> str:
    rows = [f"| {header[0]} | {header[1]} |", "|---|---|"]
    rows += [
        f"| `{key}` | {_cell(_number(value, 4, trim=True))} |"
        for key, value in mapping.items()
        if not isinstance(value, dict)
    ]
    return "\n".join(rows)


def _validation_section(validation: dict[str, Any]) -> str:
    lines = [
        "## Validation",
        "",
        f"Scheme: {validation.get('scheme', '—')}. Metrics on the original CT grid after post-processing; each "
        "fold's checkpoint is its best epoch by its own validation patient's Dice (which flatters it), and the "
        "last epoch's Dice (network grid, no choice involved) stands beside it.",
        "",
        "| fold | validation patient | Dice | Jaccard | ASSD (mm) | HD95 (mm) | volume (mL) predicted / reference "
        "| best epoch | Dice at the last epoch |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for fold in validation.get("folds", []):
        for patient, metrics in fold.get("validation", {}).items():
            cells = [
                str(fold.get("fold")),
                patient,
                _number(metrics.get("dice")),
                _number(metrics.get("jaccard")),
                _number(metrics.get("assd_mm"), 2),
                _number(metrics.get("hd95_mm"), 1),
                f"{_number(metrics.get('volume_ml_pred'), 1)} / {_number(metrics.get('volume_ml_ref'), 1)}",
                str(fold.get("best_epoch", "—")),
                _number(fold.get("last_epoch_val_dice")),
            ]
            lines.append(f"| {' | '.join(cells)} |")
    lines += ["", f"Mean Dice over the folds: **{_number(validation.get('mean_dice'))}**."]
    return "\n".join(lines)


def _training_section(training: dict[str, Any]) -> str:
    seconds = training.get("seconds")
    lines = [
        "## Training",
        "",
        f"- Patients: {', '.join(training.get('patients', [])) or '—'}",
        f"- Synthetic phantoms: {', '.join(training.get('phantoms', [])) or 'none'}",
        f"- Epochs: {training.get('epochs', '—')}; seed {training.get('seed', '—')}",
    ]
    if seconds is not None:
        lines.append(f"- Wall time, folds and final model: {seconds / 60:.0f} min")
    if training.get("command"):
        lines += ["", "Command:", "", f"```\n{training['command']}\n```"]
    if training.get("config"):
        lines += ["", "### Configuration", "", _table(training["config"])]
    if training.get("software"):
        lines += ["", "### Software", "", _table(training["software"], ("package", "version"))]
    return "\n".join(lines)


def _quality_section(quality: dict[str, Any]) -> str:
    calibration = quality.get("calibration", {})
    weights = quality.get("weights", {})
    lines = [
        "## Quality estimate",
        "",
        f"`estimated_dice = {_number(quality.get('intercept'), 5)}"
        + "".join(f" {'+' if w >= 0 else '−'} {abs(w):.5f} × {name}" for name, w in weights.items())
        + "`",
        "",
        f"A scan is flagged *check this scan* below an estimate of {_number(quality.get('check_below'), 2)}.",
    ]
    if calibration:
        note = calibration.get("note")
        scalars = {key: value for key, value in calibration.items() if key != "note"}
        lines += ["", "### Calibration", "", _table(scalars)]
        if note:
            lines += ["", f'!!! note "The card\'s note"\n    {note}']
    return "\n".join(lines)


def model_card_markdown(card: dict[str, Any]) -> str:
    """The card as Markdown: sections for the fields ctseg writes, any other field as JSON."""
    known = {"input", "threshold", "architecture", "training", "validation", "licence", "quality"}
    sections = []
    if "licence" in card:
        sections.append(f'!!! warning "Licence"\n    {card["licence"]}')
    network = {**card.get("architecture", {}), "threshold": card.get("threshold")}
    sections += ["## Input", _table(card.get("input", {})), "## Network", _table(network)]
    if "training" in card:
        sections.append(_training_section(card["training"]))
    if "validation" in card:
        sections.append(_validation_section(card["validation"]))
    if "quality" in card:
        sections.append(_quality_section(card["quality"]))
    other = {key: value for key, value in card.items() if key not in known}
    if other:
        sections += ["## Other fields", f"```json\n{json.dumps(other, indent=2)}\n```"]
    return "\n\n".join(sections) + "\n"


# --- the architecture ---------------------------------------------------------------------------


def _summary_line(path: Path) -> str:
    """A module's docstring up to its first full stop (Sphinx roles and double backticks made plain)."""
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    paragraph = " ".join(docstring.split("\n\n")[0].split())
    paragraph = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", paragraph).replace("``", "`")
    return re.split(r"(?<=\.)\s", paragraph, maxsplit=1)[0]


def package_tree_markdown(root: Path = REPO, packages: tuple[str, ...] = PACKAGES) -> str:
    """For each package: its sub-packages and top-level modules, each with its docstring's first sentence."""
    parts = []
    for package in packages:
        folder = root / package
        parts += [f"### `{package}/`", "", _summary_line(folder / "__init__.py"), "", "| path | holds |", "|---|---|"]
        children = sorted(folder.iterdir(), key=lambda p: (p.is_file(), p.name))
        for child in children:
            if child.is_dir() and (child / "__init__.py").is_file():
                modules = len([p for p in child.rglob("*.py") if p.name != "__init__.py"])
                parts.append(
                    f"| `{package}/{child.name}/` ({modules} modules) | {_cell(_summary_line(child / '__init__.py'))} |"
                )
            elif child.suffix == ".py" and child.name != "__init__.py":
                parts.append(f"| `{package}/{child.name}` | {_cell(_summary_line(child))} |")
        parts.append("")
    return "\n".join(parts)


def import_contracts_markdown(pyproject: Path = REPO / "pyproject.toml") -> str:
    """The import-linter contracts, as CI checks them: each one's name, kind and modules."""
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    contracts = config.get("tool", {}).get("importlinter", {}).get("contracts", [])
    parts = []
    for contract in contracts:
        parts.append(f"**{contract['name']}** ({contract['type']})")
        parts.append("")
        if contract["type"] == "layers":
            containers = contract.get("containers")
            if containers:
                parts.append(f"Inside {', '.join(f'`{c}`' for c in containers)}, from the top:")
                parts.append("")
            parts += [
                f"{i}. {' · '.join(f'`{m.strip()}`' for m in layer.split('|'))}"
                for i, layer in enumerate(contract["layers"], 1)
            ]
        elif contract["type"] == "forbidden":
            sources = ", ".join(f"`{m}`" for m in contract["source_modules"])
            forbidden = ", ".join(f"`{m}`" for m in contract["forbidden_modules"])
            parts.append(f"{sources} never imports {forbidden}.")
        else:
            parts.append(f"```toml\n{json.dumps(contract, indent=2)}\n```")
        parts.append("")
    return "\n".join(parts)


# --- mkdocs events -------------------------------------------------------------------------------

#: A Sphinx role the docstrings use (``:class:`~ctseg_core.errors.CtsegError```), as Markdown renders it.
SPHINX_ROLE = re.compile(r":(?:mod|class|func|meth|attr|data|exc|obj):<code>(~?)([\w.]+)</code>")


def plain_roles(html: str) -> str:
    """Sphinx roles in rendered docstrings as plain code (``~`` keeps the last name only, as Sphinx does)."""
    return SPHINX_ROLE.sub(
        lambda m: f"<code>{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}</code>", html
    )


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace the generation markers in a page (mkdocs calls this for every page)."""
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference_markdown(ctseg_parser()))
    if CARD_MARKER in markdown:
        card = json.loads(CARD_PATH.read_text(encoding="utf-8"))
        markdown = markdown.replace(CARD_MARKER, model_card_markdown(card))
    if TREE_MARKER in markdown:
        markdown = markdown.replace(TREE_MARKER, package_tree_markdown())
    if CONTRACTS_MARKER in markdown:
        markdown = markdown.replace(CONTRACTS_MARKER, import_contracts_markdown())
    return markdown


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    """Tidy the rendered page: the API pages' docstrings use Sphinx roles, shown as plain code."""
    return plain_roles(html)
