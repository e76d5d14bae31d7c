"""A full disk and a read-only disk under fit, simulate and analyze: exit 2, one line, no
``.part`` left, no crash (h5py used to segfault on ENOSPC).

Each command runs as root in a throw-away mount namespace (``unshare --mount``) on a 2 MB
tmpfs, partly filled first, so nothing outside the test is touched. Without root or without
``unshare``/``mount``, the tests are skipped with the reason.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training.api import fit
from alrnn_neuro.training.config import FitConfig
from tests.adversarial.processes import entry_point

pytestmark = pytest.mark.adversarial


def _namespace_problem() -> str | None:
    """Why a private tmpfs cannot be mounted here (None if it can)."""
    if os.geteuid() != 0:
        return "needs root to mount a size-limited tmpfs"
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "needs util-linux unshare and mount"
    probe = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            "mount -t tmpfs -o size=64k tmpfs /mnt && umount /mnt",
        ],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return f"cannot mount a tmpfs in a new mount namespace: {probe.stderr.strip()}"
    return None


PROBLEM = _namespace_problem()
needs_tmpfs = pytest.mark.skipif(PROBLEM is not None, reason=PROBLEM or "")


def on_small_disk(
    args: list[str], work: Path, *, leave_kb: int | None = None, read_only: bool = False
) -> tuple[int, str, list[str]]:
    """Run ``alrnn-neuro ARGS`` with ``work/disk`` a 2 MB tmpfs (``leave_kb`` KB free, or
    mounted read-only); return (exit code, stderr, what the disk holds afterwards)."""
    disk = work / "disk"
    disk.mkdir(exist_ok=True)
    err, listing = work / "stderr.txt", work / "listing.txt"
    fill = ""
    if leave_kb is not None:
        fill = f"dd if=/dev/zero of={disk}/fill bs=1k count={2048 - leave_kb} 2>/dev/null; "
    options = "size=2m,ro" if read_only else "size=2m"
    command = " ".join(shlex.quote(a) for a in [entry_point(), *args])
    script = (
        f"mount -t tmpfs -o {options} tmpfs {disk} && {fill}"
        f"{command} > /dev/null 2> {err}; code=$?; "
        f"(cd {disk} && find . -mindepth 1 | sort) > {listing}; exit $code"
    )
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, err.read_text(), listing.read_text().split()


def assert_one_line(code: int, err: str, *phrases: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    for phrase in phrases:
        assert phrase in lines[0], lines[0]


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("disk")
    ds = simulate_stimulus_selection(n_trials=40, n_units=6, seed=2, lfp=False)
    save_dataset(ds, root / "data.h5")
    config = FitConfig(latent_dim=3, pwl_units=1, epochs=2, batch_size=16, init_bins=5)
    fit(ds, config, out=root / "run", dataset_path=root / "data.h5")
    return root / "data.h5", root / "run"


@needs_tmpfs
def test_simulate_on_a_full_disk(tmp_path):
    args = ["simulate", "stimulus-selection", "--n-trials", "60", "--out", "disk/sim.h5"]
    code, err, left = on_small_disk(args, tmp_path, leave_kb=20)
    assert_one_line(code, err, "no space left on", "need ~", "disk/sim.h5")
    assert left == ["./fill"]


@needs_tmpfs
@pytest.mark.parametrize("leave_kb", [24, 120])  # full at the first checkpoint, at latents.nc
def test_fit_on_a_full_disk(session, tmp_path, leave_kb):
    data, _ = session
    args = [
        "fit",
        str(data),
        "--latent-dim",
        "3",
        "--pwl-units",
        "1",
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--out",
        "disk/run",
    ]
    code, err, left = on_small_disk(args, tmp_path, leave_kb=leave_kb)
    assert_one_line(code, err, "no space left on")
    assert not [name for name in left if name.endswith((".part", ".lock"))], left


@needs_tmpfs
def test_analyze_on_a_full_disk(session, tmp_path):
    _, run = session
    args = ["analyze", str(run), "--n-null", "5", "--out", "disk/analysis"]
    code, err, left = on_small_disk(args, tmp_path, leave_kb=40)
    assert_one_line(code, err, "no space left on")
    assert left == ["./fill"]  # all or nothing: no partial analysis, no figures folder


@needs_tmpfs
def test_simulate_on_a_read_only_disk(tmp_path):
    args = ["simulate", "task", "copy", "--n-trials", "4", "--out", "disk/task.h5"]
    code, err, left = on_small_disk(args, tmp_path, read_only=True)
    assert_one_line(code, err, "Read-only file system", "--out")
    assert left == []
