"""Warnings reach the console as one line each (``--debug`` keeps Python's two-line form)."""

from __future__ import annotations

import sys

from tests.conftest import entry_point


def _convert(folder, out, *extra):
    window = ["--bin-size", "0.5", "--align", "start", "--window", "0,2"]
    return entry_point(*extra, "convert", "events", folder, *window, "--out", out)


def test_a_silent_unit_warning_is_one_line_without_a_source_path(tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    # unit b spikes only outside the trials: it is kept as an all-zero unit, with a warning
    (folder / "spikes.csv").write_text("unit,time\na,0.5\na,3.5\nb,10.0\n")
    (folder / "trials.csv").write_text("start,stop\n0.0,2.0\n3.0,5.0\n")
    done = _convert(folder, tmp_path / "out.h5")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines == [
        "warning: units ['b'] (1 in all) have no spike in any valid bin; they are kept as "
        "all-zero units (SilentUnitWarning)"
    ]
    debug = _convert(folder, tmp_path / "debug.h5", "--debug")
    assert ".py:" in debug.stderr and "SilentUnitWarning:" in debug.stderr  # Python's form


def test_after_ctrl_c_a_half_built_objects_finalizer_error_is_not_reported(monkeypatch):
    # an interrupt inside h5netcdf.File.__init__ left a File without _closed; its __del__
    # then printed "Exception ignored ... AttributeError" under the one interrupted line
    import types

    from alrnn_neuro.cli import interrupts

    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    interrupts.redeliver_swallowed_interrupts()
    finalizer_error = types.SimpleNamespace(exc_type=AttributeError, object=None)
    sys.unraisablehook(finalizer_error)
    assert seen == [finalizer_error]  # without an interrupt: reported as before
    interrupts.INTERRUPTED.set()
    sys.unraisablehook(finalizer_error)
    assert seen == [finalizer_error]  # after Ctrl-C: dropped
    interrupts.INTERRUPTED.clear()
