"""What every variable of the toolbox's output files means: one table, applied at write time.

:func:`~alrnn_neuro.data.h5.write_netcdf` gives every data variable of a ``.nc`` file the
attributes ``long_name``, ``units`` (where the quantity has units) and ``description`` from
this table, and the dataset a ``description`` of the file, so that a file opened years later
(``ncdump -h``, ``xr.open_dataset``, Panoply) explains itself. Attributes a producer already
set are kept. Names mean the same in every file unless :data:`FILE_VARIABLES` gives the file
its own entry (``val_loss`` is per epoch in ``history.nc`` but the best epoch's in
``results.nc``).

A variable missing from the table is written bare and logged as a warning; the test suite
walks every file the toolbox writes and fails on any such variable, so add an entry here
when a producer gains one.

Units follow UDUNITS where one exists (``s``, ``1`` for dimensionless ratios, ``count``);
``bit/spike`` and ``nats`` name information per spike and per trial.
"""

from __future__ import annotations

from dataclasses import dataclass

import xarray as xr


@dataclass(frozen=True)
class Variable:
    """Meaning of one variable: ``long_name`` (a short label), ``units`` (None: a label, flag or
    quantity without units) and ``description`` (how it is defined)."""

    long_name: str
    units: str | None
    description: str

    def attrs(self) -> dict[str, str]:
        """The netCDF attributes (``units`` only where there are units)."""
        out = {"long_name": self.long_name, "description": self.description}
        if self.units is not None:
            out["units"] = self.units
        return out


V = Variable
BITS = "bitcode = sum_j [z_(M-P+j) > 0] 2^(P-1-j), the first PWL latent most significant"

#: what each file is (written as the dataset attribute ``description``)
FILES: dict[str, str] = {
    "history.nc": "Per-epoch training curves of one fit (alrnn-neuro fit).",
    "latents.nc": "Latent trajectories, bitcodes and predictions of a fitted model on every "
    "trial (alrnn-neuro fit); the last P latents (attrs pwl_latents) are the ReLU units.",
    "regimes.nc": "Linear-region (regime) usage, transitions, dwell times and their relation "
    "to task epochs of an AL-RNN fit (alrnn-neuro analyze).",
    "dynamics.nc": "Exact per-region dynamics of an AL-RNN: Jacobians, spectra, fixed points "
    "and cycles (alrnn-neuro analyze).",
    "rsa.nc": "Representational similarity analysis: model and neural RDMs per segment and "
    "their comparison (alrnn-neuro rsa).",
    "results.nc": "Held-out metrics of every cell of a sweep (alrnn-neuro sweep).",
    "selection.nc": "How many PWL units the data need: per-trial held-out scores and the "
    "selection tests over P (alrnn-neuro select).",
    "trial_scores.nc": "Per held-out trial Poisson log-likelihoods of one sweep cell.",
    "multitask.nc": "Region usage per task and its sharing measures for every AL-RNN cell of "
    "a multi-task sweep (alrnn-neuro reproduce tasks).",
}

