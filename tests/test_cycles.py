"""Period-k cycles: hand-derived orbits, brute-force simulation, exhaustive vs SCYFI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alrnn_neuro.analysis import find_cycles
from alrnn_neuro.analysis.cycles import _lyndon_words
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.models.params import ALRNNParams

# z' = 0.2 z - 3.2 relu(z) + 1 (slopes 0.2 left, -3 right). By hand: fixed point 1/(1+3) = 0.25
# in region 1 (real, unstable); 1/0.8 = 1.25 in region 0 is virtual. 2-cycle (z0 < 0 < z1):
# z1 = 0.2 z0 + 1, z0 = -3 z1 + 1  =>  z0 = -1.25, z1 = 0.75, multiplier 0.2 * -3 = -0.6.
TENT = dict(A=np.array([0.2]), W=np.array([[-3.2]]), C=np.zeros((1, 0)), h=np.array([1.0]))


def step(z, A, W, h, P):
    M = len(A)
    phi = z.copy()
    phi[..., M - P :] = np.maximum(phi[..., M - P :], 0)
    return A * z + phi @ W.T + h


def canonical(codes):
    k = len(codes)
    r = min(range(k), key=lambda s: codes[s:] + codes[:s])
    return codes[r:] + codes[:r]


def simulated_stable_cycles(A, W, h, P, k_max=4, n=400, T=400, seed=0):
    """Brute force: iterate the true map from many initial states, read off periodic orbits."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, (n, len(A)))
    for _ in range(T):
        z = step(z, A, W, h, P)
    traj = [z]
    for _ in range(k_max):
        traj.append(step(traj[-1], A, W, h, P))
    weights = 1 << np.arange(P - 1, -1, -1)
    found = set()
    for i in range(n):
        if not np.isfinite(traj[0][i]).all():
            continue
        for k in range(1, k_max + 1):
            if np.abs(traj[k][i] - traj[0][i]).max() < 1e-7:
                codes = tuple(int((traj[j][i][len(A) - P :] > 0) @ weights) for j in range(k))
                found.add(canonical(codes))
                break
    return found


def random_net(seed, M=3, P=2):
    rng = np.random.default_rng(seed)
    return (
        rng.uniform(-0.5, 0.5, M),
        rng.normal(0, 1.0, (M, M)),
        np.zeros((M, 0)),
        rng.normal(0, 1, M),
    )


@pytest.mark.parametrize("method", ["exhaustive", "scyfi"])
def test_tent_map_cycles_by_hand(method):
    fp = find_cycles(ALRNNParams(**TENT, n_pwl=1), period=1, method=method)
    assert [c.regions for c in fp.cycles] == [(1,)]
    np.testing.assert_allclose(fp.cycles[0].points.ravel(), [0.25])
    assert not fp.cycles[0].stable
    two = find_cycles(ALRNNParams(**TENT, n_pwl=1), period=2, method=method)
    assert two.method == method and len(two.cycles) == 1
    cyc = two.cycles[0]
    assert cyc.regions == (0, 1) and cyc.period == 2 and cyc.stable
    np.testing.assert_allclose(cyc.points.ravel(), [-1.25, 0.75])
    np.testing.assert_allclose(cyc.multipliers, [-0.6])
    three = find_cycles(ALRNNParams(**TENT, n_pwl=1), period=3, method=method)
    assert three.cycles == () and "stable" in three.to_dataframe().columns


