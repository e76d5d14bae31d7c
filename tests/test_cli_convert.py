"""`alrnn-neuro convert` end to end: good input writes a file, bad input exits 2, writes none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alrnn_neuro.cli.app import main
from alrnn_neuro.data.h5 import load_dataset


def write_event_tables(folder, *, stim=(0.2, 1.2), n_units=2):
    folder.mkdir(exist_ok=True)
    trials = pd.DataFrame(
        {"start": [0.0, 1.0], "stim_on": list(stim), "stop": [0.9, 1.9], "rule": ["a", "b"]}
    )
    rng = np.random.default_rng(0)
    spikes = pd.DataFrame(
        {"unit": rng.choice([f"n{i}" for i in range(n_units)], 60), "time": rng.random(60) * 1.9}
    )
    trials.to_csv(folder / "trials.csv", index=False)
    spikes.to_csv(folder / "spikes.csv", index=False)
    return folder


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as caught:
        main(args)
    return caught.value.code, capsys.readouterr().err


def test_convert_events_writes_a_canonical_file(tmp_path, capsys):
    folder = write_event_tables(tmp_path / "events")
    out = tmp_path / "out.h5"
    main(
        [
            "convert",
            "events",
            str(folder),
            "--out",
            str(out),
            "--align",
            "stim_on",
            "--window",
            "-0.2,0.6",
            "--bin-size",
            "0.1",
            "--epochs",
            "start, stim_on",  # spaces after commas, as people type lists
        ]
    )
    ds = load_dataset(out)
    assert dict(ds.sizes)["trial"] == 2 and ds.sizes["time"] == 8 and ds.sizes["unit"] == 2
    assert set(np.unique(ds.epoch.values[ds.valid.values])) <= {"start", "stim_on"}
    assert list(ds.rule.values) == ["a", "b"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--bin-size", "0"], "bin_size"),
        (["--bin-size", "-0.1"], "bin_size"),
        (["--align", "reward"], "reward"),
        (["--window", "1,0"], "--window"),
        (["--window", "abc"], "--window"),
    ],
)
def test_convert_events_bad_options_exit_2_and_leave_nothing(tmp_path, capsys, extra, message):
    folder = write_event_tables(tmp_path / "events")
    out = tmp_path / "out" / "x.h5"
    code, err = run_cli(["convert", "events", str(folder), "--out", str(out), *extra], capsys)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert not out.exists()
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_convert_events_out_of_order_events(tmp_path, capsys):
    folder = write_event_tables(tmp_path / "events", stim=(0.95, 1.2))
    out = tmp_path / "x.h5"
    code, err = run_cli(
        [
            "convert",
            "events",
            str(folder),
            "--out",
            str(out),
            "--align",
            "stim_on",
            "--epochs",
            "start,stim_on",
        ],
        capsys,
    )
    assert code == 2 and "stim_on" in err and not out.exists()


def test_convert_missing_input(tmp_path, capsys):
    out = tmp_path / "x.h5"
    code, err = run_cli(["convert", "events", str(tmp_path / "nope"), "--out", str(out)], capsys)
    assert code == 2 and "nope" in err and not out.exists()


def test_convert_nwb_rejects_non_nwb(tmp_path, capsys):
    bogus = tmp_path / "bogus.nwb"
    bogus.write_text("plain text")
    out = tmp_path / "x.h5"
    code, err = run_cli(["convert", "nwb", str(bogus), "--out", str(out)], capsys)
    assert code == 2 and "bogus.nwb" in err and not out.exists()


def test_convert_roitman_rejects_folder_without_mat(tmp_path, capsys):
    out = tmp_path / "x.h5"
    code, err = run_cli(["convert", "roitman-fd", str(tmp_path), "--out", str(out)], capsys)
    assert code == 2 and ".mat" in err and not out.exists()


def test_convert_roitman_real_file_unknown_event(shared_data, tmp_path, capsys):
    source = shared_data / "roitman2002_fd_monkeyB" / "all_b_fd.tar.gz"
    out = tmp_path / "x.h5"
    code, err = run_cli(
        ["convert", "roitman-fd", str(source), "--out", str(out), "--align", "dots"], capsys
    )
    assert code == 2 and "dots" in err and "ston" in err and not out.exists()


def test_convert_nwb_round_trip_through_cli(tmp_path, tiny_dataset):
    from alrnn_neuro.data.nwb import write_nwb

    write_nwb(tiny_dataset, tmp_path / "session.nwb")
    out = tmp_path / "from_nwb.h5"
    main(["convert", "nwb", str(tmp_path / "session.nwb"), "--out", str(out)])
    back = load_dataset(out)
    assert np.array_equal(back.trial.values, tiny_dataset.trial.values)
    assert np.array_equal(back.unit.values, tiny_dataset.unit.values)
    assert np.array_equal(back.epoch.values, tiny_dataset.epoch.values)
    assert np.array_equal(back.spikes.values, tiny_dataset.spikes.values)