#: name -> meaning, for every data variable the toolbox writes (and the coords it defines)
VARIABLES: dict[str, Variable] = {
    # history.nc
    "train_loss": V("training loss", "1", "Mean loss per valid bin on the training trials "
                    "(negative log-likelihood per bin x unit, or the task loss)."),
    "val_loss": V("validation loss", "1", "Loss on the validation trials after each epoch; "
                  "the best epoch is the model kept."),
    "grad_norm": V("gradient norm", "1", "Global L2 norm of the gradient before clipping."),
    "lr": V("learning rate", "1", "Learning rate of the epoch (after the schedule)."),
    "tf_alpha": V("teacher-forcing strength", "1", "Forcing alpha of the epoch; 0 = no "
                  "teacher forcing."),
    "seconds": V("wall time", "s", "Wall-clock time since training started."),
    # latents.nc
    "latents": V("latent state z", "1", "Latent states of the model (free-running from the "
                 "inferred initial state); NaN on padded bins. In an AL-RNN the last P latents "
                 "(dataset attr pwl_latents) are the ReLU units, the others linear."),
    "prediction": V("model prediction", None, "The model's prediction of the observed "
                    "variable per bin: expected spike count, predicted signal or task output "
                    "(see the attr description); NaN on padded bins."),
    "valid": V("valid bin", None, "True where the bin belongs to the trial (trials differ "
               "in length; padded bins are False)."),
    "epoch": V("task epoch", None, "Task period label of each bin (e.g. hold, stimulus, "
               "response)."),
    "bitcode": V("linear region (bitcode)", None, f"Linear region of the AL-RNN at each bin: "
                 f"{BITS} (dataset attr bit_order); -1 on padded bins."),
    # regimes.nc
    "count": V("visits", "count", "Valid bins spent in the region."),
    "frequency": V("usage frequency", "1", "Fraction of valid bins spent in the region."),
    "coverage": V("cumulative coverage", "1", "Fraction of valid bins covered by the k most "
                  "used regions, k = rank."),
    "mean_dwell": V("mean dwell", "count", "Mean run length in bins of consecutive visits "
                    "(censored runs included)."),
    "n_regions_used": V("regions used", "count", "Distinct regions visited on valid bins."),
    "n_valid_steps": V("valid bins", "count", "Valid bins over all trials."),
    "entropy_bits": V("usage entropy", "bit", "Shannon entropy of the region frequencies."),
    "n_regions_90": V("regions for 90 %", "count", "Fewest regions covering >= 90 % of "
                      "valid bins."),
    "transition_count": V("transitions", "count", "Bin-to-bin transitions from region_from "
                          "to region_to (self-transitions included)."),
    "transition_probability": V("transition probability", "1", "transition_count normalised "
                                "per region_from row; NaN for rows without transitions."),
    "epoch_transition_count": V("transitions per epoch", "count", "transition_count counted "
                                "within each task epoch."),
    "epoch_transition_probability": V("transition probability per epoch", "1",
                                      "epoch_transition_count normalised per row."),
    "region_epoch": V("region x epoch bins", "count", "Valid bins of each region in each "
                      "task epoch."),
    "dwell_trial": V("trial of the run", None, "Trial id of each dwell run (dim run)."),
    "dwell_region": V("region of the run", None, "Region code of each dwell run."),
    "start_time": V("run start", "s", "Bin centre of the first bin of the run, relative to "
                    "the alignment event."),
    "n_steps": V("run length", "count", "Bins in the run."),
    "duration": V("run duration", "s", "n_steps x bin size."),
    "censored": V("censored run", None, "True where the run touches the trial's first or "
                  "last valid bin (its true length is unknown)."),
    "unit_active_fraction": V("PWL unit active", "1", "Fraction of valid bins in which each "
                              "PWL unit is above 0."),
    "fraction_active_steps": V("nonlinear bins", "1", "Fraction of valid bins outside the "
                               "all-off region (code 0), where some ReLU is active."),
    "fraction_switching_steps": V("switching bins", "1", "Fraction of bins (with a valid "
                                  "predecessor) whose region differs from the previous bin's."),
    "epoch_fraction_active": V("nonlinear bins per epoch", "1", "fraction_active_steps "
                               "within each epoch."),
    "epoch_fraction_switching": V("switching bins per epoch", "1", "fraction_switching_steps "
                                  "within each epoch."),
    "segment_fraction_active": V("segments with a nonlinear bin", "1", "Fraction of (trial, "
                                 "epoch) segments with at least one active bin."),
    "segment_fraction_switching": V("segments with a switch", "1", "Fraction of (trial, "
                                    "epoch) segments with at least one region switch."),
    "switch_latency": V("switch latency", "s", "Time from the task event to the next region "
                        "change in the same trial (bin centres); NaN where none follows."),
    # dynamics.nc
    "jacobian": V("region Jacobian", "1", "J_d = diag(A) + W D_d, the exact linear map of the "
                  "region (latent = row, latent2 = column)."),
    "spectral_radius": V("spectral radius", "1", "Largest eigenvalue modulus of the region "
                         "Jacobian (< 1: contracting)."),
    "stability": V("stability type", None, "stable node, stable focus, saddle, unstable, "
                   "line attractor or marginal, from the Jacobian's eigenvalues."),
    "fixed_point": V("fixed point", "1", "z* = (I - J_d)^-1 (h + C s) under the constant "
                     "input of each epoch; NaN where I - J_d is singular."),
    "is_real": V("real fixed point", None, "True where the fixed point lies inside its own "
                 "region (else it is virtual)."),
    "eigenvalue_real": V("eigenvalue (real part)", "1", "Real part of the Jacobian's "
                         "eigenvalues, sorted by modulus (dim mode)."),
    "eigenvalue_imag": V("eigenvalue (imaginary part)", "1", "Imaginary part of the "
                         "Jacobian's eigenvalues."),
    "eigenvector_real": V("eigenvector (real part)", "1", "Real part of the eigenvector of "
                          "each mode."),
    "eigenvector_imag": V("eigenvector (imaginary part)", "1", "Imaginary part of the "
                          "eigenvector of each mode."),
    "eigenvalue_modulus": V("eigenvalue modulus", "1", "|lambda| of each mode (1 = no decay "
                            "per bin)."),
    "usage": V("usage frequency", "1", "Fraction of valid bins the fit spends in the region "
               "(regimes.nc frequency)."),
    "cycle_period": V("cycle period", "count", "Period k of the cycle in bins."),
    "cycle_epoch": V("cycle input", None, "Task epoch whose constant input the cycle was "
                     "searched under."),
    "cycle_regions": V("cycle regions", None, "Region code of each point of the cycle; -1 "
                       "pads periods shorter than cycle_step."),
    "cycle_stable": V("stable cycle", None, "True where every Floquet multiplier has "
                      "modulus < 1."),
    "cycle_max_multiplier": V("largest Floquet multiplier", "1", "Modulus of the largest "
                              "Floquet multiplier of the cycle."),
    "cycle_points": V("cycle points", "1", "Latent state at each point of the cycle; NaN "
                      "padded."),
    # rsa.nc
    "estimate": V("model-neural RDM similarity", "1", "Similarity of the model RDM and the "
                  "neural RDM (method in attrs compare, e.g. Kendall tau-a)."),
    "ci_low": V("CI lower bound", "1", "Lower bound of the bootstrap confidence interval of "
                "estimate (level in attrs ci)."),
    "ci_high": V("CI upper bound", "1", "Upper bound of the bootstrap confidence interval "
                 "of estimate."),
    "p_value": V("p-value", "1", "One-sided permutation p-value of estimate (condition "
                 "labels permuted)."),
    "p_corrected": V("corrected p-value", "1", "p_value corrected over segments (method in "
                     "attrs correction)."),
    "n_conditions": V("conditions compared", "count", "Conditions with finite "
                      "dissimilarities in both RDMs."),
    "noise_ceiling_low": V("noise ceiling (lower)", "1", "Lower bound of the split-half "
                           "noise ceiling."),
    "noise_ceiling_high": V("noise ceiling (upper)", "1", "Upper bound of the split-half "
                            "noise ceiling."),
    "noise_ceiling_conditions": V("ceiling conditions", "count", "Conditions used for the "
                                  "noise ceiling."),
    "noise_ceiling_note": V("ceiling note", None, "Why the noise ceiling is NaN; empty when "
                            "computed."),
    "model_vs_splits": V("model vs split-half RDMs", "1", "Mean similarity of the model RDM "
                         "to the split-half neural RDMs: the model on the ceiling's footing."),
    "ceiling_fraction": V("fraction of ceiling", "1", "model_vs_splits / noise_ceiling_high."),
    "ceiling_position": V("place against ceiling", None, "below, within or above the noise "
                          "ceiling; empty where unknown."),
    "neural_rdm": V("neural RDM", "1", "Dissimilarity of the recorded units' patterns "
                    "between conditions (distance in attrs distance)."),
    "neural_pair_units": V("units per condition pair", "count", "Units observed in both "
                           "conditions of the pair (pseudo-populations)."),
    "model_rdm": V("model RDM", "1", "Dissimilarity of the model's latent patterns between "
                   "conditions."),
    "n_units": V("units", "count", "Recorded units of the area."),
    "noise_estimate": V("noise estimate", None, "Noise covariance estimate of the area's "
                        "RDM (shrinkage_diag, or shrinkage_eye where a unit is constant)."),
    "model_noise_estimate": V("model noise estimate", None, "Noise covariance estimate of "
                              "the model RDM."),
    "neural_distance": V("neural distance", "1", "Distance between the two conditions in "
                         "the area's units (two-condition RSA)."),
    "neural_p_value": V("neural p-value", "1", "Permutation p-value of neural_distance > 0."),
    "neural_p_corrected": V("neural corrected p-value", "1", "neural_p_value, Holm-corrected "
                            "over segments."),
    "neural_n_units": V("neural units", "count", "Units behind neural_distance."),
    "model_distance": V("model distance", "1", "Distance between the two conditions in the "
                        "model's latents."),
    "model_p_value": V("model p-value", "1", "Permutation p-value of model_distance > 0."),
    "model_p_corrected": V("model corrected p-value", "1", "model_p_value, Holm-corrected "
                           "over segments."),
    # results.nc
    "test_bits_per_spike": V("test bits/spike", "bit/spike", "Held-out log-likelihood gain "
                             "over the condition PSTH per spike, on the sweep's test trials."),
    "test_accuracy": V("test accuracy", "1", "The task's accuracy on the sweep's test trials."),
    "test_loss": V("test loss", "1", "Loss on the sweep's test trials."),
    "regions_used": V("regions used", "count", "Distinct bitcodes on valid bins of the fitted "
                      "trials (AL-RNN only)."),
    "primitives_found": V("primitives found", "count", "Distinct integration and gating "
                          "primitives detected (AL-RNN only)."),
    "fit_seconds": V("fit time", "s", "Wall time of the fit per cell."),
    # trial_scores.nc and selection.nc
    "ll_model": V("model log-likelihood", "nats", "Poisson log-likelihood of the held-out "
                  "trial's spikes under the model."),
    "ll_psth": V("PSTH log-likelihood", "nats", "The same under the condition PSTH baseline "
                 "(estimated on the training trials)."),
    "ll_unit_psth": V("unit-rate log-likelihood", "nats", "The same under each unit's mean "
                      "rate per bin."),
    "n_spikes": V("spikes", "count", "Scored spikes of the trial."),
    "n_entries": V("scored entries", "count", "Scored (bin, unit) entries of the trial."),
    "fold": V("fold", None, "Cross-validation fold that held the trial out (-1: one common "
              "test split)."),
    "bits_per_spike": V("bits/spike", "bit/spike", "Held-out gain over the PSTH per spike "
                        "of each P (seed-averaged log-likelihoods)."),
    "bits_per_spike_ci": V("bits/spike CI", "bit/spike", "Bootstrap interval (over trials) "
                           "of bits_per_spike."),
    "gain_vs_zero": V("gain over P = 0", "bit/spike", "bits/spike of P minus that of P = 0."),
    "gain_vs_zero_ci": V("gain over P = 0 CI", "bit/spike", "Bootstrap interval of "
                         "gain_vs_zero."),
    "p_vs_zero": V("p of a gain over P = 0", "1", "One-sided p that P beats P = 0 by more than "
                   "attrs min_effect; NaN at P = 0."),
    "gain_vs_best": V("gain over the best P", "bit/spike", "bits/spike of P minus that of the "
                      "best P (<= 0)."),
    "gain_vs_best_ci": V("gain over the best P CI", "bit/spike", "Bootstrap interval of "
                         "gain_vs_best."),
    "p_equivalent": V("equivalence p", "1", "p of the test that P is within attrs margin of "
                      "the best P."),
    "equivalent": V("equivalent to the best", None, "p_equivalent < attrs alpha."),
    "best_pwl_units": V("best P", "count", "P with the highest held-out likelihood."),
    "minimal_pwl_units": V("minimal sufficient P", "count", "Smallest P equivalent to the "
                           "best; NaN: cannot tell."),
    "zero_insufficient": V("P = 0 insufficient", "1", "1: some P beats P = 0, 0: not shown, "
                           "NaN: no P = 0 in the sweep."),
    "zero_insufficient_p": V("p of P = 0 insufficient", "1", "Bonferroni-corrected p of the "
                             "best gain over P = 0."),
    "seed_best_pwl_units": V("best P per seed", "count", "best_pwl_units of each model seed "
                             "alone."),
    "seed_minimal_pwl_units": V("minimal P per seed", "count", "minimal_pwl_units of each "
                                "model seed alone."),
    "seed_zero_insufficient": V("P = 0 insufficient per seed", "1", "zero_insufficient of "
                                "each model seed alone."),
    "minimal_agreement": V("minimal-P agreement", "1", "Share of seeds whose minimal P "
                           "equals the pooled verdict."),
    "insufficient_agreement": V("P = 0 verdict agreement", "1", "Share of seeds whose P = 0 "
                                "verdict equals the pooled one."),
    "seed_bits_per_spike": V("bits/spike per seed", "bit/spike", "bits_per_spike of each "
                             "model seed alone."),
    # multitask.nc
    "region_usage": V("region usage per task", "1", "Fraction of a task's valid bins in "
                      "each region."),
    "overlap": V("usage overlap", "1", "Sum over regions of min(usage of task, usage of "
                 "task_b): 1 = the same regions in the same proportions."),
    "usage_entropy": V("usage entropy per task", "bit", "Shannon entropy of each task's "
                       "region usage."),
    "regions_per_task": V("regions per task", "count", "Regions a task visits (usage > 0)."),
    "task_accuracy": V("task accuracy", "1", "Accuracy on each task's held-out trials."),
    "shared_index": V("shared index", "1", "Mean pairwise overlap of tasks: 1 = regions "
                      "fully shared, 0 = disjoint."),
    "task_specificity": V("task specificity", "1", "I(task; region) / H(task): 0 = shared, "
                          "1 = the region identifies the task."),
}

