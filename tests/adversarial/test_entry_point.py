"""A fast subset of the corpus through the installed ``alrnn-neuro`` console script, as a shell
runs it: real stderr (warnings and logging included), real exit codes, real special files."""

from __future__ import annotations

import stat

import pytest

from tests.adversarial.builders import snapshot
from tests.adversarial.corpus import CASES
from tests.adversarial.processes import run

pytestmark = pytest.mark.adversarial

SUBSET = (
    "--out a symlink to a file",
    "truncated HDF5",
    "duplicate trial ids",
    "memory bomb: 2 GB of unwritten chunks",
    "model.pt malicious pickle",
    "markup in a path",
    "HDF5 without a layout and without data: one line, no library warning",
)
BY_NAME = {case.name: case for case in CASES}


@pytest.mark.parametrize("name", SUBSET)
def test_hostile_input_through_the_console_script(name, shared, tmp_path):
    case = BY_NAME[name]
    folder = tmp_path / "case"
    folder.mkdir()
    try:
        argv = case.build(folder, shared)
    except PermissionError as error:
        pytest.skip(f"cannot build this input here: {error}")
    before = snapshot(folder)
    done = run(argv, tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert case.message in lines[0], lines[0]
    assert snapshot(folder) == before


def test_simulate_out_a_device_node_leaves_it_a_device(tmp_path):
    """``simulate ... --out /dev/null`` as root, on a device node made for the test."""
    from tests.adversarial.builders import char_device

    try:
        null = char_device(tmp_path)
    except PermissionError:
        pytest.skip("mknod needs root (CAP_MKNOD)")
    done = run(["simulate", "stimulus-selection", "--n-trials", "5", "--out", str(null)], tmp_path)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "character device" in done.stderr
    assert stat.S_ISCHR(null.lstat().st_mode) and sorted(tmp_path.iterdir()) == [null]
