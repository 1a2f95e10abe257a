"""A progress bar on the terminal while a data file streams, and nothing at all otherwise."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

Report = Callable[[int], None]
"""Called with how far the work has got: bytes or records done so far (a total, not an increment)."""


def wants_progress(progress: bool | None) -> bool:
    """``progress`` if given, else whether standard error is a terminal (so logs and pipes stay clean)."""
    if progress is not None:
        return progress
    return sys.stderr.isatty()


@contextlib.contextmanager
def progress_bar(description: str, *, total: int | None, unit: str, enabled: bool) -> Iterator[Report]:
    """Show a bar on standard error for ``description``; yields a function to report progress with.

    ``unit`` is ``"bytes"`` (shown as sizes) or ``"records"`` (shown as counts); ``total`` may be ``None``
    when not known in advance (writing), which shows a spinner and a count.
    """
    if not enabled:
        yield _ignore
        return
    columns: list[ProgressColumn | str] = [TextColumn("{task.description}")]
    if total is None:
        columns += [SpinnerColumn(), TextColumn("{task.completed:,} " + unit), TimeElapsedColumn()]
    else:
        amount = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
        columns += [BarColumn(), amount, TimeRemainingColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(description, total=total)
        yield lambda done: bar.update(task, completed=done)


def _ignore(done: int) -> None:
    """Progress reporter for when no bar is shown."""
