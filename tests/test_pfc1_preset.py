"""The paper's pfc-1 preset: self-coupling regulariser, fit and reproduce on the fixtures."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from alrnn_neuro.cli.app import main
from alrnn_neuro.data.h5 import load_dataset
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.reproduce import stimulus_claims as sc
from alrnn_neuro.training.config import FitConfig
from alrnn_neuro.training.regularizers import self_coupling_penalty, self_coupling_units

REPO = Path(__file__).resolve().parents[1]
PRESET = REPO / "examples" / "configs" / "study_pfc1.toml"


def fixtures_module():
    spec = importlib.util.spec_from_file_location("pfc1fx", REPO / "scripts/make_pfc1_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FX = fixtures_module()


@pytest.fixture(scope="module")
def study_h5(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("study")
    FX.write_study_session(root / "d")
    main(["convert", "study-pfc1", str(root / "d"), "--out", str(root / "s.h5")])
    return root / "s.h5"


@pytest.fixture(scope="module")
def raw_h5(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("raw")
    raw = FX.write_crcns_session(root / "d", n_cycles=2)
    main(
        [
            "convert",
            "crcns-pfc1",
            str(raw["folder"]),
            "--unit-db",
            str(raw["unit_db"]),
            "--out",
            str(root / "r.h5"),
        ]
    )
    return root / "r.h5"


def test_self_coupling_penalty_matches_the_formula():
    rng = np.random.default_rng(0)
    a, w = rng.normal(size=5), rng.normal(size=(5, 5))
    units = [0, 2, 3]
    expected = 0.3 * sum(abs(w[i, i] + a[i]) for i in units)
    got = self_coupling_penalty(torch.tensor(a), torch.tensor(w), units, 0.3)
    assert float(got) == pytest.approx(expected, rel=1e-12)
    assert float(self_coupling_penalty(torch.tensor(a), torch.tensor(w), units, 0.0)) == 0.0
    assert self_coupling_units(6) == list(range(6)) and self_coupling_units(6, 2) == [0, 1]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"self_coupling": -0.1}, "self_coupling=-0.1 is invalid"),
        ({"self_coupling": 0.1, "model": "gru", "pwl_units": 0}, "AL-RNN only"),
        ({"self_coupling_units": 9}, "self_coupling_units=9 is invalid"),
    ],
)
def test_self_coupling_config_is_validated(changes, message):
    with pytest.raises(ConfigError, match=message):
        FitConfig(**changes)


def test_preset_holds_the_papers_settings():
    cfg = FitConfig.from_toml(PRESET)
    assert (cfg.latent_dim, cfg.pwl_units, cfg.epochs, cfg.batch_size) == (6, 1, 1000, 64)
    assert cfg.init_state == "zero" and cfg.tf_interval == 0 and cfg.optimizer == "adam"
    assert cfg.behaviour and cfg.behaviour_label == "label" and cfg.behaviour_epoch == ""
    assert (cfg.self_coupling, cfg.self_coupling_units, cfg.mar) == (0.01, -1, 0.0)
    assert cfg.lr == 1e-4 and cfg.lr_schedule == "constant" and len(cfg.split) == 3
    assert "ALL trials" in PRESET.read_text()  # the held-out split is documented as a difference


def _self_coupling(run: Path) -> float:
    state = torch.load(run / "model.pt", map_location="cpu", weights_only=True)
    state = state.get("state_dict", state)
    a = next(v for k, v in state.items() if k.endswith("dynamics.A"))
    w = next(v for k, v in state.items() if k.endswith("dynamics.W"))
    return float((torch.diagonal(w, dim1=-2, dim2=-1) + a).abs().sum())


def test_fit_with_the_preset_runs_and_the_penalty_acts(study_h5, tmp_path):
    main(
        [
            "fit",
            str(study_h5),
            "--config",
            str(PRESET),
            "--epochs",
            "5",
            "--out",
            str(tmp_path / "run"),
        ]
    )
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    saved = saved.get("config", saved)
    assert saved["self_coupling"] == 0.01 and saved["latent_dim"] == 6
    assert "choice_accuracy" in json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]
    base = ["--epochs", "30", "--lr", "0.05"]
    main(["fit", str(study_h5), "--config", str(PRESET), *base, "--out", str(tmp_path / "free")])
    strong = tmp_path / "strong.toml"
    strong.write_text(PRESET.read_text().replace("self_coupling = 0.01", "self_coupling = 5.0"))
    main(["fit", str(study_h5), "--config", str(strong), *base, "--out", str(tmp_path / "tau")])
    assert _self_coupling(tmp_path / "tau") < 0.5 * _self_coupling(tmp_path / "free")


def test_ensemble_path_adds_the_same_penalty(study_h5):
    from alrnn_neuro.data.h5 import load_dataset
    from alrnn_neuro.training.batching import dataset_tensors
    from alrnn_neuro.training.network import FitModel
    from alrnn_neuro.training.resolve import resolve_config

    ds = load_dataset(study_h5)
    cfg = resolve_config(FitConfig.from_toml(PRESET).replace(self_coupling=0.7), ds)
    nets = [FitModel(cfg.replace(seed=s), ds.sizes["unit"], n_classes=2) for s in (1, 2)]
    batch, _ = dataset_tensors(ds, label="label")
    single = [float(net.loss(batch)["penalty"].detach()) for net in nets]
    members = FitModel.stack(nets).member_losses(batch)["penalty"].detach().numpy()
    expected = [
        0.7 * float((torch.diagonal(n.dynamics.W) + n.dynamics.A).abs().sum().detach())
        for n in nets
    ]
    np.testing.assert_allclose(single, expected, rtol=1e-6)
    np.testing.assert_allclose(members, expected, rtol=1e-6)


def _claims(out: Path) -> dict[str, dict]:
    record = json.loads((out / "reproduce.json").read_text())
    return {c["claim"]: c for c in record["claims"]}


def test_reproduce_tiny_on_the_study_files_says_na_with_reasons(study_h5, tmp_path):
    main(
        [
            "reproduce",
            "stimulus-selection",
            "--setting",
            "tiny",
            "--dataset",
            str(study_h5),
            "--out",
            str(tmp_path / "r"),
            "--workers",
            "1",
        ]
    )
    claims = _claims(tmp_path / "r")
    na = {text: c["evidence"] for text, c in claims.items() if c["holds"] is None}
    assert any("one epoch label only" in e for e in na.values())
    assert any("lack input 'left_noise'" in e for e in na.values())
    assert all(e.startswith("not testable: ") for e in na.values())


def test_rsa_claim_names_the_recorded_areas(study_h5):
    ds = load_dataset(study_h5)
    ds = ds.assign_coords(area=("unit", np.full(ds.sizes["unit"], "A1")))
    out = sc.rsa_claim(None, None, ds, n_perm=0, n_boot=0, seed=0)
    assert out.holds is None and "units are in ['A1'], none in mPFC" in out.evidence


@pytest.mark.slow
@pytest.mark.parametrize("which", ["study", "raw"])
def test_reproduce_quick_runs_to_the_end_on_both_readers(which, study_h5, raw_h5, tmp_path):
    data = study_h5 if which == "study" else raw_h5
    main(
        [
            "reproduce",
            "stimulus-selection",
            "--quick",
            "--dataset",
            str(data),
            "--out",
            str(tmp_path / "r"),
            "--workers",
            "1",
        ]
    )
    claims = _claims(tmp_path / "r")
    assert (tmp_path / "r" / "report.html").is_file() and len(claims) == 7
    rsa = next(c for t, c in claims.items() if "RSA" in t)
    assert rsa["holds"] is None and rsa["evidence"].startswith("not testable: ")
