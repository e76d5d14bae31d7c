"""Write small synthetic sessions in the two pfc-1 layouts of ``shared/design/pfc1-format.md``.

The readers :mod:`alrnn_neuro.data.study_pfc1` and :mod:`alrnn_neuro.data.crcns_pfc1` were
written from that format description and public code, without the real files; these
fixtures follow the description exactly and are what the tests convert:

* **study layout** (§a): ``<session>_spikes_0_050_list.pkl`` (list of (units, T_i) int
  arrays), ``<session>_inputs_0_050_list.pkl`` (list of (8, T_i) float arrays),
  ``<session>_labels.pkl`` ((n_trials,) 0/1) written with ``joblib.dump`` (as the paper's
  loader reads them) or with plain ``pickle``, plus the five ``.npy`` per-trial files.
* **raw CRCNS layout** (§c): ``<rat>/<session>/trials_info`` and ``trial_timings`` (CSV),
  ``events`` (tab-separated, no header), ``klusters0/<session>.kkp`` = the spike table
  (unit/time/group) as a **Python 2 / pandas 0.10 pickle (protocol 2)**, written opcode by
  opcode here because neither exists any more (or, with ``spike_format="klustakwik"``,
  ``.res.N`` / ``.clu.N`` text files), and ``unit_db.csv`` in the authors' column layout.

Everything is seeded; the functions return what they wrote so tests compare element-wise.
Run from the repository root (writes ``OUT/study`` and ``OUT/crcns``)::

    python scripts/make_pfc1_fixtures.py OUT
"""

from __future__ import annotations

import argparse
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

STUDY_SESSION = "CR12B_day4"
RAW_SESSION = "CR12B_110421_001_behaving"
N_INPUTS = 8
BLOCK_PLAN = (  # (block, stimulus names drawn in it, n trials): the task's 160-trial cycle
    (1, ("le_lc_go", "ri_lc_no"), 20),
    (2, ("le_hi_lc", "ri_hi_lc", "le_lo_lc", "ri_lo_lc"), 60),
    (3, ("lo_pc_go", "hi_pc_no"), 20),
    (4, ("le_hi_pc", "ri_hi_pc", "le_lo_pc", "ri_lo_pc"), 60),
)
STIM_NUMBERS = {
    name: i + 1
    for i, name in enumerate(
        "lo_pc_go hi_pc_no le_lc_go ri_lc_no le_hi_pc ri_hi_pc le_lo_pc ri_lo_pc "
        "le_hi_lc ri_hi_lc le_lo_lc ri_lo_lc".split()
    )
}
GO = {"lo_pc_go", "le_lc_go", "le_hi_lc", "le_lo_lc", "le_lo_pc", "ri_lo_pc"}


