"""``alrnn-neuro convert {events,nwb,pynapple,roitman-fd,study-pfc1,crcns-pfc1} INPUT``: -> h5."""

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
from alrnn_neuro.data.crcns_pfc1 import read_crcns_pfc1
from alrnn_neuro.data.event_files import AttributeOverrideWarning, load_events
from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.data.nwb import read_nwb
from alrnn_neuro.data.pynapple_io import from_pynapple, read_pynapple_npz
from alrnn_neuro.data.roitman import convert_roitman
from alrnn_neuro.data.roitman_files import EVENTS as ROITMAN_EVENTS
from alrnn_neuro.data.study_pfc1 import read_study_pfc1
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
    bin_size: float = typer.Option(
        None, "--bin-size", help="Bin width (s); default: the file's bin_size, else 0.05."
    ),
    align: str = typer.Option(
        None, "--align", help="Event that defines time zero; default: the file's, else start."
    ),
    window: str = typer.Option(
        None, "--window", help="'START,STOP' (s) around --align; default: the file's, or all."
    ),
    epochs: str = typer.Option(None, "--epochs", help="Ordered event names that start epochs."),
    smooth: float = typer.Option(None, "--smooth", help="Gaussian sigma (s): output rates."),
    input_specs: list[str] = typer.Option(
        None,
        "--input",
        help="Task input NAME=SPEC, e.g. 'go=pulse(go)', 'motion=value(coh, stim_on, stim_off)'"
        "; repeat for more (see docs/dataset-format.md).",
    ),
    spike_clock: str = typer.Option(
        None, "--spike-clock", help="'session' or 'trial' (spike times from trial start)."
    ),
    overwrite: bool = OVERWRITE,
) -> None:
    """Bin spike-time tables + a trial event table into aligned sequences with epochs.

    Options the recording declares (HDF5 root attributes, attrs.json) are used unless a flag
    is given; a flag that overrides a declared value is reported.
    """
    refuse_existing_file(out, overwrite)
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AttributeOverrideWarning)
        ds = load_events(
            input,
            bin_size=bin_size,
            align=align,
            window=parse_window(window),
            epochs=names_list(epochs),
            inputs=parse_input_flags(input_specs),
            spike_clock=spike_clock,
            smooth_sigma=smooth,
        )
    console = Console(stderr=True)
    for warning in caught:
        if issubclass(warning.category, AttributeOverrideWarning):
            console.print(f"[yellow]warning:[/] {warning.message}", highlight=False)
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    _write(ds, out)


def parse_input_flags(flags: list[str] | None) -> dict[str, str] | None:
    """Parse repeated ``--input NAME=SPEC`` flags into ``{name: spec}``."""
    specs: dict[str, str] = {}
    for flag in flags or []:
        name, sep, spec = flag.partition("=")
        if not sep or not name.strip() or not spec.strip():
            raise ConfigError(
                f"--input {flag!r} is not NAME=SPEC; fix: e.g. --input 'go=pulse(go)'"
            )
        if name.strip() in specs:
            raise ConfigError(
                f"--input {name.strip()!r} is given twice ({specs[name.strip()]!r} and "
                f"{spec.strip()!r}); fix: one --input per channel, each with its own name"
            )
        specs[name.strip()] = spec.strip()
    return specs or None


def names_list(text: str | None) -> list[str] | None:
    """A comma-separated option as a list of names, spaces around each name removed.

    Examples
    --------
    >>> names_list("fix_on, stim_on,response")
    ['fix_on', 'stim_on', 'response']
    >>> names_list(None) is None
    True
    """
    return [name.strip() for name in text.split(",")] if text else None


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
    trials: str = typer.Option(
        "trials", "--trials", help="TimeIntervals table whose rows are the trials."
    ),
    overwrite: bool = OVERWRITE,
) -> None:
    """Read an NWB file (trials + units, or a TimeSeries) into a canonical dataset.

    Files written by pynapple's loaders keep their intervals in named TimeIntervals tables:
    choose one with --trials NAME.
    """

    refuse_existing_file(out, overwrite)
    epoch_spec = epochs if epochs in (None, "nwb") else names_list(epochs)
    ds = read_nwb(
        input,
        bin_size=bin_size,
        align=align,
        window=parse_window(window),
        epochs=epoch_spec,
        signal=signal,
        trials=trials,
    )
    _write(ds, out)


