"""What `crossroads demo` shows while it seeds (ten thousand persons take 8 to 30 seconds): a
Rich progress bar per stage on a terminal, one plain line per stage when the output is a pipe or
a file (a bar redrawn there would be noise in a log)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class LineProgress:
    """One line when a stage begins."""

    def __init__(self, console: Console) -> None:
        self._console = console

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc_info) -> None:
        pass

    def stage(self, name: str, total: int | None = None) -> None:
        count = f" ({total:,})" if total is not None else ""
        self._console.print(f"seeding {name}{count}…", markup=False, highlight=False)

    def advance(self, steps: int) -> None:
        pass


class BarProgress:
    """A bar for each stage, completed when the next one begins."""

    def __init__(self, console: Console) -> None:
        self._bars = Progress(
            TextColumn("seeding {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> "BarProgress":
        self._bars.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._finish()
        self._bars.stop()

    def stage(self, name: str, total: int | None = None) -> None:
        self._finish()
        self._task = self._bars.add_task(name, total=total if total is not None else 1)

    def advance(self, steps: int) -> None:
        if self._task is not None:
            self._bars.advance(self._task, steps)

    def _finish(self) -> None:
        if self._task is not None:
            task = self._bars.tasks[-1]
            self._bars.update(self._task, completed=task.total)


def seed_progress(console: Console) -> LineProgress | BarProgress:
    return BarProgress(console) if console.is_terminal else LineProgress(console)
