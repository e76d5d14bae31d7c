"""Task readouts: a linear map latents -> outputs, scored on the task's ``loss_mask`` steps.

Task datasets (``targets`` (trial, time, output), ``loss_mask`` (trial, time),
``attrs["task_loss"]``) are fitted with one of two readouts::

    MSETaskReadout:           y_hat = W z + b,             loss = mean_{mask, output} (y_hat - y)^2
    CrossEntropyTaskReadout:  p = softmax(W z + b),        loss = mean_{mask} -sum_o y_o log p_o

with ``W`` (output, latent) ~ N(0, 0.1^2) and ``b`` = 0 (see :meth:`set_bias_from_targets`).
Both follow the readout interface of :mod:`alrnn_neuro.models.observation` (``predict``,
``loss(latents, targets, mask)``; latents may carry ensemble dims ``(..., batch, time,
latent)`` with one map per member, and ``loss`` sums the members' means). ``member_loss``
returns the per-member means instead. Task targets cannot be inverted into latent states,
so ``invert`` (teacher forcing, data-inferred z0) raises :class:`ConfigError`.
"""

from __future__ import annotations

import torch

from alrnn_neuro.data.schema import TASK_LOSSES
from alrnn_neuro.errors import ConfigError, DataValidationError
from alrnn_neuro.models.observation import LinearReadout


