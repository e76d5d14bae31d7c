"""convert_roitman_fd against the real Roitman & Shadlen (2002) files, read independently."""

from __future__ import annotations

import importlib.util
import tarfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import xarray as xr

from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.data.matlab import load_mat
from alrnn_neuro.data.roitman import EVENTS, convert_roitman_fd
from alrnn_neuro.data.schema import validate_dataset
from alrnn_neuro.errors import ConfigError, FileFormatError

REPO = Path(__file__).resolve().parents[1]
TARBALL = "roitman2002_fd_monkeyB/all_b_fd.tar.gz"
# read once from the raw files with scipy: (trials in file, trials with dots)
KNOWN_COUNTS = {"b107d": (70, 60), "b108h": (59, 59), "b116b": (40, 0), "b118d": (4, 4)}
SACCADE_ONLY = ["b116b", "b117c", "b119g", "b121e"]


def find_shared_data() -> Path | None:
    """The team's shared data folder: ../shared/data beside the repo (CI) or /work/shared/data."""
    for root in (
        Path(__file__).resolve().parents[2] / "shared" / "data",
        Path("/work/shared/data"),
    ):
        if (root / TARBALL).is_file():
            return root
    return None


DATA = find_shared_data()
pytestmark = pytest.mark.skipif(
    DATA is None, reason=f"real data {TARBALL} not found in ../shared/data or /work/shared/data"
)


@pytest.fixture(scope="module")
def mat_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("roitman")
    with tarfile.open(DATA / TARBALL) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(".mat"):
                (out / Path(member.name).name).write_bytes(tar.extractfile(member).read())
    return out


@pytest.fixture(scope="module")
def raw(mat_dir: Path) -> dict:
    """Independent reference: per file, column index, trial matrix and rasters via scipy."""
    out = {}
    for path in sorted(mat_dir.glob("*.mat")):
        data = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)["data"]
        columns = {str(name): i for i, name in enumerate(data[0].trialfields[0])}
        rasters = [np.asarray(r, dtype=np.int64).ravel() for r in data[2][:, 0]]
        out[path.stem] = (columns, np.asarray(data[1], dtype=float), rasters)
    return out


@pytest.fixture(scope="module")
def ds_ston(mat_dir: Path) -> xr.Dataset:
    return convert_roitman_fd(mat_dir)  # defaults: 50 ms bins, ston, (-0.5, 1.5)


