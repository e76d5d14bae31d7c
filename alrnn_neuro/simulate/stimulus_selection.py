"""``simulate_stimulus_selection``: the stimulus-selection task with known ground truth.

Assembles :mod:`~alrnn_neuro.simulate.task_structure` (blocks, stimuli, timing, behaviour),
a ground-truth generator from :mod:`~alrnn_neuro.simulate.generators` (latents and choices;
the default ``"pwl"`` is the AL-RNN-style system of :mod:`~alrnn_neuro.simulate.latent_system`),
Poisson spikes (:func:`~alrnn_neuro.simulate.latent_system.sample_spikes`) and
:mod:`~alrnn_neuro.simulate.lfp` (LFP, turned into band amplitudes by
:func:`alrnn_neuro.data.lfp.lfp_band_amplitudes`) into one canonical dataset. This module
only dispatches: the generators hold the dynamics.
"""

from __future__ import annotations

import logging
import numbers

import numpy as np
import xarray as xr

from alrnn_neuro.data.schema import make_dataset, validate_dataset
from alrnn_neuro.errors import ConfigError
from alrnn_neuro.simulate import latent_system as ls
from alrnn_neuro.simulate import task_structure as ts
from alrnn_neuro.simulate.generators import DEFAULT_GENERATOR, Simulation, get_generator
from alrnn_neuro.simulate.lfp import lfp_features

logger = logging.getLogger(__name__)

SOURCE = "alrnn_neuro.simulate.stimulus_selection (after Rodgers & DeWeese, Neuron 2014)"
MIN_BIN, MAX_BIN = 0.005, 0.2


