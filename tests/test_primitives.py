"""Computational primitives on hand-built AL-RNNs that do (and do not) contain them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from alrnn_neuro.analysis import (
    bitcode_from_latents,
    detect_gating,
    detect_integration,
    detect_memory_transients,
    detect_primitives,
    detect_rule_integration,
    integrating_modes,
    loo_centroid_accuracy,
    to_records,
)
from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.models.params import ALRNNParams

N_TRIALS, N_TIME, ONSET, BIN = 40, 24, 8, 0.05


def simulate(A, W, C, h, P, S):
    """Plain AL-RNN simulation, S (trial, time, input) -> latents (trial, time, latent)."""
    M = len(A)
    z = np.zeros((S.shape[0], M))
    out = np.empty((*S.shape[:2], M))
    for t in range(S.shape[1]):
        phi = np.concatenate([z[:, : M - P], np.maximum(z[:, M - P :], 0)], axis=1)
        z = A * z + phi @ W.T + S[:, t] @ C.T + h
        out[:, t] = z
    return out


def run(A, W, C, h, P, S, names, **trial_coords):
    """Simulate and wrap as (bitcode, inputs, epoch) DataArrays like latents.nc + dataset."""
    z = simulate(A, W, C, h, P, S)
    t = np.arange(N_TIME)
    coords = {"trial": np.arange(len(S)), "time": (t - ONSET + 0.5) * BIN}
    coords |= {k: ("trial", np.asarray(v)) for k, v in trial_coords.items()}
    latents = xr.DataArray(z, dims=("trial", "time", "latent"), coords=coords)
    bitcode = bitcode_from_latents(latents, P).assign_attrs(bin_size=BIN)
    inputs = xr.DataArray(S, dims=("trial", "time", "input"), coords=coords | {"input": names})
    epoch = np.where(t < ONSET, "pre", "stim")[None].repeat(len(S), 0)
    return bitcode, inputs, xr.DataArray(epoch, dims=("trial", "time"))


def gating_net(evidence_to_integrator=False, evidence_from=ONSET):
    """z1: perfect integrator fed by relu(z2); z2: PWL unit opened by the gate input.

    Inputs (evidence, gate). Gate off: z2 ~ -2 (region 0, evidence cannot reach z1). Gate on at
    ONSET: z2 ~ 4 (region 1), relu passes evidence to z1. Region 1: J = [[1, 1], [0, .5]],
    lambda = 1, v = e1, w = (1, 2): evidence gain w.C_ev = 2, |cos(w, C_ev)| = 2/sqrt(5).
    Control: evidence enters z1 directly, so its gain is 1 in both regions (no gating).
    Evidence (noise, sd 0.3) from step ``evidence_from``: at 0 it also reaches region 0 (z2
    stays near -2), so both gains of a gating test are seen by the data.
    """
    A, W, h = np.array([1.0, 0.5]), np.array([[0.0, 1.0], [0.0, 0.0]]), np.array([0.0, -1.0])
    C = (
        np.array([[1.0, 0.0], [0.0, 3.0]])
        if evidence_to_integrator
        else np.array([[0.0, 0.0], [1.0, 3.0]])
    )
    rng = np.random.default_rng(0)
    S = np.zeros((N_TRIALS, N_TIME, 2))
    S[:, evidence_from:, 0] = rng.normal(0, 0.3, (N_TRIALS, N_TIME - evidence_from))
    S[:, ONSET:, 1] = 1.0
    return (A, W, C, h, 1), S


def test_integrating_modes_by_hand():
    (A, W, C, h, P), _ = gating_net()
    modes = integrating_modes(ALRNNParams(A, W, C, h, P), [0, 1]).set_index(["region", "k"])
    on = modes.loc[(1, 0)]
    assert on.eigenvalue == pytest.approx(1.0) and on.gain == pytest.approx(2.0)
    assert on.cosine_left == pytest.approx(2 / np.sqrt(5)) and on.cosine_right == pytest.approx(0.0)
    off = modes.loc[(0, 0)]
    assert off.eigenvalue == pytest.approx(1.0) and off.gain == pytest.approx(0.0)


def test_integration_detected_only_where_the_mode_carries_evidence():
    params, S = gating_net()
    bitcode, inputs, epoch = run(*params, S, ["evidence", "gate"])
    table = detect_integration(
        ALRNNParams(*params), bitcode, inputs, epoch=epoch, evidence_inputs=["evidence"]
    )
    assert set(table.epoch) == {"stim"}  # evidence arrives in stim only
    hit = table[table.detected]
    assert hit.region.tolist() == [1] and hit.occupancy.iloc[0] > 0.9
    strict = detect_integration(
        ALRNNParams(*params),
        bitcode,
        inputs,
        epoch=epoch,
        evidence_inputs=["evidence"],
        alignment="right",
    )
    assert not strict.detected.any()  # the right eigenvector e1 is orthogonal to C_ev
    # no eigenvalue near 1: leaky z1
    A, W, C, h, P = params
    leaky = (np.array([0.5, 0.5]), W, C, h, P)
    b2, i2, e2 = run(*leaky, S, ["evidence", "gate"])
    t2 = detect_integration(ALRNNParams(*leaky), b2, i2, epoch=e2, evidence_inputs=["evidence"])
    assert len(t2) and not t2.detected.any() and (t2.eigenvalue < 0.6).all()


def test_gating_detected_with_gain_change():
    params, S = gating_net(evidence_from=0)
    bitcode, inputs, epoch = run(*params, S, ["evidence", "gate"])
    A, W, C, h, P = params
    g = detect_gating(
        ALRNNParams(A, W, C, h, P), bitcode, inputs, epoch=epoch, gate_inputs=["gate"], horizon=10
    )
    row = g.iloc[0]
    assert bool(row.detected) and row.input == "gate" and row.target == "evidence"
    assert row.epoch == "stim" and row.n_onsets == N_TRIALS
    assert (row.region_before, row.region_after) == (0, 1)
    assert row.flip_rate == 1.0 and row.baseline_flip_rate == 0.0 and row.p_flip < 1e-6
    # w = (1, 2): after = w.C_ev = 2; before = 2 * 0.5**10
    assert row.gain_after == pytest.approx(2.0) and row.gain_before == pytest.approx(2 * 0.5**10)
    assert row.target_supported and row.target_trials_before == row.target_trials_after == N_TRIALS


def test_gating_with_a_readout_needs_the_recordings_to_see_the_change():
    """The gate opens the evidence's path to the integrator z1. A readout of z1 sees that
    (response 0 before, > 0 after); a readout of z2 alone sees the evidence the same way in
    both regions, so the integrator's gain change is invisible to the recordings: no gating."""
    params, S = gating_net(evidence_from=0)
    bitcode, inputs, epoch = run(*params, S, ["evidence", "gate"])
    model = ALRNNParams(*params)

    def row(readout, **options):
        return detect_gating(model, bitcode, inputs, epoch=epoch, gate_inputs=["gate"],
                             readout=readout, **options).iloc[0]  # fmt: skip

    sees = row(np.array([[1.0, 0.0]]))
    assert sees.detected and sees.readout_gain_ratio == np.inf  # z1 gets nothing before
    blind = row(np.array([[0.0, 1.0]]))
    assert blind.gain_ratio > 1000 and blind.readout_gain_ratio == pytest.approx(1.0)
    assert not blind.detected
    assert row(np.array([[0.0, 1.0]]), min_readout_ratio=1.0).detected  # 1 = not required
    assert np.isnan(row(None).readout_gain_ratio) and row(None).detected  # no readout given
    with pytest.raises(ConfigError, match="min_readout_ratio=0.5"):
        row(None, min_readout_ratio=0.5)


