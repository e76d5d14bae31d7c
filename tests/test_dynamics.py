"""Per-region exact dynamics: Jacobians, fixed points, stability (independent references)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from alrnn_neuro.analysis import (
    classify_stability,
    epoch_mean_inputs,
    fixed_points,
    region_dynamics,
)
from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.models.params import ALRNNParams, n_pwl_from_mask

TOL = 1e-10


def random_params(seed: int, M: int = 5, P: int = 3, K: int = 2, scale: float = 0.4):
    rng = np.random.default_rng(seed)
    return (
        rng.uniform(0.1, 0.9, M),
        rng.normal(0, scale, (M, M)),
        rng.normal(0, 1, (M, K)),
        rng.normal(0, 1, M),
        P,
    )


def record(A, W, C, h, P) -> ALRNNParams:
    return ALRNNParams(A, W, C, h, P)


def torch_step(A, W, C, h, P):
    """Plain AL-RNN step z -> A z + W phi(z) + C s + h written independently in torch."""
    A_, W_, h_ = (torch.tensor(x, dtype=torch.float64) for x in (A, W, h))
    M = len(A)

    def step(z):
        phi = torch.cat([z[: M - P], torch.relu(z[M - P :])])
        return A_ * z + W_ @ phi + h_

    return step


def code_of(z, P):
    M = len(z)
    return int(sum(int(z[M - P + j] > 0) << (P - 1 - j) for j in range(P)))


@pytest.mark.parametrize("seed,P", [(0, 0), (1, 2), (2, 5)])
def test_jacobian_matches_autograd(seed, P):
    A, W, C, h, _ = random_params(seed, M=5, P=P)
    step = torch_step(A, W, C, h, P)
    rng = np.random.default_rng(seed)
    for _ in range(6):
        z = rng.normal(0, 2, 5)
        ref = torch.autograd.functional.jacobian(step, torch.tensor(z)).numpy()
        ours = record(A, W, C, h, P).region_jacobians(np.array([code_of(z, P)]))[0]
        np.testing.assert_allclose(ours, ref, atol=TOL)


def test_region_jacobians_equal_the_torch_models_jacobian_in_each_region():
    from alrnn_neuro.models.alrnn import ALRNN

    model = ALRNN(6, 3, 2, seed=1).double()
    with torch.no_grad():
        model.W.normal_(0, 0.3, generator=torch.Generator().manual_seed(0))
    p = model.params()
    assert p.n_pwl == 3 and p.C.shape == (6, 2)
    J = p.region_jacobians()
    z = torch.randn(200, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    codes = p.bitcode(z.numpy())
    ref = model.jacobian(z).detach().numpy()  # the model's own closed form at each state
    np.testing.assert_allclose(J[codes], ref, atol=1e-12)
    assert len(np.unique(codes)) == 8  # every region was checked


@pytest.mark.parametrize("seed,P", [(0, 0), (3, 3), (4, 5)])
def test_fixed_points_solve_each_region_and_real_iff_true_fixed_point(seed, P):
    A, W, C, h, _ = random_params(seed, M=5, P=P)
    S = np.random.default_rng(seed).normal(size=(3, 2))
    wood = fixed_points(record(A, W, C, h, P), inputs=S, method="woodbury")
    direct = fixed_points(record(A, W, C, h, P), inputs=S, method="direct")
    assert wood.attrs["method"] == "woodbury" and direct.attrs["method"] == "direct"
    np.testing.assert_allclose(wood.fixed_point, direct.fixed_point, atol=1e-9)
    np.testing.assert_array_equal(wood.is_real, direct.is_real)
    J = record(A, W, C, h, P).region_jacobians(wood.region.values)
    for r, code in enumerate(wood.region.values):
        for c in range(3):
            ref = np.linalg.solve(np.eye(5) - J[r], h + C @ S[c])
            z = wood.fixed_point.values[r, c]
            np.testing.assert_allclose(z, ref, atol=1e-9)
            # real <=> a fixed point of the true nonlinear map
            phi = np.r_[z[: 5 - P], np.maximum(z[5 - P :], 0)]
            is_fixed = np.allclose(A * z + W @ phi + C @ S[c] + h, z, atol=1e-9)
            assert bool(wood.is_real.values[r, c]) == is_fixed
            assert bool(wood.is_real.values[r, c]) == (code_of(z, P) == code)


def test_one_dimensional_tent_map_fixed_points_by_hand():
    # z' = 0.2 z - 3.2 relu(z) + 1: slope 0.2 for z <= 0, -3 for z > 0.
    A, W, h = np.array([0.2]), np.array([[-3.2]]), np.array([1.0])
    ds = region_dynamics(record(A, W, np.zeros((1, 0)), h, 1))
    np.testing.assert_allclose(ds.fixed_point.sel(region=0).values.ravel(), [1 / 0.8])
    np.testing.assert_allclose(ds.fixed_point.sel(region=1).values.ravel(), [0.25])
    assert ds.is_real.values.ravel().tolist() == [False, True]  # 1.25 > 0 is virtual
    assert ds.stability.values.tolist() == ["stable node", "unstable"]
    np.testing.assert_allclose(ds.spectral_radius.values, [0.2, 3.0])
    assert list(ds.bits.values) == ["0", "1"] and ds.attrs["region_set"] == "all"


def test_two_dimensional_fixed_points_under_epoch_inputs_by_hand():
    # z1 linear leak 0.5 driven by relu(z2); z2 PWL with self-weight 0.5 and input s.
    A = np.array([0.5, 0.5])
    W = np.array([[0.0, 1.0], [0.0, 0.0]])
    C = np.array([[0.0], [1.0]])
    h = np.array([0.0, -0.5])
    inputs = xr.DataArray(
        [[0.0], [2.0]], dims=("epoch", "input"), coords={"epoch": ["pre", "stim"], "input": ["s"]}
    )
    ds = fixed_points(record(A, W, C, h, 1), inputs=inputs)
    assert ds.fixed_point.dims == ("region", "epoch", "latent")
    # region 0 (z2 <= 0): z2 = 2(s - 0.5), z1 = 0; region 1: z2 = 2(s - 0.5), z1 = 2 z2.
    np.testing.assert_allclose(ds.fixed_point.sel(region=0, epoch="pre"), [0.0, -1.0])
    np.testing.assert_allclose(ds.fixed_point.sel(region=1, epoch="stim"), [6.0, 3.0])
    assert ds.is_real.sel(epoch="pre").values.tolist() == [True, False]
    assert ds.is_real.sel(epoch="stim").values.tolist() == [False, True]


def test_singular_region_gives_nan_not_crash():
    # unit 0 is a perfect integrator (A=1, no coupling): I - J is singular in every region
    A, W, h = np.array([1.0, 0.5]), np.zeros((2, 2)), np.array([0.0, 1.0])
    ds = fixed_points(record(A, W, np.zeros((2, 0)), h, 1))
    assert ds.attrs["method"] == "direct"
    assert np.isnan(ds.fixed_point.values).all() and not ds.is_real.values.any()
    dyn = region_dynamics(record(A, W, np.zeros((2, 0)), h, 1))
    assert set(dyn.stability.values) == {"line attractor"}


@pytest.mark.parametrize(
    "eigs,expected",
    [
        ([0.5, 0.2], "stable node"),
        ([0.5 + 0.3j, 0.5 - 0.3j], "stable focus"),
        ([1.5, 0.2], "saddle"),
        ([1.5, -1.2], "unstable"),
        ([1.0, 0.3], "line attractor"),
        ([-1.0, 0.3], "marginal"),
        ([0.6 + 0.8j, 0.6 - 0.8j], "marginal"),
    ],
)
def test_classify_stability(eigs, expected):
    assert classify_stability(np.array([eigs]))[0] == expected


def test_region_dynamics_p0_has_one_region():
    A, W, C, h, _ = random_params(5, M=4, P=0)
    ds = region_dynamics(record(A, W, C, h, 0))
    assert ds.sizes["region"] == 1 and ds.region.values.tolist() == [0]
    J = np.diag(A) + W
    np.testing.assert_allclose(ds.jacobian.values[0], J)
    np.testing.assert_allclose(
        np.sort_complex(ds.eigenvalues.values[0]), np.sort_complex(np.linalg.eigvals(J))
    )
    assert bool(ds.is_real.values.all())  # the single region's point is always real


def test_region_dynamics_eigenpairs_and_sorting():
    A, W, C, h, P = random_params(6, M=5, P=3)
    ds = region_dynamics(record(A, W, C, h, P))
    J, ev, vec = ds.jacobian.values, ds.eigenvalues.values, ds.eigenvectors.values
    np.testing.assert_allclose(J @ vec, vec * ev[:, None, :], atol=1e-9)
    assert np.all(np.diff(np.abs(ev), axis=1) <= 1e-12)
    np.testing.assert_allclose(ds.spectral_radius.values, np.abs(ev[:, 0]))


def test_region_dynamics_falls_back_to_visited_and_flags_it(caplog):
    A, W, C, h, _ = random_params(7, M=14, P=14, scale=0.1)
    with pytest.raises(ConfigError, match="exceed max_regions"):
        region_dynamics(record(A, W, C, h, 14), max_regions=1024)
    ds = region_dynamics(record(A, W, C, h, 14), max_regions=1024, visited=np.array([0, 5, 77]))
    assert ds.attrs["restricted_to_visited"] == 1 and ds.attrs["region_set"] == "visited"
    assert "visited regions only" in caplog.text


def test_parameter_checks():
    with pytest.raises(ConfigError, match="W"):
        ALRNNParams(np.ones(3), np.ones((2, 2)), None, None, 1)
    with pytest.raises(ConfigError, match="n_pwl"):
        ALRNNParams(np.ones(3), np.ones((3, 3)), None, None, 4)
    with pytest.raises(ConfigError, match=r"\[0, 2\)"):
        ALRNNParams(np.ones(3), np.ones((3, 3)), None, None, 1).region_jacobians(np.array([2]))
    with pytest.raises(DataValidationError, match="channels"):
        fixed_points(
            ALRNNParams(np.ones(3), np.zeros((3, 3)), np.ones((3, 2)), None, 1), inputs=[1.0]
        )
    with pytest.raises(ConfigError, match="LAST P"):
        n_pwl_from_mask(np.array([1, 0, 0]))


def test_epoch_mean_inputs_skips_padding():
    S = np.zeros((2, 3, 1))
    S[:, :2, 0] = [[1, 3], [5, 7]]
    S[1, 2, 0] = 100.0  # padded step, must be ignored
    ep = np.array([["a", "b", ""], ["a", "b", "b"]])
    valid = np.array([[True, True, False], [True, True, False]])
    da = lambda x, dims: xr.DataArray(x, dims=dims)  # noqa: E731
    out = epoch_mean_inputs(
        xr.DataArray(S, dims=("trial", "time", "input"), coords={"input": ["s"]}),
        da(ep, ("trial", "time")),
        da(valid, ("trial", "time")),
    )
    assert out.dims == ("epoch", "input") and out.epoch.values.tolist() == ["a", "b"]
    np.testing.assert_allclose(out.values.ravel(), [3.0, 5.0])
