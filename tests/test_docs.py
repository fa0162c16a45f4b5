"""The docs: a short README, docs/cli.md generated from the parser, and every
relative link in README.md and docs/ pointing at a file (and heading) that exists."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from device import clidoc
from device.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
CLI_MD = REPO / "docs" / "cli.md"
# [text](target) outside code; images too. Targets with a scheme are not ours.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _pages() -> list[Path]:
    return [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").rglob("*.md"))]


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to '-'."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def _commands(parser: argparse.ArgumentParser, prefix: str = ""):
    """(command, its parser) for the program and every subcommand, recursively."""
    yield prefix.strip(), parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, f"{prefix} {name}")


def missing_from(parser: argparse.ArgumentParser, text: str) -> list[str]:
    """Every command and option string of `parser` that `text` never names."""
    missing = []
    for command, sub in _commands(parser):
        if command and f"`{parser.prog} {command}`" not in text:
            missing.append(command)
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            for option in action.option_strings:
                if not re.search(rf"`{re.escape(option)}[` ]", text):
                    missing.append(f"{command} {option}".strip())
    return missing


def test_the_readme_is_short_and_starts_with_the_two_commands():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode("utf-8")) < 15_000, "README.md is 15 KB or more: move text to docs/"
    first = re.search(r"\A# Hinge Mirror\n\n```sh\n(.*?)```", readme, re.S)
    assert first, "README.md must open with its title, then the two commands in a code block"
    lines = [line.split("#")[0].strip() for line in first.group(1).splitlines()]
    assert lines == ["make run", "make test"]


def test_docs_cli_md_is_the_page_the_parser_generates():
    assert CLI_MD.read_text(encoding="utf-8") == clidoc.render(), (
        "docs/cli.md is stale: run `python -m device.clidoc > docs/cli.md`")


def test_every_command_and_option_of_the_parser_is_in_docs_cli_md():
    assert missing_from(build_parser(), CLI_MD.read_text(encoding="utf-8")) == []


def test_an_option_the_page_does_not_name_is_found_missing():
    """The check above can fail: a parser with one more option and one more
    command than the page says is reported, by name."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub.choices["run"].add_argument("--brand-new-option", help="not in the page")
    sub.add_parser("brand-new-command", help="not in the page")
    missing = missing_from(parser, CLI_MD.read_text(encoding="utf-8"))
    assert missing == ["run --brand-new-option", "brand-new-command"]
    assert "--brand-new-option" in clidoc.render(parser)


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_points_at_a_file_and_heading_that_exist(page: Path):
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`\n]*`", "", text)  # a link inside inline code is no link
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, file:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no file {dest.relative_to(REPO)}")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.relative_to(REPO)}")
    assert broken == [], f"{page.relative_to(REPO)}: {broken}"
