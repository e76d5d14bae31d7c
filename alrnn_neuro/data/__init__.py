"""Canonical data model and adapters from lab file formats.

- :mod:`~alrnn_neuro.data.schema`: the data model, :func:`make_dataset`, :func:`validate_dataset`.
- :mod:`~alrnn_neuro.data.h5`: ``dataset.h5`` read/write (canonical and plain HDF5 layouts).
- :mod:`~alrnn_neuro.data.events`: spike times + trial event table → binned, aligned sequences;
  :mod:`~alrnn_neuro.data.event_files`: CSV folders / events HDF5 files with their declared
  options; :mod:`~alrnn_neuro.data.observed`: units recorded per trial;
  :mod:`~alrnn_neuro.data.task_inputs`: inputs derived from the trial table.
- :mod:`~alrnn_neuro.data.nwb`: NWB in and out (extra ``nwb``);
  :mod:`~alrnn_neuro.data.pynapple_io`: pynapple in and out (extra ``pynapple``).
- :mod:`~alrnn_neuro.data.matlab`, :mod:`~alrnn_neuro.data.roitman`: MATLAB readers and the
  Roitman & Shadlen (2002) converter.
- :mod:`~alrnn_neuro.data.study_pfc1`, :mod:`~alrnn_neuro.data.crcns_pfc1`: the study's
  pfc-1 recordings (the paper's binned files; raw CRCNS sessions, files read by
  :mod:`~alrnn_neuro.data.crcns_pfc1_files`), pickles read by
  :mod:`~alrnn_neuro.data.safe_pickle` (no code from the files runs).
- :mod:`~alrnn_neuro.data.lfp`: LFP band-amplitude features (neurodsp).
- :mod:`~alrnn_neuro.data.split`: trial-wise splits.

The functions are re-exported from the package top level (``alrnn_neuro.load_dataset``, ...);
this subpackage imports nothing eagerly, so reading a file does not import neurodsp or torch.
"""