def simulate_stimulus_selection(
    *,
    n_trials: int = 500,
    n_units: int = 30,
    seed: int = 0,
    bin_size: float = 0.05,
    lfp: bool = True,
    task: ts.TaskParams | None = None,
    lfp_fs: float = 500.0,
    generator: str = DEFAULT_GENERATOR,
) -> xr.Dataset:
    """Simulate a session of the stimulus-selection task with a known generating system.

    Parameters
    ----------
    n_trials : int
        Number of trials (>= 1).
    n_units : int
        Number of units (>= 2): the first half mPFC-like, the rest A1-like.
    seed : int
        Seed (>= 0). The same seed gives identical arrays; task, latents, spikes and LFP use
        independent streams, so ``lfp`` and ``n_units`` do not change the behaviour.
    bin_size : float
        Bin width in seconds, in [0.005, 0.2].
    lfp : bool
        Also simulate 4 LFP channels and store their band amplitudes as ``lfp_amplitude``
        (trial, time, channel, band).
    task : TaskParams, optional
        Task and behaviour parameters (default ``TaskParams()``, see
        :class:`~alrnn_neuro.simulate.task_structure.TaskParams`).
    lfp_fs : float
        LFP sampling rate (Hz).
    generator : str
        Ground-truth generator (:data:`~alrnn_neuro.simulate.generators.GENERATOR_NAMES`):
        ``"pwl"`` (default), ``"linear"``, ``"no_routing"``, ``"softplus"``, ``"bilinear"``,
        ``"lstm"``; see docs/generators.md. Every generator gives the same task, inputs,
        epochs and trial labels for the same seed; only latents, choices and spikes differ.

    Returns
    -------
    xr.Dataset
        Canonical dataset aligned to ``stim_on``: ``spikes`` (trial, time, unit), ``inputs``
        (8 channels, ``task_structure.INPUT_NAMES``), ``valid``, ``epoch``; trial coords
        ``rule``, ``block``, ``trial_in_block``, ``cue_trial``, ``location``, ``pitch``,
        ``congruent``, ``target``, ``choice``, ``correct``, ``rt``, ``switch``,
        ``true_belief`` (not for ``lstm``: it has no rule variable), ``true_lapse`` and
        ``event_<name>``; unit coord ``area``; ground truth ``true_latents`` (trial, time,
        true_latent), ``true_B`` (unit, true_latent), ``true_b`` and the generator's own
        (``pwl``/``no_routing``: ``true_region`` (trial, time); the AL-RNN family:
        ``true_A``, ``true_W``, ``true_C``, ``true_h``; ``true_noise_std``; ``lstm``: its
        weights ``true_lstm_*``, ``true_cell``); attrs ``generator``, ``true_routing``,
        ``true_rule_memory``, ``true_nonlinearity`` (``true_pwl_units`` for the AL-RNN
        family), ``seed``.

    Raises
    ------
    ConfigError
        For out-of-range arguments or an unknown generator.

    Examples
    --------
    >>> ds = simulate_stimulus_selection(n_trials=20, n_units=4, seed=1, lfp=False)
    >>> ds.sizes["trial"], ds.sizes["unit"], ds.sizes["input"]
    (20, 4, 8)
    """
    _check_args(n_trials, n_units, seed, bin_size, lfp_fs)
    chosen = get_generator(generator)
    task = ts.TaskParams() if task is None else task
    task_seq, latent_seq, spike_seq, lfp_seq = np.random.SeedSequence(seed).spawn(4)
    task_rng = np.random.default_rng(task_seq)
    trials = ts.make_trials(n_trials, rng=task_rng, params=task)
    timeline = ts.build_timeline(trials, bin_size=bin_size)

    def decide(choice_value: np.ndarray) -> dict:
        return ts.decide(choice_value, trials, rng=task_rng, params=task)

    sim = chosen.simulate(trials, timeline, seed=latent_seq, decide=decide)
    spike_rng = np.random.default_rng(spike_seq)
    B, b, area = chosen.observation_model(sim, n_units, rng=spike_rng)
    spikes = ls.sample_spikes(
        sim.latents, B, b, bin_size=bin_size, valid=timeline.valid, rng=spike_rng
    )
    lat = "true_latent"
    extra = {**sim.ground_truth, "true_B": (("unit", lat), B), "true_b": (("unit",), b)}
    ds = make_dataset(
        spikes,
        inputs=sim.inputs,
        input_names=list(ts.INPUT_NAMES),
        valid=timeline.valid,
        epoch=timeline.epoch,
        time=timeline.time,
        bin_size=bin_size,
        align_event="stim_on",
        trial_coords=_trial_coords(trials, sim, timeline),
        unit_coords={"area": area},
        unit_ids=[f"{a}_{i:02d}" for i, a in enumerate(area)],
        source=SOURCE,
        extra_vars=extra,
        validate=False,
    )
    coords = {lat: list(sim.latent_names), **sim.coords}
    ds = ds.assign_coords({dim: labels for dim, labels in coords.items() if dim in ds.dims})
    if lfp:
        features = lfp_features(
            timeline, valid=timeline.valid, rng=np.random.default_rng(lfp_seq), fs=lfp_fs
        )
        ds["lfp_amplitude"] = (features.dims, features.values, features.attrs)
        names = ("channel", "channel_area", "band", "band_low", "band_high")
        ds = ds.assign_coords({name: features[name].variable for name in names})
    ds.attrs.update(generator=chosen.name, **sim.attrs, seed=np.int64(seed))
    logger.info(
        "simulated %d trials, %d units, %d bins (generator %s)",
        n_trials,
        n_units,
        ds.sizes["time"],
        chosen.name,
    )
    return validate_dataset(ds)


def _check_args(n_trials: object, n_units: object, seed: object, bin_size: object, fs: object):
    """Raise ConfigError naming the argument, its value and the allowed range."""
    for name, value, low in (("n_trials", n_trials, 1), ("n_units", n_units, 2), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ConfigError(f"{name}={value!r}; fix: an integer >= {low}")
    if not isinstance(bin_size, numbers.Real) or not MIN_BIN <= bin_size <= MAX_BIN:
        raise ConfigError(
            f"bin_size={bin_size!r} s; fix: a bin width in [{MIN_BIN}, {MAX_BIN}] s, e.g. 0.05"
        )
    if not isinstance(fs, numbers.Real) or not 200 <= fs <= 5000:
        raise ConfigError(f"lfp_fs={fs!r} Hz; fix: a sampling rate in [200, 5000] Hz")


def _trial_coords(trials: dict, sim: Simulation, timeline: ts.Timeline) -> dict:
    names = ("rule", "block", "trial_in_block", "cue_trial", "location", "pitch", "congruent")
    coords = {name: trials[name] for name in names}
    behaviour = sim.behaviour
    coords.update(
        target=trials["target"],
        choice=behaviour["choice"],
        correct=behaviour["correct"],
        rt=trials["rt"],
        switch=trials["switch"],
    )
    if sim.belief is not None:
        coords["true_belief"] = sim.belief
    coords["true_lapse"] = behaviour["lapse"]
    coords.update({f"event_{name}": times for name, times in timeline.events.items()})
    return coords
