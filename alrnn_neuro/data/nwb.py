"""NWB (Neurodata Without Borders, via pynwb) in and out of the canonical data model.

pynwb is the optional extra ``nwb``: ``pip install "alrnn-neuro[nwb]"``. It is imported only
when a function here is called.

Reading (:func:`read_nwb`)
--------------------------
* ``trials`` table: ``start_time``/``stop_time`` (session clock) become ``start``/``stop``;
  columns named ``<name>_time`` whose values lie inside their trial are events (coords
  ``event_<name>`` relative to the alignment event; pass ``events=`` to choose them); other
  scalar columns are trial coords; NWB trial ids become the ``trial`` coordinate. Ragged
  columns (``tags``, ``timeseries``) are skipped.
* ``units`` table: ``spike_times`` are binned by
  :func:`alrnn_neuro.data.events.bin_spike_times` (a bin is valid iff it lies fully inside
  its trial); unit ids come from a ``unit_id`` column, else the NWB ids; scalar columns
  (``location``, ``depth``, ...) become unit coords; a unit without ``location`` takes the
  location of its first electrode; ``obs_intervals`` give ``observed`` (a unit is observed in
  a trial that lies inside one of its intervals).
* ``invalid_times``: bins that overlap one of its intervals are invalid (padded).
* ``epochs`` table: with ``epochs="nwb"`` (the default for files from :func:`write_nwb`)
  each bin is labelled with the tags of the interval holding its centre.
* Continuous data: ``signal="NAME"`` bins a TimeSeries (acquisition or ``module/name``) into
  ``signal`` (trial, time, unit) in place of spikes; ``lfp=True`` / ``lfp="NAME"`` bins an
  ``ElectricalSeries`` into ``lfp_mean`` (trial, time, channel). A bin gets the mean of its
  samples, or the series interpolated at its centre when it holds none. With
  ``lfp_bands={"beta": (15, 30), ...}`` the LFP gives ``lfp_amplitude`` (trial, time,
  channel, band) instead, via :func:`alrnn_neuro.data.lfp.lfp_band_amplitudes`.

Writing (:func:`write_nwb`)
---------------------------
Trials are laid end to end on a session clock. Spike counts become spike times spread evenly
inside their bins on a grid of at most 1 ms (the units ``resolution``; times are known to bin
precision only), so they ascend strictly as nwbinspector expects. A ``Subject`` is written from the
``subject`` argument or the dataset's attrs. A JSON document in the description of the
processing module ``alrnn_neuro`` records the column roles, bin size, window, alignment and
input names, so ``read_nwb(write_nwb(ds))`` gives back the same trial ids and coords, unit
ids and coords, counts, ``valid``, ``observed``, ``epoch`` and ``inputs`` (event times and
``time`` to floating-point precision). Not written: ``lfp_*`` and ``true_*`` variables and
dataset attrs other than ``source``.

Examples
--------
>>> import tempfile, pathlib, numpy as np
>>> from alrnn_neuro.data.schema import make_dataset
>>> ds = make_dataset(np.ones((2, 4, 3), dtype=np.int64), bin_size=0.1, align_event="start")
>>> path = write_nwb(ds, pathlib.Path(tempfile.mkdtemp()) / "s.nwb")
>>> back = read_nwb(path, bin_size=0.1)
>>> bool((back["spikes"].values == ds["spikes"].values).all())
True
"""

from __future__ import annotations

from alrnn_neuro.data.nwb_read import read_nwb
from alrnn_neuro.data.nwb_write import write_nwb

__all__ = ["read_nwb", "write_nwb"]
