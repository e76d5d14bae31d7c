"""Progress displays fed by the library's callbacks: epochs of a fit, cells of a sweep.

The library reports progress only through callbacks (``fit(callback=...)``,
``run_sweep(progress=...)``) and logging. These displays turn the callbacks into something a
person sees, and are used where a person asked for them: the CLI, and ``fit(...,
progress=True)`` / ``ALRNN(progress=True)`` in a notebook. Where the output is a terminal
(or a Jupyter notebook with ``ipywidgets``) a rich progress bar is drawn; elsewhere (a batch
job's log file, a notebook without ``ipywidgets``) one plain line is written every
``interval`` seconds and at the end, so a log shows how far a job got and how long it has
left. :func:`for_command_line` picks the CLI's: a bar on stderr, or lines on stdout.
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

#: seconds between two plain progress lines
DEFAULT_INTERVAL = 10.0


def draws_bars(console: Console) -> bool:
    """True where ``console`` can redraw a bar in place (a terminal, or Jupyter with ipywidgets)."""
    if console.is_jupyter:
        return importlib.util.find_spec("ipywidgets") is not None
    return console.is_terminal and not console.is_dumb_terminal


def for_command_line(display: type[ProgressDisplay], **options: Any) -> ProgressDisplay:
    """A display for a command-line program: a bar on stderr where stderr is a terminal, else
    plain lines on stdout (the job's log), so that stderr holds nothing but errors.

    Examples
    --------
    >>> for_command_line(EpochProgress).bar  # under a test runner, stderr is no terminal
    False
    """
    stderr = Console(stderr=True)
    if draws_bars(stderr):
        return display(stderr, bar=True, **options)
    return display(Console(), bar=False, **options)


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class ProgressDisplay:
    """One counted task (``done`` of ``total``) shown as a bar or as periodic plain lines.

    Parameters
    ----------
    label : str
        What is counted, e.g. ``"epoch"`` or ``"cells"``.
    console : rich.console.Console, optional
        Where to draw (default: a console on stdout, which is the notebook in Jupyter).
    interval : float
        Seconds between plain lines (no effect on bars).
    bar : bool, optional
        Force a bar (True) or plain lines (False); default: :func:`draws_bars`.
    """

    def __init__(
        self,
        label: str,
        console: Console | None = None,
        *,
        interval: float = DEFAULT_INTERVAL,
        bar: bool | None = None,
    ) -> None:
        self.label = label
        self.console = console if console is not None else Console()
        self.interval = float(interval)
        self.bar = draws_bars(self.console) if bar is None else bar
        self._progress: Progress | None = None
        self._task: Any = None
        self._started = self._last_line = 0.0
        self._first_done = 0
        self._shown: tuple[int, int] | None = None

    def update(self, done: int, total: int, detail: str = "") -> None:
        """Show that ``done`` of ``total`` are finished; ``detail`` is extra text (losses)."""
        now = time.perf_counter()
        if not self._started:
            self._started, self._first_done = now, done
        if self.bar:
            self._update_bar(done, total, detail, self._eta(now, done, total))
        else:
            self._update_lines(now, done, total, detail)

    def _eta(self, now: float, done: int, total: int) -> str:
        """Time left at the pace since the first update (``-`` before any progress)."""
        if done >= total:
            return "0:00:00"
        elapsed = now - self._started
        rate = (done - self._first_done) / elapsed if elapsed > 0 else 0.0
        return _clock((total - done) / rate) if rate > 0 else "-"

    def note(self, text: str) -> None:
        """Print one line (above the bar, if one is drawn)."""
        self.console.print(text, highlight=False, markup=False, soft_wrap=True)

    def _update_bar(self, done: int, total: int, detail: str, eta: str) -> None:
        if self._progress is None:
            self._progress = Progress(
                TextColumn(f"[bold]{escape(self.label)}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                TextColumn("eta {task.fields[eta]}"),
                console=self.console,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=total, detail="", eta="-")
        self._progress.update(
            self._task, total=total, completed=done, detail=escape(detail), eta=eta
        )

    def _update_lines(self, now: float, done: int, total: int, detail: str) -> None:
        due = now - self._last_line >= self.interval or done >= total or self._shown is None
        if not due or self._shown == (done, total):
            return
        self._last_line, self._shown = now, (done, total)
        elapsed = f"elapsed {_clock(now - self._started)}"
        parts = [
            f"{self.label} {done}/{total}",
            detail,
            elapsed,
            f"eta {self._eta(now, done, total)}",
        ]
        self.note("  ".join(p for p in parts if p))

    def stop(self, *, erase: bool = False) -> None:
        """Close the bar (idempotent); ``erase`` removes it from the screen."""
        if self._progress is not None:
            if erase:
                self._progress.live.transient = True
            self._progress.stop()
            self._progress = None


class EpochProgress(ProgressDisplay):
    """Epochs of a fit: pass it as ``fit(..., callback=EpochProgress())``.

    Each call takes the callback's dict (``epoch``, ``epochs``, ``train_loss``, ``val_loss``,
    ``best_epoch``; lists for an ensemble, whose best member is shown).
    """

    def __init__(self, console: Console | None = None, **options: Any) -> None:
        super().__init__("epoch", console, **options)

    def __call__(self, info: dict[str, Any]) -> None:
        """Show one finished epoch."""
        train, val, best = info["train_loss"], info["val_loss"], info["best_epoch"]
        if isinstance(val, list):  # an ensemble: the member with the lowest val loss
            k = min(range(len(val)), key=lambda i: val[i])
            train, val, best = train[k], val[k], best[k]
        detail = f"train {train:.4f}  val {val:.4f}  best {best}"
        self.update(int(info["epoch"]), int(info["epochs"]), detail)


class CellProgress(ProgressDisplay):
    """Cells of a sweep (or of each sweep of a reproduction): ``run_sweep(progress=...)``.

    Each call takes the sweep's progress dict (``sweep``, ``done``, ``total``, ``cells`` just
    finished, ``dashboard``); a new ``sweep`` folder starts a new count.
    """

    def __init__(self, console: Console | None = None, **options: Any) -> None:
        super().__init__("cells", console, **options)
        self._sweep: str | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        """Show the sweep's finished cells and the time left."""
        if event.get("sweep") != self._sweep:
            self.stop()
            self._sweep = event.get("sweep")
            self._started, self._shown = 0.0, None
            self.note(f"sweep {self._sweep}: {event['done']} of {event['total']} cells done")
        if event.get("dashboard"):
            self.note(f"dask dashboard: {event['dashboard']}")
        self.update(int(event["done"]), int(event["total"]))
