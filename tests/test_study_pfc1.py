"""`convert study-pfc1` / `read_study_pfc1` on fixtures written in the paper's binned layout."""

from __future__ import annotations

import importlib.util
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alrnn_neuro.cli.app import main
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.data.schema import validate_dataset
from alrnn_neuro.data.study_pfc1 import AuxFileWarning, read_study_pfc1
from alrnn_neuro.errors import ConfigError, FileFormatError

REPO = Path(__file__).resolve().parents[1]
SESSION = "CR12B_day4"
SPIKES = f"{SESSION}_spikes_0_050_list.pkl"
INPUTS = f"{SESSION}_inputs_0_050_list.pkl"
LABELS = f"{SESSION}_labels.pkl"


def fixtures_module():
    spec = importlib.util.spec_from_file_location("pfc1fx", REPO / "scripts/make_pfc1_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FX = fixtures_module()


class OpenPayload:
    """Unpickling this runs ``builtins.open(TARGET, 'w')``, which creates the file."""

    def __init__(self, target: Path) -> None:
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


class SystemPayload(OpenPayload):
    """Unpickling this runs ``os.system('touch TARGET')``."""

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as caught:
        main([str(a) for a in args])
    return caught.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("writer", "compress"), [("joblib", 0), ("joblib", 3), ("joblib", ("gzip", 3)), ("pickle", 0)]
)
def test_converted_dataset_equals_what_the_fixture_wrote(tmp_path, writer, compress):
    written = FX.write_study_session(tmp_path / "d", writer=writer, compress=compress)
    out = tmp_path / "s.h5"
    main(["convert", "study-pfc1", str(tmp_path / "d"), "--out", str(out)])
    ds = validate_dataset(load_dataset(out))
    n = len(written["spikes"])
    assert ds.sizes["trial"] == n and ds.sizes["unit"] == written["spikes"][0].shape[0]
    assert ds.attrs["bin_size"] == 0.05 and ds.attrs["session"] == SESSION
    assert list(ds.input.values) == [f"in{i}" for i in range(8)]
    np.testing.assert_array_equal(ds["label"].values, written["labels"])
    for i, (counts, drive) in enumerate(zip(written["spikes"], written["inputs"], strict=True)):
        t_len = counts.shape[1]
        assert ds["valid"].values[i].sum() == t_len and ds["valid"].values[i, :t_len].all()
        np.testing.assert_array_equal(ds["spikes"].values[i, :t_len], counts.T)
        np.testing.assert_array_equal(ds["inputs"].values[i, :t_len], drive.T)
        assert not ds["spikes"].values[i, t_len:].any() and not ds["inputs"].values[i, t_len:].any()
    for stem, values in written["aux"].items():
        np.testing.assert_array_equal(ds[stem].values, np.asarray(values).astype(ds[stem].dtype))
    assert set(ds["area"].values) == {"A1"} and "A1" in ds.attrs["area_note"]
    assert SPIKES in ds.attrs["source_files"]


def test_options_name_inputs_and_labels(tmp_path):
    FX.write_study_session(tmp_path, aux=False)
    names = [f"ch{i}" for i in range(8)]
    ds = read_study_pfc1(tmp_path, input_names=names, label_name="outcome", area="PFC")
    assert list(ds.input.values) == names and "outcome" in ds.coords
    assert set(ds.area.values) == {"PFC"}
    with pytest.raises(ConfigError, match=r"input_names=.*8 channels"):
        read_study_pfc1(tmp_path, input_names=["a", "b"])


@pytest.mark.parametrize("name", ["n_bins", "area", "trial", "unit", "spikes"])
def test_a_label_name_of_a_coord_the_reader_writes_is_refused(tmp_path, name):
    """--label-name must not replace the trial lengths, the unit areas or a dim."""
    FX.write_study_session(tmp_path, aux=False)
    with pytest.raises(ConfigError, match=rf"label_name='{name}' is not usable as a trial coord"):
        read_study_pfc1(tmp_path, label_name=name)


def test_aux_file_of_other_length_is_warned_and_skipped(tmp_path):
    FX.write_study_session(tmp_path)
    np.save(tmp_path / "short.npy", np.arange(3))
    with pytest.warns(AuxFileWarning, match=r"short\.npy: shape \(3,\)"):
        ds = read_study_pfc1(tmp_path)
    assert "short" not in ds.coords and "correct_mask" in ds.coords


def test_two_sessions_need_session_option(tmp_path):
    FX.write_study_session(tmp_path, aux=False)
    FX.write_study_session(tmp_path, session="CR12B_day5", aux=False, n_trials=10)
    with pytest.raises(ConfigError, match="several sessions.*--session"):
        read_study_pfc1(tmp_path)
    assert read_study_pfc1(tmp_path, session="CR12B_day5").sizes["trial"] == 10


@pytest.mark.parametrize("width", [0.0, -0.05, float("nan")])
def test_a_bin_width_that_is_not_positive_is_named_as_such(tmp_path, width):
    FX.write_study_session(tmp_path, aux=False)
    with pytest.raises(ConfigError, match=r"bin_width=.* s; fix: a positive bin width"):
        read_study_pfc1(tmp_path, bin_width=width)


def _rewrite(folder: Path, name: str, obj) -> None:
    (folder / name).write_bytes(pickle.dumps(obj))