class _TaskReadout(LinearReadout):
    """Shared parts: the masked per-member mean of a per-entry loss."""

    def per_entry(self, latents: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Loss of every (..., batch, time, output) entry (or (..., batch, time, 1))."""
        raise NotImplementedError

    def member_loss(
        self,
        latents: torch.Tensor,
        targets: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        observed: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Mean loss over the ``mask`` steps of each member, shape ``ensemble_shape``.

        Parameters
        ----------
        latents : Tensor, shape (..., batch, time, latent)
            Latent states (``...`` = the ensemble dims).
        targets : Tensor, shape (batch, time, output)
            Task targets (one-hot for cross-entropy).
        mask : Tensor of bool, shape (batch, time), optional
            Scored steps (the task's ``loss_mask``); None = all steps.
        observed : ignored
            Every output is scored.
        """
        targets = torch.as_tensor(targets, device=latents.device)
        if targets.dim() != 3 or targets.shape[-1] != self.n_out:
            raise DataValidationError(
                f"targets have shape {tuple(targets.shape)}; expected (batch, time, "
                f"{self.n_out}) task targets"
            )
        if mask is None:
            mask = torch.ones(targets.shape[:2], dtype=torch.bool, device=latents.device)
        mask = torch.as_tensor(mask, device=latents.device).bool()
        # only the scored steps reach the readout (a copy task scores 8 of 117 steps), so
        # unscored steps cost nothing and their values (even NaN) never leak into the loss;
        # each scored step is a "trial" of one step for the readout's (batch, time) layout
        z = latents[..., mask, :].unsqueeze(-2)  # (..., scored, 1, latent)
        y = targets.to(latents.dtype)[mask].unsqueeze(-2)  # (scored, 1, output)
        values = self.per_entry(z, y)
        count = (mask.sum() * values.shape[-1]).clamp(min=1)
        return values.sum(dim=(-3, -2, -1)) / count

    def invert(self, targets, mask=None, *, observed=None):
        """Not available: task targets do not determine a latent state."""
        raise ConfigError(
            "task readouts cannot infer latent states from targets (needed by teacher forcing "
            "and init_state='data'); fix: tf_interval=0 and init_state='learned'"
        )


class MSETaskReadout(_TaskReadout):
    """Linear outputs ``W z + b`` trained with the mean squared error on ``loss_mask`` steps.

    Parameters
    ----------
    latent_dim : int
        M.
    n_outputs : int
        Number of task outputs.
    seed : int, optional
        Seed of ``W ~ N(0, 0.1^2)``.
    ensemble_shape : tuple of int
        One readout per ensemble member.

    Examples
    --------
    >>> readout = MSETaskReadout(3, 2, seed=0)
    >>> y = torch.ones(1, 4, 2)
    >>> readout.loss(torch.zeros(1, 4, 3), y, torch.tensor([[True, True, False, False]])).item()
    1.0
    """

    def __init__(
        self,
        latent_dim: int,
        n_outputs: int,
        *,
        seed: int | None = None,
        ensemble_shape: tuple[int, ...] = (),
    ) -> None:
        super().__init__(latent_dim, n_outputs, seed=seed, ensemble_shape=ensemble_shape)

    def predict(self, latents: torch.Tensor) -> torch.Tensor:
        """Outputs, shape (..., batch, time, output)."""
        return self.linear(latents)

    def per_entry(self, latents: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Squared error of every output, shape (..., batch, time, output)."""
        return (self.linear(latents) - targets) ** 2

    def set_bias_from_targets(self, mean_targets: torch.Tensor) -> None:
        """Set ``b`` so that z = 0 predicts ``mean_targets`` (output,)."""
        with torch.no_grad():
            self.bias.copy_(torch.as_tensor(mean_targets).to(self.bias))


class CrossEntropyTaskReadout(_TaskReadout):
    """Softmax classifier over ``output`` trained with cross-entropy on ``loss_mask`` steps.

    ``loss`` is the mean over scored steps of ``-sum_o y_o log softmax(W z + b)_o`` (targets
    one-hot, so one term per step); ``predict`` returns the probabilities.

    Parameters
    ----------
    latent_dim : int
        M.
    n_outputs : int
        Number of classes (>= 2).
    seed : int, optional
        Seed of ``W ~ N(0, 0.1^2)``.
    ensemble_shape : tuple of int
        One readout per ensemble member.

    Examples
    --------
    >>> readout = CrossEntropyTaskReadout(3, 4, seed=0)
    >>> y = torch.eye(4)[None, [0, 1]]  # (1, 2, 4)
    >>> round(readout.loss(torch.zeros(1, 2, 3), y).item(), 4)  # log(4)
    1.3863
    """

    def __init__(
        self,
        latent_dim: int,
        n_outputs: int,
        *,
        seed: int | None = None,
        ensemble_shape: tuple[int, ...] = (),
    ) -> None:
        if n_outputs < 2:
            raise ConfigError(f"n_outputs={n_outputs}: cross-entropy needs >= 2 classes")
        super().__init__(latent_dim, n_outputs, seed=seed, ensemble_shape=ensemble_shape)

    def predict(self, latents: torch.Tensor) -> torch.Tensor:
        """Class probabilities, shape (..., batch, time, output)."""
        return torch.softmax(self.linear(latents), dim=-1)

    def per_entry(self, latents: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of every step, shape (..., batch, time, 1)."""
        logp = torch.log_softmax(self.linear(latents), dim=-1)
        return -(targets * logp).sum(-1, keepdim=True)

    def set_bias_from_targets(self, mean_targets: torch.Tensor) -> None:
        """Set ``b`` to the log class frequencies ``mean_targets`` (output,) (floored)."""
        freq = torch.as_tensor(mean_targets).to(self.bias).clamp(min=1e-3)
        with torch.no_grad():
            self.bias.copy_(torch.log(freq / freq.sum()))


def make_task_readout(
    task_loss: str,
    latent_dim: int,
    n_outputs: int,
    *,
    seed: int | None = None,
    ensemble_shape: tuple[int, ...] = (),
) -> MSETaskReadout | CrossEntropyTaskReadout:
    """The task readout of ``task_loss`` (``"mse"`` or ``"cross_entropy"``).

    Examples
    --------
    >>> type(make_task_readout("cross_entropy", 4, 3, seed=0)).__name__
    'CrossEntropyTaskReadout'
    """
    readouts = {"mse": MSETaskReadout, "cross_entropy": CrossEntropyTaskReadout}
    if task_loss not in readouts:
        raise ConfigError(f"task_loss={task_loss!r} is unknown; fix: one of {TASK_LOSSES}")
    return readouts[task_loss](latent_dim, n_outputs, seed=seed, ensemble_shape=ensemble_shape)