#: entries of one file that differ from :data:`VARIABLES`
FILE_VARIABLES: dict[str, dict[str, Variable]] = {
    "results.nc": {
        "val_loss": V("validation loss", "1", "Best validation loss of the fit."),
        "regions_used": VARIABLES["regions_used"],
    },
    "multitask.nc": {
        "regions_used": V("regions used", "count", "Regions visited by any task."),
    },
}

#: coordinates the toolbox defines (lab-specific trial and unit coords are left as they are)
COORDINATES: dict[str, Variable] = {
    "trial": V("trial id", None, "Trial identifier of the dataset."),
    "time": V("time", "s", "Bin centre relative to the alignment event (attrs align_event)."),
    "unit": V("unit", None, "Recorded unit (cell or channel)."),
    "latent": V("latent index", None, "Index of the latent state; the last P are ReLU units."),
    "region": V("region code", None, f"Linear region: {BITS}."),
    "bits": V("region bit string", None, "Region code as P bits, first PWL latent first."),
    "rank": V("usage rank", None, "1 = the most used region."),
    "region_from": V("region before", None, "Region code at the earlier bin."),
    "region_to": V("region after", None, "Region code at the later bin."),
    "pwl_unit": V("PWL unit", None, "Index of the ReLU unit among the P (0 = first)."),
    "split": V("split", None, "train, val or test: the trial's role in the fit."),
    "pwl_units": V("P", None, "Number of PWL (ReLU) units of the AL-RNN."),
    "latent_dim": V("M", None, "Number of latent states."),
    "seed": V("model seed", None, "Initialisation seed of the fit."),
    "train_fraction": V("training fraction", "1", "Share of the non-held-out trials fitted."),
    "model": V("model", None, "alrnn or a baseline (rnn, gru, lstm)."),
    "bound": V("interval bound", None, "lower or upper bound of an interval."),
    "condition": V("condition", None, "Task condition (combination of the RSA conditions)."),
    "condition2": V("condition (columns)", None, "Column condition of an RDM."),
    "epoch": V("task epoch", None, "Task period (e.g. hold, stimulus, response)."),
    "event": V("task event", None, "Task event (trial coord event_<name>)."),
    "mode": V("eigenmode", None, "Eigenmode of the Jacobian, sorted by modulus."),
    "area": V("brain area", None, "Recorded area (unit coord area); 'all' = every unit."),
    "task": V("task", None, "Task of a multi-task dataset."),
    "task_b": V("task (columns)", None, "Second task of a pairwise measure."),
}

