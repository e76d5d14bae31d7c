"""Two writers, one run directory: exactly one fit runs, the other exits 2 naming the lock; a
lock or temporary file left by a killed fit is taken over / removed by the next one."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from alrnn_neuro.data.h5 import save_dataset
from alrnn_neuro.errors import RunDirError
from alrnn_neuro.simulate.stimulus_selection import simulate_stimulus_selection
from alrnn_neuro.training.api import load_run
from alrnn_neuro.training.rundir import check_run_ids
from alrnn_neuro.training.runlock import lock_holder, lock_path, lock_run_dir
from tests.adversarial.processes import run, start, wait_for

pytestmark = pytest.mark.adversarial

FIT = ["--latent-dim", "3", "--pwl-units", "1", "--batch-size", "8"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("writers") / "data.h5"
    save_dataset(simulate_stimulus_selection(n_trials=40, n_units=6, seed=0, lfp=False), path)
    return path


def _epoch(run_dir: Path) -> int:
    try:
        return int(torch.load(run_dir / "checkpoint.pt", weights_only=True)["epoch"])
    except (FileNotFoundError, RuntimeError, EOFError, KeyError):
        return 0


def test_two_fits_into_one_out_dir(data, tmp_path):
    out = tmp_path / "run"
    first = start(["fit", str(data), *FIT, "--epochs", "6", "--out", str(out)], tmp_path)
    wait_for(lambda: _epoch(out) >= 1, first, "the first fit's first epoch")
    os.kill(first.pid, signal.SIGSTOP)  # hold the first fit mid-run, however fast it is
    try:
        second = run(
            ["fit", str(data), *FIT, "--epochs", "6", "--seed", "7", "--out", str(out)], tmp_path
        )
    finally:
        os.kill(first.pid, signal.SIGCONT)
    _, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err
    lines = second.stderr.strip().splitlines()
    assert second.returncode == 2 and len(lines) == 1, second.stderr
    assert f"is locked by process {first.pid}" in lines[0] and "lock file" in lines[0]
    # the run is the first fit's alone: every file carries its run id
    assert check_run_ids(out) == json.loads((out / "config.json").read_text())["run_id"]
    assert load_run(out).config.seed == 0
    assert not lock_path(out).exists()


def test_a_lock_held_in_this_process_refuses_a_second_writer(tmp_path):
    run_dir = tmp_path / "run"
    with lock_run_dir(run_dir) as lock:
        record = json.loads(lock.read_text())
        assert record["pid"] == os.getpid()
        assert lock_holder(run_dir)["pid"] == os.getpid()
        with pytest.raises(RunDirError, match=f"locked by process {os.getpid()}.*fix"):
            with lock_run_dir(run_dir):
                pass
    assert not lock.exists() and lock_holder(run_dir) is None


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path):
    run_dir = tmp_path / "run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from alrnn_neuro.training.runlock import lock_run_dir\n"
            f"with lock_run_dir({str(run_dir)!r}):\n print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(RunDirError, match=f"locked by process {holder.pid}"):
        with lock_run_dir(run_dir):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert lock_path(run_dir).exists()  # SIGKILL: the file stays, the kernel drops the lock
    with lock_run_dir(run_dir) as lock:
        assert json.loads(lock.read_text())["pid"] == os.getpid()


def test_without_flock_a_dead_pid_is_taken_over_and_a_live_one_refused(tmp_path, monkeypatch):
    def no_flock(fd, operation):
        raise OSError(37, "No locks available")  # ENOLCK, as on some network file systems

    monkeypatch.setattr(fcntl, "flock", no_flock)
    run_dir = tmp_path / "run"
    lock = lock_path(run_dir)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        host = os.uname().nodename
        lock.write_text(json.dumps({"pid": sleeper.pid, "host": host, "command": "fit"}))
        with pytest.raises(RunDirError, match=f"locked by process {sleeper.pid}"):
            with lock_run_dir(run_dir):
                pass
    finally:
        sleeper.kill()
        sleeper.wait(timeout=30)
    with lock_run_dir(run_dir) as taken:  # the recorded process is gone: take the lock over
        assert json.loads(taken.read_text())["pid"] == os.getpid()


def test_a_killed_fit_leaves_debris_the_resume_removes(data, tmp_path):
    out = tmp_path / "run"
    args = ["fit", str(data), *FIT, "--epochs", "12", "--out", str(out)]
    fitting = start(args, tmp_path)
    wait_for(lambda: _epoch(out) >= 2, fitting, "epoch 2")
    os.killpg(fitting.pid, signal.SIGKILL)
    fitting.communicate(timeout=60)
    host = os.uname().nodename.replace(".", "_").replace("-", "_")[:32]
    stale = out / f".model.pt.{host}-{fitting.pid}.0123abcd.part"
    stale.write_bytes(b"half a model")  # what a kill during a write leaves
    resumed = run([*args, "--resume"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert not stale.exists() and not lock_path(out).exists()
    assert (out / "metrics.json").is_file() and check_run_ids(out)
