"""Baseline latent models (tanh RNN, GRU, LSTM) with the AL-RNN's interface, and a factory.

Baselines return their hidden states as latents, ``latents[:, 0] = cell(z0, s_1)`` exactly as
:class:`~alrnn_neuro.models.alrnn.ALRNN` does, so observation models, losses and training
loops treat every model alike.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.models.alrnn import ALRNN, check_dims
from alrnn_neuro.models.forcing import forcing_terms, prepare_forcing

BASELINE_KINDS = ("rnn", "gru", "lstm")
MODEL_NAMES = ("alrnn", *BASELINE_KINDS)
_MODULES = {
    "rnn": lambda k, m: nn.RNN(k, m, nonlinearity="tanh", batch_first=True),
    "gru": lambda k, m: nn.GRU(k, m, batch_first=True),
    "lstm": lambda k, m: nn.LSTM(k, m, batch_first=True),
}


class RNNBaseline(nn.Module):
    """A one-layer tanh RNN, GRU or LSTM whose hidden state plays the role of the latents.

    Parameters
    ----------
    kind : {"rnn", "gru", "lstm"}
        Cell type (``"rnn"`` is ``torch.nn.RNN(nonlinearity="tanh")``).
    latent_dim : int
        Hidden size M.
    input_dim : int
        Number of input channels K.
    seed : int, optional
        Seed of the initialisation: every weight ~ U(-1/sqrt(M), 1/sqrt(M)), PyTorch's
        default, drawn from a ``torch.Generator``.
    init_state : {"zero", "learned"}
        Initial hidden state ``z0``: zeros or a learned vector (the LSTM cell state starts at 0).

    Notes
    -----
    ``forcing = (targets, alpha)`` is supported exactly as for the AL-RNN (the carried hidden
    state becomes ``(1 - alpha) h_t + alpha target_t``, outputs are the pre-forcing ``h_t``),
    but runs one cuDNN/ATen call per step, so forced training of baselines is slower. For
    the LSTM only ``h`` is forced; the cell state ``c`` is carried unchanged.

    Examples
    --------
    >>> RNNBaseline("gru", 4, 2, seed=0)(torch.zeros(3, 7, 2)).shape
    torch.Size([3, 7, 4])
    """

    def __init__(
        self,
        kind: str,
        latent_dim: int,
        input_dim: int,
        seed: int | None = None,
        *,
        init_state: str = "zero",
    ) -> None:
        super().__init__()
        if kind not in BASELINE_KINDS:
            raise ConfigError(f"kind={kind!r} is not one of {BASELINE_KINDS}")
        if init_state not in ("zero", "learned"):
            raise ConfigError(
                f"init_state={init_state!r} is not supported by baseline {kind!r}; use "
                "'zero' or 'learned' (pass an explicit z0 to forward for data-inferred starts)"
            )
        check_dims(latent_dim, 0, input_dim)
        self.kind, self.latent_dim, self.input_dim = kind, latent_dim, input_dim
        self.init_state, self.ensemble_shape = init_state, ()
        self.rnn = _MODULES[kind](input_dim, latent_dim)
        gen = torch.Generator()
        gen.manual_seed(int(seed) if seed is not None else gen.seed())
        bound = 1.0 / math.sqrt(latent_dim)
        with torch.no_grad():
            for p in self.rnn.parameters():
                p.copy_(torch.rand(p.shape, generator=gen, dtype=p.dtype) * 2 * bound - bound)
        z0 = torch.zeros(latent_dim)
        if init_state == "learned":
            self.z0 = nn.Parameter(z0)
        else:
            self.register_buffer("z0", z0)

    def extra_repr(self) -> str:  # noqa: D102
        return f"kind={self.kind!r}, latent_dim={self.latent_dim}, input_dim={self.input_dim}"

    def forward(
        self,
        inputs: torch.Tensor,
        *,
        z0: torch.Tensor | None = None,
        forcing: tuple[torch.Tensor, torch.Tensor | float] | None = None,
    ) -> torch.Tensor:
        """Hidden states for every step.

        Parameters
        ----------
        inputs : Tensor, shape (batch, time, input)
        z0 : Tensor, optional
            Initial hidden state, broadcastable to (batch, latent).
        forcing : (Tensor, Tensor or float), optional
            ``(targets, alpha)`` as in :meth:`ALRNN.forward`.

        Returns
        -------
        Tensor, shape (batch, time, latent)
        """
        if inputs.dim() != 3 or inputs.shape[-1] != self.input_dim:
            raise DataValidationError(
                f"inputs has shape {tuple(inputs.shape)}; expected (batch, time, {self.input_dim})"
            )
        dtype = self.z0.dtype
        inputs = inputs.to(dtype)
        batch, n_steps = inputs.shape[:2]
        shape = (batch, self.latent_dim)
        h0 = self.z0 if z0 is None else z0.to(dtype)
        try:
            h0 = torch.broadcast_to(h0, shape).unsqueeze(0).contiguous()
        except RuntimeError:
            raise DataValidationError(
                f"z0 has shape {tuple(h0.shape)}; expected a shape broadcastable to {shape}"
            ) from None
        hidden = (h0, torch.zeros_like(h0)) if self.kind == "lstm" else h0
        if forcing is None:
            return self.rnn(inputs, hidden)[0]
        target, alpha = prepare_forcing(forcing, (batch, n_steps), self.latent_dim, dtype)
        alpha_target, keep = forcing_terms(target, alpha)
        outs = []
        for t in range(n_steps):
            out, hidden = self.rnn(inputs[:, t : t + 1], hidden)
            outs.append(out[:, 0])
            h = out.transpose(0, 1) * keep[None, :, t] + alpha_target[None, :, t]
            hidden = (h, hidden[1]) if self.kind == "lstm" else h
        return torch.stack(outs, dim=1) if outs else inputs.new_zeros((batch, 0, self.latent_dim))


def make_model(
    name: str,
    latent_dim: int,
    pwl_units: int = 0,
    input_dim: int = 0,
    seed: int | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a latent model by name.

    Parameters
    ----------
    name : {"alrnn", "rnn", "gru", "lstm"}
        ``"alrnn"`` builds :class:`ALRNN`; the others :class:`RNNBaseline` of that kind.
    latent_dim : int
        M (>= 1).
    pwl_units : int
        P, 0 <= P <= M (used by the AL-RNN only, checked for all).
    input_dim : int
        K.
    seed : int, optional
        Initialisation seed.
    **kwargs
        Passed on (``init_state``; ``ensemble_shape`` for the AL-RNN).

    Returns
    -------
    torch.nn.Module
        A module with ``forward(inputs, *, z0=None, forcing=None) -> latents``.

    Examples
    --------
    >>> make_model("alrnn", 6, 2, 8, seed=0).pwl_units
    2
    >>> make_model("transformer", 6)
    Traceback (most recent call last):
    ...
    alrnn_neuro.errors.ConfigError: model name='transformer' is not one of alrnn, rnn, gru, lstm
    """
    if name not in MODEL_NAMES:
        raise ConfigError(f"model name={name!r} is not one of {', '.join(MODEL_NAMES)}")
    check_dims(latent_dim, pwl_units, input_dim)
    if name == "alrnn":
        return ALRNN(latent_dim, pwl_units, input_dim, seed=seed, **kwargs)
    if tuple(kwargs.pop("ensemble_shape", ())):
        raise ConfigError(
            f"ensemble_shape is only supported for name='alrnn', not {name!r}; build one "
            "baseline per seed instead"
        )
    return RNNBaseline(name, latent_dim, input_dim, seed, **kwargs)