def _load(folder: Path, name: str):
    return pickle.loads((folder / name).read_bytes())


def _drop_trial(folder):
    _rewrite(folder, INPUTS, _load(folder, INPUTS)[:-1])


def _extra_label(folder):
    _rewrite(folder, LABELS, np.r_[_load(folder, LABELS), 1])


def _unit_count(folder):
    spikes = _load(folder, SPIKES)
    spikes[3] = spikes[3][:-1]
    _rewrite(folder, SPIKES, spikes)


def _bin_count(folder):
    inputs = _load(folder, INPUTS)
    inputs[2] = inputs[2][:, :-1]
    _rewrite(folder, INPUTS, inputs)


def _label_value(folder):
    labels = _load(folder, LABELS)
    labels[4] = 2
    _rewrite(folder, LABELS, labels)


def _negative(folder):
    spikes = _load(folder, SPIKES)
    spikes[1] = spikes[1].copy()
    spikes[1][0, 2] = -1
    _rewrite(folder, SPIKES, spikes)


def _fraction(folder):
    spikes = [s.astype(float) for s in _load(folder, SPIKES)]
    spikes[5][1, 0] = 0.5
    _rewrite(folder, SPIKES, spikes)


BAD = {
    "trial count": (_drop_trial, rf"{INPUTS}: 39 trials, but {SPIKES} has 40 trials; fix"),
    "label count": (_extra_label, rf"{LABELS}: 41 labels, but {SPIKES} has 40 trials; fix"),
    "unit count": (_unit_count, rf"{SPIKES}: spike counts of trial 3 has 5 units .*has 6; fix"),
    "T_i": (_bin_count, rf"{INPUTS}: trial 2 has T_i = \d+ bins, but {SPIKES} has T_i = \d+;"),
    "label value": (_label_value, rf"{LABELS}: label of trial 4 is 2, outside \{{0, 1\}}; fix"),
    "negative": (_negative, rf"{SPIKES}: spike counts of trial 1 hold a negative value -1 .*fix"),
    "fraction": (_fraction, rf"{SPIKES}: spike counts of trial 5 hold a non-integer value 0.5"),
}


@pytest.mark.parametrize("case", BAD)
def test_inconsistent_files_give_one_line_naming_file_field_value_fix(tmp_path, case, capsys):
    FX.write_study_session(tmp_path / "d", writer="pickle", aux=False)
    corrupt, message = BAD[case]
    corrupt(tmp_path / "d")
    with pytest.raises(FileFormatError, match=message):
        read_study_pfc1(tmp_path / "d")
    code, err = run_cli(
        ["convert", "study-pfc1", tmp_path / "d", "--out", tmp_path / "o.h5"], capsys
    )
    assert code == 2 and err.count("\n") == 1 and "fix" in err
    assert not list(tmp_path.glob("o.h5*")) and not list(tmp_path.glob(".o.h5*"))


@pytest.mark.parametrize("slot", [SPIKES, INPUTS, LABELS])
@pytest.mark.parametrize("writer", ["joblib", "pickle"])
@pytest.mark.parametrize("payload", [OpenPayload, SystemPayload])
def test_payload_in_any_pickle_slot_exits_2_and_never_runs(tmp_path, slot, writer, payload, capsys):
    folder = tmp_path / "d"
    FX.write_study_session(folder, writer=writer, aux=False)
    target = tmp_path / "made_by_payload"
    obj = _load_any(folder / slot)
    obj = [*obj, payload(target)] if isinstance(obj, list) else payload(target)
    FX.dump(obj, folder / slot, writer=writer)
    out = tmp_path / "s.h5"
    code, err = run_cli(["convert", "study-pfc1", folder, "--out", out], capsys)
    assert code == 2 and err.count("\n") == 1
    assert slot in err and "refused to load" in err and ("posix.system" in err or "io.open" in err)
    assert not target.exists()
    assert not list(tmp_path.glob("*.h5*")) and not list(tmp_path.glob(".s.h5*"))


def _load_any(path: Path):
    from alrnn_neuro.data.safe_pickle import load_pickle

    return load_pickle(path)


def test_entry_point_refuses_a_payload_in_one_line(tmp_path):
    folder = tmp_path / "d"
    FX.write_study_session(folder, aux=False)
    target = tmp_path / "made_by_payload"
    FX.dump(OpenPayload(target), folder / LABELS, writer="joblib")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "alrnn_neuro",
            "convert",
            "study-pfc1",
            str(folder),
            "--out",
            str(tmp_path / "s.h5"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "io.open" in result.stderr
    assert not target.exists() and not (tmp_path / "s.h5").exists()


def test_payload_in_a_pickled_npy_exits_2_and_never_runs(tmp_path, capsys):
    folder = tmp_path / "d"
    FX.write_study_session(folder, writer="joblib")
    target = tmp_path / "made_by_payload"
    evil = np.empty(2, dtype=object)
    evil[:] = ["c0", OpenPayload(target)]
    np.save(folder / "trial_labels_day4.npy", evil, allow_pickle=True)
    code, err = run_cli(["convert", "study-pfc1", folder, "--out", tmp_path / "s.h5"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "trial_labels_day4.npy: refused to load" in err and "io.open" in err
    assert not target.exists() and not list(tmp_path.glob("*.h5*"))
