"""Analyse a fitted run end to end: regimes, exact dynamics, primitives, task alignment.

:func:`analyze_run` turns a run directory (or a :class:`~alrnn_neuro.training.api.FitResult`)
plus, optionally, its dataset into an :class:`AnalysisResult`; :func:`write_analysis` saves it
as ``regimes.nc``, ``dynamics.nc``, ``primitives.json`` and ``alignment.json`` (all or none).

=====================  =====================================================================
file                   content
=====================  =====================================================================
``regimes.nc``         ``region_usage`` (region), ``transition_count`` / ``_probability``
                       (region_from, region_to), ``epoch_transition_*`` (epoch, ...),
                       ``region_epoch`` (region, epoch), ``dwell_*`` (run),
                       ``switch_latency`` (trial, event), nonlinearity usage
``dynamics.nc``        per used region: Jacobian, eigenvalues (real/imag parts), stability,
                       fixed points under each epoch's mean input and whether they are real
``primitives.json``    one record per tested primitive (see ``detect_primitives``)
``alignment.json``     AMI of region vs epoch / trial variables with null p-values, summary
=====================  =====================================================================
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from alrnn_neuro._atomic import atomic_path
from alrnn_neuro._json import dumps
from alrnn_neuro.analysis import alignment as al
from alrnn_neuro.analysis import regimes as rg
from alrnn_neuro.analysis.checks import epoch_mean_inputs, params_from_model
from alrnn_neuro.analysis.dynamics import region_dynamics
from alrnn_neuro.analysis.primitives_trials import detect_primitives, to_records
from alrnn_neuro.errors import DataValidationError, RunDirError

logger = logging.getLogger(__name__)

FILES = ("regimes.nc", "dynamics.nc", "primitives.json", "alignment.json")
#: trial variables scored against the regions when present (others are ignored by default)
TRIAL_VARIABLES = ("rule", "context", "choice", "target", "correct", "condition", "stimulus")


@dataclass
class AnalysisResult:
    """Everything :func:`analyze_run` computed.

    Attributes
    ----------
    regimes : xr.Dataset
        Region usage, transitions, region x epoch table, dwell runs, switch latencies.
    dynamics : xr.Dataset
        Per-region Jacobians, spectra (``eigenvalue_real`` / ``eigenvalue_imag``, dims
        region, mode), stability and fixed points.
    primitives : list of dict
        Records of :func:`~alrnn_neuro.analysis.detect_primitives` (empty without inputs).
    alignment : dict
        ``scores`` (records of :func:`~alrnn_neuro.analysis.alignment_scores`),
        ``epoch_ami``, ``epoch_p``, ``n_null``, ``seed``, ``latency_by_condition``.
    summary : dict
        Short facts for people: ``n_latent``, ``n_pwl``, ``n_regions_used``, ``top_regions``
        (region, bits, frequency, epochs), ``primitives_found``, ``note``.
    latents : xr.Dataset
        The run's ``latents`` / ``bitcode`` / ``valid`` / ``epoch`` (for plotting).
    """

    regimes: xr.Dataset
    dynamics: xr.Dataset
    primitives: list[dict]
    alignment: dict[str, Any]
    summary: dict[str, Any]
    latents: xr.Dataset = field(repr=False)


def analyze_run(
    run: str | os.PathLike | Any,
    dataset: str | os.PathLike | xr.Dataset | None = None,
    *,
    n_null: int = 200,
    seed: int = 0,
    trial_variables: tuple[str, ...] | None = None,
    rule: str | None = "auto",
    evidence_inputs: tuple[str, ...] | None = None,
    gate_inputs: tuple[str, ...] | None = None,
) -> AnalysisResult:
    """Analyse the linear regimes of a fitted AL-RNN run.

    Parameters
    ----------
    run : str, PathLike or FitResult
        Run directory written by ``fit`` / ``alrnn-neuro fit``, or an in-memory fit result.
    dataset : str, PathLike or xr.Dataset, optional
        The dataset the run was fitted to (default: the path recorded in ``config.json``, if
        it still exists). Needed for inputs (fixed points per epoch, primitives); without it
        those parts use zero input / are skipped.
    n_null : int
        Null draws for the alignment p-values and the rule decoding.
    seed : int
        Seed of those nulls.
    trial_variables : tuple of str, optional
        Trial coords to score against the regions (default: those of
        :data:`TRIAL_VARIABLES` present in the run).
    rule : str or None
        Trial coord of the rule for rule-based integration ("auto": ``rule`` if present).
    evidence_inputs, gate_inputs : tuple of str, optional
        Input channels for the primitive detectors (default: all channels / no gating test).

    Returns
    -------
    AnalysisResult

    Raises
    ------
    RunDirError
        If the run directory lacks model or latents, or the model is not an AL-RNN.
    DataValidationError
        If the dataset's trials, time bins or inputs do not match the run's.
    """
    fit = load_fit(run)
    lat = fit.latents
    if "bitcode" not in lat:
        raise RunDirError(
            f"run model={fit.config.model!r} has no linear regions (no bitcode in latents.nc); "
            "fix: analyse an AL-RNN run (alrnn-neuro fit --model alrnn)"
        )
    params = params_from_model(fit.model.dynamics)
    n_pwl, n_latent = int(params["n_pwl"]), int(params["A"].shape[0])
    bitcode, valid, epoch = lat["bitcode"], lat["valid"], lat["epoch"]
    inputs = load_inputs(dataset, fit)
    names = tuple(trial_variables) if trial_variables is not None else _default_variables(lat)
    regimes = _regimes(bitcode, valid, epoch, n_pwl, n_latent)
    usage = regimes["frequency"].to_series()
    drive = epoch_mean_inputs(inputs, epoch, valid) if inputs is not None else None
    dyn = region_dynamics(
        params["A"], params["W"], params["C"], params["h"], n_pwl,
        codes=regimes["region"].values, inputs=drive,
    )  # fmt: skip
    dynamics = _storable(dyn).assign(usage=("region", usage.reindex(dyn.region.values).values))
    scores = al.alignment_scores(bitcode, valid, epoch, names, n_null=n_null, seed=seed)
    alignment = _alignment(scores, regimes, n_null, seed, names)
    rule_name = ("rule" if "rule" in lat.coords else None) if rule == "auto" else rule
    primitives: list[dict] = []
    if inputs is not None:
        table = detect_primitives(
            params["A"], params["W"], params["C"], n_pwl, bitcode, inputs,
            valid=valid, epoch=epoch, evidence_inputs=evidence_inputs, gate_inputs=gate_inputs,
            rule=rule_name, seed=seed, n_null=n_null,
        )  # fmt: skip
        primitives = to_records(table)
    else:
        logger.info("no dataset: primitives skipped, fixed points at zero input")
    summary = _summary(regimes, primitives, alignment, n_pwl, n_latent, inputs is not None)
    keep = lat[[v for v in ("latents", "bitcode", "valid", "epoch") if v in lat]]
    return AnalysisResult(regimes, dynamics, primitives, alignment, summary, keep)


def _default_variables(lat: xr.Dataset) -> tuple[str, ...]:
    return tuple(v for v in TRIAL_VARIABLES if v in lat.coords and lat[v].dims == ("trial",))


def _regimes(bitcode, valid, epoch, n_pwl: int, n_latent: int) -> xr.Dataset:
    """All bitcode statistics in one Dataset (dims region, region_from/to, epoch, run, ...)."""
    usage = rg.region_usage(bitcode, valid, n_pwl=n_pwl)
    regions = usage["region"].values
    trans = rg.transition_matrix(bitcode, valid, regions=regions)
    graphs = al.epoch_transition_graphs(bitcode, epoch, valid, max_regions=None)
    graphs = graphs.reindex(region_from=trans.region_from, region_to=trans.region_to)
    graphs["count"] = graphs["count"].fillna(0).astype(np.int64)
    table = al.region_epoch_table(bitcode, epoch, valid).reindex(region=regions, fill_value=0)
    dwell = rg.dwell_times(bitcode, valid).rename({k: f"dwell_{k}" for k in ("trial", "region")})
    nl = rg.nonlinearity_usage(bitcode, valid, epoch, n_pwl=n_pwl, n_latent=n_latent)
    out = usage.assign(
        transition_count=trans["count"],
        transition_probability=trans["probability"],
        epoch_transition_count=graphs["count"],
        epoch_transition_probability=graphs["probability"],
        region_epoch=table.reindex(epoch=graphs.epoch.values, fill_value=0),
    )
    out = out.merge(dwell, combine_attrs="drop_conflicts").merge(nl, combine_attrs="override")
    events = [str(k)[6:] for k in bitcode.coords if str(k).startswith("event_")]
    if events:
        lat = al.switch_latency(bitcode, valid, events)
        out["switch_latency"] = lat.reset_coords(drop=True)
    out.attrs = {**usage.attrs, "n_pwl": n_pwl, "n_latent": n_latent, "bin_size": _bin(bitcode)}
    return out


def _bin(bitcode: xr.DataArray) -> float:
    t = bitcode["time"].values
    return float(bitcode.attrs.get("bin_size", np.median(np.diff(t)) if len(t) > 1 else 1.0))


def _storable(dyn: xr.Dataset) -> xr.Dataset:
    """Complex spectra split into real and imaginary parts (netCDF has no complex type)."""
    out = dyn.drop_vars(["eigenvalues", "eigenvectors"])
    ev, vec = dyn["eigenvalues"], dyn["eigenvectors"]
    return out.assign(
        eigenvalue_real=ev.real, eigenvalue_imag=ev.imag,
        eigenvector_real=vec.real, eigenvector_imag=vec.imag,
        eigenvalue_modulus=np.abs(ev),
    )  # fmt: skip


def _alignment(scores, regimes, n_null: int, seed: int, names) -> dict[str, Any]:
    epoch_row = scores[(scores["variable"] == "epoch") & (scores["epoch"] == "all")]
    first = epoch_row.iloc[0] if len(epoch_row) else None
    out = {
        "scores": to_records(scores),
        "epoch_ami": None if first is None else _num(first["ami"]),
        "epoch_p": None if first is None else _num(first["p_circular"]),
        "trial_variables": list(names),
        "n_null": n_null,
        "seed": seed,
    }
    if "switch_latency" in regimes:
        lat = regimes["switch_latency"]
        out["switch_latency_median_s"] = {
            str(e): _num(np.nanmedian(lat.sel(event=e).values))
            if np.isfinite(lat.sel(event=e).values).any()
            else None
            for e in lat.event.values
        }
    return out


def _num(x: Any) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def _summary(regimes, primitives, alignment, n_pwl, n_latent, has_inputs) -> dict[str, Any]:
    table = regimes["region_epoch"]
    top = []
    for r in regimes["region"].values[:5]:
        row = table.sel(region=r)
        share = row / max(int(row.sum()), 1)
        order = share.epoch.values[np.argsort(-share.values)]
        epochs = [str(e) for e in order if share.sel(epoch=e) >= 0.1]
        top.append(
            {
                "region": int(r),
                "bits": str(regimes["bits"].sel(region=r).values),
                "frequency": float(regimes["frequency"].sel(region=r)),
                "epochs": epochs,
            }
        )
    found = sorted({p["primitive"] for p in primitives if p.get("detected")})
    note = "one region (P = 0: linear RNN)" if n_pwl == 0 else ""
    if not has_inputs:
        note = (note + "; " if note else "") + "no dataset: primitives skipped"
    return {
        "n_latent": n_latent,
        "n_pwl": n_pwl,
        "n_regions_used": int(regimes.attrs["n_regions_used"]),
        "n_regions_total": 2**n_pwl,
        "n_regions_90": int(regimes.attrs["n_regions_90"]),
        "top_regions": top,
        "epoch_ami": alignment["epoch_ami"],
        "epoch_p": alignment["epoch_p"],
        "primitives_found": found,
        "n_primitives_tested": len(primitives),
        "note": note,
    }


def write_analysis(result: AnalysisResult, out_dir: str | os.PathLike) -> list[Path]:
    """Write ``regimes.nc``, ``dynamics.nc``, ``primitives.json``, ``alignment.json``.

    All files are first written into a temporary folder; they replace those in ``out_dir``
    only when every one succeeded, so a failure leaves ``out_dir`` as it was.

    Parameters
    ----------
    result : AnalysisResult
    out_dir : str or PathLike
        Output folder (created if needed).

    Returns
    -------
    list of Path
        The written files.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--out {out} is a file; fix: give a directory path")

    def fill(folder: Path) -> None:
        _netcdf(result.regimes, folder / "regimes.nc")
        _netcdf(result.dynamics, folder / "dynamics.nc")
        (folder / "primitives.json").write_text(dumps(result.primitives))
        (folder / "alignment.json").write_text(dumps({**result.alignment, **result.summary}))

    if not out.exists():
        with atomic_path(out) as tmp:
            tmp.mkdir()
            fill(tmp)
    else:
        stage = Path(tempfile.mkdtemp(prefix=".analysis.", dir=out))
        try:
            fill(stage)
            for name in FILES:
                os.replace(stage / name, out / name)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    return [out / name for name in FILES]