def test_gating_needs_the_target_in_both_regions():
    """Evidence and gate start together: the evidence never reaches the region before the
    onset, so the gain there is an extrapolation no trial constrains; the same gain ratio is
    then no gating (as for the sounds and the cue of the stimulus-selection task)."""
    params, S = gating_net(evidence_from=ONSET)
    bitcode, inputs, epoch = run(*params, S, ["evidence", "gate"])
    row = detect_gating(ALRNNParams(*params), bitcode, inputs, epoch=epoch,
                        gate_inputs=["gate"]).iloc[0]  # fmt: skip
    assert row.flip_rate == 1.0 and row.gain_ratio > 1000  # what the detector used to call gating
    assert (row.target_trials_before, row.target_trials_after) == (0, N_TRIALS)
    assert not row.target_supported and not row.detected
    lenient = detect_gating(ALRNNParams(*params), bitcode, inputs, epoch=epoch,
                            gate_inputs=["gate"], min_target_trials=1).iloc[0]  # fmt: skip
    assert not lenient.detected  # no trial at all reaches region 0 with evidence
    _, S_all = gating_net(evidence_from=0)
    few = S.copy()
    few[:5, :ONSET, 0] = S_all[:5, :ONSET, 0]  # evidence before the onset in 5 trials only
    b5, i5, e5 = run(*params, few, ["evidence", "gate"])
    row5 = detect_gating(ALRNNParams(*params), b5, i5, epoch=e5, gate_inputs=["gate"]).iloc[0]
    assert row5.target_trials_before == 5 and not row5.detected
    assert detect_gating(ALRNNParams(*params), b5, i5, epoch=e5, gate_inputs=["gate"],
                         min_target_trials=5).iloc[0].detected  # fmt: skip
    with pytest.raises(ConfigError, match="min_target_trials=0"):
        detect_gating(ALRNNParams(*params), b5, i5, gate_inputs=["gate"], min_target_trials=0)


