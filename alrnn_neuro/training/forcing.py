"""Sparse, generalised teacher forcing and its schedule.

Every ``interval`` steps (with a random phase per batch) the latent state is pulled toward a
data-inferred state z_data (the readout's ``invert`` of the observations):

    z_t <- (1 - alpha) z_t + alpha z_data,t      (z_data carries no gradient)

``alpha`` decays linearly from ``tf_alpha`` to 0 over the first ``tf_anneal`` fraction of the
epochs (constant when ``tf_anneal`` is 0), so the end of training matches the free-running
model that is evaluated.
"""

from __future__ import annotations

import torch

from alrnn_neuro.training.batching import TrialTensors


def alpha_at(epoch: int, *, alpha: float, anneal: float, epochs: int) -> float:
    """Forcing strength at ``epoch`` (0-based).

    Examples
    --------
    >>> [alpha_at(e, alpha=0.8, anneal=0.5, epochs=4) for e in range(4)]
    [0.8, 0.4, 0.0, 0.0]
    """
    if anneal <= 0:
        return float(alpha)
    span = anneal * epochs
    return float(alpha * max(0.0, 1.0 - epoch / span))


def forcing_weights(
    valid: torch.Tensor,
    interval: int,
    alpha: float,
    generator: torch.Generator,
    dtype: torch.dtype,
) -> torch.Tensor | None:
    """Per-step forcing strength for a batch, or None when nothing is forced.

    Parameters
    ----------
    valid : Tensor of bool, shape (trial, time)
        Valid steps of the batch (padded steps are never forced).
    interval : int
        Force every ``interval`` steps; 0 disables forcing.
    alpha : float
        Forcing strength on forced steps.
    generator : torch.Generator
        Draws the phase (one per batch), so resuming from its saved state is exact.
    dtype : torch.dtype
        Dtype of the result (the model's).

    Returns
    -------
    Tensor, shape (trial, time, 1), or None
        ``alpha`` on forced steps, 0 elsewhere.

    Examples
    --------
    >>> w = forcing_weights(torch.ones(1, 6, dtype=torch.bool), 3, 0.5, torch.Generator(),
    ...                     torch.float32)
    >>> int((w > 0).sum())
    2
    """
    if interval <= 0 or alpha <= 0:
        return None
    phase = int(torch.randint(interval, (1,), generator=generator))
    steps = torch.arange(valid.shape[1], device=valid.device)
    forced = ((steps % interval) == phase)[None, :] & valid
    return (forced.to(dtype) * alpha).unsqueeze(-1)


def forcing_targets(readout: torch.nn.Module, batch: TrialTensors) -> torch.Tensor:
    """Data-inferred latent states (detached) for teacher forcing and data-inferred z0.

    Parameters
    ----------
    readout : Module
        Observation model with ``invert(targets, mask, *, observed=...)``.
    batch : TrialTensors
        The batch; padded steps and unrecorded units are left out of the inversion.

    Returns
    -------
    Tensor, shape (trial, time, n)
        ``n`` = latent_dim, or the number of observed channels for an identity readout
        (which then forces only the first ``n`` latents).
    """
    with torch.no_grad():
        return readout.invert(batch.data, batch.valid, observed=batch.observed).detach()
