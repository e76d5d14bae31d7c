"""Task performance: MSE, regression and classification accuracy, angular accuracies.

Every metric takes ``prediction`` (trial, time, output) and either a task dataset (its
``targets``, ``loss_mask`` and ``epoch`` are used) or the ``targets`` array plus masks.
Only ``loss_mask`` steps are scored. Predictions may be logits or probabilities for
classification (only the arg-max matters).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from alrnn_neuro.errors import DataValidationError

ANGULAR_OUTPUTS = ("fixation", "cos", "sin")


def _arrays(prediction, targets, loss_mask, epoch=None):
    """Resolve (prediction, targets, loss_mask, epoch) to numpy arrays and check shapes."""
    if isinstance(targets, xr.Dataset):
        ds = targets
        targets = ds["targets"].values
        loss_mask = ds["loss_mask"].values if loss_mask is None else loss_mask
        epoch = ds["epoch"].values if epoch is None else epoch
    pred = np.asarray(prediction.values if isinstance(prediction, xr.DataArray) else prediction)
    targ = np.asarray(targets.values if isinstance(targets, xr.DataArray) else targets)
    if pred.shape != targ.shape or pred.ndim != 3:
        raise DataValidationError(
            f"prediction has shape {pred.shape} but targets {targ.shape}; fix: predict "
            "(trial, time, output) for every step of the task dataset"
        )
    mask = np.ones(targ.shape[:2], bool) if loss_mask is None else np.asarray(loss_mask, bool)
    if mask.shape != targ.shape[:2]:
        raise DataValidationError(
            f"loss_mask has shape {mask.shape}; fix: a bool (trial, time) mask {targ.shape[:2]}"
        )
    epoch = None if epoch is None else np.asarray(epoch)
    return pred.astype(float), targ.astype(float), mask, epoch


def mse(prediction, targets, loss_mask=None) -> float:
    """Mean squared error over the ``loss_mask`` steps and all outputs.

    Examples
    --------
    >>> import numpy as np
    >>> mse(np.ones((1, 2, 1)), np.zeros((1, 2, 1)), np.array([[True, False]]))
    1.0
    """
    pred, targ, mask, _ = _arrays(prediction, targets, loss_mask)
    return float(np.mean((pred - targ)[mask] ** 2))


def regression_accuracy(
    prediction, targets, loss_mask=None, *, tolerance: float = 0.04, per_trial: bool = False
):
    """Fraction of trials whose every scored output lies within ``tolerance`` of its target.

    ``tolerance=0.04`` is the usual criterion of the addition problem. Returns the mean
    (float) or, with ``per_trial=True``, a bool array (trial,).
    """
    pred, targ, mask, _ = _arrays(prediction, targets, loss_mask)
    close = np.all(np.abs(pred - targ) < tolerance, axis=2) | ~mask
    correct = np.all(close, axis=1)
    return correct if per_trial else float(correct.mean())


def classification_accuracy(prediction, targets, loss_mask=None, *, by: str = "step"):
    """Arg-max accuracy against one-hot targets on the ``loss_mask`` steps.

    Parameters
    ----------
    prediction : array (trial, time, output)
        Logits or probabilities.
    targets : array (trial, time, output) or xr.Dataset
        One-hot targets, or a task dataset.
    loss_mask : array of bool (trial, time), optional
        Scored steps (taken from the dataset when one is given).
    by : {"step", "trial"}
        ``"step"``: fraction of scored steps correct (e.g. recalled symbols);
        ``"trial"``: fraction of trials with every scored step correct.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.eye(2)[None, [0, 1]]  # (1, 2, 2)
    >>> classification_accuracy(np.zeros_like(t) + [1, 0], t)
    0.5
    """
    pred, targ, mask, _ = _arrays(prediction, targets, loss_mask)
    hit = pred.argmax(axis=2) == targ.argmax(axis=2)
    if by == "step":
        return float(hit[mask].mean())
    if by == "trial":
        return float(np.all(hit | ~mask, axis=1)[mask.any(axis=1)].mean())
    raise DataValidationError(f"by={by!r}; fix: 'step' or 'trial'")


def angular_accuracy(
    prediction,
    targets,
    loss_mask=None,
    epoch=None,
    *,
    tolerance_deg: float = 30.0,
    per_trial: bool = False,
):
    """Multi-task criterion: fixation held before the response, then the right response.

    Outputs must be ``(fixation, cos, sin)``. Among the scored (``loss_mask``) steps, those
    with ``epoch == "response"`` form the response window, the others the pre-response
    period. A trial is correct when

    - the fixation output is > 0.5 on every pre-response step, and
    - on a *go* trial (mean target fixation < 0.5 in the window): the mean fixation output
      in the window is < 0.5 and the direction of the summed (cos, sin) output over the
      window is within ``tolerance_deg`` of the target direction;
    - on a *no-go* trial: the fixation output stays > 0.5 on every response step.

    Returns the fraction correct (float) or, with ``per_trial=True``, a bool array (trial,).

    Examples
    --------
    >>> from alrnn_neuro.simulate.tasks.multitask import suite_task
    >>> ds = suite_task("DelayPro", 5, seed=0)
    >>> angular_accuracy(ds.targets.values, ds)
    1.0
    """
    pred, targ, mask, epoch = _arrays(prediction, targets, loss_mask, epoch)
    if pred.shape[2] != 3:
        raise DataValidationError(
            f"angular_accuracy needs outputs {ANGULAR_OUTPUTS}; got {pred.shape[2]} outputs; "
            "fix: use it on the multi-task suite"
        )
    if epoch is None:
        raise DataValidationError("epoch labels are required; fix: pass epoch= or a dataset")
    window = mask & (epoch == "response")
    before = mask & ~window
    count = np.maximum(window.sum(axis=1), 1)
    fix = pred[..., 0]
    held_before = np.all(~before | (fix > 0.5), axis=1)
    # sums over the window by selection, not multiplication: padded steps may hold NaN
    go = np.where(window, targ[..., 0], 0.0).sum(axis=1) / count < 0.5
    released = np.where(window, fix, 0.0).sum(axis=1) / count < 0.5
    held = np.all(~window | (fix > 0.5), axis=1)
    p = np.where(window[..., None], pred[..., 1:], 0.0).sum(axis=1)
    t = np.where(window[..., None], targ[..., 1:], 0.0).sum(axis=1)
    error = np.angle(np.exp(1j * (np.arctan2(p[:, 1], p[:, 0]) - np.arctan2(t[:, 1], t[:, 0]))))
    aimed = np.abs(np.degrees(error)) < tolerance_deg
    correct = held_before & np.where(go, released & aimed, held)
    return correct if per_trial else float(correct.mean())


def final_angle_accuracy(
    prediction, targets, loss_mask=None, *, tolerance_deg: float = 30.0, per_trial: bool = False
):
    """The AL-RNN study's suite criterion: the final output's direction within ``tolerance_deg``.

    Outputs must be ``(fixation, cos, sin)``. On each trial's *last* ``loss_mask`` step the
    angle ``atan2(sin, cos)`` of the prediction is compared with that of the target; the
    fixation output is ignored, as in the study (``rnn_model.compute_accuracies``). A
    no-go target (1, 0, 0) has angle ``atan2(0, 0) = 0``, so a constant output pointing at
    0 rad scores 100 % on GoNogo: the criterion cannot fail there. Random directions score
    ``2 * tolerance_deg / 360`` (1/6).

    Returns the fraction correct over trials with a scored step (float) or, with
    ``per_trial=True``, a bool array over those trials.

    Examples
    --------
    >>> import numpy as np
    >>> target = np.zeros((2, 3, 3)); target[:, -1] = [0.0, 1.0, 0.0]
    >>> mask = np.zeros((2, 3), bool); mask[:, -1] = True
    >>> guess = target.copy(); guess[1, -1] = [0.0, 0.0, 1.0]  # 90 degrees off
    >>> final_angle_accuracy(guess, target, mask)
    0.5
    """
    pred, targ, mask, _ = _arrays(prediction, targets, loss_mask)
    if pred.shape[2] != 3:
        raise DataValidationError(
            f"final_angle_accuracy needs outputs {ANGULAR_OUTPUTS}; got {pred.shape[2]} outputs; "
            "fix: use it on the study's multi-task suite"
        )
    scored = mask.any(axis=1)
    last = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)
    rows = np.arange(mask.shape[0])
    p, t = pred[rows, last, 1:], targ[rows, last, 1:]
    error = np.angle(np.exp(1j * (np.arctan2(p[:, 1], p[:, 0]) - np.arctan2(t[:, 1], t[:, 0]))))
    correct = (np.abs(np.degrees(error)) < tolerance_deg)[scored]
    return correct if per_trial else float(correct.mean())


def task_accuracy(prediction, ds: xr.Dataset) -> float:
    """The natural accuracy of a task dataset, as its variant defines it.

    ``attrs["variant"] == "study"`` (the AL-RNN study's definitions): cross-entropy tasks
    score whole sequences (:func:`classification_accuracy` by trial: every recalled symbol
    of a copy trial right), the suite (outputs ``fixation, cos, sin``) the final direction
    (:func:`final_angle_accuracy`), MSE tasks :func:`regression_accuracy`. Otherwise (the
    toolbox's short versions): cross-entropy tasks :func:`classification_accuracy` by step,
    the suite :func:`angular_accuracy`, other MSE tasks :func:`regression_accuracy`.
    """
    study = ds.attrs.get("variant") == "study"
    if ds.attrs.get("task_loss") == "cross_entropy":
        return classification_accuracy(prediction, ds, by="trial" if study else "step")
    if tuple(ds["output"].values) == ANGULAR_OUTPUTS:
        return final_angle_accuracy(prediction, ds) if study else angular_accuracy(prediction, ds)
    return regression_accuracy(prediction, ds)


def trial_accuracy(prediction, ds: xr.Dataset) -> np.ndarray:
    """Per trial: is it correct by the AL-RNN study's criterion? (1.0 / 0.0; NaN: nothing scored)

    The unit of the claims of ``reproduce tasks`` (the mean over trials is the accuracy).
    Cross-entropy tasks score the *whole sequence* (every ``loss_mask`` step's arg-max right,
    in either variant: a copy trial counts only when every recalled symbol is right); the
    suite (outputs ``fixation, cos, sin``) the criterion of its variant
    (:func:`final_angle_accuracy` for ``"study"``, :func:`angular_accuracy` otherwise); MSE
    tasks :func:`regression_accuracy`.

    Parameters
    ----------
    prediction : array (trial, time, output)
        Model outputs on the dataset's time axis (logits or probabilities for cross-entropy;
        values on unscored steps are ignored, NaN included).
    ds : xr.Dataset
        The task dataset (``targets``, ``loss_mask``, ``epoch``, ``attrs``).

    Returns
    -------
    ndarray of float, shape (trial,)

    Examples
    --------
    >>> from alrnn_neuro.simulate.tasks.classic import copy_task
    >>> ds = copy_task(2, seed=0, seq_len=2, delay=2, n_symbols=3)
    >>> guess = ds["targets"].values.copy()
    >>> last = np.flatnonzero(ds["loss_mask"].values[1])[-1]
    >>> guess[1, last] = guess[1, last][::-1]  # one symbol of trial 1 wrong
    >>> trial_accuracy(guess, ds).tolist()
    [1.0, 0.0]
    """
    pred, targ, mask, epoch = _arrays(prediction, ds, None)
    pred = np.nan_to_num(pred)  # unscored (padded) steps carry NaN in latents.nc
    scored = mask.any(axis=1)
    if ds.attrs.get("task_loss") == "cross_entropy":
        hit = pred.argmax(axis=2) == targ.argmax(axis=2)
        correct = np.all(hit | ~mask, axis=1).astype(float)
    elif tuple(ds["output"].values) == ANGULAR_OUTPUTS and ds.attrs.get("variant") == "study":
        correct = np.full(mask.shape[0], np.nan)
        correct[scored] = final_angle_accuracy(pred, targ, mask, per_trial=True)
    elif tuple(ds["output"].values) == ANGULAR_OUTPUTS:
        correct = angular_accuracy(pred, targ, mask, epoch, per_trial=True).astype(float)
    else:
        correct = regression_accuracy(pred, targ, mask, per_trial=True).astype(float)
    return np.where(scored, correct, np.nan)