def test_gating_not_detected_without_gain_change_or_without_flip():
    params, S = gating_net(evidence_to_integrator=True, evidence_from=0)
    bitcode, inputs, _ = run(*params, S, ["evidence", "gate"])
    A, W, C, h, P = params
    row = detect_gating(ALRNNParams(A, W, C, h, P), bitcode, inputs, gate_inputs=["gate"]).iloc[0]
    assert row.flip_rate == 1.0 and row.gain_ratio == pytest.approx(1.0) and not row.detected
    # the gate drives z1 only: no bitcode flip at onset
    A, W, C, h, P = gating_net()[0]
    C2 = np.array([[0.0, 3.0], [1.0, 0.0]])
    b2, i2, _ = run(A, W, C2, h, P, S, ["evidence", "gate"])
    row = detect_gating(ALRNNParams(A, W, C2, h, P), b2, i2, gate_inputs=["gate"]).iloc[0]
    assert row.flip_rate == 0.0 and not row.detected


def test_gating_needs_a_non_expanding_integrator_and_survives_the_correction():
    """An expanding mode (lambda = 1.03, within eps of 1) is no integrator: gating on it was
    reported on the linear generator. And p_flip is Holm-corrected over the table's onset
    tests (one row of dozens at the raw level made "gating found" for a fit)."""
    params, S = gating_net(evidence_from=0)
    A, W, C, h, P = params
    bitcode, inputs, epoch = run(*params, S, ["evidence", "gate"])
    hit = detect_gating(ALRNNParams(A, W, C, h, P), bitcode, inputs, epoch=epoch,
                        gate_inputs=["gate"]).iloc[0]  # fmt: skip
    assert hit.detected and hit.p_flip_corrected >= hit.p_flip
    growing = (np.array([1.03, 0.5]), W, C, h, P)  # the same map with z0 expanding
    b2, i2, e2 = run(*growing, S, ["evidence", "gate"])
    row = detect_gating(ALRNNParams(*growing), b2, i2, epoch=e2, gate_inputs=["gate"]).iloc[0]
    assert row.flip_rate == 1.0 and row.integrator_eigenvalue == pytest.approx(1.03)
    assert not row.detected
    assert detect_gating(ALRNNParams(*growing), b2, i2, epoch=e2, gate_inputs=["gate"],
                         max_growth=0.05).iloc[0].detected  # fmt: skip
    by_condition = detect_gating(ALRNNParams(A, W, C, h, P), bitcode, inputs, epoch=epoch)
    raw = by_condition.drop_duplicates(["input", "condition"])["p_flip"].to_numpy()
    assert by_condition["p_flip_corrected"].max() <= 1.0
    assert np.all(np.sort(by_condition.drop_duplicates(["input", "condition"])
                          ["p_flip_corrected"].to_numpy()) >= np.sort(raw))  # fmt: skip


