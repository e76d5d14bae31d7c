"""The Almost-Linear RNN (AL-RNN): one step, the whole-sequence forward, its linear regions.

Model (M latents, K inputs, P piecewise-linear units)::

    z_t   = A * z_{t-1} + W phi(z_{t-1}) + C s_t + h
    phi(z) = (z_1, ..., z_{M-P}, max(0, z_{M-P+1}), ..., max(0, z_M))

``A`` is the diagonal (a vector), ``W`` the full coupling matrix, ``C`` the input matrix and
``h`` the bias. Each sign pattern of the P rectified units (its *bitcode*) names one linear
region; :meth:`ALRNN.params` returns the trained parameters as an
:class:`~alrnn_neuro.models.params.ALRNNParams`, which computes bitcodes, regions and region
Jacobians (the one implementation of each).

Where ``A`` sits is a choice (``a_placement``): on every unit (the default) or only on the P
rectified units (the AL-RNN study's model, Brenner & Koppe, TMLR 2026): then a linear unit's
``A_i`` is held at exactly 0 by a fixed mask (``a_mask``) and its self-coupling is ``W_ii``.

Every parameter carries optional leading ``ensemble_shape`` dims, so K independent models
(each with its own P, via the ``pwl_mask`` buffer) train as one module; all maths below is
written with those leading ``...`` dims.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral

import torch
from torch import nn

from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.models.engine import alrnn_scan, compiled_input_scan, plain_scan, time_major
from alrnn_neuro.models.forcing import prepare_forcing
from alrnn_neuro.models.params import ALRNNParams

INIT_STATES = ("learned", "zero", "data")
ENGINES = ("fast", "plain")
A_PLACEMENTS = ("all", "pwl")


def check_dims(latent_dim: int, pwl_units: int | Sequence[int], input_dim: int) -> None:
    """Raise :class:`ConfigError` unless ``latent_dim >= 1``, ``0 <= P <= M``, ``input_dim >= 0``.

    Examples
    --------
    >>> check_dims(6, 7, 2)
    Traceback (most recent call last):
    ...
    alrnn_neuro.errors.ConfigError: pwl_units=7 must satisfy 0 <= pwl_units <= latent_dim (6); ...
    """
    if not isinstance(latent_dim, Integral) or latent_dim < 1:
        raise ConfigError(f"latent_dim={latent_dim!r} must be an integer >= 1, e.g. latent_dim=6")
    for p in torch.as_tensor(pwl_units).flatten().tolist():
        if not 0 <= int(p) <= latent_dim:
            raise ConfigError(
                f"pwl_units={p!r} must satisfy 0 <= pwl_units <= latent_dim ({latent_dim}); "
                "use pwl_units=0 for a linear RNN or pwl_units=latent_dim for a full PLRNN"
            )
    if not isinstance(input_dim, Integral) or input_dim < 0:
        raise ConfigError(f"input_dim={input_dim!r} must be an integer >= 0 (0 = no inputs)")


def _pd_diagonal(m: int, generator: torch.Generator) -> torch.Tensor:
    """Diagonal of a random positive-definite matrix normalised by its largest eigenvalue."""
    r = torch.randn(m, m, generator=generator, dtype=torch.float64)
    k = r.T @ r / m + torch.eye(m, dtype=torch.float64)
    return torch.diagonal(k / torch.linalg.eigvalsh(k).max()).clone()


def check_a_options(a_placement: str, a_init: Sequence[float]) -> tuple[float, ...]:
    """Raise :class:`ConfigError` unless ``a_placement`` is known and ``a_init`` is ``()`` or
    ``(mean, sd)`` with finite numbers and ``sd >= 0``; return ``a_init`` as a tuple.

    Examples
    --------
    >>> check_a_options("pwl", [0.9, 0.1])
    (0.9, 0.1)
    """
    if a_placement not in A_PLACEMENTS:
        raise ConfigError(
            f"a_placement={a_placement!r} is not one of {A_PLACEMENTS}; fix: 'all' (A on every "
            "unit) or 'pwl' (A on the rectified units only)"
        )
    try:
        values = tuple(float(v) for v in a_init)
    except (TypeError, ValueError):
        values = (math.nan,)
    if values and (len(values) != 2 or not all(map(math.isfinite, values)) or not values[1] >= 0):
        raise ConfigError(
            f"a_init={a_init!r} is invalid; fix: () for the default or (mean, sd) with "
            "finite numbers and sd >= 0, e.g. (0.9, 0.1)"
        )
    return values


class ALRNN(nn.Module):
    """Almost-Linear RNN with P rectified units out of M (see module docstring).

    Parameters
    ----------
    latent_dim : int
        Number of latent states M (>= 1).
    pwl_units : int or sequence of int
        Number P of rectified units (the last P); 0 = linear RNN, M = full PLRNN. A sequence
        of shape ``ensemble_shape`` gives each ensemble member its own P.
    input_dim : int
        Number of input channels K (0 allowed).
    init_state : {"learned", "zero", "data"}
        ``z0`` is a learned parameter, a zero buffer, or must be passed to :meth:`forward`
        (``"data"``: the caller estimates it from the first bins through the observation
        model, e.g. ``readout.invert(data)[:, 0]``).
    seed : int, optional
        Seed of the initialisation (``torch.Generator``); None draws a fresh seed.
    ensemble_shape : tuple of int
        Leading dims of every parameter for K independent models trained at once.
    a_placement : {"all", "pwl"}
        ``A`` on every unit, or only on the P rectified units (``A_i = 0``, fixed, on the
        linear units; with P = 0 ``A`` is all zeros).
    a_init : () or (float, float)
        ``()``: ``A`` from the diagonal of a normalised positive-definite matrix, in (0, 1];
        ``(mean, sd)``: ``A_i ~ N(mean, sd^2)`` (on the units that carry ``A``).

    Attributes
    ----------
    A : Parameter, shape (..., latent)
        Diagonal of the linear self-connections (see ``a_init``); exactly 0 where
        ``a_mask`` is 0. The dynamics use :attr:`self_connection`.
    W : Parameter, shape (..., latent, latent2)
        Couplings applied to ``phi(z)``, initialised N(0, 0.01^2).
    C : Parameter, shape (..., latent, input)
        Input matrix, initialised N(0, 0.1^2).
    h : Parameter, shape (..., latent)
        Bias, initialised 0.
    z0 : Parameter or buffer, shape (..., latent)
        Initial state (zeros at initialisation).
    pwl_mask : buffer, shape (..., latent)
        1.0 on rectified units, 0.0 on linear units.
    a_mask : buffer, shape (..., latent)
        1.0 on the units that carry ``A`` (all, or the rectified ones); not saved in the
        ``state_dict`` (it follows from ``a_placement`` and P).

    Examples
    --------
    >>> model = ALRNN(4, 2, 3, seed=0)
    >>> model(torch.zeros(5, 10, 3)).shape
    torch.Size([5, 10, 4])
    """

    def __init__(
        self,
        latent_dim: int,
        pwl_units: int | Sequence[int],
        input_dim: int,
        *,
        init_state: str = "learned",
        seed: int | None = None,
        ensemble_shape: tuple[int, ...] = (),
        a_placement: str = "all",
        a_init: Sequence[float] = (),
    ) -> None:
        super().__init__()
        check_dims(latent_dim, pwl_units, input_dim)
        a_init = check_a_options(a_placement, a_init)
        if init_state not in INIT_STATES:
            raise ConfigError(f"init_state={init_state!r} is not one of {INIT_STATES}")
        ens = tuple(int(e) for e in ensemble_shape)
        if any(e < 1 for e in ens):
            raise ConfigError(f"ensemble_shape={ensemble_shape!r} must hold positive sizes")
        p = torch.as_tensor(pwl_units, dtype=torch.long)
        if p.dim() and tuple(p.shape) != ens:
            raise ConfigError(
                f"pwl_units has shape {tuple(p.shape)} but ensemble_shape is {ens}; pass one "
                "int or one P per ensemble member"
            )
        m, k = int(latent_dim), int(input_dim)
        self.latent_dim, self.input_dim, self.init_state = m, k, init_state
        self.ensemble_shape = ens
        self.pwl_units = int(p) if p.dim() == 0 else tuple(p.flatten().tolist())
        self.a_placement, self.a_init = a_placement, a_init
        gen = torch.Generator()
        gen.manual_seed(int(seed) if seed is not None else gen.seed())
        n = math.prod(ens)
        dtype = torch.get_default_dtype()
        mask = torch.arange(m) >= (m - p.expand(ens).unsqueeze(-1))
        a_mask = mask if a_placement == "pwl" else torch.ones(*ens, m, dtype=torch.bool)
        if a_init:
            a = a_init[0] + a_init[1] * torch.randn(*ens, m, generator=gen, dtype=torch.float64)
        else:
            a = torch.stack([_pd_diagonal(m, gen) for _ in range(n)]).reshape(*ens, m)
        self.A = nn.Parameter(torch.where(a_mask, a, 0.0).to(dtype))
        self.W = nn.Parameter(0.01 * torch.randn(*ens, m, m, generator=gen, dtype=dtype))
        self.C = nn.Parameter(0.1 * torch.randn(*ens, m, k, generator=gen, dtype=dtype))
        self.h = nn.Parameter(torch.zeros(*ens, m, dtype=dtype))
        if init_state == "learned":
            self.z0 = nn.Parameter(torch.zeros(*ens, m, dtype=dtype))
        else:
            self.register_buffer("z0", torch.zeros(*ens, m, dtype=dtype))
        self.register_buffer("pwl_mask", mask.to(dtype))
        self.register_buffer("a_mask", a_mask.to(dtype), persistent=False)

    # ------------------------------------------------------------------ helpers
    def extra_repr(self) -> str:  # noqa: D102
        names = ("latent_dim", "pwl_units", "input_dim", "init_state", "ensemble_shape")
        names += ("a_placement",) * (self.a_placement != "all")
        return ", ".join(f"{n}={getattr(self, n)!r}" for n in names)

    @property
    def self_connection(self) -> torch.Tensor:
        """The diagonal self-connection the dynamics use, shape (..., latent).

        ``A`` itself with ``a_placement="all"``; ``A * a_mask`` with ``"pwl"`` (exactly 0 on
        linear units, which then get no gradient through it).
        """
        return self.A if self.a_placement == "all" else self.A * self.a_mask

    @property
    def n_pwl(self) -> torch.Tensor:
        """Number of rectified units per ensemble member, int64 tensor of shape (...)."""
        return self.pwl_mask.sum(-1).round().long()

    def _view(self, p: torch.Tensor, n_batch: int, trailing: int = 1) -> torch.Tensor:
        """Insert ``n_batch`` singleton dims between the ensemble dims and the last dims."""
        e = len(self.ensemble_shape)
        return p.reshape(p.shape[:e] + (1,) * n_batch + p.shape[p.dim() - trailing :])

    def _n_batch(self, z: torch.Tensor, name: str = "z") -> int:
        e = len(self.ensemble_shape)
        if z.dim() < e + 1 or z.shape[-1] != self.latent_dim or z.shape[:e] != self.ensemble_shape:
            raise DataValidationError(
                f"{name} has shape {tuple(z.shape)}; expected (*ensemble_shape, ..., latent) = "
                f"({', '.join(map(str, self.ensemble_shape + ('...', self.latent_dim)))})"
            )
        return z.dim() - e - 1

    # ------------------------------------------------------------------ one step
    def phi(self, z: torch.Tensor) -> torch.Tensor:
        """Rectify the piecewise-linear units of ``z``, shape (..., batch..., latent)."""
        mask = self._view(self.pwl_mask, self._n_batch(z))
        return torch.where(mask != 0, torch.relu(z), z)

    def step(self, z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """One step ``z_next = A * z + W phi(z) + C s + h`` (``A`` = :attr:`self_connection`).

        Parameters
        ----------
        z : Tensor, shape (..., batch..., latent)
            States; ``...`` are the ensemble dims (any number of batch dims follows).
        s : Tensor, shape broadcastable to (..., batch..., input)
            Inputs of this step.

        Returns
        -------
        Tensor, shape of ``z``
        """
        e, m = len(self.ensemble_shape), self.latent_dim
        self._n_batch(z)
        lead = z.shape[:-1]
        s = torch.broadcast_to(s, (*lead, self.input_dim))
        zf = z.reshape(*lead[:e], -1, m)
        sf = s.reshape(*lead[:e], -1, self.input_dim)
        a = self.self_connection.unsqueeze(-2)
        out = zf * a + self.phi(zf) @ self.W.mT + sf @ self.C.mT
        return (out + self.h.unsqueeze(-2)).reshape(z.shape)

    def jacobian(self, z: torch.Tensor) -> torch.Tensor:
        """Closed-form Jacobian ``d step / d z = diag(A) + W D(z)``.

        Parameters
        ----------
        z : Tensor, shape (..., batch..., latent)

        Returns
        -------
        Tensor, shape (..., batch..., latent, latent2)
            ``D(z)`` is 1 on linear units and ``1{z > 0}`` on rectified units.
        """
        nb = self._n_batch(z)
        mask = self._view(self.pwl_mask, nb)
        d = torch.where(mask != 0, (z > 0).to(z.dtype), torch.ones_like(z))
        diag_a = torch.diag_embed(self._view(self.self_connection, nb))
        return diag_a + self._view(self.W, nb, 2) * d.unsqueeze(-2)

    # ------------------------------------------------------------------ regions
    def params(self) -> ALRNNParams:
        """This model's parameters as an :class:`~alrnn_neuro.models.params.ALRNNParams`.

        The record computes bitcodes, regions and region Jacobians (numpy, float64); an
        ensemble must pick a member first, ``model.member(i).params()``.

        Examples
        --------
        >>> p = ALRNN(3, 1, 0, seed=0).params()
        >>> p.n_pwl, p.region_jacobians().shape
        (1, (2, 3, 3))
        """
        if self.ensemble_shape:
            raise ConfigError(
                f"params() needs one model; this is an ensemble of shape {self.ensemble_shape}. "
                "Fix: model.member(i).params()"
            )
        return ALRNNParams.from_model(self)

    # ------------------------------------------------------------------ sequences
    def forward(
        self,
        inputs: torch.Tensor,
        *,
        z0: torch.Tensor | None = None,
        forcing: tuple[torch.Tensor, torch.Tensor | float] | None = None,
        engine: str = "fast",
    ) -> torch.Tensor:
        """Run the model over whole sequences.

        ``latents[..., b, 0, :]`` is ``z_1 = step(z0, s_1)``: the state after the first
        input; ``z0`` itself is not returned. With ``forcing = (targets, alpha)`` the state
        carried to the next step after step t is ``(1 - alpha_t) z_t + alpha_t targets_t``
        (``targets`` detached, ``alpha`` treated as a constant), while ``latents`` hold the
        model's own prediction ``z_t`` *before* forcing, i.e. what a loss should compare to
        data. alpha = 1 every tau steps is sparse teacher forcing, a constant alpha
        generalised teacher forcing. Where ``alpha == 0`` the target is ignored (NaN allowed).

        Parameters
        ----------
        inputs : Tensor, shape (batch, time, input) or (..., batch, time, input)
            Inputs ``s_t``; without ensemble dims they are shared by all members.
        z0 : Tensor, optional
            Initial state, broadcastable to (..., batch, latent); required when
            ``init_state == "data"``, otherwise defaults to the model's ``z0``.
        forcing : (Tensor, Tensor or float), optional
            ``targets`` of shape ([...,] batch, time, n) with n <= latent (forces the first n
            latents; the rest get alpha = 0) and ``alpha`` broadcastable to it, in [0, 1].
        engine : {"fast", "plain"}
            ``"fast"``: :func:`~alrnn_neuro.models.engine.alrnn_scan` (hand-written BPTT);
            ``"plain"``: a per-step autograd loop over :meth:`step` (the reference).

        Returns
        -------
        Tensor, shape (..., batch, time, latent)
        """
        if engine not in ENGINES:
            raise ConfigError(f"engine={engine!r} is not one of {ENGINES}")
        e, m = len(self.ensemble_shape), self.latent_dim
        if inputs.dim() not in (3, 3 + e) or inputs.shape[-1] != self.input_dim:
            raise DataValidationError(
                f"inputs has shape {tuple(inputs.shape)}; expected (batch, time, "
                f"{self.input_dim}) or (*{self.ensemble_shape}, batch, time, {self.input_dim})"
            )
        inputs = inputs.to(self.A.dtype)
        batch = inputs.shape[-3]
        state = self._initial_state(z0, batch)
        forced = None
        if forcing is not None:
            forced = prepare_forcing(forcing, inputs.shape[-3:-1], m, self.A.dtype)
        if engine == "plain":
            return plain_scan(self.step, inputs, state, forced)
        args = (self.self_connection, self.W, self.pwl_mask, forced)
        out = compiled_input_scan(inputs, self.C, self.h, state, *args)
        if out is not None:  # the drive formed inside the compiled loops
            return out
        drive = self._drive(inputs)
        if forced is not None:
            forced = tuple(time_major(f, e) for f in forced)
        out = alrnn_scan(drive, state, self.self_connection, self.W, self.pwl_mask, forced)
        return out.movedim(0, -2)

    def _drive(self, inputs: torch.Tensor) -> torch.Tensor:
        """``C s_t + h`` of every step, (time, ..., batch, latent).

        With at most one ensemble dim it is computed member-major (one product per member)
        and returned as a time-major view: the layout the engine runs in, so nothing is
        copied on the way in.
        """
        e, (batch, n_steps) = len(self.ensemble_shape), inputs.shape[-3:-1]
        if e == 0:
            return nn.functional.linear(inputs.transpose(0, 1), self.C, self.h)
        if e > 1:
            drive = torch.matmul(time_major(inputs, e), self.C.mT) + self.h.unsqueeze(-2)
            return drive.expand(n_steps, *self.ensemble_shape, batch, self.latent_dim)
        k = self.ensemble_shape[0]
        lead = 1 if inputs.dim() == 3 else k
        x = inputs.transpose(-3, -2).reshape(lead, n_steps * batch, self.input_dim)
        drive = torch.baddbmm(self.h.unsqueeze(-2), x.expand(k, -1, -1), self.C.mT)
        return drive.view(k, n_steps, batch, self.latent_dim).movedim(1, 0)

    def _initial_state(self, z0: torch.Tensor | None, batch: int) -> torch.Tensor:
        shape = (*self.ensemble_shape, batch, self.latent_dim)
        if z0 is None:
            if self.init_state == "data":
                raise ConfigError(
                    "init_state='data' needs an explicit z0: pass forward(inputs, z0=...) "
                    "estimated from the first bins, e.g. readout.invert(data)[:, 0]"
                )
            return self.z0.unsqueeze(-2).expand(shape)
        z0 = z0.to(self.A.dtype)
        try:
            return torch.broadcast_to(z0, shape)
        except RuntimeError:
            raise DataValidationError(
                f"z0 has shape {tuple(z0.shape)}; expected a shape broadcastable to {shape}"
            ) from None

    def member(self, index: int | tuple[int, ...]) -> ALRNN:
        """A standalone (non-ensemble) copy of ensemble member ``index``."""
        idx = (index,) if isinstance(index, int) else tuple(index)
        if len(idx) != len(self.ensemble_shape):
            raise ConfigError(f"index={index!r} must have {len(self.ensemble_shape)} entries")
        p = int(self.n_pwl[idx])
        out = ALRNN(
            self.latent_dim,
            p,
            self.input_dim,
            init_state=self.init_state,
            seed=0,
            a_placement=self.a_placement,
            a_init=self.a_init,
        )
        out = out.to(dtype=self.A.dtype, device=self.A.device)
        with torch.no_grad():
            for name, tensor in list(out.named_parameters()) + list(out.named_buffers()):
                tensor.copy_(getattr(self, name)[idx])
        return out
