"""What a command shows while the NLU loads or trains: each step as a line on stderr, and on a
terminal a progress bar with the current step and the time so far."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def nlu_progress() -> Iterator[Callable[[str], None]]:
    """A `progress` callback for `Analyzer.load_or_train`; silent when the model only loads."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True, highlight=False)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        steps: list = []

        def say(message: str) -> None:
            console.print(message, markup=False)
            if steps:
                bar.update(steps[0], description=message)
            else:
                steps.append(bar.add_task(message, total=None))

        yield say