def _netcdf(ds: xr.Dataset, path: Path) -> None:
    ds = ds.copy()
    ds.attrs = {k: v for k, v in ds.attrs.items() if isinstance(v, str | int | float)}
    ds.to_netcdf(path, engine="h5netcdf")  # bools are stored as int8 + dtype attr


def load_fit(run: str | os.PathLike | Any) -> Any:
    """A FitResult from a run directory (checked file by file) or passed through as is."""
    if not isinstance(run, str | os.PathLike):
        return run
    from alrnn_neuro.training.api import load_run

    path = Path(run)
    if not path.is_dir():
        raise RunDirError(f"RUN_DIR {path} is not a directory; fix: give a run directory")
    missing = [f for f in ("config.json", "model.pt", "latents.nc") if not (path / f).is_file()]
    if missing:
        raise RunDirError(
            f"RUN_DIR {path} lacks {', '.join(missing)}; fix: point to a finished run "
            "directory written by `alrnn-neuro fit` (or finish it with --resume)"
        )
    return load_run(path)


def load_inputs(dataset: str | os.PathLike | xr.Dataset | None, fit: Any) -> xr.DataArray | None:
    """The dataset's ``inputs`` on the run's trials and time bins (None without a dataset)."""
    if dataset is None:
        recorded, run_dir = "", getattr(fit, "run_dir", None)
        if run_dir is not None and (Path(run_dir) / "config.json").is_file():
            record = json.loads((Path(run_dir) / "config.json").read_text())
            recorded = record.get("data", {}).get("path", "")
        if not recorded or not Path(recorded).is_file():
            return None
        dataset = recorded
    if not isinstance(dataset, xr.Dataset):
        from alrnn_neuro.data.h5 import load_dataset

        dataset = load_dataset(dataset)
    lat = fit.latents
    if "inputs" not in dataset:
        raise DataValidationError("dataset has no `inputs` variable; fix: pass the fitted dataset")
    run_trials, data_trials = lat["trial"].values, dataset["trial"].values
    missing = np.setdiff1d(run_trials, data_trials)
    if len(missing):
        raise DataValidationError(
            f"dataset trials do not match the run: trial ids {missing[:5].tolist()} "
            f"({len(missing)} of {len(run_trials)}) are missing; fix: pass --dataset with the "
            "file the run was fitted to"
        )
    names = list(fit.config.inputs)
    have = [str(x) for x in dataset["input"].values]
    if any(n not in have for n in names):
        raise DataValidationError(
            f"dataset inputs {have} lack the run's input channels {names}; fix: pass --dataset "
            "with the file the run was fitted to"
        )
    t_run, t_data = lat["time"].values, dataset["time"].values
    idx = np.clip(np.searchsorted(t_data, t_run), 0, len(t_data) - 1)
    near = np.where(np.abs(t_data[idx - 1] - t_run) < np.abs(t_data[idx] - t_run), idx - 1, idx)
    tol = 0.25 * float(np.median(np.diff(t_data))) if len(t_data) > 1 else 1e-9
    if np.any(np.abs(t_data[near] - t_run) > tol):
        raise DataValidationError(
            f"dataset time bins ({t_data[0]:.3f}..{t_data[-1]:.3f} s, {len(t_data)} bins) do not "
            f"cover the run's ({t_run[0]:.3f}..{t_run[-1]:.3f} s); fix: pass the fitted dataset "
            "(same bin_size and alignment)"
        )
    inputs = dataset["inputs"].sel(trial=run_trials, input=names).isel(time=near)
    inputs = inputs.assign_coords(time=t_run).transpose("trial", "time", "input")
    return inputs.where(lat["valid"], 0.0)