@convert_app.command("pynapple")
@on_interrupt(_not_written)
def convert_pynapple(
    units: Path = typer.Argument(..., help="TsGroup .npz saved by pynapple (tsgroup.save)."),
    trials: Path = typer.Option(
        ...,
        "--trials",
        help="IntervalSet .npz (intervalset.save; events, labels as metadata) "
        "or a CSV trial table.",
    ),
    out: Path = OUT,
    bin_size: float = BIN_SIZE,
    align: str = typer.Option("start", "--align", help="Event column that defines time zero."),
    window: str = typer.Option(
        None, "--window", help="'START,STOP' (s) around --align; default: covers every trial."
    ),
    epochs: str = typer.Option(None, "--epochs", help="Ordered event names that start epochs."),
    input_specs: list[str] = typer.Option(
        None, "--input", help="Task input NAME=SPEC (as for convert events); repeatable."
    ),
    overwrite: bool = OVERWRITE,
) -> None:
    """Bin pynapple spike trains (TsGroup) per trial of an IntervalSet into a dataset."""
    refuse_existing_file(out, overwrite)

    group, table = read_pynapple_npz(units, trials)
    ds = from_pynapple(
        group,
        table,
        bin_size=bin_size,
        align=align,
        window=parse_window(window),
        epochs=names_list(epochs),
        inputs=parse_input_flags(input_specs),
        source=str(units),
    )
    _write(ds, out)


@convert_app.command("roitman-fd")
@on_interrupt(_not_written)
def convert_roitman_files(
    input: Path = typer.Argument(
        ..., help="all_b_fd.tar.gz (or the reaction-time tarball) or a folder of .mat files."
    ),
    out: Path = OUT,
    bin_size: float = BIN_SIZE,
    align: str = typer.Option(
        "ston", "--align", help=f"Event that is time zero: {' | '.join(ROITMAN_EVENTS)}."
    ),
    window: str = typer.Option("-0.5,1.5", "--window", help="Window 'START,STOP' (s)."),
    overwrite: bool = OVERWRITE,
) -> None:
    """Convert Roitman & Shadlen (2002) LIP recordings (pseudo-population).

    Fixed-duration (header paradigm 502) and reaction-time (602) files; any other paradigm
    is an error.
    """

    refuse_existing_file(out, overwrite)
    ds = convert_roitman(input, bin_size=bin_size, align=align, window=parse_window(window))
    _write(ds, out)


def _warned_lines(record: list) -> None:
    """Show warnings caught during a conversion as one line each."""
    console = Console(stderr=True)
    for item in record:
        console.print(f"[yellow]warning:[/] {item.message}", highlight=False, soft_wrap=True)


@convert_app.command("study-pfc1")
@on_interrupt(_not_written)
def convert_study_pfc1(
    input: Path = typer.Argument(..., help="Folder of <session>_spikes_<b>_list.pkl etc."),
    out: Path = OUT,
    session: str = typer.Option(None, "--session", help="Session name, e.g. CR12B_day4."),
    bin_width: float = typer.Option(None, "--bin-width", help="Pick this export (s)."),
    input_names: str = typer.Option(
        None, "--input-names", help="Comma-separated names of the input channels, in order."
    ),
    label_name: str = typer.Option("label", "--label-name", help="Trial coord of the labels."),
    area: str = typer.Option(None, "--area", help="Unit area (default: by the rat, CR12B: A1)."),
    aux: bool = typer.Option(True, "--aux/--no-aux", help="Attach the per-trial .npy files."),
    overwrite: bool = OVERWRITE,
) -> None:
    """Read the AL-RNN paper's binned stimulus-selection files (pickles read safely)."""
    refuse_existing_file(out, overwrite)
    import warnings

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ds = read_study_pfc1(
            input,
            session=session,
            bin_width=bin_width,
            input_names=names_list(input_names),
            label_name=label_name,
            area=area,
            aux=aux,
        )
    _warned_lines(record)
    _write(ds, out)


@convert_app.command("crcns-pfc1")
@on_interrupt(_not_written)
def convert_crcns_pfc1(
    input: Path = typer.Argument(..., help="A pfc-1 session folder data/<rat>/<session>/."),
    out: Path = OUT,
    unit_db: Path = typer.Option(
        None, "--unit-db", help="Rodgers2014 metadata/unit_db.csv: unit selection and area."
    ),
    window: str = typer.Option(
        "-0.25,0.3", "--window", help="'START,STOP' (s) around stim_onset; timecourses: -3,3."
    ),
    bin_size: float = BIN_SIZE,
    trials: str = typer.Option(
        "all", "--trials", help="'all' usable trials, or 'authors' (hits, nonrandom 0, mixed)."
    ),
    all_units: bool = typer.Option(
        False, "--all-units", help="With --unit-db: keep units whose include is False too."
    ),
    overwrite: bool = OVERWRITE,
) -> None:
    """Convert one raw CRCNS pfc-1 session (Rodgers & DeWeese 2014) around stim_onset."""
    refuse_existing_file(out, overwrite)
    import warnings

    span = parse_window(window)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ds = read_crcns_pfc1(
            input,
            unit_db=unit_db,
            window=span,
            bin_size=bin_size,
            trial_filter=trials,
            all_units=all_units,
        )
    _warned_lines(record)
    _write(ds, out)


def register(app: typer.Typer) -> None:
    """Add the ``convert`` command group to ``app``."""
    app.add_typer(convert_app, name="convert")