def rule_net(rule_connected=True):
    """Rule sets the region: rule A opens z2 (+evidence to z1), rule B opens z3 (-evidence).

    Inputs (evidence, ctx_a, ctx_b). Region 2 (z2 on): w = (1, 2, 0), gain +2; region 1 (z3 on):
    w = (1, 0, -2), gain -2; readout z1 -> opposite signs. Control: rule inputs disconnected and
    both PWL units always on (region 3), where evidence cancels (gain 0).
    """
    A = np.array([1.0, 0.5, 0.5])
    W = np.zeros((3, 3))
    W[0, 1], W[0, 2] = 1.0, -1.0
    C = np.array([[0.0, 0.0, 0.0], [1.0, 3.0, -3.0], [1.0, -3.0, 3.0]])
    h = np.zeros(3)
    if not rule_connected:
        C[1:, 1:], h = 0.0, np.array([0.0, 3.0, 3.0])
    rng = np.random.default_rng(1)
    rule = np.where(np.arange(N_TRIALS) % 2 == 0, "A", "B")
    S = np.zeros((N_TRIALS, N_TIME, 3))
    S[:, ONSET:, 0] = rng.normal(0, 0.3, (N_TRIALS, N_TIME - ONSET))
    S[:, :, 1] = (rule == "A")[:, None]
    S[:, :, 2] = (rule == "B")[:, None]
    return (A, W, C, h, 2), S, rule


@pytest.mark.parametrize("connected", [True, False])
def test_rule_based_integration(connected):
    params, S, rule = rule_net(connected)
    A, W, C, h, P = params
    bitcode, inputs, epoch = run(*params, S, ["evidence", "ctx_a", "ctx_b"], rule=rule)
    df = detect_rule_integration(
        ALRNNParams(A, W, C, h, P),
        bitcode,
        inputs,
        "rule",
        epoch=epoch,
        evidence_inputs=["evidence"],
        readout=np.array([[1.0, 0, 0]]),
        n_null=49,
    ).set_index("condition")
    assert df.epoch.unique().tolist() == ["stim"]
    if connected:
        assert df.detected.all()
        assert (df.loc["rule=A", "region"], df.loc["rule=B", "region"]) == (2, 1)
        assert df.loc["rule=A", "readout_response"] == pytest.approx(2.0)
        assert df.loc["rule=B", "readout_response"] == pytest.approx(-2.0)
        assert df.accuracy.iloc[0] == 1.0 and df.p_value.iloc[0] == pytest.approx(1 / 50)
    else:
        assert not df.detected.any() and (df.region == 3).all()
        assert df.p_value.iloc[0] > 0.05


def memory_bitcode(depends=True, transient=True, seed=0, n_trials=60):
    """Synthetic bitcodes: after the cue at ONSET, stored item 0 visits 1->3->0, item 1 2->3->0.

    Controls: the same sequence for both items (``depends=False``); a static region that
    depends on the item (``transient=False``).
    """
    rng = np.random.default_rng(seed)
    stored = rng.integers(0, 2, n_trials)
    codes = np.zeros((n_trials, N_TIME), int)
    for i, s in enumerate(stored):
        first = (1 + s) if depends else 1
        if transient:
            codes[i, ONSET : ONSET + 6] = [first] * 3 + [3] * 3
        else:  # a stored-value-dependent but static region
            codes[i, ONSET:] = first
    codes = np.where(rng.random(codes.shape) < 0.05, rng.integers(0, 4, codes.shape), codes)
    coords = {
        "trial": np.arange(n_trials),
        "time": (np.arange(N_TIME) - ONSET + 0.5) * BIN,
        "stored": ("trial", stored),
        "event_cue": ("trial", np.zeros(n_trials)),
    }
    return xr.DataArray(codes, dims=("trial", "time"), coords=coords, attrs={"bin_size": BIN})