@pytest.fixture(scope="module")
def recipe() -> dict:
    spec = importlib.util.spec_from_file_location("make", REPO / "scripts/make_roitman_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.RECIPE


@pytest.fixture(scope="module")
def ds_full(mat_dir: Path, recipe: dict) -> xr.Dataset:
    return convert_roitman_fd(mat_dir, **recipe)


def _column(raw: dict, stem: str, name: str) -> np.ndarray:
    columns, matrix, _ = raw[stem]
    return matrix[:, columns[name]]


def test_raw_reference_counts(raw: dict) -> None:
    assert len(raw) == 33
    for stem, (n_trials, n_dots) in KNOWN_COUNTS.items():
        assert len(raw[stem][1]) == n_trials
        assert np.isfinite(_column(raw, stem, "ston")).sum() == n_dots
    assert sum(len(matrix) for _, matrix, _ in raw.values()) == 1545


def test_full_conversion_keeps_every_trial(ds_full: xr.Dataset, raw: dict) -> None:
    validate_dataset(ds_full)
    assert dict(ds_full.sizes) == {"trial": 1545, "time": 72, "unit": 33, "input": 3}
    assert list(ds_full.unit.values) == sorted(raw)
    expected = {stem: len(matrix) for stem, (_, matrix, _) in raw.items()}
    assert dict(zip(ds_full.unit.values, ds_full.n_trials.values.tolist(), strict=True)) == expected
    for stem in KNOWN_COUNTS:
        trial_numbers = ds_full.trial_number.values[ds_full.session.values == stem]
        np.testing.assert_array_equal(trial_numbers, _column(raw, stem, "trial#"))


def test_ston_alignment_drops_trials_without_dots(ds_ston: xr.Dataset, raw: dict) -> None:
    assert ds_ston.sizes["trial"] == 1163
    assert sorted(set(raw) - set(ds_ston.unit.values)) == SACCADE_ONLY
    for stem, (_, n_dots) in KNOWN_COUNTS.items():
        assert (ds_ston.session.values == stem).sum() == n_dots
    assert set(ds_ston.task.values) == {"dots"}
    assert np.all(ds_ston.event_ston.values == 0.0)


def test_event_order(ds_full: xr.Dataset) -> None:
    ev = {name: ds_full[f"event_{name}"].values for name in EVENTS}
    dots = ds_full.task.values == "dots"
    for a, b in [("fix", "ston"), ("ston", "stoff"), ("stoff", "fpoff"), ("fpoff", "sac")]:
        assert np.all(ev[a][dots] < ev[b][dots]), (a, b)
    for a, b in [("fix", "trgon"), ("trgon", "fpoff"), ("fpoff", "sac")]:
        assert np.all(ev[a] < ev[b]), (a, b)
    assert np.all(np.isnan(ev["ston"][~dots]))
    memory = ds_full.task.values == "memory_saccade"
    assert np.all(ev["trgoff"][memory] < ev["fpoff"][memory])


def test_counts_equal_raw_histograms(ds_ston: xr.Dataset, raw: dict) -> None:
    """Every bin of every trial of two files against integer binning of the raw raster (ms)."""
    for stem in ("b107d", "b130c"):
        columns, matrix, rasters = raw[stem]
        has_dots = np.flatnonzero(np.isfinite(matrix[:, columns["ston"]]))
        sub = ds_ston.isel(trial=ds_ston.session.values == stem).sel(unit=stem)
        for row, i in enumerate(has_dots):
            ston, fix, sac = (matrix[i, columns[c]] for c in ("ston", "fix", "sac"))
            edges = int(ston) + np.arange(-500, 1501, 50)  # integer ms, bins [a, b)
            k = (rasters[i][rasters[i] >= edges[0]] - edges[0]) // 50
            counts = np.bincount(k[k < 40], minlength=40)
            inside = (edges[:-1] >= fix) & (edges[1:] <= sac)
            np.testing.assert_array_equal(sub.valid.values[row], inside)
            np.testing.assert_array_equal(sub.spikes.values[row], counts * inside)


def test_dots_epoch_counts_equal_raw(mat_dir: Path, raw: dict) -> None:
    """1 ms bins: spikes in 'motion' bins == raw spikes with ston <= t < stoff."""
    stems = ["b107d", "b124b"]
    ds = convert_roitman_fd(mat_dir, bin_size=0.001, align="ston", window=(0, 1.1), files=stems)
    motion = (ds.epoch == "motion") * ds.spikes.sum("unit")
    got = motion.sum("time").values
    expected = []
    for stem in stems:
        columns, matrix, rasters = raw[stem]
        for i in np.flatnonzero(np.isfinite(matrix[:, columns["ston"]])):
            ston, stoff = matrix[i, columns["ston"]], matrix[i, columns["stoff"]]
            expected.append(((rasters[i] >= ston) & (rasters[i] < stoff)).sum())
    np.testing.assert_array_equal(got, expected)
    assert got[0] == 30  # b107d trial #4: 30 spikes during the dots (read with scipy)


def test_observed_mask(ds_full: xr.Dataset) -> None:
    observed = ds_full.observed.values
    assert np.all(observed.sum(axis=1) == 1)
    np.testing.assert_array_equal(observed, ds_full.session.values[:, None] == ds_full.unit.values)
    assert (
        ds_full.spikes.values[~np.broadcast_to(observed[:, None, :], ds_full.spikes.shape)].max()
        == 0
    )


def test_valid_bins_lie_between_fix_and_sac(ds_full: xr.Dataset) -> None:
    half = ds_full.attrs["bin_size"] / 2
    lo = ds_full.time.values - half
    hi = ds_full.time.values + half
    fix = ds_full.event_fix.values[:, None]
    sac = ds_full.event_sac.values[:, None]
    expected = (lo >= fix - 1e-9) & (hi <= sac + 1e-9)
    np.testing.assert_array_equal(ds_full.valid.values, expected)
    assert np.all((ds_full.epoch.values == "") == ~expected)


def test_signed_coherence_matches_choice_and_correct(ds_ston: xr.Dataset) -> None:
    signed = ds_ston.signed_coherence.values
    np.testing.assert_array_equal(np.abs(signed), ds_ston.coherence.values)
    nonzero = signed != 0
    toward_choice = (signed > 0) == (ds_ston.choice.values == 1)
    np.testing.assert_array_equal(toward_choice[nonzero], ds_ston.correct.values[nonzero])
    assert set(np.unique(ds_ston.coherence.values)) == {0.0, 3.2, 6.4, 12.8, 25.6, 51.2}
    # 0 % coherence is one level: no -0.0 beside 0.0 (which would split it in groupings)
    assert not np.signbit(signed[signed == 0]).any()
    assert len({str(v) for v in signed if v == 0}) == 1


def test_paradigm_monkey_and_task_come_from_the_files(ds_ston: xr.Dataset, raw: dict) -> None:
    # b108h and b119j leave the header's paradigm empty: inferred from their go cues
    assert ds_ston.attrs["task"] == "fixed-duration" and ds_ston.attrs["paradigm"] == 502
    assert ds_ston.attrs["monkey"] == "B"
    assert "fixed-duration task, monkey B" in ds_ston.attrs["source"]
    dots = ds_ston.task.values == "dots"
    rt = ds_ston.rt.values[dots]
    assert np.isfinite(rt).all() and (rt > 0).all()  # sac - fpoff on every dots trial


def test_inputs_follow_epochs(ds_full: xr.Dataset) -> None:
    motion = ds_full.inputs.sel(input="motion").values
    epoch = ds_full.epoch.values
    signed = np.nan_to_num(ds_full.signed_coherence.values) / 100
    np.testing.assert_allclose(motion, (epoch == "motion") * signed[:, None], atol=1e-7)
    np.testing.assert_array_equal(ds_full.inputs.sel(input="go").values, epoch == "go")
    targets = ds_full.inputs.sel(input="targets").values.astype(bool)
    memory = (ds_full.task.values == "memory_saccade")[:, None]
    shown = np.isin(epoch, ["targets", "motion", "delay", "go"])
    np.testing.assert_array_equal(targets, np.where(memory, epoch == "targets", shown))
    dots_bins = (epoch == "motion").sum(axis=1) * ds_full.attrs["bin_size"]
    dots = ds_full.task.values == "dots"
    np.testing.assert_allclose(dots_bins[dots], ds_full.dots_duration.values[dots], atol=0.051)


def test_shipped_dataset_equals_fresh_conversion(recipe: dict) -> None:
    shipped = load_dataset(REPO / "datasets" / "roitman2002_fd_monkeyB.h5")
    fresh = convert_roitman_fd(DATA / TARBALL, **recipe)
    xr.testing.assert_identical(shipped.drop_attrs(), fresh.drop_attrs())
    for key in ("align_event", "bin_size", "source", "schema_version", "task", "monkey", "species"):
        assert shipped.attrs[key] == fresh.attrs[key]
    assert shipped.attrs["paradigm"] == 502
    assert shipped.spikes.dtype == np.uint8
    signed = shipped.signed_coherence.values
    assert not np.signbit(signed[signed == 0]).any()  # a single 0 % level


def test_load_mat_matches_scipy_on_real_file(mat_dir: Path, raw: dict) -> None:
    data = load_mat(mat_dir / "b107d.mat")["data"]
    columns, matrix, rasters = raw["b107d"]
    assert data[1].dtype.isnative and data[1].shape == (70, 41)
    np.testing.assert_array_equal(data[1], matrix)
    assert list(data[0]["trialfields"][0]) == list(columns)
    np.testing.assert_array_equal(data[2][3, 0], rasters[3])


def test_missing_source() -> None:
    with pytest.raises(FileNotFoundError, match="nowhere.tar.gz: no such file or folder"):
        convert_roitman_fd("/nowhere/nowhere.tar.gz")


def test_folder_without_mat_files(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="holds no .mat files"):
        convert_roitman_fd(tmp_path)


def test_unknown_align_lists_events(mat_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"align='dots_on'.*one of \['fpon', 'fix'"):
        convert_roitman_fd(mat_dir, align="dots_on")


@pytest.mark.parametrize("bin_size", [0.0, -0.05])
def test_bad_bin_size(mat_dir: Path, bin_size: float) -> None:
    with pytest.raises(ConfigError, match="bin_size=.* s; fix: a positive width"):
        convert_roitman_fd(mat_dir, bin_size=bin_size)


def test_unknown_file_stem(mat_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"\['b999z'\] not in"):
        convert_roitman_fd(mat_dir, files=["b107d", "b999z"])


def test_reward_alignment_drops_error_trials(mat_dir: Path, raw: dict) -> None:
    ds = convert_roitman_fd(mat_dir, align="rew", window=(-1.0, 0.0), files=["b107d"])
    assert ds.sizes["trial"] == np.isfinite(_column(raw, "b107d", "rew")).sum() == 60
    assert ds.correct.values.all()
