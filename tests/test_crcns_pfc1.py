"""`convert crcns-pfc1` / `read_crcns_pfc1` on raw sessions written in the pfc-1 layout."""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alrnn_neuro.cli.app import main
from alrnn_neuro.data.crcns_pfc1 import INPUT_NAMES, read_crcns_pfc1
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.data.schema import validate_dataset
from alrnn_neuro.errors import FileFormatError

REPO = Path(__file__).resolve().parents[1]
WINDOW, BIN = (-0.25, 0.3), 0.05


def fixtures_module():
    spec = importlib.util.spec_from_file_location("pfc1fx", REPO / "scripts/make_pfc1_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FX = fixtures_module()


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    return FX.write_crcns_session(tmp_path_factory.mktemp("crcns"))


@pytest.fixture(scope="module")
def converted(raw, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "r.h5"
    main(
        [
            "convert",
            "crcns-pfc1",
            str(raw["folder"]),
            "--unit-db",
            str(raw["unit_db"]),
            "--out",
            str(out),
        ]
    )
    return validate_dataset(load_dataset(out))


def expected_counts(spikes: pd.DataFrame, units: list[int], stim: np.ndarray) -> np.ndarray:
    """Independent reference: np.histogram of each unit's spikes on each trial's bin edges."""
    edges = stim[:, None] + WINDOW[0] + np.arange(12)[None, :] * BIN
    out = np.zeros((stim.size, 11, len(units)), np.int64)
    for j, unit in enumerate(units):
        times = spikes.loc[spikes["unit"] == unit, "time"].to_numpy()
        for i in range(stim.size):
            out[i, :, j] = np.histogram(times, edges[i])[0]
    return out


def expected_choice(row) -> str:
    other = "right" if row.correct_side == "left" else "left"
    if row.outcome == "wrong_port":
        return other
    if row.outcome == "hit":
        return row.correct_side if row.go_or_nogo == "go" else "withhold"
    return "withhold" if row.go_or_nogo == "go" else row.correct_side


def test_counts_units_and_trials_equal_the_fixture(raw, converted):
    ds, trials = converted, raw["trials"]
    kept = trials[~trials.is_munged & (trials.outcome != "future_trial")]
    assert ds["trial"].values.tolist() == kept.index.tolist()  # munged 5 and the last dropped
    included = raw["unit_rows"].query("session_name == @FX.RAW_SESSION and include")
    units = sorted(included["unum"].tolist())
    assert ds["unum"].values.tolist() == units and set(ds["area"].values) == {"A1"}
    assert ds.sizes["time"] == 11 and ds.attrs["bin_size"] == BIN
    np.testing.assert_allclose(ds["time"].values, WINDOW[0] + (np.arange(11) + 0.5) * BIN)
    assert ds["valid"].values.all()  # the 2-3 s inter-trial gaps never clip this window
    stim = kept["stim_onset"].to_numpy()
    np.testing.assert_array_equal(ds["spikes"].values, expected_counts(raw["spikes"], units, stim))


def test_labels_follow_the_spec_table(raw, converted):
    kept = raw["trials"].loc[converted["trial"].values]
    assert converted["choice"].values.tolist() == [expected_choice(r) for r in kept.itertuples()]
    np.testing.assert_array_equal(converted["stim_name"].values, kept["stim_name"])
    np.testing.assert_array_equal(converted["correct"].values, kept["outcome"] == "hit")
    rule = np.where(kept["correct_side"] == "left", "local", "pitch")  # fixture: LB left, PB right
    np.testing.assert_array_equal(converted["rule"].values, rule)
    np.testing.assert_allclose(converted["rt"].values, kept["cpoke_stop"] - kept["stim_onset"])
    mixed = ~kept["stim_name"].str.endswith(("_go", "_no")).to_numpy()
    assert (converted["cue_trial"].values == ~mixed).all()
    side = kept["stim_name"].str[:2].map({"le": "left", "ri": "right"}).fillna("")
    np.testing.assert_array_equal(converted["location"].values[mixed], side[mixed])


def test_inputs_and_epochs_on_the_task_events(raw, converted):
    kept = raw["trials"].loc[converted["trial"].values]
    centres = converted["time"].values
    assert list(converted["input"].values) == list(INPUT_NAMES)
    for i, row in enumerate(kept.itertuples()):
        stim_bins = (centres >= 0) & (centres < row.cpoke_stop - row.stim_onset)
        hold_bins = (centres >= row.cpoke_start - row.stim_onset) & (centres < 0)
        epoch = converted["epoch"].values[i]
        assert (epoch[stim_bins] == "stimulus").all() and (epoch[hold_bins] == "hold").all()
        drive = converted["inputs"].sel(trial=row.Index)
        name = row.stim_name
        for channel, on in (
            ("left_noise", name.startswith("le")),
            ("right_noise", name.startswith("ri")),
            ("high_pitch", "hi" in name.split("_")[:2]),
            ("low_pitch", "lo" in name.split("_")[:2]),
        ):
            np.testing.assert_array_equal(drive.sel(input=channel).values, stim_bins & on)
        np.testing.assert_array_equal(drive.sel(input="hold").values, hold_bins)


@pytest.mark.parametrize("timings", ["events", "trials_info"])
def test_timings_from_events_or_trials_info_give_the_same_bins(tmp_path, converted, timings):
    raw = FX.write_crcns_session(tmp_path, timings=timings)
    assert not (raw["folder"] / "trial_timings").exists()
    ds = read_crcns_pfc1(raw["folder"], unit_db=raw["unit_db"])
    common = np.intersect1d(ds["trial"].values, converted["trial"].values)
    assert common.size >= converted.sizes["trial"] - 1
    for name in ("spikes", "epoch", "inputs"):
        np.testing.assert_array_equal(
            ds[name].sel(trial=common).values, converted[name].sel(trial=common).values
        )


def test_klustakwik_fallback_and_all_clusters_without_unit_db(tmp_path):
    raw = FX.write_crcns_session(tmp_path, spike_format="klustakwik")
    assert not list(raw["folder"].glob("klusters0/*.kkp"))
    ds = read_crcns_pfc1(raw["folder"])
    units = sorted(raw["spikes"]["unit"].unique())
    assert ds["unum"].values.tolist() == units and ds["group"].values.tolist() == [
        u // 100 for u in units
    ]
    stim = raw["trials"].loc[ds["trial"].values, "stim_onset"].to_numpy()
    np.testing.assert_array_equal(ds["spikes"].values, expected_counts(raw["spikes"], units, stim))
    assert "every cluster" in ds.attrs["unit_selection"]


def test_authors_filter_keeps_hits_nonrandom_0_mixed(raw):
    ds = read_crcns_pfc1(raw["folder"], trial_filter="authors")
    kept = raw["trials"].loc[ds["trial"].values]
    assert (kept["outcome"] == "hit").all() and (kept["nonrandom"] == 0).all()
    assert not kept["stim_name"].str.endswith(("_go", "_no")).any() and 9 not in ds["trial"]


def test_payload_in_the_spike_pickle_exits_2_and_never_runs(tmp_path, capsys):
    raw = FX.write_crcns_session(tmp_path / "in", n_cycles=1)
    target = tmp_path / "made_by_payload"

    class Payload:
        def __reduce__(self):
            return (open, (str(target), "w"))

    kkp = next(raw["folder"].glob("klusters0/*.kkp"))
    kkp.write_bytes(pickle.dumps({"unit": np.arange(3), "time": Payload()}, protocol=2))
    out = tmp_path / "r.h5"
    with pytest.raises(SystemExit) as caught:
        main(["convert", "crcns-pfc1", str(raw["folder"]), "--out", str(out)])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and err.count("\n") == 1
    assert kkp.name in err and "refused to load" in err and "io.open" in err
    assert not target.exists() and not list(tmp_path.glob("*.h5*"))


def test_unknown_stim_name_names_file_trial_value(tmp_path):
    raw = FX.write_crcns_session(tmp_path)
    info = pd.read_csv(raw["folder"] / "trials_info", index_col=0)
    info.loc[7, "stim_name"] = "le_xx_pc"
    info.to_csv(raw["folder"] / "trials_info")
    with pytest.raises(FileFormatError, match=r"trials_info: stim_name of trial 7 is 'le_xx_pc'"):
        read_crcns_pfc1(raw["folder"])


def test_outcomes_outside_the_three_and_orphan_timing_rows_are_dropped(tmp_path):
    raw = FX.write_crcns_session(tmp_path)
    info = pd.read_csv(raw["folder"] / "trials_info", index_col=0)
    info.loc[12, "outcome"] = "short_cpoke"
    info.drop(index=20).to_csv(raw["folder"] / "trials_info")
    ds = read_crcns_pfc1(raw["folder"])
    assert 12 not in ds["trial"].values and 20 not in ds["trial"].values
    assert 11 in ds["trial"].values and ds.sizes["trial"] == len(info) - 4


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"bin_size": 0.0}, r"bin_size=0.0 s must be > 0; fix"),
        ({"window": (50.0, 60.0)}, r"window=\(50.0, 60.0\) s around stim onset holds no .*fix"),
        ({"trial_filter": "hits"}, r"trial_filter='hits'; fix: one of \['all', 'authors'\]"),
        ({"window": (0.3, -0.25)}, r"window=.*fix"),
        ({"all_units": True}, r"all_units=True selects among the units of unit_db.*--unit-db"),
    ],
)
def test_bad_options_are_config_errors(raw, options, message):
    """Each bad option is named with its value and a fix."""
    from alrnn_neuro.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        read_crcns_pfc1(raw["folder"], **options)