@pytest.mark.parametrize(
    "depends,transient,expected", [(True, True, True), (False, True, False), (True, False, False)]
)
def test_memory_dependent_transients(depends, transient, expected):
    bc = memory_bitcode(depends, transient)
    row = detect_memory_transients(bc, "stored", cue_event="cue", n_steps=8, n_null=99).iloc[0]
    assert bool(row.detected) is expected
    if depends:
        assert row.accuracy > 0.9 and row.p_value == pytest.approx(0.01)
    else:
        assert row.p_value > 0.05
    assert (row.modal_switches >= 1) == transient


def test_memory_transients_with_cue_epoch_and_errors():
    bc = memory_bitcode()
    epoch = xr.DataArray(
        np.where(np.arange(N_TIME) < ONSET, "delay", "recall")[None].repeat(60, 0),
        dims=("trial", "time"),
    )
    a = detect_memory_transients(bc, "stored", cue_epoch="recall", epoch=epoch, n_null=19)
    b = detect_memory_transients(bc, "stored", cue_event="cue", n_null=19)
    assert a.accuracy.iloc[0] == b.accuracy.iloc[0]
    with pytest.raises(ConfigError, match="exactly one"):
        detect_memory_transients(bc, "stored")
    with pytest.raises(DataValidationError, match="event_recall"):
        detect_memory_transients(bc, "stored", cue_event="recall")


def test_loo_centroid_accuracy_matches_loop():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 4)), rng.integers(0, 3, 30)
    X[y == 1] += 1.5
    hits = 0
    for i in range(30):
        keep = np.arange(30) != i
        cents = [X[keep & (y == c)].mean(0) for c in range(3)]
        hits += int(np.argmin([((X[i] - m) ** 2).sum() for m in cents]) == y[i])
    assert loo_centroid_accuracy(X, y) == pytest.approx(hits / 30)


def test_detect_primitives_table_is_json_serialisable():
    params, S = gating_net()
    bitcode, inputs, epoch = run(
        *params, S, ["evidence", "gate"], rule=np.where(np.arange(N_TRIALS) % 2, "x", "y")
    )
    A, W, C, h, P = params
    table = detect_primitives(
        ALRNNParams(A, W, C, h, P),
        bitcode,
        inputs,
        epoch=epoch,
        evidence_inputs=["evidence"],
        gate_inputs=["gate"],
        conditions=["rule"],
        rule="rule",
        n_null=19,
    )
    assert set(table.primitive) == {"integration", "gating", "rule_integration"}
    assert list(table.columns[:2]) == ["primitive", "detected"]
    assert set(table[table.primitive == "integration"].condition) == {"all", "rule=x", "rule=y"}
    records = to_records(table)
    json.dumps(records)
    assert len(records) == len(table)
    assert isinstance(records[0]["region"], int) and str(table.region.dtype) == "Int64"
    assert not table[table.primitive == "rule_integration"].detected.any()  # rule is irrelevant


def test_linear_p0_network_still_works_and_says_so():
    # P = 0: one region; z1 integrates the evidence directly (lambda = 1, v = w = e1 = C_ev)
    A, W, C, h = (
        np.array([1.0, 0.5]),
        np.zeros((2, 2)),
        np.array([[1.0, 0.0], [0.0, 1.0]]),
        np.zeros(2),
    )
    _, S = gating_net()
    bitcode, inputs, epoch = run(A, W, C, h, 0, S, ["evidence", "gate"])
    assert (bitcode.values == 0).all()
    table = detect_primitives(
        ALRNNParams(A, W, C, h, 0),
        bitcode,
        inputs,
        epoch=epoch,
        evidence_inputs=["evidence"],
        gate_inputs=["gate"],
    )
    integ = table[table.primitive == "integration"].iloc[0]
    assert bool(integ.detected) and integ.region == 0 and integ.cosine_right == pytest.approx(1.0)
    gate = table[table.primitive == "gating"].iloc[0]
    assert gate.flip_rate == 0.0 and not gate.detected
    from alrnn_neuro.analysis import find_cycles, region_dynamics, region_usage

    assert "single region" in region_dynamics(ALRNNParams(A, W, C, h, 0)).attrs["note"]
    assert "single region" in region_usage(bitcode, n_pwl=0).attrs["note"]
    assert "single region" in find_cycles(ALRNNParams(A, W, C, h, 0), 2).note
