"""``alrnn-neuro convert {events,nwb,roitman-fd} INPUT --out FILE``: lab files → dataset.h5."""

from __future__ import annotations

import math
from pathlib import Path

import typer
import xarray as xr
from rich.console import Console
from rich.markup import escape

from alrnn_neuro.cli.interrupts import on_interrupt
from alrnn_neuro.cli.options import OVERWRITE
from alrnn_neuro.cli.outputs import refuse_existing_file
from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.errors import ConfigError

convert_app = typer.Typer(help="Convert lab recordings into a canonical dataset.h5.")

OUT = typer.Option(..., "--out", "-o", help="Output dataset.h5 (written atomically).")
BIN_SIZE = typer.Option(0.05, "--bin-size", help="Bin width in seconds.")
WINDOW = typer.Option(
    None, "--window", help="Window 'START,STOP' in seconds relative to --align (e.g. -0.5,1.5)."
)


def parse_window(text: str | None) -> tuple[float, float] | None:
    """Parse ``"START,STOP"`` into a pair of floats (seconds), or ``None``."""
    if text is None:
        return None
    parts = text.split(",")
    try:
        start, stop = (float(p) for p in parts)
    except (ValueError, TypeError):
        raise ConfigError(
            f"--window={text!r} is not 'START,STOP'; fix: two numbers in seconds, e.g. -0.5,1.5"
        ) from None
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise ConfigError(f"--window={text!r}: START and STOP must be finite, e.g. -0.5,1.5")
    if not stop > start:
        raise ConfigError(f"--window={text!r}: STOP must be after START, e.g. -0.5,1.5")
    return start, stop


def _write(ds: xr.Dataset, out: Path) -> None:
    save_dataset(ds, out)
    Console().print(
        f"wrote [bold]{escape(str(out))}[/]: {ds.sizes['trial']} trials × {ds.sizes['time']} "
        f"bins × {ds.sizes['unit']} units; see `alrnn-neuro info {escape(str(out))}`",
        highlight=False,
    )


def _not_written(out: Path, **_: object) -> str:
    return f"{out} was not written; run the same command again"


@convert_app.command("events")
@on_interrupt(_not_written)
def convert_events(
    input: Path = typer.Argument(..., help="Folder with spikes.csv + trials.csv, or events .h5."),
    out: Path = OUT,
    bin_size: float = BIN_SIZE,
    align: str = typer.Option("start", "--align", help="Event column that defines time zero."),
    window: str = typer.Option(
        None, "--window", help="'START,STOP' (s) around --align; default: covers every trial."
    ),
    epochs: str = typer.Option(None, "--epochs", help="Ordered event names that start epochs."),
    smooth: float = typer.Option(None, "--smooth", help="Gaussian sigma (s): output rates."),
    overwrite: bool = OVERWRITE,
) -> None:
    """Bin spike-time tables + a trial event table into aligned sequences with epochs."""
    from alrnn_neuro.data.events import bin_spike_times, covering_window, read_event_tables

    refuse_existing_file(out, overwrite)
    spike_times, trials = read_event_tables(input)
    span = parse_window(window) or covering_window(trials, align, bin_size)
    ds = bin_spike_times(
        spike_times,
        trials,
        bin_size=bin_size,
        align=align,
        window=span,
        epochs=epochs.split(",") if epochs else None,
        smooth_sigma=smooth,
        source=str(input),
    )
    _write(ds, out)


@convert_app.command("nwb")
@on_interrupt(_not_written)
def convert_nwb(
    input: Path = typer.Argument(..., help="NWB file with trials and units tables."),
    out: Path = OUT,
    bin_size: float = BIN_SIZE,
    align: str = typer.Option(None, "--align", help="Trials-table column that is time zero."),
    window: str = WINDOW,
    epochs: str = typer.Option(
        None, "--epochs", help="Ordered event names that start epochs, or 'nwb' (epochs table)."
    ),
    signal: str = typer.Option(None, "--signal", help="TimeSeries to bin as continuous data."),
    overwrite: bool = OVERWRITE,
) -> None:
    """Read an NWB file (trials + units, or a TimeSeries) into a canonical dataset."""
    from alrnn_neuro.data.nwb import read_nwb

    refuse_existing_file(out, overwrite)
    epoch_spec = epochs if epochs in (None, "nwb") else epochs.split(",")
    ds = read_nwb(
        input,
        bin_size=bin_size,
        align=align,
        window=parse_window(window),
        epochs=epoch_spec,
        signal=signal,
    )
    _write(ds, out)


@convert_app.command("roitman-fd")
@on_interrupt(_not_written)
def convert_roitman(
    input: Path = typer.Argument(..., help="all_b_fd.tar.gz or a folder of its .mat files."),
    out: Path = OUT,
    bin_size: float = BIN_SIZE,
    align: str = typer.Option("ston", "--align", help="Event: fix, trgon, ston, stoff, ..."),
    window: str = typer.Option("-0.5,1.5", "--window", help="Window 'START,STOP' (s)."),
    overwrite: bool = OVERWRITE,
) -> None:
    """Convert the Roitman & Shadlen (2002) fixed-duration LIP recordings (pseudo-population)."""
    from alrnn_neuro.data.roitman import convert_roitman_fd

    refuse_existing_file(out, overwrite)
    ds = convert_roitman_fd(input, bin_size=bin_size, align=align, window=parse_window(window))
    _write(ds, out)


def register(app: typer.Typer) -> None:
    """Add the ``convert`` command group to ``app``."""
    app.add_typer(convert_app, name="convert")