# ---------------------------------------------------------------------------- study layout
def write_study_session(
    folder: str | Path,
    *,
    session: str = STUDY_SESSION,
    n_trials: int = 40,
    n_units: int = 6,
    bin_token: str = "0_050",
    writer: str = "joblib",
    compress: Any = 0,
    seed: int = 0,
    aux: bool = True,
) -> dict[str, Any]:
    """Write one session in the paper's binned layout; return the written objects."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lengths = rng.integers(12, 21, n_trials)
    labels = rng.integers(0, 2, n_trials)
    side = rng.integers(0, 2, n_trials)
    spikes, inputs = [], []
    for t_len, label, s in zip(lengths, labels, side, strict=True):
        drive = np.zeros((N_INPUTS, t_len))
        drive[s, 3:8] = 1.0  # INFERRED-style H2 channels: side sound ...
        drive[2 + label, 3:8] = 1.0  # ... pitch, rule and epoch markers (opaque to the reader)
        drive[4 + s, :] = 1.0
        drive[6, :3] = 1.0
        drive[7, 8:] = 1.0
        rate = 0.3 + 0.8 * np.outer(rng.random(n_units), drive[:4].sum(0))
        spikes.append(rng.poisson(rate).astype(np.int64))
        inputs.append(drive.astype(np.float32))
    files = {
        f"{session}_spikes_{bin_token}_list.pkl": spikes,
        f"{session}_inputs_{bin_token}_list.pkl": inputs,
        f"{session}_labels.pkl": labels,
    }
    for name, obj in files.items():
        dump(obj, folder / name, writer=writer, compress=compress)
    written: dict[str, Any] = {"spikes": spikes, "inputs": inputs, "labels": labels, "aux": {}}
    if aux:
        day = session.rsplit("_", 1)[-1]
        aux_arrays = {
            f"cue_sides_{day}": np.where(side == 0, "le", "ri"),
            f"pitch_labels_{day}": labels.astype(np.int64),
            f"trial_labels_{day}": np.array([f"c{i % 4}" for i in range(n_trials)], object),
            "correct_side_labels": np.where(side == 0, "left", "right"),
            "correct_mask": rng.random(n_trials) > 0.3,
        }
        for stem, values in aux_arrays.items():
            np.save(folder / f"{stem}.npy", values, allow_pickle=values.dtype == object)
        written["aux"] = aux_arrays
    written["files"] = list(files)
    return written


def dump(obj: Any, path: Path, *, writer: str = "joblib", compress: Any = 0) -> None:
    """Write ``obj`` as ``joblib.dump`` (optionally compressed) or plain ``pickle`` does."""
    if writer == "joblib":
        import joblib

        joblib.dump(obj, path, compress=compress)
    elif writer == "pickle":
        path.write_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
    else:
        raise ValueError(f"writer={writer!r}; use 'joblib' or 'pickle'")


# ------------------------------------------------------------------------ raw CRCNS layout
def write_crcns_session(
    root: str | Path,
    *,
    session: str = RAW_SESSION,
    seed: int = 0,
    spike_format: str = "kkp",
    timings: str = "trial_timings",
    n_cycles: int = 1,
) -> dict[str, Any]:
    """Write ``root/<rat>/<session>/`` and ``root/unit_db.csv``; return the tables written.

    ``spike_format``: ``"kkp"`` (Python 2 / pandas 0.10 pickle) or ``"klustakwik"``;
    ``timings``: ``"trial_timings"`` (own file), ``"trials_info"`` (columns folded into
    trials_info) or ``"events"`` (only the events file carries them); ``n_cycles``:
    repetitions of the task's 160-trial block cycle (blocks 1-4).
    """
    rng = np.random.default_rng(seed)
    rat = session.split("_")[0]
    folder = Path(root) / rat / session
    (folder / "klusters0").mkdir(parents=True, exist_ok=True)
    trials = _trial_table(rng, n_cycles)
    info_cols = [
        "stim_number",
        "stim_name",
        "block",
        "go_or_nogo",
        "outcome",
        "correct_side",
        "nonrandom",
    ]
    time_cols = ["is_munged", "cpoke_start", "stim_onset", "cpoke_stop", "choice_made"]
    info = trials[info_cols]
    if timings == "trials_info":
        info = trials[info_cols + time_cols]
    info.to_csv(folder / "trials_info", index_label="trial_number")
    if timings == "trial_timings":
        trials[time_cols].to_csv(folder / "trial_timings", index_label="trial_number")
    events = _events(trials)
    events.to_csv(folder / "events", sep="\t", header=False, index=False)
    spikes = _spike_table(rng, trials)
    if spike_format == "kkp":
        (folder / "klusters0" / f"{session}.kkp").write_bytes(py2_frame_pickle(spikes))
    elif spike_format == "klustakwik":
        for group, rows in spikes.groupby("group"):
            clusters = rows["unit"].to_numpy() - 100 * group
            base = folder / "klusters0" / f"{session}"
            samples = np.rint(rows["time"].to_numpy() * 30000.0).astype(np.int64)
            np.savetxt(f"{base}.res.{group}", samples, fmt="%d")
            np.savetxt(f"{base}.clu.{group}", np.r_[clusters.max() + 1, clusters], fmt="%d")
        spikes = spikes.assign(time=np.rint(spikes["time"] * 30000.0) / 30000.0)
    else:
        raise ValueError(f"spike_format={spike_format!r}")
    unit_db = _unit_db(session, sorted(spikes["unit"].unique()))
    unit_db.to_csv(Path(root) / "unit_db.csv", index=False)
    return {
        "folder": folder,
        "trials": trials,
        "spikes": spikes,
        "events": events,
        "unit_db": Path(root) / "unit_db.csv",
        "unit_rows": unit_db,
    }


def _trial_table(rng: np.random.Generator, n_cycles: int) -> pd.DataFrame:
    rows, start = [], 3.0
    for block, names, count in BLOCK_PLAN * n_cycles:
        for _ in range(count):
            name = str(rng.choice(names))
            rule = name.split("_")[1] if name.endswith(("_go", "_no")) else name.split("_")[2]
            outcome = str(rng.choice(["hit", "hit", "hit", "error", "wrong_port"]))
            stim = start + 0.08  # CR12B hold <= 100 ms
            stop = stim + rng.uniform(0.15, 0.35)
            rows.append(
                {
                    "stim_number": STIM_NUMBERS[name],
                    "stim_name": name,
                    "block": block,
                    "go_or_nogo": "go" if name in GO else "nogo",
                    "outcome": outcome,
                    "correct_side": "left" if rule == "lc" else "right",
                    "nonrandom": 0,
                    "is_munged": False,
                    "cpoke_start": start,
                    "stim_onset": stim,
                    "cpoke_stop": stop,
                    "choice_made": stop + rng.uniform(0.3, 0.6),
                }
            )
            start += rng.uniform(2.0, 3.0)
    table = pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1, name="trial_number"))
    table.loc[5, "is_munged"] = True
    table.loc[9, "nonrandom"] = 1
    table.loc[len(table), "outcome"] = "future_trial"
    return table


def _events(trials: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for number, t in trials.iterrows():
        rows += [
            (f"trial_{number}_in", t.cpoke_start - 0.5),
            ("hold_center_in", t.cpoke_start),
            ("play_stimulus_in", t.stim_onset),
            (f"play_stimulus_{t.stim_number}_in", t.stim_onset),
            ("hold_center2_out", t.cpoke_stop),
            ("choosing_side_out", t.choice_made),
            (f"trial_{number}_out", t.choice_made + 0.2),
        ]
    return pd.DataFrame(rows, columns=["event", "time"])


def _spike_table(rng: np.random.Generator, trials: pd.DataFrame) -> pd.DataFrame:
    units = [102, 103, 105, 202, 204, 302]  # unum = cluster + 100 * group
    end = float(trials["choice_made"].max()) + 3.0
    parts = []
    for unit in units:
        times = np.sort(rng.uniform(0.0, end, rng.poisson(4.0 * end)))
        burst = np.concatenate([rng.uniform(s, s + 0.2, rng.poisson(3)) for s in trials.stim_onset])
        times = np.sort(np.r_[times, burst])
        parts.append(pd.DataFrame({"unit": unit, "time": times, "group": unit // 100}))
    return pd.concat(parts, ignore_index=True).sort_values("time", kind="stable")


def _unit_db(session: str, unums: list[int]) -> pd.DataFrame:
    rows = []
    for i, unum in enumerate(unums):
        rows.append(
            {
                "ulabel": f"{session}-{unum}",
                "ratname": session.split("_")[0],
                "session_name": session,
                "unum": unum,
                "group": unum // 100,
                "sortscore": 0.9,
                "audresp": "good",
                "audresp_t1": 0.0,
                "audresp_t2": 0.05,
                "session_include": True,
                "region": "A1",
                "sortqual": "good",
                "feature_drift": False,
                "FR_drift": False,
                "include": i % 3 != 2,
            }
        )
    rows.append(
        {
            **rows[0],
            "ulabel": "CR12B_110422_001_behaving-101",
            "session_name": "CR12B_110422_001_behaving",
            "unum": 101,
        }
    )
    return pd.DataFrame(rows)


# ------------------------------------------------- Python 2 / pandas 0.10 pickle, by hand
def py2_frame_pickle(table: pd.DataFrame) -> bytes:
    """A DataFrame pickled as pandas 0.10 under Python 2.7 did it (protocol 2, byte strings).

    Layout (pandas 0.10 ``NDFrame.__getstate__`` = the ``BlockManager``, whose state is
    ``(axes, block_values, block_items)``; ``Index.__reduce__`` = numpy's plus ``(name,)``):
    ``DataFrame`` NEWOBJ, ``BlockManager`` NEWOBJ + BUILD(state), BUILD.
    """
    columns = list(table.columns)
    ints = [c for c in columns if table[c].dtype.kind in "iu"]
    floats = [c for c in columns if c not in ints]
    index = np.arange(len(table), dtype=np.int64)
    blocks = [
        (np.vstack([table[c].to_numpy(np.float64) for c in floats]), floats),
        (np.vstack([table[c].to_numpy(np.int64) for c in ints]), ints),
    ]
    axes = _list([_index("Index", np.array(columns, object)), _index("Int64Index", index)])
    state = _tuple(
        [
            axes,
            _list([_array(values) for values, _ in blocks]),
            _list([_index("Index", np.array(names, object)) for _, names in blocks]),
        ]
    )
    manager = _global("pandas.core.internals", "BlockManager") + b")\x81" + state + b"b"
    frame = _global("pandas.core.frame", "DataFrame") + b")\x81" + manager + b"b"
    return b"\x80\x02" + frame + b"."


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _value(x: Any) -> bytes:
    """Python 2 opcodes for a plain value (every str is a byte string, as in Python 2)."""
    if x is None:
        return b"N"
    if isinstance(x, bool | np.bool_):
        return b"\x88" if x else b"\x89"
    if isinstance(x, int | np.integer):
        x = int(x)
        if 0 <= x < 256:
            return b"K" + bytes([x])
        return b"J" + struct.pack("<i", x)
    if isinstance(x, float | np.floating):
        return b"G" + struct.pack(">d", float(x))
    if isinstance(x, str | bytes):
        raw = x.encode("latin1") if isinstance(x, str) else x
        if len(raw) < 256:
            return b"U" + bytes([len(raw)]) + raw
        return b"T" + struct.pack("<I", len(raw)) + raw
    if isinstance(x, tuple):
        return _tuple([_value(v) for v in x])
    if isinstance(x, list):
        return _list([_value(v) for v in x])
    raise TypeError(type(x))


def _tuple(items: list[bytes]) -> bytes:
    if not items:
        return b")"
    if len(items) <= 3:
        return b"".join(items) + b"\x85\x86\x87"[len(items) - 1 : len(items)]
    return b"(" + b"".join(items) + b"t"


def _list(items: list[bytes]) -> bytes:
    return b"]" + (b"(" + b"".join(items) + b"e" if items else b"")


def _dtype(dtype: np.dtype) -> bytes:
    _, args, state = dtype.__reduce__()
    return _global("numpy", "dtype") + _value(tuple(args)) + b"R" + _value(tuple(state)) + b"b"


def _array_state(array: np.ndarray) -> bytes:
    data = list(array) if array.dtype == object else array.tobytes()
    version, shape, fortran = 1, tuple(array.shape), False
    return _tuple(
        [_value(version), _value(shape), _dtype(array.dtype), _value(fortran), _value(data)]
    )


def _array(array: np.ndarray) -> bytes:
    head = _global("numpy.core.multiarray", "_reconstruct")
    args = _tuple([_global("numpy", "ndarray"), _value((0,)), _value("b")])
    return head + args + b"R" + _array_state(np.ascontiguousarray(array)) + b"b"


def _index(kind: str, values: np.ndarray, name: Any = None) -> bytes:
    head = _global("numpy.core.multiarray", "_reconstruct")
    args = _tuple([_global("pandas.core.index", kind), _value((0,)), _value("b")])
    state = _tuple([_array_state(values), _tuple([_value(name)])])
    return head + args + b"R" + state + b"b"


def main(argv: list[str] | None = None) -> Path:
    """Write ``OUT/study`` (joblib), ``OUT/study_pickle`` (plain pickle) and ``OUT/crcns``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    write_study_session(args.out / "study", writer="joblib")
    write_study_session(args.out / "study_pickle", writer="pickle")
    write_crcns_session(args.out / "crcns", n_cycles=2)
    return args.out


if __name__ == "__main__":
    main()
