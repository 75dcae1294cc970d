"""How the command line writes: results on standard output, errors on standard error, never
wrapped at the terminal's width.

Rich wraps at 80 columns when the output is a pipe or a file, which breaks a request id or a
JSON answer copied from it; so every line is printed whole (`soft_wrap`), and a table is a Rich
table only on a terminal, tab-separated lines otherwise (what `cut` and `grep` expect), under a
`# title` line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NoReturn

import typer
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """One red line on standard error (never read as Rich markup: it may quote an answer), then
    stop with `code`."""
    err.print(Text(message, style="red"), highlight=False)
    raise typer.Exit(code)


def print_json_text(text: str) -> None:
    """A JSON answer, indented; an answer that is not JSON as it came."""
    try:
        out.print_json(text)
    except ValueError:  # json.JSONDecodeError: not a hub's answer, show it as it is
        out.print(text, markup=False, highlight=False)


def print_rows(
    title: str, header: Sequence[str], rows: Iterable[Sequence[str]], first: bool = True
) -> None:
    """A Rich table on a terminal; otherwise `# title`, the header (both only when `first`, not
    on the pages after it) and one line per row, tab-separated."""
    if not out.is_terminal:  # written as it is: Rich would turn the tabs into spaces
        lines = [f"# {title}", "\t".join(header)] if first else []
        lines += [
            "\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in row) for row in rows
        ]
        out.file.write("".join(f"{line}\n" for line in lines))
        out.file.flush()
        return
    # Every column but the last is kept whole (ids, codes, dates); the last one folds.
    last = len(header) - 1
    table = Table(
        *(Column(name, no_wrap=i < last, overflow="fold") for i, name in enumerate(header)),
        title=title,
    )
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    out.print(table)
