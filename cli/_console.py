"""Console helpers shared by the command groups: one rich console for output, one for errors, tables and
step progress."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def print_error(message: str) -> None:
    """``error: message`` on stderr, verbatim (``[...]`` in a message is text, not Rich markup)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Table:
    """A rich table; numeric-looking columns are right-aligned."""
    out = Table(title=title, title_justify="left")
    for i, name in enumerate(columns):
        numeric = all(_looks_numeric(r[i]) for r in rows) and rows
        out.add_column(name, justify="right" if numeric else "left")
    for row in rows:
        out.add_row(*(str(v) for v in row))
    return out


def _looks_numeric(value: object) -> bool:
    text = str(value).replace(",", "").replace("%", "").strip()
    try:
        float(text)
    except ValueError:
        return False
    return True


@contextmanager
def steps(total: int, description: str) -> Iterator[callable]:
    """A progress bar over named steps; yields ``advance(step_name)``."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=total)
        started = {"first": True}

        def advance(name: str) -> None:
            if not started["first"]:
                progress.advance(task)
            started["first"] = False
            progress.update(task, description=f"{description}: {name}")

        yield advance
        progress.update(task, completed=total, description=f"{description}: done")