#: coordinates that mean something else in one file
FILE_COORDINATES: dict[str, dict[str, Variable]] = {
    "history.nc": {"epoch": V("training epoch", None, "Epoch number, 1 = the first.")},
}


def variable_info(name: str, file: str | None = None) -> Variable | None:
    """The table entry of data variable ``name`` (in ``file``, e.g. ``"results.nc"``), or None.

    Examples
    --------
    >>> variable_info("switch_latency").units
    's'
    >>> variable_info("val_loss", "results.nc").description
    'Best validation loss of the fit.'
    """
    specific = FILE_VARIABLES.get(file or "", {})
    return specific.get(name, VARIABLES.get(name))


def describe_variables(ds: xr.Dataset, file: str | None = None) -> tuple[xr.Dataset, list[str]]:
    """``ds`` with ``long_name``/``units``/``description`` on its variables, from the table.

    Parameters
    ----------
    ds : xr.Dataset
        Any output dataset; it is not modified.
    file : str, optional
        The file name (``"history.nc"``, ...): picks the file's own entries and the dataset
        ``description``.

    Returns
    -------
    described : xr.Dataset
        A shallow copy; attributes already set by the producer win over the table's.
    unknown : list of str
        Data variables the table does not know (written without attributes).

    Examples
    --------
    >>> ds = xr.Dataset({"train_loss": ("epoch", [1.0, 0.5])})
    >>> out, unknown = describe_variables(ds, "history.nc")
    >>> out["train_loss"].attrs["long_name"], unknown
    ('training loss', [])
    """
    out = ds.copy()
    unknown = []
    for name in out.data_vars:
        info = variable_info(str(name), file)
        if info is None:
            unknown.append(str(name))
            continue
        out[name].attrs = {**info.attrs(), **out[name].attrs}
    coords = {**COORDINATES, **FILE_COORDINATES.get(file or "", {})}
    for name in out.coords:
        if name in coords:
            out[name].attrs = {**coords[str(name)].attrs(), **out[name].attrs}
    if file in FILES and "description" not in out.attrs:
        out.attrs["description"] = FILES[file]
    return out, unknown
