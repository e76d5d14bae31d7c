"""The latents dataset of a fit: latents, region codes and predictions on the dataset's time axis.

:func:`latents_dataset` builds it for one model. Everything in it apart from the model's own
arrays (the trial, time and unit coords, ``valid``, ``epoch``, the ``split`` membership and
the dataset's attributes) depends on the dataset alone: :class:`LatentsFrame` prepares that
once, and the members of an ensemble each only add their arrays
(:func:`~alrnn_neuro.training.member_scoring.finish_members`); building the coords was most
of the 5.5 ms a latents dataset took on the 500-trial demo.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from alrnn_neuro.data.schema import observation_variable
from alrnn_neuro.models.params import BIT_ORDER
from alrnn_neuro.training.batching import TrialTensors, channel_dim

#: why an AL-RNN's latents dataset has no ``bitcode`` (attribute ``bitcode``)
NO_REGION_CODES = (
    "not stored: more rectified units than the 62 an int64 region code holds; regions are "
    "neither labelled nor counted"
)
DESCRIPTIONS = {
    "spikes": "expected count per bin",
    "signal": "predicted signal",
    "targets": "predicted task output",
}
#: attributes of the dataset a latents dataset keeps
KEPT_ATTRS = ("align_event", "bin_size", "source")


def latents_dataset(
    ds: xr.Dataset,
    tensors: TrialTensors,
    predicted: dict[str, np.ndarray],
    split: dict[str, np.ndarray],
) -> xr.Dataset:
    """``latents`` (trial, time, latent), ``bitcode`` (trial, time; AL-RNN only), ``prediction``
    (trial, time, unit), ``valid`` and ``epoch`` on every trial, with the dataset's trial and
    unit coords and a ``split`` trial coord. For task datasets ``prediction`` has dim
    ``output`` (class probabilities for cross-entropy tasks).

    ``predicted`` as :func:`~alrnn_neuro.training.evaluate.predict_all` gives it (left-
    justified on the tensors' steps); ``split`` maps split names to trial ids.
    """
    return LatentsFrame(ds, tensors, split).build(predicted)


class LatentsFrame:
    """The data-only part of :func:`latents_dataset`, for any number of models.

    Parameters
    ----------
    ds : xr.Dataset
        The fitted dataset.
    tensors : TrialTensors
        Its trials as fitted (their time offsets put the predictions back in place).
    split : dict of str to ndarray
        Trial ids of each split.
    """

    def __init__(self, ds: xr.Dataset, tensors: TrialTensors, split: dict[str, np.ndarray]) -> None:
        self.tensors, self.n_time, self.dim = tensors, ds.sizes["time"], channel_dim(ds)
        self.valid = ds["valid"].values.astype(bool)
        self.description = DESCRIPTIONS[observation_variable(ds)]
        self.task_loss = ds.attrs.get("task_loss")
        if self.task_loss == "cross_entropy":
            self.description = "class probabilities"
        membership = np.full(ds.sizes["trial"], "", dtype="<U5")
        ids = ds["trial"].values
        for name, members in split.items():
            membership[np.isin(ids, members)] = name
        coords = {
            name: coord
            for name, coord in ds.coords.items()
            if name in ("trial", "time", self.dim) or coord.dims in (("trial",), (self.dim,))
        }
        self.shared = xr.Dataset(
            {
                "valid": (("trial", "time"), self.valid),
                "epoch": (("trial", "time"), ds["epoch"].values.astype(str)),
            },
            coords=coords,
        )
        self.membership = membership
        self.attrs = {k: ds.attrs[k] for k in KEPT_ATTRS if k in ds.attrs}
        self._coords: dict[int, xr.Coordinates] = {}  # by number of latents

    def coords(self, n_latents: int) -> xr.Coordinates:
        """The coords of a latents dataset with ``n_latents`` latents (built once per size)."""
        if n_latents not in self._coords:
            with_latents = self.shared.assign_coords(
                latent=np.arange(n_latents), split=("trial", self.membership)
            )
            self._coords[n_latents] = with_latents.coords
        return self._coords[n_latents]

    def build(self, predicted: dict[str, np.ndarray]) -> xr.Dataset:
        """The latents dataset of one model's ``predicted`` (see :func:`latents_dataset`)."""
        restore, valid = self.tensors.restore_time, self.valid
        z = restore(predicted["latents"], self.n_time, np.nan)
        pred = restore(predicted["prediction"], self.n_time, np.nan)
        z[~valid], pred[~valid] = np.nan, np.nan
        data_vars = {
            "latents": xr.Variable(("trial", "time", "latent"), z.astype(np.float32, copy=False)),
            "prediction": xr.Variable(
                ("trial", "time", self.dim),
                pred.astype(np.float32, copy=False),
                attrs={"description": self.description},
            ),
            "valid": self.shared.variables["valid"],
            "epoch": self.shared.variables["epoch"],
        }
        if "bitcode" in predicted:
            code = restore(predicted["bitcode"], self.n_time, -1)
            code[~valid] = -1
            data_vars["bitcode"] = xr.Variable(("trial", "time"), code.astype(np.int64, copy=False))
        attrs = dict(self.attrs)
        if "n_pwl" in predicted:
            n_pwl, m = int(predicted["n_pwl"]), z.shape[-1]
            attrs["n_pwl"] = n_pwl
            attrs["pwl_latents"] = ",".join(str(i) for i in range(m - n_pwl, m))
            if "bitcode" in data_vars:
                attrs["bit_order"] = BIT_ORDER
            else:
                attrs["bitcode"] = NO_REGION_CODES
        if self.task_loss is not None:
            attrs["task_loss"] = self.task_loss
        return xr.Dataset(data_vars, coords=self.coords(z.shape[-1]), attrs=attrs)