def test_a_window_after_stim_onset_bins_the_same_spikes_as_a_histogram(raw):
    """A stimulus-only window (stim onset outside it) converts; counts equal np.histogram."""
    window = (0.1, 0.4)
    ds = read_crcns_pfc1(raw["folder"], unit_db=raw["unit_db"], window=window)
    stim = raw["trials"].loc[ds["trial"].values, "stim_onset"].to_numpy()
    edges = stim[:, None] + window[0] + np.arange(7)[None, :] * BIN
    for j, unit in enumerate(ds["unum"].values):
        times = raw["spikes"].loc[raw["spikes"]["unit"] == unit, "time"].to_numpy()
        counts = np.stack([np.histogram(times, e)[0] for e in edges])
        np.testing.assert_array_equal(ds["spikes"].values[:, :, j], counts)
    assert ds.sizes["time"] == 6 and ds["valid"].values.all()


def test_a_window_into_the_next_trial_drops_the_trials_it_leaves_no_bin(raw, caplog):
    """Trials whose own time holds no whole bin of the window are dropped with a warning;
    the rest keep only the bins before the next trial's centre poke."""
    trials = raw["trials"]
    window = (2.0, 2.6)
    with caplog.at_level("WARNING", logger="alrnn_neuro.data.crcns_pfc1"):
        ds = read_crcns_pfc1(raw["folder"], unit_db=raw["unit_db"], window=window)
    ordered = trials.sort_values("stim_onset")
    next_poke = ordered["cpoke_start"].shift(-1).reindex(trials.index).fillna(np.inf)
    room = next_poke - trials["stim_onset"]  # s from stim onset to the next centre poke
    selected = read_crcns_pfc1(raw["folder"], unit_db=raw["unit_db"])["trial"].values
    fits = room.loc[selected] >= window[0] + BIN - 1e-9
    assert 0 < (~fits).sum() < fits.sum()  # the fixture's gaps make this window drop some
    kept = ds["trial"].values
    np.testing.assert_array_equal(kept, selected[fits.to_numpy()])
    n_valid = ds["valid"].sum("time").values
    expected = np.minimum(12, np.floor((room.loc[kept].to_numpy() - window[0]) / BIN + 1e-9))
    np.testing.assert_array_equal(n_valid, expected)
    assert f"dropped {(~fits).sum()} of {selected.size} trials" in caplog.text
