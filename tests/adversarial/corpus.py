"""A corpus of malformed inputs and hostile outputs, each refused with one line and exit code 2.

This module holds the inputs (usage errors, malformed datasets and files, limits);
:mod:`.corpus_outputs` the hostile outputs and damaged run directories; :data:`CASES` all.

Every :class:`Case` builds its inputs inside a fresh folder (with the builders of
``builders.py``) and returns the command line to run. The runner (``test_corpus.py``) asserts,
for each: exit code 2, exactly one line on stderr that contains :attr:`Case.message`, no
traceback, and the folder exactly as the case left it (no file created, none changed, no
``.part`` debris, special files still special).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests.adversarial.builders import (
    Build,
    Case,
    Shared,
    as_signal,
    attr,
    bad_utf8_labels,
    binned_file,
    canonical,
    coord,
    empty_file,
    events_file,
    events_folder,
    events_folder_with_text_time,
    fifo,
    inputs_with_names,
    plain,
    set,
    spikes_group,
    tar_bomb,
    text_file,
    text_spike_times,
    truncated,
    unwritten_chunks,
)
from tests.adversarial.corpus_outputs import OUTPUTS, RUN_DIRS

# --- the corpus ----------------------------------------------------------------------------


def _info(make: Callable[[Path], Path]) -> Build:
    return lambda folder, shared: ["info", str(make(folder))]


def _fit(make: Callable[[Path], Path], *extra: str) -> Build:
    return lambda folder, shared: [
        "fit",
        str(make(folder)),
        "--out",
        str(folder / "out"),
        "--epochs",
        "1",
        *extra,
    ]


def _with_toml(text: str) -> Build:
    def build(folder: Path, shared: Shared) -> list[str]:
        toml = folder / "fit.toml"
        toml.write_text(text)
        return ["fit", str(shared.dataset), "--config", str(toml), "--out", str(folder / "out")]

    return build


USAGE = [
    Case("unknown command", lambda f, s: ["fitt"], "No such command 'fitt'"),
    Case("unknown option", lambda f, s: ["fit", str(s.dataset), "--epoch", "5"], "--epochs"),
    Case("bad integer", lambda f, s: ["fit", str(s.dataset), "--epochs", "five"], "--epochs"),
    Case("missing argument", lambda f, s: ["fit"], "Missing argument"),
    Case("missing option", lambda f, s: ["rsa", str(s.run_a)], "--conditions"),
    Case("unknown subcommand", lambda f, s: ["simulate", "nope"], "No such command"),
    Case("option without value", lambda f, s: ["sweep", "copy", "--out"], "--out"),
    Case("negative count", lambda f, s: ["analyze", str(s.run_a), "--n-null", "-1"], "--n-null"),
    Case(
        "seed of 2**63",
        lambda f, s: ["simulate", "task", "copy", "--seed", str(2**63), "--out", str(f / "x")],
        "--seed",
    ),
    Case(
        "seed of 2**64 for fit",
        lambda f, s: ["fit", str(s.dataset), "--seed", str(2**64), "--out", str(f / "x")],
        "--seed",
    ),
    Case(
        "100000 workers",
        lambda f, s: ["sweep", "copy", "--workers", "100000", "--out", str(f / "x")],
        "--workers",
    ),
    Case(
        "unknown choice of --by",
        lambda f, s: [
            "rsa",
            str(s.run_a),
            "--conditions",
            "rule",
            "--by",
            "phase",
            "--out",
            str(f / "o"),
        ],
        "by",
    ),
]

DATASETS = [
    Case("not HDF5", _info(text_file), "not an HDF5 file"),
    Case("empty file", _info(empty_file), "not an HDF5 file"),
    Case("truncated HDF5", lambda f, s: ["info", str(truncated(f, s))], "truncated"),
    Case("folder as dataset", lambda f, s: ["info", str(f)], "not a regular file"),
    Case("missing dataset", lambda f, s: ["info", str(f / "nope.h5")], "no such file"),
    Case("fifo as dataset", _info(fifo), "not a regular file"),
    Case("no valid variable", _fit(canonical(lambda ds: ds.drop_vars("valid"))), "'valid'"),
    Case(
        "duplicate trial ids",
        _fit(canonical(coord("trial", lambda ds: [0, 1, 2, 2, 4, 5]))),
        "trial ids repeat",
    ),
    Case(
        "duplicate unit ids",
        _fit(canonical(coord("unit", lambda ds: ["a", "a", "b"]))),
        "unit ids repeat",
    ),
    Case(
        "string trial ids",
        _fit(canonical(coord("trial", lambda ds: list("abcdef")))),
        "integer trial ids",
    ),
    Case(
        "NaN in time",
        _fit(canonical(coord("time", lambda ds: np.r_[np.nan, ds["time"].values[1:]]))),
        "'time' holds NaN",
    ),
    Case(
        "time not increasing",
        _fit(canonical(coord("time", lambda ds: ds["time"].values[::-1]))),
        "not strictly increasing",
    ),
    Case("bin_size inf", _fit(canonical(attr("bin_size", np.inf))), "bin_size"),
    Case("bin_size text", _fit(canonical(attr("bin_size", "fast"))), "bin_size"),
    Case(
        "nothing observed",
        _fit(canonical(set("observed", slice(None), False))),
        "'observed' is False",
    ),
    Case(
        "2**40 spikes in a bin",
        _fit(canonical(set("spikes", (0, 0, 0), 2**40))),
        "spikes in one bin",
    ),
    Case(
        "signal of 1e300",
        _fit(canonical(lambda ds: set("signal", (0, 0, 0), 1e300)(as_signal(ds)))),
        "beyond",
    ),
    Case("zero trials", _fit(canonical(lambda ds: ds.isel(trial=[]))), "0 trials"),
    Case("zero units", _fit(canonical(lambda ds: ds.isel(unit=[]))), "0 units"),
    Case("negative counts", _fit(canonical(set("spikes", (0, 0, 0), -2))), "negative"),
    Case("NaN input", _fit(canonical(set("inputs", (0, 0, 0), np.nan))), "NaN"),
    Case("inputs of 1e30", _fit(canonical(set("inputs", (0, 0, 0), 1e30))), "rescale"),
    Case(
        "plain: bin_size text", _info(plain(lambda f: binned_file(f, bin_size="fast"))), "bin_size"
    ),
    Case(
        "plain: bin_size negative",
        _info(plain(lambda f: binned_file(f, bin_size=-1.0))),
        "bin_size",
    ),
    Case(
        "plain: window of 3 numbers",
        _info(plain(lambda f: events_file(f, window=[0, 1, 2]))),
        "window",
    ),
    Case("plain: window a scalar", _info(plain(lambda f: events_file(f, window=1.0))), "window"),
    Case("plain: invalid UTF-8 label", _info(plain(bad_utf8_labels)), "UTF-8"),
    Case(
        "plain: unknown epoch event",
        _info(plain(lambda f: events_file(f, epochs=np.array(["stim_on", "bell"], "S")))),
        "bell",
    ),
    Case(
        "plain: epochs as numbers", _info(plain(lambda f: events_file(f, epochs=[1, 2]))), "epochs"
    ),
    Case(
        "plain: 2-D spikes", _info(plain(lambda f: binned_file(f, np.ones((4, 6), "i4")))), "dims"
    ),
    Case(
        "plain: unknown layout",
        _info(plain(lambda f: f.attrs.__setitem__("layout", "weird"))),
        "layout",
    ),
    Case(
        "plain: layout an int array",
        _info(plain(lambda f: f.attrs.__setitem__("layout", [1, 2]))),
        "layout",
    ),
    Case(
        "plain: trial_lengths out of range",
        _info(
            plain(lambda f: (binned_file(f), f.create_dataset("trial_lengths", data=[9, 1, 1, 1])))
        ),
        "trial_lengths",
    ),
    Case("memory bomb: 2 GB of unwritten chunks", _info(plain(unwritten_chunks)), "declare"),
    Case(
        "plain: trials a dataset, not a group",
        _info(plain(lambda f: (binned_file(f), f.create_dataset("trials", data=np.zeros(4))))),
        "/trials is a Dataset, not a group",
    ),
    Case(
        "plain: fewer input_names than channels",
        _info(plain(inputs_with_names(2, ["a"]))),
        "'inputs' has 2 channels but input_names lists 1",
    ),
    Case(
        "plain: spikes a group",
        _info(plain(spikes_group)),
        "'spikes' is a group",
    ),
    Case(
        "plain: spikes as text",
        _info(plain(lambda f: binned_file(f, np.full((4, 6, 2), b"1", "S1")))),
        "'spikes' holds |S1 values",
    ),
    Case(
        "plain: complex spikes",
        _info(plain(lambda f: binned_file(f, np.ones((4, 6, 2), complex)))),
        "'spikes' holds complex128 values",
    ),
    Case(
        "plain: spike times as text",
        _info(plain(text_spike_times)),
        "spike_times/n0 holds |S3 values that are not numbers",
    ),
    Case(
        "HDF5 without a layout and without data: one line, no library warning",
        _info(plain(lambda f: f.create_dataset("foo", data=[1, 2]))),
        "exactly one of 'spikes' or 'signal'",
    ),
]

LIMITS = [
    Case(
        "events: bin size of 1e-7 s",
        lambda f, s: ["info", str(plain(events_file)(f)), "--bin-size", "1e-7"],
        "bins per trial",
    ),
    Case(
        "convert: window of 2e9 s",
        lambda f, s: [
            "convert",
            "events",
            str(events_folder(f)),
            "--window",
            "-1e9,1e9",
            "--out",
            str(f / "x.h5"),
        ],
        "bins per trial",
    ),
    Case(
        "convert: infinite window",
        lambda f, s: [
            "convert",
            "events",
            str(events_folder(f)),
            "--window",
            "-inf,inf",
            "--out",
            str(f / "x.h5"),
        ],
        "finite",
    ),
    Case(
        "convert: a spike time that is not a number",
        lambda f, s: [
            "convert",
            "events",
            str(events_folder_with_text_time(f)),
            "--out",
            str(f / "x.h5"),
        ],
        "the spike table's column 'time' holds 'abc', not a number",
    ),
    Case(
        "convert: smoothing SD of 1e9 s",
        lambda f, s: [
            "convert",
            "events",
            str(events_folder(f)),
            "--smooth",
            "1e9",
            "--out",
            str(f / "x.h5"),
        ],
        "is longer than the window",
    ),
    Case(
        "convert: one --input name twice",
        lambda f, s: [
            "convert",
            "events",
            str(events_folder(f)),
            "--input",
            "c=pulse(go)",
            "--input",
            "c=value(go)",
            "--out",
            str(f / "x.h5"),
        ],
        "--input 'c' is given twice",
    ),
    Case(
        "convert: archive member of 64 GiB",
        lambda f, s: ["convert", "roitman-fd", str(tar_bomb(f)), "--out", str(f / "x.h5")],
        "declares",
    ),
    Case("toml: threads = 100000", _with_toml("threads = 100000\n"), "threads"),
    Case("toml: latent_dim = 2**40", _with_toml(f"latent_dim = {2**40}\n"), "latent_dim"),
    Case("toml: seed = 2**64", _with_toml(f"seed = {2**64}\n"), "seed"),
    Case("toml: not TOML", _with_toml("latent_dim = = 3\n"), "not valid TOML"),
    Case(
        "toml: the dataset (binary) given as --config",
        lambda f, s: ["fit", str(s.dataset), "--config", str(s.dataset), "--out", str(f / "out")],
        "not a text file (not UTF-8)",
    ),
    Case("toml: unknown key", _with_toml("latent_dims = 3\n"), "did you mean 'latent_dim'"),
]

CASES: list[Case] = USAGE + DATASETS + LIMITS + OUTPUTS + RUN_DIRS