@pytest.mark.parametrize("n,k", [(2, 1), (2, 4), (3, 3), (4, 2), (2, 6)])
def test_lyndon_word_count_matches_necklace_formula(n, k):
    def mobius(d):
        out, m, p = 1, d, 2
        while p * p <= m:
            if m % p == 0:
                m //= p
                if m % p == 0:
                    return 0
                out = -out
            p += 1
        return -out if m > 1 else out

    expected = sum(mobius(d) * n ** (k // d) for d in range(1, k + 1) if k % d == 0) // k
    words = _lyndon_words(n, k)
    assert len(words) == expected
    assert len({tuple(w) for w in words}) == expected


def test_exhaustive_cycles_are_orbits_of_the_true_map():
    for seed in range(5):
        A, W, C, h = random_net(seed)
        for k in (1, 2, 3):
            for cyc in find_cycles(ALRNNParams(A, W, C, h, 2), k).cycles:
                z = cyc.points
                np.testing.assert_allclose(step(z, A, W, h, 2), np.roll(z, -1, axis=0), atol=1e-8)
                # minimal period: no shorter rotation maps the orbit onto itself
                assert all(not np.allclose(np.roll(z, -m, 0), z) for m in range(1, k))


def test_exhaustive_agrees_with_brute_force_simulation():
    n_nontrivial = 0
    for seed in [*range(8), 29, 35, 39]:  # seeds 29, 35, 39 have stable 2-cycles
        A, W, C, h = random_net(seed)
        sim = simulated_stable_cycles(A, W, h, 2)
        exhaustive = {}
        for k in range(1, 5):
            for cyc in find_cycles(ALRNNParams(A, W, C, h, 2), k).cycles:
                if cyc.stable:
                    exhaustive[cyc.regions] = cyc
        assert sim <= set(exhaustive), seed
        # every clearly attracting cycle inside the sampled box must be found by simulation
        clear = {
            r
            for r, c in exhaustive.items()
            if np.abs(c.multipliers).max() < 0.9 and np.abs(c.points).max() < 3
        }
        assert clear <= sim, seed
        n_nontrivial += sum(len(r) > 1 for r in sim)
    assert n_nontrivial >= 3  # the check covered true cycles of period >= 2
    tent = simulated_stable_cycles(TENT["A"], TENT["W"], TENT["h"], 1)
    assert tent == {(0, 1)}


def test_scyfi_matches_exhaustive_on_tiny_networks():
    for seed in range(8):
        A, W, C, h = random_net(seed)
        for k in (1, 2, 3):
            ex = {
                c.regions
                for c in find_cycles(ALRNNParams(A, W, C, h, 2), k, method="exhaustive").cycles
            }
            sc = find_cycles(
                ALRNNParams(A, W, C, h, 2), k, method="scyfi", n_restarts=100, max_iter=50, seed=1
            )
            assert {c.regions for c in sc.cycles} == ex, (seed, k)


def test_scyfi_is_seeded():
    A, W, C, h = random_net(3, M=6, P=6)
    a = find_cycles(ALRNNParams(A, W, C, h, 6), 2, method="scyfi", n_restarts=30, seed=5)
    b = find_cycles(ALRNNParams(A, W, C, h, 6), 2, method="scyfi", n_restarts=30, seed=5)
    assert [c.regions for c in a.cycles] == [c.regions for c in b.cycles]
    assert a.n_candidates == b.n_candidates


def test_method_selection_and_visited_fallback(caplog):
    A, W, C, h = random_net(4, M=10, P=10)
    auto = find_cycles(ALRNNParams(A, W, C, h, 10), 2, max_sequences=4096, n_restarts=20)
    assert auto.method == "scyfi" and not auto.restricted_to_visited
    visited = np.array([0, 3, 512, 1023])
    vis = find_cycles(ALRNNParams(A, W, C, h, 10), 2, max_sequences=4096, visited=visited)
    assert vis.method == "exhaustive" and vis.restricted_to_visited
    assert vis.n_candidates == 6  # Lyndon words of length 2 over 4 symbols
    assert "visited regions only" in caplog.text
    with pytest.raises(ConfigError, match="exhaustive search needs"):
        find_cycles(ALRNNParams(A, W, C, h, 10), 2, method="exhaustive", max_sequences=4096)
    with pytest.raises(ConfigError, match="period"):
        find_cycles(ALRNNParams(A, W, C, h, 10), 0)


def test_linear_network_p0():
    A, W, C, h = (
        np.array([0.5, 0.3]),
        np.array([[0.1, 0.2], [0.0, 0.1]]),
        np.zeros((2, 0)),
        np.ones(2),
    )
    fp = find_cycles(ALRNNParams(A, W, C, h, 0), 1)
    assert [c.regions for c in fp.cycles] == [(0,)]
    np.testing.assert_allclose(
        fp.cycles[0].points[0], np.linalg.solve(np.eye(2) - np.diag(A) - W, h)
    )
    assert find_cycles(ALRNNParams(A, W, C, h, 0), 2).cycles == ()


def test_constant_input_shifts_the_drive_and_table_is_json():
    # tent map with the bias moved into an input channel: same cycles
    res = find_cycles(
        ALRNNParams(TENT["A"], TENT["W"], np.ones((1, 1)), np.zeros(1), 1), 2, inputs=[1.0]
    )
    assert [c.regions for c in res.cycles] == [(0, 1)]
    table = res.to_dataframe(n_pwl=1)
    assert table.loc[0, "bits"] == ["0", "1"] and bool(table.loc[0, "stable"])
    json.dumps(table.to_dict("records"))


def test_cycle_dataset_per_epoch_input_and_method():
    """The tent map's 2-cycle appears under the input that keeps h = 1 and moves with it."""
    import xarray as xr

    from alrnn_neuro.analysis.cycles import cycle_dataset

    # one input channel with weight 1: epoch "a" adds 0 (h = 1), epoch "b" adds 1 (drive 2,
    # so by linearity the orbit doubles: -2.5, 1.5)
    params = dict(TENT, C=np.array([[1.0]]))
    drive = xr.DataArray([[0.0], [1.0]], dims=("epoch", "input"), coords={"epoch": ["a", "b"]})
    ds = cycle_dataset(ALRNNParams(**params, n_pwl=1), inputs=drive, periods=(2, 3))
    assert ds["cycle_period"].values.tolist() == [2, 2]
    assert ds["cycle_epoch"].values.tolist() == ["a", "b"]
    assert ds["cycle_regions"].values.tolist() == [[0, 1, -1], [0, 1, -1]]
    assert ds["cycle_points"].values[:, :2, 0] == pytest.approx(
        np.array([[-1.25, 0.75], [-2.5, 1.5]])
    )
    assert np.isnan(ds["cycle_points"].values[:, 2]).all()
    assert ds["cycle_stable"].values.all()
    assert ds["cycle_max_multiplier"].values == pytest.approx([0.6, 0.6])
    assert ds.attrs["cycle_periods"] == "2,3"
    assert ds.attrs["cycle_method_k2"].startswith("exhaustive over all 2 regions")
    # too many sequences for an exhaustive search and no visited regions: SCYFI, said so
    big = cycle_dataset(ALRNNParams(**TENT, n_pwl=1), periods=(2,), max_sequences=2)
    assert big.attrs["cycle_method_k2"].startswith("SCYFI")
    assert big["cycle_epoch"].values.tolist() == ["none"]
