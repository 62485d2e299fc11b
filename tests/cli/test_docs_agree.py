"""The README, the docs and the Makefile against ``--help``: every ``shopml ...`` command line they show names a
command that exists and only options that command accepts, every command and option has help text, and
every command a user can call appears in the README's command table.

The command lines are read from fenced code blocks and inline code in README.md and docs/*.md, and from the
Makefile's ``$(SHOPML)`` lines; the commands are the real click tree of :data:`cli.app`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from cli import app

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
INLINE = re.compile(r"`([^`\n]+)`")
# `shopml ...` or a path to it (`.venv/bin/shopml ...`), or the Makefile's `$(SHOPML) ...`
INVOCATION = re.compile(r"(?:^|\s)(?:\S*/)?(?:shopml|\$\(SHOPML\))\s+(\S.*)$")
SHELL_BREAKS = re.compile(r"\s(?:#|&&|\|\||;|\||>|<)\s.*$|\s#.*$")
PLACEHOLDER_END = ("...", "…", "[...]")


def command_lines() -> Iterator[tuple[str, str]]:
    """(where, the words after ``shopml``) for every command line shown to a reader."""
    for path in DOCUMENTS:
        text = path.read_text()
        for block in FENCE.findall(text):
            for line in _joined(block):
                yield from _invocation(f"{path.name} (code block)", line)
        for span in INLINE.findall(FENCE.sub("", text)):
            yield from _invocation(f"{path.name} (inline)", span)
    for line in (ROOT / "Makefile").read_text().splitlines():
        yield from _invocation("Makefile", line.strip())


def _joined(block: str) -> list[str]:
    """The block's lines with continuations joined: after a trailing backslash, or an indented line of more
    options (`    [--horizon N] [--top N]`) under a command sketch."""
    lines: list[str] = []
    for line in block.splitlines():
        continues = lines and (lines[-1].endswith("\\") or (line[:1].isspace() and line.strip()[:1] in "[-"))
        if continues and line.strip():
            lines[-1] = lines[-1].removesuffix("\\") + " " + line.strip()
        else:
            lines.append(line)
    return lines


def _invocation(where: str, text: str) -> Iterator[tuple[str, str]]:
    text = text.replace("\\|", "|")  # markdown tables escape the alternatives' bar
    for part in re.split(r"\s(?:&&|;)\s", text):
        found = INVOCATION.search(SHELL_BREAKS.sub("", part))
        if found:
            yield where, found.group(1).strip()


def words_of(line: str) -> list[str]:
    try:
        words = shlex.split(line)
    except ValueError:  # an unbalanced quote in a sketch of a command
        words = line.split()
    return [w.strip("[](),") for w in words if w.strip("[](),")]


def problems(command, words: list[str], path: tuple[str, ...] = ("shopml",)) -> list[str]:
    """What in ``words`` the click ``command`` would not accept: unknown sub-commands and options."""
    subcommands = getattr(command, "commands", None)
    if subcommands is not None and words and not words[0].startswith("-") and words[0] not in PLACEHOLDER_END:
        names = words[0].split("|")  # `train churn|value|customers`: each alternative must exist
        unknown = [n for n in names if n not in subcommands]
        if unknown:
            return [f"`{' '.join(path)}` has no command {', '.join(map(repr, unknown))} "
                    f"(it has {', '.join(sorted(subcommands))})"]
        return [p for n in names for p in problems(subcommands[n], words[1:], (*path, n))]
    # `train ... --if-missing`: the options of some command below this one
    below = [c for _, c in walk(command)] if subcommands is not None and words[:1] == ["..."] else [command]
    accepted = {"--help"} | {o for c in below for p in c.params for o in (*p.opts, *p.secondary_opts)}
    options = {w.split("=")[0].rstrip(".,:;") for w in words if re.match(r"--?[A-Za-z]", w)}
    options = {o for w in options for o in (w.split("/") if w.startswith("--") else [w])}
    return [f"`{' '.join(path)}` has no option {o} (it has {', '.join(sorted(accepted))})"
            for o in sorted(options - accepted)]


def test_documented_command_lines_are_found():
    """The extraction itself: a regression here would make the agreement test vacuous."""
    found = {line for _, line in command_lines()}
    assert len(found) >= 30
    assert any(line.startswith("experiment cupac ROWS.parquet -o OUT") for line in found)  # issue 15's
    assert "data generate --if-missing" in found  # from the Makefile
    assert "data load ../shared/data/online_retail/online_retail_I.csv.gz" in found  # from a code block


DOCUMENTED = sorted(set(command_lines()))


@pytest.mark.parametrize(("where", "line"), DOCUMENTED, ids=[f"{w}: shopml {line}" for w, line in DOCUMENTED])
def test_every_documented_command_line_is_accepted(where: str, line: str):
    found = problems(typer.main.get_command(app), words_of(line))
    assert not found, f"{where}: `shopml {line}`: " + "; ".join(found)


def test_the_checker_catches_what_issue_15_found():
    root = typer.main.get_command(app)
    assert problems(root, words_of("experiment cupak ROWS.parquet")) != []
    assert problems(root, words_of("experiment cupac ROWS.parquet --outfile OUT")) != []
    assert problems(root, words_of("train churn|valu --force")) != []
    assert problems(root, words_of("train churn|value --force --if-missing")) == []


def walk(command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], object]]:
    yield path, command
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from walk(sub, (*path, name))


def test_every_command_and_option_has_help_text():
    missing = []
    for path, command in walk(typer.main.get_command(app)):
        if not (command.help or command.short_help):
            missing.append(f"shopml {' '.join(path)}")
        missing += [f"shopml {' '.join(path)} {p.opts[0]}" for p in command.params if not getattr(p, "help", None)]
    assert not missing, "no --help text: " + ", ".join(missing)


def test_every_command_is_in_the_readme_command_table():
    readme = (ROOT / "README.md").read_text().replace("\\|", "|")
    table = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]
    documented = {tuple(words_of(line)) for _, line in _table_lines(table)}
    missing = []
    for path, command in walk(typer.main.get_command(app)):
        if getattr(command, "commands", None) is None and not command.hidden and not any(
            _covers(words, path) for words in documented
        ):
            missing.append(" ".join(path))
    assert not missing, "commands missing from the README's command table: " + ", ".join(missing)


def _table_lines(table: str) -> Iterator[tuple[str, str]]:
    for span in INLINE.findall(table):
        yield from _invocation("README.md", span)


def _covers(words: tuple[str, ...], path: tuple[str, ...]) -> bool:
    """Whether a documented line names ``path`` (``train churn|value`` covers ``train value``)."""
    return len(words) >= len(path) and all(p in w.split("|") for p, w in zip(path, words, strict=False))
